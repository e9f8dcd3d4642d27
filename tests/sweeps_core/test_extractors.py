"""PlainExtractor builder and Extractor.make_extraction."""
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

from sweeps_core import dft
from sweeps_core._bundle import DataBundle, IndexedDataBundle
from sweeps_core._errors import ConfigurationError, DataError
from sweeps_core._extractors import Extractor, PlainExtractor


@pytest.fixture
def bundle():
    index = pd.DataFrame({
        "label": [0, 1, 1, 0],
        "item": ["i1", "i2", "i1", "i3"],
        "k1": [1, 1, 2, 2], "k2": ["a", "b", "a", "b"],
    }, index=[10, 20, 30, 40])
    features = pd.DataFrame({"f": [1.0, 2.0, 3.0, 4.0, 5.0], "g": ["x", "y", "x", "y", "z"]},
                            index=[50, 40, 30, 20, 10])
    items = pd.DataFrame({"price": [1.5, 2.5, 3.5], "shop": ["s1", "s2", "s1"]}, index=["i1", "i2", "i3"])
    shops = pd.DataFrame({"city": ["Rome", "Oslo"]}, index=["s1", "s2"])
    pairs = pd.DataFrame({"v": [11, 12, 21, 22]},
                         index=pd.MultiIndex.from_tuples([(1, "a"), (1, "b"), (2, "a"), (2, "b")], names=["k1", "k2"]))
    return DataBundle(index=index, features=features, items=items, shops=shops, pairs=pairs)


@pytest.fixture
def idb(bundle):
    return IndexedDataBundle(bundle.index, bundle)


def _snapshot(bundle):
    return {name: df.copy(deep=True) for name, df in bundle.data_frames.items()}


def test_index_without_frame_gives_the_index_frame(idb):
    out = PlainExtractor.build("x").index().apply().fit_extract(idb)
    pd.testing.assert_frame_equal(out, idb.index_frame)
    assert out is not idb.index_frame


def test_index_with_frame_takes_rows_in_index_order(idb):
    out = PlainExtractor.build("features").index("features").apply().fit_extract(idb)
    assert list(out.index) == [10, 20, 30, 40]
    assert out["f"].tolist() == [5.0, 4.0, 3.0, 2.0]


def test_take_columns_accepts_str_and_list(idb):
    assert list(PlainExtractor.build("x").index().apply(take_columns="label").extract(idb).columns) == ["label"]
    out = PlainExtractor.build("x").index().apply(take_columns=["k2", "label"]).extract(idb)
    assert list(out.columns) == ["k2", "label"]


def test_drop_columns(idb):
    out = PlainExtractor.build("x").index().apply(drop_columns=["item", "k2"]).extract(idb)
    assert list(out.columns) == ["label", "k1"]


def test_single_join(idb):
    out = PlainExtractor.build("items").index().join("items", "item").apply().extract(idb)
    assert list(out.columns) == ["price", "shop"]  # the join column is dropped
    assert out["price"].tolist() == [1.5, 2.5, 1.5, 3.5]
    assert list(out.index) == [10, 20, 30, 40]


def test_join_without_index_starts_from_the_index_frame(idb):
    out = PlainExtractor.build("items").join("items", "item").apply(take_columns="price").extract(idb)
    assert out["price"].tolist() == [1.5, 2.5, 1.5, 3.5]


def test_double_join(idb):
    out = (PlainExtractor.build("city").index().join("items", "item").join("shops", "shop")
           .apply().extract(idb))
    assert list(out.columns) == ["city"]
    assert out["city"].tolist() == ["Rome", "Oslo", "Rome", "Rome"]


def test_multi_column_join(idb):
    out = PlainExtractor.build("pairs").index().join("pairs", ["k1", "k2"]).apply().extract(idb)
    assert out["v"].tolist() == [11, 12, 21, 22]
    assert list(out.index) == [10, 20, 30, 40]


