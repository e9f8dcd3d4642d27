"""dft, pinned: exact values, column names, warnings and error messages of the transformers (issue 12)."""
import logging
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from sweeps_core import dft
from sweeps_core._errors import ConfigurationError, DataError
from sweeps_core._transformers import CategoricalTransformer2, ContinousTransformer, DataFrameTransformer

LOGGER = "sweeps_core._transformers"
EPS = np.finfo(np.float64).eps


def exactly(message):
    """A ``match=`` pattern for the whole message, taken literally."""
    return f"^{re.escape(message)}$"


def warnings_of(caplog, action):
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        result = action()
    return caplog.messages, result


# --- errors at the boundary: they name the method, the argument and the value ----------------------
@pytest.mark.parametrize("call, who", [
    (lambda: ContinousTransformer(["a"]).fit([1.0]), "ContinousTransformer.fit"),
    (lambda: ContinousTransformer(["a"]).fit(pd.DataFrame({"a": [1.0]})).transform([1.0]),
     "ContinousTransformer.transform"),
    (lambda: CategoricalTransformer2(["a"]).fit([1.0]), "CategoricalTransformer2.fit"),
    (lambda: CategoricalTransformer2(["a"]).fit(pd.DataFrame({"a": [1]})).transform([1.0]),
     "CategoricalTransformer2.transform"),
    (lambda: DataFrameTransformer([]).fit([1.0]), "DataFrameTransformer.fit"),
    (lambda: DataFrameTransformer([]).fit(pd.DataFrame({"a": [1]})).transform([1.0]), "DataFrameTransformer.transform"),
    (lambda: dft.DataFrameTransformerFactory().fit([1.0]), "DataFrameTransformerFactory.fit"),
])
def test_a_non_frame_is_a_data_error_naming_the_method_and_the_type(call, who):
    with pytest.raises(DataError, match=exactly(f"{who} expects a pandas DataFrame, but got list")):
        call()


@pytest.mark.parametrize("make, argument", [
    (lambda: ContinousTransformer(3), "columns"),
    (lambda: CategoricalTransformer2(3), "columns"),
    (lambda: dft.DataFrameTransformerFactory(features=3), "features"),
    (lambda: dft.DataFrameTransformerFactory().with_feature_allow_list(3), "allow_list"),
    (lambda: dft.DataFrameTransformerFactory().with_feature_block_list(3), "block_list"),
])
def test_columns_that_are_not_a_list_are_named_in_the_error(make, argument):
    with pytest.raises(ConfigurationError, match=exactly(f"{argument} must be a column name or a list of them, but got 3")):
        make()


def test_a_single_column_name_is_one_column():
    df = pd.DataFrame({"ab": [1.0, 3.0], "k": ["u", "v"]})
    assert ContinousTransformer("ab").fit(df).get_columns() == ["ab"]
    assert CategoricalTransformer2("k").fit(df).get_columns() == ["k_u", "k_v"]


@pytest.mark.parametrize("unfitted, call", [
    (lambda: ContinousTransformer(["a"]), lambda t: t.get_columns()),
    (lambda: ContinousTransformer(["a"]), lambda t: t.boolean_columns()),
    (lambda: ContinousTransformer(["a"]), lambda t: t.transform(pd.DataFrame({"a": [1.0]}))),
    (lambda: ContinousTransformer(["a"]), lambda t: t.transform_into(pd.DataFrame({"a": [1.0]}), np.zeros((1, 1)))),
    (lambda: CategoricalTransformer2(["a"]), lambda t: t.get_columns()),
    (lambda: CategoricalTransformer2(["a"]), lambda t: t.transform_into(pd.DataFrame({"a": [1]}), np.zeros((1, 1)))),
    (lambda: DataFrameTransformer([]), lambda t: t.get_columns()),
    (lambda: DataFrameTransformer([]), lambda t: t.transform(pd.DataFrame({"a": [1]}))),
    (lambda: DataFrameTransformer([]), lambda t: t.transform_into(pd.DataFrame({"a": [1]}), np.zeros((1, 0)))),
    (lambda: dft.DataFrameTransformerFactory(), lambda t: t.transform(pd.DataFrame({"a": [1]}))),
    (lambda: dft.DataFrameTransformerFactory(), lambda t: t.get_columns()),
])
def test_use_before_fit_names_the_class_and_the_fix(unfitted, call):
    transformer = unfitted()
    message = f"{type(transformer).__name__} is not fitted yet: call fit(df) or fit_transform(df) before transform(df)"
    with pytest.raises(ConfigurationError, match=exactly(message)):
        call(transformer)


