"""dft: the default factory, ContinousTransformer and CategoricalTransformer2 (one-hot)."""
import copy
import logging
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets
from sklearn.preprocessing import MinMaxScaler

from sweeps_core import dft
from sweeps_core._errors import ConfigurationError, DataError
from sweeps_core._transformers import CategoricalTransformer2, ContinousTransformer, DataFrameTransformer

A = pd.DataFrame(dict(
    a=[1, 2, 3, 1, 2, 1] * 2,
    b=[3, 3, 2, 2, 2, 1] * 2,
    c=[1, 1, 1, 3, 4, 5, 2, 2, 6, 7, 8, 9],
    n=["1", "1", "1", "2", "2", "3", "4"] + [None] * 5,
    nn=[None] * 12,
    s=["1", "2", "1", "3", "4", "5"] * 2,
))


def winners(columns, max_values, test_on=None):
    """Fit on A, transform ``test_on``; return the output columns and, per row, the '/'-joined hot columns."""
    out = CategoricalTransformer2(columns, max_values).fit(A).transform(A if test_on is None else test_on)
    hot = ["/".join(out.columns[row > 0.5]) for row in out.to_numpy()]
    return list(out.columns), hot


# --- CategoricalTransformer2: the original library's cases ---------------------------------------
def test_small_column():
    columns, hot = winners(["a"], 5)
    assert columns == ["a_1", "a_2", "a_3"]
    assert hot == ["a_1", "a_2", "a_3", "a_1", "a_2", "a_1"] * 2


def test_two_small_columns_ordered_by_frequency():
    columns, hot = winners(["a", "b"], 5)
    assert columns == ["a_1", "a_2", "a_3", "b_2", "b_3", "b_1"]
    assert hot == ["a_1/b_3", "a_2/b_3", "a_3/b_2", "a_1/b_2", "a_2/b_2", "a_1/b_1"] * 2


def test_big_column_gets_other_and_ties_break_by_ascending_value():
    columns, hot = winners(["c"], 4)
    assert columns == ["c_1", "c_2", "c_3", "c_OTHER"]
    assert hot == ["c_1", "c_1", "c_1", "c_3", "c_OTHER", "c_OTHER", "c_2", "c_2"] + ["c_OTHER"] * 4


def test_ties_break_by_ascending_value_not_by_appearance():
    df = pd.DataFrame({"t": ["b", "c", "a", "c", "a", "b", "d"]})
    assert list(CategoricalTransformer2(["t"], 5).fit(df).get_columns()) == ["t_a", "t_b", "t_c", "t_d"]


def test_big_and_small_columns():
    columns, hot = winners(["a", "c"], 4)
    assert columns == ["a_1", "a_2", "a_3", "c_1", "c_2", "c_3", "c_OTHER"]
    assert hot[:6] == ["a_1/c_1", "a_2/c_1", "a_3/c_1", "a_1/c_3", "a_2/c_OTHER", "a_1/c_OTHER"]


def test_nulls_get_a_slot():
    columns, hot = winners(["n"], 5)
    assert columns == ["n_1", "n_2", "n_3", "n_4", "n_NULL"]
    assert hot == ["n_1"] * 3 + ["n_2"] * 2 + ["n_3", "n_4"] + ["n_NULL"] * 5


def test_nulls_and_other_share_the_slots():
    columns, hot = winners(["n"], 4)
    assert columns == ["n_1", "n_2", "n_OTHER", "n_NULL"]
    assert hot == ["n_1"] * 3 + ["n_2"] * 2 + ["n_OTHER"] * 2 + ["n_NULL"] * 5


def test_all_null_column():
    columns, hot = winners(["nn"], 2)
    assert columns == ["nn_NULL"]
    assert hot == ["nn_NULL"] * 12


@pytest.mark.parametrize("column, max_values, expected_columns, expected_hot", [
    ("n", 5, ["n_1", "n_2", "n_3", "n_4", "n_NULL"], ["n_1", "n_2", "n_1"]),
    ("s", 5, ["s_1", "s_2", "s_3", "s_4", "s_5"], ["s_1", "s_2", "s_1"]),
    ("n", 4, ["n_1", "n_2", "n_OTHER", "n_NULL"], ["n_1", "n_2", "n_OTHER"]),
])
def test_unseen_value_goes_to_other_else_most_frequent(column, max_values, expected_columns, expected_hot):
    columns, hot = winners([column], max_values, pd.DataFrame({column: ["1", "2", "X"]}))
    assert (columns, hot) == (expected_columns, expected_hot)