def test_missing_rows_raise_or_left_join(bundle, idb):
    bundle["items"] = bundle.items.drop(index="i3")
    with pytest.raises(DataError, match=r"extractor 'items'.*1 of 4 rows.*'items'.*'i3'.*raise_if_rows_are_missing=False"):
        PlainExtractor.build("items").index().join("items", "item").apply().extract(idb)
    left = PlainExtractor.build("items").index().join("items", "item").apply(
        raise_if_rows_are_missing=False, raise_if_nulls_detected=False).extract(idb)
    assert left["price"].tolist()[:3] == [1.5, 2.5, 1.5] and np.isnan(left["price"].iloc[3])


def test_missing_rows_in_the_index_step_raise(bundle):
    idb = IndexedDataBundle(pd.DataFrame({"label": [0]}, index=[99]), bundle)
    with pytest.raises(DataError, match="missing in frame 'features'"):
        PlainExtractor.build("features").index("features").apply().extract(idb)


def test_alternate_index_frame(bundle, idb):
    extractor = PlainExtractor.build("features").index("features").apply(take_columns="f")
    sub = idb.change_index(pd.Index([40, 10]))
    assert extractor.extract(sub)["f"].tolist() == [2.0, 5.0]
    other = IndexedDataBundle(pd.DataFrame({"q": [1, 2]}, index=[50, 30]), bundle)
    out = extractor.extract(other)
    assert out["f"].tolist() == [1.0, 3.0] and list(out.index) == [50, 30]


def test_transformer_default_factory_on_a_str_column(bundle):
    idb = IndexedDataBundle(pd.DataFrame({"X": ["a", "b", "a"]}, index=[1, 2, 3]), bundle)
    extractor = PlainExtractor.build("x").index().apply(transformer=dft.DataFrameTransformerFactory.default_factory())
    assert list(extractor.fit_extract(idb).columns) == ["X_a", "X_b"]


def test_transformer_is_deep_copied_and_fitted_only_with_fit(idb):
    factory = dft.DataFrameTransformerFactory.default_factory()
    extractor = PlainExtractor.build("f").index("features").apply(transformer=factory, take_columns="g")
    assert extractor.transformer is not factory
    extractor.fit(idb)
    assert factory.transformer_ is None
    with pytest.raises(ConfigurationError, match="not fitted"):
        PlainExtractor.build("f").index("features").apply(transformer=factory).extract(idb)


def test_fit_without_transformer_does_nothing(idb):
    assert PlainExtractor.build("x").index("nope").apply().fit(idb) is None


def test_walkthrough_extractors_on_breast_cancer():
    ds = datasets.load_breast_cancer()
    index = pd.DataFrame({"label": ds["target"]})
    bundle = DataBundle(index=index, features=pd.DataFrame(ds["data"], columns=ds["feature_names"]))
    idb = IndexedDataBundle(bundle.index, bundle)
    features = PlainExtractor.build("features").index("features").apply(
        transformer=dft.DataFrameTransformerFactory.default_factory()).fit_extract(idb)
    assert features.shape == (569, 30) and round(features.iloc[0, 0], 6) == 1.097064
    label = PlainExtractor.build("label").index().apply(take_columns=["label"], transformer=None).fit_extract(idb)
    assert list(label.columns) == ["label"] and label["label"].dtype == np.int64


def test_iris_label_extractor_one_hot():
    ds = datasets.load_iris()
    index = pd.DataFrame({"label": ds["target_names"][ds["target"]]})
    idb = IndexedDataBundle(index, DataBundle(index=index))
    out = PlainExtractor.build("label").index().apply(
        take_columns=["label"], transformer=dft.DataFrameTransformerFactory.default_factory()).fit_extract(idb)
    assert list(out.columns) == ["label_setosa", "label_versicolor", "label_virginica"]


# --- errors --------------------------------------------------------------------------------------
def test_missing_frame_names_extractor_frame_and_available(idb):
    with pytest.raises(DataError) as info:
        PlainExtractor.build("features").index("featurs").apply().extract(idb)
    message = str(info.value)
    for fragment in ["extractor 'features'", "frame 'featurs'", "['index', 'features', 'items', 'shops', 'pairs']",
                     "did you mean 'features'"]:
        assert fragment in message