# --- ContinousTransformer: options and their errors -------------------------------------------------
def test_bad_steps_get_the_whole_message_with_an_example():
    with pytest.raises(ConfigurationError, match=exactly(
            "scaler must be 'standard' (the default), None, or an object with fit and transform such as "
            "MinMaxScaler(), but got 'minmax'")):
        ContinousTransformer(["a"], scaler="minmax")
    with pytest.raises(ConfigurationError, match=exactly(
            "imputer must be 'mean' (the default), None, or an object with fit and transform such as "
            "SimpleImputer(strategy='median'), but got 3")):
        ContinousTransformer(["a"], imputer=3)


class FitOnly:
    def fit(self, values):
        return self

    def __repr__(self):
        return "FitOnly()"


def test_a_step_without_transform_is_refused():
    with pytest.raises(ConfigurationError, match=r"scaler must be .* but got FitOnly\(\)$"):
        ContinousTransformer(["a"], scaler=FitOnly())


def test_repr_shows_only_the_options_that_differ_from_the_defaults():
    assert repr(ContinousTransformer(["a"])) == "ContinousTransformer(columns=['a'])"
    assert repr(ContinousTransformer(["a"], scaler="".join(["stan", "dard"]), imputer="mean")) == \
        "ContinousTransformer(columns=['a'])"
    changed = ContinousTransformer(["a"], scaler=None, imputer=None, preprocessor=np.log1p, ignore_none_columns=False)
    assert repr(changed) == ("ContinousTransformer(columns=['a'], scaler=None, imputer=None, "
                             "preprocessor=<ufunc 'log1p'>, ignore_none_columns=False)")


# --- ContinousTransformer: values -----------------------------------------------------------------
def test_each_column_gets_its_own_mean_and_std_when_several_have_nan():
    df = pd.DataFrame({"a": [1.0, np.nan, 3.0, np.nan], "b": [10.0, 20.0, np.nan, 60.0]})
    out = ContinousTransformer(["a", "b"]).fit_transform(df)
    assert out.columns.tolist() == ["a", "b", "a_missing", "b_missing"]
    assert out["a"].tolist() == [-1.0, 0.0, 1.0, 0.0]
    b_std = np.std([10.0, 20.0, 60.0])
    assert out["b"].tolist() == pytest.approx([-20 / b_std, -10 / b_std, 0.0, 30 / b_std])
    assert out["b_missing"].tolist() == [False, False, True, False]


def test_a_constant_column_is_scaled_by_one_as_standard_scaler():
    transformer = ContinousTransformer(["a"]).fit(pd.DataFrame({"a": [5.0, 5.0]}))
    assert transformer.transform(pd.DataFrame({"a": [5.0, 7.0, 2.0]}))["a"].tolist() == [0.0, 2.0, -3.0]


def test_a_spread_of_ten_machine_epsilons_is_the_first_that_is_not_constant():
    df = pd.DataFrame({"at": [0.0, 20 * EPS], "under": [0.0, 19 * EPS]})
    out = ContinousTransformer(["at", "under"]).fit_transform(df)
    assert out["at"].tolist() == [-1.0, 1.0]
    assert out["under"].tolist() == [-9.5 * EPS, 9.5 * EPS]


def test_standard_scaling_without_imputer_keeps_nan():
    out = ContinousTransformer(["a"], imputer=None).fit(pd.DataFrame({"a": [1.0, 2.0, 3.0]})) \
        .transform(pd.DataFrame({"a": [3.0, np.nan]}))
    assert out["a"].iloc[0] == pytest.approx(1 / np.std([1.0, 2.0, 3.0]))
    assert np.isnan(out["a"].iloc[1])


