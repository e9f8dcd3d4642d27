"""DataBundle and IndexedDataBundle: access, copies, description, persistence, pickling."""
import pickle

import pandas as pd
import pytest

from sweeps_core._bundle import DataBundle, IndexedDataBundle
from sweeps_core._errors import DataError


@pytest.fixture
def bundle():
    index = pd.DataFrame({"label": [0, 1, 0], "split": ["train", "test", "display"]}, index=[10, 20, 30])
    features = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["a", "b", "c"]}, index=[10, 20, 30])
    return DataBundle(index=index, features=features)


def test_item_attribute_and_contains_access(bundle):
    assert bundle["features"] is bundle.data_frames["features"]
    assert bundle.index is bundle.data_frames["index"]
    assert "features" in bundle and "nope" not in bundle
    bundle["extra"] = pd.DataFrame({"z": [1]})
    assert bundle.extra.shape == (1, 1)
    assert list(bundle) == ["index", "features", "extra"]


def test_missing_attribute_names_the_available_frames(bundle):
    with pytest.raises(AttributeError, match=r"featurs.*\['index', 'features'\].*did you mean 'features'"):
        bundle.featurs


def test_missing_item_raises_key_error_listing_frames(bundle):
    with pytest.raises(KeyError, match="available frames"):
        bundle["nope"]


def test_additional_information_has_attribute_access(bundle):
    bundle.additional_information.source = "sklearn"
    assert bundle.additional_information["source"] == "sklearn"


def test_copy_is_independent(bundle):
    bundle.additional_information.tags = ["a"]
    copied = bundle.copy()
    copied["new"] = pd.DataFrame()
    copied.features.loc[10, "x"] = 100.0
    copied.additional_information.tags.append("b")
    assert "new" not in bundle
    assert bundle.features.loc[10, "x"] == 1.0
    assert bundle.additional_information.tags == ["a"]


def test_describe_and_repr(bundle):
    described = bundle.describe()
    assert described["features"] == {"shape": (3, 2), "index_name": None}
    limited = bundle.describe(limits=1)["features"]
    assert limited["columns"] == ["x"] and limited["index"] == [10]
    assert repr(bundle) == "DataBundle(index: 3x2, features: 3x2)"


@pytest.mark.parametrize("zip_it", [False, True])
def test_save_load_round_trip(bundle, tmp_path, zip_it):
    bundle.additional_information.note = "kept"
    path = tmp_path / ("b.zip" if zip_it else "b")
    bundle.save_as_zip(path) if zip_it else bundle.save(path)
    loaded = DataBundle.load(path)
    assert sorted(loaded.data_frames) == ["features", "index"]
    for name in bundle.data_frames:
        pd.testing.assert_frame_equal(loaded[name], bundle[name])
    assert loaded.additional_information.note == "kept"


def test_save_writes_pickles_and_add_info(bundle, tmp_path):
    bundle.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["add_info.pkl", "features.pkl", "index.pkl"]


def test_save_rejects_frame_names_that_are_not_file_names(tmp_path):
    with pytest.raises(DataError, match="add_info"):
        DataBundle(add_info=pd.DataFrame()).save(tmp_path)
    with pytest.raises(DataError, match="a/b"):
        DataBundle(**{"a/b": pd.DataFrame()}).save(tmp_path)


def test_load_from_a_missing_path_names_it(tmp_path):
    with pytest.raises(DataError, match="nothing_here"):
        DataBundle.load(tmp_path / "nothing_here")


def test_bundle_pickles(bundle):
    bundle.additional_information.note = 1
    restored = pickle.loads(pickle.dumps(bundle))
    pd.testing.assert_frame_equal(restored.features, bundle.features)
    assert restored.additional_information.note == 1


def test_indexed_bundle_access(bundle):
    idb = IndexedDataBundle(bundle.index, bundle)
    assert idb["index"] is bundle.index
    assert idb["features"] is bundle.features
    assert "features" in idb and "index" in idb
    with pytest.raises(KeyError, match=r"'nope'.*\['index', 'features'\]"):
        idb["nope"]


def test_change_index(bundle):
    idb = IndexedDataBundle(bundle.index, bundle)
    assert list(idb.change_index(pd.Index([30, 10])).index_frame.index) == [30, 10]
    other = pd.DataFrame({"label": [1]}, index=[20])
    assert idb.change_index(other).index_frame is other
    with pytest.raises(ValueError, match="pd.Index"):
        idb.change_index([10, 20])


def test_indexed_bundle_describe_repr_and_pickle(bundle):
    idb = IndexedDataBundle(bundle.index, bundle)
    assert idb.describe()["index_frame"]["shape"] == (3, 2)
    assert "index_frame: 3x2" in repr(idb)
    restored = pickle.loads(pickle.dumps(idb))
    pd.testing.assert_frame_equal(restored["features"], bundle.features)