@pytest.mark.parametrize("max_values, expected_columns, expected_hot", [
    (5, ["s_1", "s_2", "s_3", "s_4", "s_5"], ["s_1", "s_2", "s_1"]),
    (4, ["s_1", "s_2", "s_3", "s_OTHER"], ["s_1", "s_2", "s_OTHER"]),
])
def test_unseen_null_goes_to_other_else_most_frequent(max_values, expected_columns, expected_hot):
    columns, hot = winners(["s"], max_values, pd.DataFrame({"s": ["1", "2", None]}))
    assert (columns, hot) == (expected_columns, expected_hot)


def test_column_missing_at_transform_is_all_null():
    _, hot = winners(["n", "a"], 5, pd.DataFrame({"a": [2, 3]}))
    assert hot == ["n_NULL/a_2", "n_NULL/a_3"]


def test_guess_for_unseen_value_is_logged_but_other_is_not(caplog):
    with caplog.at_level(logging.WARNING, logger="sweeps_core._transformers"):
        winners(["s"], 5, pd.DataFrame({"s": ["X"]}))
        assert "'s'" in caplog.text and "'X'" in caplog.text and "s_1" in caplog.text
        caplog.clear()
        winners(["c"], 4, pd.DataFrame({"c": [99]}))
        assert caplog.text == ""


def test_one_hot_output_is_float_with_one_hot_per_source_column():
    out = CategoricalTransformer2(["a", "c", "n"], 4).fit(A).transform(A)
    assert (out.dtypes == np.float64).all()
    assert (out.sum(axis=1) == 3).all()


def test_categorical_dtype_ignores_unobserved_categories():
    df = pd.DataFrame({"k": pd.Categorical(["b", "a", "b"], categories=["z", "a", "b"])})
    assert list(CategoricalTransformer2(["k"], 5).fit_transform(df).columns) == ["k_b", "k_a"]


def test_bad_max_values_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="max_values_per_category"):
        CategoricalTransformer2(["a"], 0)


# --- ContinousTransformer ---------------------------------------------------------------------------
def test_continuous_imputes_mean_scales_and_flags_columns_with_nan():
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [1.0, np.nan, 3.0, 5.0], "z": [np.nan] * 4})
    out = ContinousTransformer(["a", "b", "z"]).fit_transform(df)
    assert list(out.columns) == ["a", "b", "b_missing"]  # all-NaN 'z' is dropped
    assert out["a"].tolist() == pytest.approx(((df.a - 2.5) / df.a.std(ddof=0)).tolist())
    assert out.loc[1, "b"] == 0.0
    assert out["b_missing"].tolist() == [False, True, False, False]
    assert out["b_missing"].dtype == np.bool_  # booleans as the original's, but numpy's, not objects


def test_continuous_with_a_custom_scaler():
    df = pd.DataFrame({"a": [0.0, 1.0, np.nan, 2.0]})
    out = ContinousTransformer(["a"], scaler=MinMaxScaler()).fit_transform(df)
    assert out["a"].tolist() == [0.0, 0.5, 0.5, 1.0]


def test_continuous_missing_column_at_transform_becomes_zero_with_a_warning(caplog):
    tr = ContinousTransformer(["a", "b"]).fit(pd.DataFrame({"a": [1.0, 3.0], "b": [0.0, 2.0]}))
    with caplog.at_level(logging.WARNING, logger="sweeps_core._transformers"):
        out = tr.transform(pd.DataFrame({"a": [1.0]}))
    assert out.loc[0, "b"] == 0.0 and "'b'" in caplog.text


# --- DataFrameTransformerFactory ----------------------------------------------------------------
def test_default_factory_splits_by_dtype_and_orders_the_output():
    df = pd.DataFrame({
        "cat": ["x", "y", "x"], "f": [1.0, np.nan, 3.0], "i": [1, 2, 1],
        "f32": np.array([1, 2, 3], dtype=np.float32), "flag": [True, False, True],
    })
    out = dft.DataFrameTransformerFactory.default_factory().fit_transform(df)
    assert list(out.columns) == ["f", "f32", "f_missing", "cat_x", "cat_y", "i_1", "i_2", "flag_True", "flag_False"]
    assert not out.isna().any().any()


def test_default_factory_on_a_str_column_gives_one_hot_columns():
    df = pd.DataFrame({"X": ["a", "b", "a"]})
    assert list(dft.DataFrameTransformerFactory.default_factory().fit_transform(df).columns) == ["X_a", "X_b"]


def test_features_restrict_the_columns_and_missing_features_are_named():
    df = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    tf = dft.DataFrameTransformerFactory.default_factory(features=["b"])
    assert list(tf.fit_transform(df).columns) == ["b_x", "b_y"]
    with pytest.raises(DataError, match=r"\['nope'\]"):
        dft.DataFrameTransformerFactory.default_factory(features=["nope"]).fit(df)