def test_the_output_keeps_the_input_index():
    df = pd.DataFrame({"a": [1.0, 3.0], "k": ["u", "v"]}, index=[10, 20])
    assert dft.DataFrameTransformerFactory.default_factory().fit_transform(df).index.tolist() == [10, 20]
    assert ContinousTransformer(["a"]).fit_transform(df).index.tolist() == [10, 20]


def test_fitting_on_no_rows_keeps_every_column():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy: mean of an empty slice
        transformer = ContinousTransformer(["a", "b"]).fit(pd.DataFrame({"a": [], "b": []}, dtype=float))
    assert transformer.get_columns() == ["a", "b"]


def test_fitting_emits_no_warnings_even_on_infinities():
    df = pd.DataFrame({"a": [1.0, 2.0], "b": [0.0, np.inf], "c": [-np.inf, np.nan]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        transformer = ContinousTransformer(["a", "b", "c"]).fit(df)
    assert transformer.get_columns() == ["a", "b", "c", "c_missing"]


def test_object_and_nullable_float_columns_are_read_as_floats():
    df = pd.DataFrame({"o": pd.Series([1, None, 3], dtype=object), "f": pd.array([2.0, None, 4.0], dtype="Float64")})
    out = ContinousTransformer(["o", "f"], scaler=None).fit_transform(df)
    assert out["o"].tolist() == [1.0, 2.0, 3.0] and out["f"].tolist() == [2.0, 3.0, 4.0]
    assert out["o_missing"].tolist() == [False, True, False]


def test_nullable_text_holding_numbers_is_read_as_floats():
    df = pd.DataFrame({"s": pd.array(["1.5", None, "2.5"], dtype="string")})
    out = ContinousTransformer(["s"], scaler=None).fit_transform(df)
    assert out["s"].tolist() == [1.5, 2.0, 2.5] and out["s_missing"].tolist() == [False, True, False]


def test_text_that_is_not_a_number_is_a_data_error():
    with pytest.raises(DataError, match=r"^ContinousTransformer: columns \['t'\] cannot be read as floats: "):
        ContinousTransformer(["t"]).fit(pd.DataFrame({"t": ["1.5", "abc"]}))


def test_a_column_missing_at_fit_is_named_with_the_available_ones():
    with pytest.raises(DataError, match=exactly(
            "ContinousTransformer.fit: columns ['b'] are not in the frame; available columns: ['a']")):
        ContinousTransformer(["a", "b"]).fit(pd.DataFrame({"a": [1.0]}))


def test_a_column_missing_at_transform_is_all_nan_and_the_others_are_kept(caplog):
    transformer = ContinousTransformer(["a", "b"], scaler=None).fit(pd.DataFrame({"a": [1.0, 3.0], "b": [0.0, 2.0]}))
    messages, out = warnings_of(caplog, lambda: transformer.transform(pd.DataFrame({"a": [5.0, 7.0]})))
    assert out.to_numpy().tolist() == [[5.0, 1.0], [7.0, 1.0]]
    assert messages == ["ContinousTransformer: columns ['b'] are missing at transform; they are treated as all-NaN",
                        "ContinousTransformer: unexpected NaN in columns ['b'] (none at fit); imputed"]


def test_unexpected_nan_is_logged_with_what_was_done(caplog):
    fit = pd.DataFrame({"a": [1.0, 3.0], "b": [np.nan, 2.0]})
    late = pd.DataFrame({"a": [np.nan, 1.0, 3.0], "b": [1.0, np.nan, np.nan]})
    messages, _ = warnings_of(caplog, lambda: ContinousTransformer(["a", "b"]).fit(fit).transform(late))
    assert messages == ["ContinousTransformer: unexpected NaN in columns ['a'] (none at fit); imputed"]
    messages, _ = warnings_of(caplog, lambda: ContinousTransformer(["a", "b"], imputer=None).fit(fit).transform(late))
    assert messages == ["ContinousTransformer: unexpected NaN in columns ['a'] (none at fit); left as NaN (imputer=None)"]


def test_nan_only_in_flagged_columns_is_not_logged(caplog):
    fit = pd.DataFrame({"a": [1.0, 3.0], "b": [np.nan, 2.0]})
    messages, out = warnings_of(caplog, lambda: ContinousTransformer(["a", "b"]).fit(fit).transform(
        pd.DataFrame({"a": [1.0, 3.0, 1.0], "b": [np.nan, 2.0, 2.0]})))
    assert messages == [] and out["b_missing"].tolist() == [True, False, False]


class Recorder:
    """A preprocessor that keeps the frames it was given and doubles them."""

    def __init__(self):
        self.seen = []

    def __call__(self, frame):
        self.seen.append(frame)
        return frame * 2


def test_the_preprocessor_sees_the_kept_columns_with_the_input_index():
    recorder = Recorder()
    df = pd.DataFrame({"a": [1.0, 2.0], "z": [np.nan, np.nan], "b": [3.0, 5.0]}, index=[7, 8])
    out = ContinousTransformer(["a", "z", "b"], scaler=None, preprocessor=recorder).fit_transform(df)
    assert [(f.columns.tolist(), f.index.tolist()) for f in recorder.seen] == [(["a", "b"], [7, 8])] * 2
    assert out.to_numpy().tolist() == [[2.0, 6.0], [4.0, 10.0]]


def large_as_missing(frame):
    return np.where(frame > 100, None, frame)


def test_a_preprocessor_may_return_none_for_missing():
    out = ContinousTransformer(["a"], scaler=None, preprocessor=large_as_missing).fit_transform(
        pd.DataFrame({"a": [1.0, 500.0, 3.0]}))
    assert out["a"].tolist() == [1.0, 2.0, 3.0] and out["a_missing"].tolist() == [False, True, False]


class DropARow:
    def __call__(self, frame):
        return frame.iloc[1:]

    def __repr__(self):
        return "DropARow()"


def test_a_preprocessor_that_changes_the_shape_is_a_data_error():
    with pytest.raises(DataError, match=exactly(
            "ContinousTransformer: preprocessor DropARow() returned shape (1, 1) for a frame of "
            "shape (2, 1); it must keep rows and columns")):
        ContinousTransformer(["a"], preprocessor=DropARow()).fit(pd.DataFrame({"a": [1.0, 2.0]}))


class Offset:
    """A scaler/imputer with its learned state in a dict made at construction: shift by the minimum."""

    def __init__(self):
        self.learned = {}

    def fit(self, values):
        self.learned["min"] = np.nanmin(values, axis=0)
        return self

    def transform(self, values):
        return np.where(np.isnan(values), 0.0, values - self.learned["min"])


@pytest.mark.parametrize("options", [{"scaler": "step", "imputer": None}, {"imputer": "step", "scaler": None}])
def test_one_step_object_serves_several_transformers_without_sharing_state(options):
    step = Offset()
    options = {key: step if value == "step" else value for key, value in options.items()}
    first, second = ContinousTransformer(["a"], **options), ContinousTransformer(["a"], **options)
    first.fit(pd.DataFrame({"a": [1.0, 2.0]}))
    second.fit(pd.DataFrame({"a": [10.0, 20.0]}))
    assert first.transform(pd.DataFrame({"a": [1.0, 2.0]}))["a"].tolist() == [0.0, 1.0]
    assert step.learned == {}  # the object given stays unfitted


class ZeroImputer:
    """An imputer that returns integers (it rounds): NaN becomes 0."""

    def fit(self, values):
        return self

    def transform(self, values):
        return np.nan_to_num(values).round().astype(int)


class HalfScaler:
    """A scaler that works in place, as a float array allows."""

    def fit(self, values):
        return self

    def transform(self, values):
        values = values.copy()
        values /= 2
        return values


def test_the_scaler_gets_floats_whatever_the_imputer_returns():
    out = ContinousTransformer(["a"], imputer=ZeroImputer(), scaler=HalfScaler()).fit_transform(
        pd.DataFrame({"a": [3.0, np.nan]}))
    assert out["a"].tolist() == [1.5, 0.0]


# --- CategoricalTransformer2 --------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [0, 2.5, True, "3"])
def test_max_values_must_be_a_positive_int(bad):
    with pytest.raises(ConfigurationError, match=exactly(f"max_values_per_category must be a positive int, but got {bad!r}")):
        CategoricalTransformer2(["a"], bad)


def test_one_slot_is_all_other():
    df = pd.DataFrame({"c": [1, 2, 2, 3]})
    out = CategoricalTransformer2(["c"], 1).fit_transform(df)
    assert out.columns.tolist() == ["c_OTHER"] and out["c_OTHER"].tolist() == [1.0] * 4


def test_the_default_keeps_24_values_and_other():
    df = pd.DataFrame({"c": np.arange(30)})
    columns = CategoricalTransformer2(["c"]).fit(df).get_columns()
    assert columns == [f"c_{i}" for i in range(24)] + ["c_OTHER"]
    assert dft.DataFrameTransformerFactory().fit(df).get_columns() == columns


def test_max_values_reaches_the_categorical_columns_of_the_factories():
    df = pd.DataFrame({"c": [1, 2, 3, 4]})
    expected = ["c_1", "c_2", "c_OTHER"]
    assert dft.DataFrameTransformerFactory(max_values_per_category=3).fit(df).get_columns() == expected
    assert dft.DataFrameTransformerFactory.default_factory(max_values_per_category=3).fit(df).get_columns() == expected


def test_a_bad_max_values_fails_when_the_factory_is_made():
    with pytest.raises(ConfigurationError, match="max_values_per_category must be a positive int, but got 0"):
        dft.DataFrameTransformerFactory(max_values_per_category=0)


def test_mixed_types_tie_by_their_text():
    df = pd.DataFrame({"m": ["b", 1, "b", 2, 1, "a"]})
    assert CategoricalTransformer2(["m"]).fit(df).get_columns() == ["m_1", "m_b", "m_2", "m_a"]


def test_many_tied_values_are_in_ascending_order_within_their_count():
    rng = np.random.default_rng(3)
    twice = set(rng.choice(200, 100, replace=False).tolist())
    values = rng.permutation(np.concatenate([np.arange(200), sorted(twice)]))
    expected = [f"t_{v}" for v in sorted(range(200), key=lambda v: (v not in twice, v))]
    assert CategoricalTransformer2(["t"], 300).fit(pd.DataFrame({"t": values})).get_columns() == expected


def test_values_of_mixed_types_with_the_same_text_keep_their_order_of_appearance():
    rng = np.random.default_rng(4)
    values = list(range(45)) + [str(i) for i in range(45)]
    mixed = [values[i] for i in rng.permutation(90)]
    order = sorted(range(90), key=lambda i: str(mixed[i]))  # Python's sort is stable: ties by appearance
    out = CategoricalTransformer2(["m"], 100).fit_transform(pd.DataFrame({"m": pd.Series(mixed, dtype=object)}))
    assert out.to_numpy().argmax(axis=1).tolist() == [order.index(i) for i in range(90)]


def test_a_column_missing_at_fit_is_named():
    with pytest.raises(DataError, match=exactly(
            "CategoricalTransformer2.fit: columns ['k'] are not in the frame; available columns: ['a']")):
        CategoricalTransformer2(["a", "k"]).fit(pd.DataFrame({"a": [1]}))


def test_a_column_missing_at_transform_is_logged(caplog):
    transformer = CategoricalTransformer2(["k", "a"]).fit(pd.DataFrame({"k": ["u", None], "a": [1, 2]}))
    messages, out = warnings_of(caplog, lambda: transformer.transform(pd.DataFrame({"a": [2]})))
    assert messages == ["CategoricalTransformer2: columns ['k'] are missing at transform; they are treated as all-null"]
    assert out.iloc[0].tolist() == [0.0, 1.0, 0.0, 1.0]


def test_nulls_and_values_that_land_in_their_own_slot_are_not_logged(caplog):
    transformer = CategoricalTransformer2(["n"], 4).fit(pd.DataFrame({"n": ["1", "1", "2", "3", "4", None]}))
    assert transformer.get_columns() == ["n_1", "n_2", "n_OTHER", "n_NULL"]
    messages, out = warnings_of(caplog, lambda: transformer.transform(pd.DataFrame({"n": [None, "9", "2"]})))
    assert messages == []
    assert out.to_numpy().tolist() == [[0, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0]]


def test_guesses_are_logged_with_count_examples_and_target(caplog):
    transformer = CategoricalTransformer2(["c"]).fit(pd.DataFrame({"c": [1, 1, 2]}))
    messages, out = warnings_of(caplog, lambda: transformer.transform(pd.DataFrame({"c": [1, 99, None, 7, 99]}, dtype=object)))
    assert messages == ["CategoricalTransformer2: column 'c': 1 nulls mapped to 'c_1'",
                        "CategoricalTransformer2: column 'c': 3 values not seen at fit (e.g. [99, 7]) mapped to 'c_1'"]
    assert out["c_1"].tolist() == [1.0] * 5


def test_at_most_five_unseen_values_are_named(caplog):
    transformer = CategoricalTransformer2(["c"]).fit(pd.DataFrame({"c": [0]}))
    messages, _ = warnings_of(caplog, lambda: transformer.transform(pd.DataFrame({"c": [1, 2, 3, 4, 5, 6]})))
    assert messages == ["CategoricalTransformer2: column 'c': 6 values not seen at fit (e.g. [1, 2, 3, 4, 5]) mapped to 'c_0'"]


def test_a_column_all_null_at_fit_takes_every_value_into_null(caplog):
    transformer = CategoricalTransformer2(["nn"]).fit(pd.DataFrame({"nn": [None, None]}))
    messages, out = warnings_of(caplog, lambda: transformer.transform(pd.DataFrame({"nn": ["x", None]})))
    assert out["nn_NULL"].tolist() == [1.0, 1.0]
    assert messages == ["CategoricalTransformer2: column 'nn': 1 values not seen at fit (e.g. ['x']) mapped to 'nn_NULL'"]


def test_values_match_their_slots_by_equality_across_bool_and_int():
    flags = CategoricalTransformer2(["f"]).fit(pd.DataFrame({"f": [True, True, False]}))
    assert flags.transform(pd.DataFrame({"f": [0, 1]})).to_numpy().tolist() == [[0.0, 1.0], [1.0, 0.0]]
    counts = CategoricalTransformer2(["f"]).fit(pd.DataFrame({"f": [1, 1, 0]}))
    assert counts.transform(pd.DataFrame({"f": [False, True]})).to_numpy().tolist() == [[0.0, 1.0], [1.0, 0.0]]


# --- DataFrameTransformer ------------------------------------------------------------------------
class Twice:
    """A column transformer that only writes into the joint output (no transform of its own)."""

    def fit(self, df):
        return self

    def get_columns(self):
        return ["twice"]

    def transform_into(self, df, out):
        out[:, 0] = df["a"] * 2


class Foreign:
    """A column transformer without transform_into: its transform output is copied in."""

    def __init__(self, columns):
        self.columns = columns

    def fit(self, df):
        return self

    def get_columns(self):
        return [f"{c}_copy" for c in self.columns]

    def transform(self, df):
        return df[self.columns]


def test_transformers_write_side_by_side_in_their_order():
    df = pd.DataFrame({"a": [1.0, 2.0], "b": [10, 20], "c": [5, 6], "k": ["u", "v"]})
    joint = DataFrameTransformer([Twice(), Foreign(["b", "c"]), CategoricalTransformer2(["k"]),
                                  ContinousTransformer(["a"], scaler=None)])
    out = joint.fit_transform(df)
    assert out.columns.tolist() == ["twice", "b_copy", "c_copy", "k_u", "k_v", "a"]
    assert out.to_numpy().tolist() == [[2.0, 10.0, 5.0, 1.0, 0.0, 1.0], [4.0, 20.0, 6.0, 0.0, 1.0, 2.0]]
    assert (out.dtypes == np.float64).all()


def test_a_joint_transformer_is_fitted_by_fit():
    joint = DataFrameTransformer([ContinousTransformer(["a"])])
    assert joint.fitted_ is False
    assert joint.fit(pd.DataFrame({"a": [1.0, 2.0]})).fitted_ is True


# --- DataFrameTransformerFactory ------------------------------------------------------------------
def test_allow_list_picks_the_features_in_its_order():
    df = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"], "c": [3.0, 5.0]})
    factory = dft.DataFrameTransformerFactory().with_feature_allow_list(["c", "b"])
    assert factory.fit_transform(df).columns.tolist() == ["c", "b_x", "b_y"]


def test_frames_with_integer_column_names_work():
    out = dft.DataFrameTransformerFactory().fit_transform(pd.DataFrame(np.array([[1.0, 2.0], [3.0, 2.0]])))
    assert out.columns.tolist() == [0, 1] and out.to_numpy().tolist() == [[-1.0, 0.0], [1.0, 0.0]]


@pytest.mark.parametrize("method, expected", [
    ("with_filter", "a function of a column name"),
    ("on_continuous", "factory(columns) -> transformer"),
    ("on_categorical", "factory(columns) -> transformer"),
])
def test_builder_methods_name_themselves_when_given_no_function(method, expected):
    with pytest.raises(ConfigurationError, match=exactly(f"{method} expects {expected} or None, but got 'x'")):
        getattr(dft.DataFrameTransformerFactory(), method)("x")


def test_on_rich_category_checks_both_arguments():
    with pytest.raises(ConfigurationError, match=exactly(
            "on_rich_category expects factory(columns) -> transformer or None, but got 'x'")):
        dft.DataFrameTransformerFactory().on_rich_category(2, "x")
    for bad in [0, 2.5, True]:
        with pytest.raises(ConfigurationError, match=exactly(
                f"on_rich_category: threshold must be a positive int, but got {bad!r}")):
            dft.DataFrameTransformerFactory().on_rich_category(bad, Foreign)


def test_rich_threshold_counts_null_and_is_inclusive():
    df = pd.DataFrame({"two_and_null": ["a", "b", None], "three": ["a", "b", "c"], "two": ["a", "a", "b"]})
    factory = dft.DataFrameTransformerFactory().on_rich_category(3, Foreign).on_categorical(Foreign)
    assert factory.fit(df).get_columns() == ["two_and_null_copy", "three_copy", "two_copy"]
    everything = dft.DataFrameTransformerFactory().on_rich_category(1, Foreign).on_categorical(None).fit(df)
    assert everything.get_columns() == ["two_and_null_copy", "three_copy", "two_copy"]


@pytest.mark.parametrize("factory, frame, message", [
    (dft.DataFrameTransformerFactory().on_continuous(None), pd.DataFrame({"f": [1.0]}),
     "DataFrameTransformerFactory: continuous columns ['f'] are present, but no factory is set for them: "
     "call .on_continuous(...) or drop them with .with_filter(...)"),
    (dft.DataFrameTransformerFactory().on_rich_category(1, None), pd.DataFrame({"k": ["u"]}),
     "DataFrameTransformerFactory: rich categorical columns ['k'] are present, but no factory is set for them: "
     "call .on_rich_category(...) or drop them with .with_filter(...)"),
    (dft.DataFrameTransformerFactory().on_categorical(None), pd.DataFrame({"k": ["u"]}),
     "DataFrameTransformerFactory: categorical columns ['k'] are present, but no factory is set for them: "
     "call .on_categorical(...) or drop them with .with_filter(...)"),
])
def test_a_group_without_factory_gets_the_whole_message(factory, frame, message):
    with pytest.raises(ConfigurationError, match=exactly(message)):
        factory.fit(frame)


def test_factory_repr():
    assert repr(dft.DataFrameTransformerFactory(["a"], 3)) == \
        "DataFrameTransformerFactory(features=['a'], max_values_per_category=3)"