def test_missing_take_column_lists_available_columns(idb):
    with pytest.raises(DataError, match=r"\['lable'\].*available columns: \['label', 'item', 'k1', 'k2'\]"):
        PlainExtractor.build("x").index().apply(take_columns="lable").extract(idb)


def test_missing_join_column_is_named(idb):
    with pytest.raises(DataError, match=r"join columns for 'items'.*\['itm'\]"):
        PlainExtractor.build("x").index().join("items", "itm").apply().extract(idb)


def test_nulls_in_output_name_extractor_columns_and_fixes(bundle):
    bundle["features"] = bundle.features.assign(f=[1.0, np.nan, 3.0, 4.0, 5.0])
    idb = IndexedDataBundle(bundle.index, bundle)
    with pytest.raises(DataError, match=r"extractor 'feat'.*\['f'\].*transformer.*coalesce_nulls.*raise_if_nulls_detected=False"):
        PlainExtractor.build("feat").index("features").apply().extract(idb)
    filled = PlainExtractor.build("feat").index("features").apply(coalesce_nulls=0.0).extract(idb)
    assert filled["f"].tolist() == [5.0, 4.0, 3.0, 0.0]
    kept = PlainExtractor.build("feat").index("features").apply(raise_if_nulls_detected=False).extract(idb)
    assert kept["f"].isna().sum() == 1


def test_duplicated_index_raises(bundle):
    idb = IndexedDataBundle(pd.DataFrame({"label": [0, 1]}, index=[10, 10]), bundle)
    with pytest.raises(DataError, match="duplicated index"):
        PlainExtractor.build("x").index().apply().extract(idb)
    bundle["items"] = pd.DataFrame({"price": [1.0, 2.0]}, index=["i1", "i1"])
    with pytest.raises(DataError, match="frame 'items' has a duplicated index"):
        PlainExtractor.build("x").index().join("items", "item").apply().extract(IndexedDataBundle(bundle.index, bundle))


def test_index_may_only_come_first():
    with pytest.raises(ConfigurationError, match="first"):
        PlainExtractor.build("x").join("items", "item").index("features")


def test_inputs_are_never_mutated(bundle, idb):
    before = _snapshot(bundle)
    extractors = [
        PlainExtractor.build("features").index("features").apply(transformer=dft.DataFrameTransformerFactory.default_factory()),
        PlainExtractor.build("city").index().join("items", "item").join("shops", "shop").apply(),
        PlainExtractor.build("index").index().apply(),
    ]
    for extractor in extractors:
        extractor.fit(idb)
    batch = Extractor.make_extraction(idb, extractors)
    batch.bundle["index"].loc[10, "label"] = 99  # an extractor's output never aliases the caller's frame
    batch.bundle["features"].loc[10, "f"] = 99.0
    for name, df in before.items():
        pd.testing.assert_frame_equal(bundle[name], df)


# --- make_extraction -------------------------------------------------------------------------------
class _TwoFrames(Extractor):
    def get_name(self):
        return "two"

    def extract(self, idb):
        return {"first": idb.index_frame[["label"]], "second": idb.index_frame[["k1"]]}


def test_make_extraction_builds_a_batch(idb):
    label = PlainExtractor.build("label").index().apply(take_columns="label")
    batch = Extractor.make_extraction(idb, [label, _TwoFrames()])
    assert batch.index_frame is idb.index_frame
    assert list(batch.bundle.data_frames) == ["label", "first", "second"]
    assert batch["label"]["label"].tolist() == [0, 1, 1, 0]


def test_make_extraction_rejects_duplicate_names(idb):
    label = PlainExtractor.build("label").index().apply(take_columns="label")
    with pytest.raises(ConfigurationError, match="'label'"):
        Extractor.make_extraction(idb, [label, label])


def test_extractors_pickle_fitted(idb):
    extractor = PlainExtractor.build("f").index("features").apply(
        transformer=dft.DataFrameTransformerFactory.default_factory())
    extractor.fit(idb)
    restored = pickle.loads(pickle.dumps(extractor))
    assert restored.get_name() == "f"
    pd.testing.assert_frame_equal(restored.extract(idb), extractor.extract(idb))
    assert "PlainExtractor('f'" in repr(restored)