def test_transform_before_fit_is_a_clear_error():
    with pytest.raises(ConfigurationError, match="not fitted.*fit"):
        dft.DataFrameTransformerFactory.default_factory().transform(pd.DataFrame({"a": [1.0]}))


def test_breast_cancer_first_mean_radius_as_in_the_walkthrough():
    ds = datasets.load_breast_cancer()
    features = pd.DataFrame(ds["data"], columns=ds["feature_names"])
    out = dft.DataFrameTransformerFactory.default_factory().fit_transform(features)
    assert round(out.loc[0, "mean radius"], 6) == 1.097064
    assert out.shape == (569, 30)


def test_iris_label_one_hot_columns():
    ds = datasets.load_iris()
    labels = pd.DataFrame({"label": ds["target_names"][ds["target"]]})
    out = dft.DataFrameTransformerFactory.default_factory().fit_transform(labels)
    assert list(out.columns) == ["label_setosa", "label_versicolor", "label_virginica"]
    assert out.iloc[0].tolist() == [1.0, 0.0, 0.0]


def test_deep_copied_factory_refits_its_columns():
    tf = dft.DataFrameTransformerFactory.default_factory().fit(pd.DataFrame({"k": [1, 2]}))
    other = copy.deepcopy(tf).fit(pd.DataFrame({"k": [1, 2, 3]}))
    assert len(tf.get_columns()) == 2 and len(other.get_columns()) == 3


def test_transformers_do_not_mutate_their_input():
    df = pd.DataFrame({"f": [1.0, np.nan], "c": ["a", None]})
    before = df.copy()
    dft.DataFrameTransformerFactory.default_factory().fit_transform(df)
    pd.testing.assert_frame_equal(df, before)


def test_everything_pickles_fitted_and_unfitted():
    df = pd.DataFrame({"f": [1.0, np.nan, 2.0], "c": ["a", "b", None]})
    for tf in [dft.DataFrameTransformerFactory.default_factory(), ContinousTransformer(["f"]),
               CategoricalTransformer2(["c"]), DataFrameTransformer([ContinousTransformer(["f"])])]:
        assert pickle.loads(pickle.dumps(tf)) is not None
        tf.fit(df)
        pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(tf)).transform(df), tf.transform(df))


def test_alias_and_public_module():
    assert dft.ContinuousTransformer is dft.ContinousTransformer
    assert set(dft.__all__) == {"CategoricalTransformer2", "ContinousTransformer", "ContinuousTransformer",
                                "DataFrameTransformer", "DataFrameTransformerFactory"}


def test_large_frame_transforms_in_one_vectorized_pass():
    # Guards the vectorized path (no timing assertion): 20,000 rows x 4 categorical columns.
    rng = np.random.default_rng(0)
    df = pd.DataFrame({f"c{i}": rng.choice([f"v{j}" for j in range(40)], 20_000) for i in range(4)})
    out = dft.DataFrameTransformerFactory.default_factory().fit_transform(df)
    assert out.shape == (20_000, 100)
    assert (out.sum(axis=1) == 4).all()


# --- the original's options (its test_dft.py and test_transformer_factory.py) -------------------
def fit_then(train, test, transformer):
    """Fit on a column 'a' = ``train``, transform ``test``; 'a' as a list with None for NaN."""
    transformer.fit(pd.DataFrame({"a": train}, dtype=float))
    out = transformer.transform(pd.DataFrame({"a": test}, dtype=float))
    return [None if np.isnan(v) else v for v in out["a"]]


@pytest.mark.parametrize("options, expected", [
    (dict(scaler=MinMaxScaler()), [0.0, 0.5]),
    (dict(scaler=None), [1.0, 2.0]),
    (dict(scaler=MinMaxScaler(), imputer=None), [0.0, None]),
    (dict(scaler=None, imputer=None), [1.0, None]),
])
def test_continuous_scaler_and_imputer_options_as_the_original(options, expected):
    assert fit_then([1, 2, 3], [1, None], ContinousTransformer(["a"], **options)) == expected


def test_scaler_none_does_not_scale():
    out = ContinousTransformer(["a"], scaler=None).fit_transform(pd.DataFrame({"a": [1.0, None]}))
    assert out["a"].tolist() == [1.0, 1.0] and out["a_missing"].tolist() == [False, True]


def square_root(frame):
    return frame.pow(0.5)


def test_preprocessor_runs_before_imputing_and_scaling():
    transformer = ContinousTransformer(["a"], scaler=MinMaxScaler(), preprocessor=square_root)
    assert fit_then([1, 4, 9], [4, None], transformer) == [0.5, 0.5]
    assert pickle.loads(pickle.dumps(transformer)).transform(pd.DataFrame({"a": [9.0]}))["a"].tolist() == [1.0]


def test_an_imputer_object_is_fitted_and_used():
    from sklearn.impute import SimpleImputer
    transformer = ContinousTransformer(["a"], scaler=None, imputer=SimpleImputer(strategy="median"))
    assert fit_then([1, 2, 10], [None], transformer) == [2.0]


def test_all_nan_columns_are_an_error_when_not_ignored():
    df = pd.DataFrame({"a": [1.0, 2.0], "z": [np.nan, np.nan]})
    assert ContinousTransformer(["a", "z"]).fit_transform(df).columns.tolist() == ["a"]
    with pytest.raises(DataError, match=r"\['z'\] are all-NaN.*ignore_none_columns=True"):
        ContinousTransformer(["a", "z"], ignore_none_columns=False).fit(df)


def test_bad_scaler_imputer_or_preprocessor_is_named():
    with pytest.raises(ConfigurationError, match=r"scaler must be 'standard'.*None.*MinMaxScaler\(\).*got 'minmax'"):
        ContinousTransformer(["a"], scaler="minmax")
    with pytest.raises(ConfigurationError, match=r"imputer must be 'mean'.*got 3"):
        ContinousTransformer(["a"], imputer=3)
    with pytest.raises(ConfigurationError, match=r"preprocessor must be a function"):
        ContinousTransformer(["a"], preprocessor="log")


def test_missing_flags_are_booleans_through_the_factory():
    out = dft.DataFrameTransformerFactory.default_factory().fit_transform(pd.DataFrame({"f": [1.0, np.nan, 3.0]}))
    assert out["f_missing"].dtype == np.bool_ and out["f_missing"].tolist() == [False, True, False]
    assert out["f"].dtype == np.float64


class Tagged:
    """A stand-in column transformer that records which columns it was made for."""

    def __init__(self, tag, columns):
        self.tag, self.columns = tag, columns

    def fit(self, df):
        return self

    def get_columns(self):
        return self.columns

    def transform(self, df):
        return df[self.columns].astype(float)


def test_builder_methods_route_columns_as_the_original():
    df = pd.DataFrame({"a": np.arange(1000) * 1.1})
    df["b"] = (df.a / 100).astype(int)   # 11 distinct values: categorical
    df["c"] = (df.a / 10).astype(int)    # 110 distinct values: rich
    df["x"] = df.a
    factory = (dft.DataFrameTransformerFactory()
               .with_filter(lambda column: column != "x")
               .on_continuous(lambda columns: Tagged("cont", columns))
               .on_categorical(lambda columns: Tagged("cat", columns))
               .on_rich_category(12, lambda columns: Tagged("rcat", columns)))
    transformers = factory.fit(df).transformer_.transformers
    assert [(t.tag, t.columns) for t in transformers] == [("cont", ["a"]), ("rcat", ["c"]), ("cat", ["b"])]
    assert factory.transform(df).columns.tolist() == ["a", "c", "b"]


def test_customising_the_default_factory():
    from functools import partial
    df = pd.DataFrame({"f": [1.0, 3.0], "g": [2.0, 4.0], "k": ["u", "v"]})
    factory = (dft.DataFrameTransformerFactory.default_factory()
               .on_continuous(partial(ContinousTransformer, scaler=None))
               .with_feature_block_list(["g"]))
    out = factory.fit_transform(df)
    assert out.columns.tolist() == ["f", "k_u", "k_v"] and out["f"].tolist() == [1.0, 3.0]
    assert pickle.loads(pickle.dumps(factory)).transform(df).equals(out)


def test_a_deep_copied_factory_refits_its_scaler_width():
    factory = dft.DataFrameTransformerFactory().on_continuous(ContinousTransformer)
    first = copy.deepcopy(factory).fit(pd.DataFrame({"a": np.arange(0, 1, 0.1)})).transformer_
    second = copy.deepcopy(factory).fit(pd.DataFrame({"a": np.arange(0, 1, 0.1), "b": np.arange(0, 1, 0.1)})).transformer_
    assert len(first.transformers[0].scales_) == 1 and len(second.transformers[0].scales_) == 2


def test_a_column_group_without_a_factory_is_named():
    factory = dft.DataFrameTransformerFactory().on_categorical(None)
    with pytest.raises(ConfigurationError, match=r"categorical columns \['k'\] are present.*on_categorical"):
        factory.fit(pd.DataFrame({"f": [1.0], "k": ["u"]}))
    with pytest.raises(ConfigurationError, match="threshold must be a positive int"):
        dft.DataFrameTransformerFactory().on_rich_category(0, Tagged)
