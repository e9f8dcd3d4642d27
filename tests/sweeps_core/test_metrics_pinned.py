"""Metric values and messages users read: exact values on tiny arrays against sklearn, the
``<metric>_<stage>`` names, the same values from a report's arrays as from its frame, and every
error message word for word."""
import functools
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score, top_k_accuracy_score

from sweeps_core._errors import ConfigurationError, DataError
from sweeps_core._evaluation import Evaluation, StageResult, StageTruth
from sweeps_core._metrics import Metric, MetricPool, MulticlassMetrics, SklearnMetric

ONE_COLUMN_ADVICE = (
    "the label transformer saw a single class when it was fitted. This happens when it is fitted on "
    "one batch of rows sorted by class (settings.fit_on='first_batch'): fit it on the whole training "
    "split (settings.fit_on='train', the default), or shuffle the rows, or make sure the training split "
    "holds every class. For a binary label, use add_sklearn(roc_auc_score) instead")
NO_CLASS_COLUMNS = ("MulticlassMetrics needs columns named 'true_label_<class>' (a label frame whose columns "
                    "start with 'label_', e.g. one-hot of a column 'label'); available columns: ")

# 5 samples x 4 classes, no ties within a row. True classes and their ranks (0 = highest score):
SCORES = np.array([[.4, .3, .2, .1],   # true 0, rank 0
                   [.1, .2, .3, .4],   # true 2, rank 1
                   [.3, .1, .4, .2],   # true 1, rank 3
                   [.2, .4, .1, .3],   # true 3, rank 1
                   [.25, .35, .15, .05]])  # true 2, rank 2
TRUE_CLASS = [0, 2, 1, 3, 2]
TRUE_RANKS = [0, 1, 3, 1, 2]


def one_hot(classes, n=4):
    return np.eye(n)[classes]


def multiclass_frame(scores=SCORES, true_class=TRUE_CLASS, names="abcd"):
    df = pd.DataFrame(one_hot(true_class, len(names)), columns=[f"true_label_{c}" for c in names])
    for j, c in enumerate(names):
        df[f"predicted_label_{c}"] = scores[:, j]
    return df


def stage(name, labels, predicted, index=None):
    index = pd.DataFrame({"row": np.arange(len(labels))}) if index is None else index
    return StageResult(StageTruth(name, index, labels.set_axis(index.index)), np.asarray(predicted))


# ----------------------------------------------------------------------------- multiclass values


def test_multiclass_values_equal_sklearn_and_the_mean_true_rank():
    metric = MulticlassMetrics(add_accuracy=True, add_rating=True, recall_at=[1, 2, 3])
    values = metric.measure(multiclass_frame())
    assert values == [
        accuracy_score(TRUE_CLASS, SCORES.argmax(axis=1)),  # 1/5
        np.mean(TRUE_RANKS),  # 7/5
        *[top_k_accuracy_score(TRUE_CLASS, SCORES, k=k, labels=range(4)) for k in (1, 2, 3)],
    ]
    assert values == pytest.approx([0.2, 1.4, 0.2, 0.6, 0.8])
    assert metric.get_names() == ["accuracy", "rating", "recall_at_1", "recall_at_2", "recall_at_3"]


@pytest.mark.parametrize("add_rating, recall_at", [(False, None), (True, None), (False, [1])])
def test_accuracy_is_the_same_with_and_without_the_ranking(add_rating, recall_at):
    values = MulticlassMetrics(True, add_rating, recall_at).measure(multiclass_frame())
    assert values[0] == accuracy_score(TRUE_CLASS, SCORES.argmax(axis=1)) == 0.2


def test_only_the_chosen_values_are_measured():
    df = multiclass_frame()
    assert MulticlassMetrics(add_accuracy=False).measure(df) == []
    assert MulticlassMetrics(add_accuracy=False).get_names() == []
    assert MulticlassMetrics(False, True).measure(df) == [1.4]
    assert MulticlassMetrics(False, False, 2).measure(df) == [0.6]
    assert MulticlassMetrics(False, False, 2).get_names() == ["recall_at_2"]


def test_tied_scores_go_to_the_first_class_in_every_value():
    # row 0: all four tied, the first (true) class wins; row 1: classes 1 and 2 tied, true is 2
    scores = np.array([[.5, .5, .5, .5], [.1, .4, .4, .1]])
    df = multiclass_frame(scores, [0, 2])
    assert MulticlassMetrics().measure(df) == [0.5]
    assert MulticlassMetrics(True, True, [1, 2]).measure(df) == [0.5, 0.5, 0.5, 1.0]
    assert MulticlassMetrics.ranks(scores).tolist() == [[0, 1, 2, 3], [2, 0, 1, 3]]


def test_many_tied_classes_keep_their_column_order():
    # 20 classes scoring .1, .2, .1, .2, ...: the .2 classes first, each tie in column order
    scores = np.tile([.1, .2], 10)[None, :]
    assert MulticlassMetrics.ranks(scores).tolist() == [[10 + j // 2 if j % 2 == 0 else j // 2 for j in range(20)]]
    true_class = [5]  # the third class scoring .2
    df = multiclass_frame(scores, true_class, names=[f"c{j}" for j in range(20)])
    assert MulticlassMetrics(False, True, [2, 3]).measure(df) == [2.0, 0.0, 1.0]


def test_accuracy_alone_takes_each_rows_own_winner():
    # every row's winner is its true class; the highest score of all is in the last row
    scores = np.array([[.5, .3, .2], [.2, .6, .2], [.1, .2, .7]])
    df = multiclass_frame(scores, [0, 1, 2], names="abc")
    assert MulticlassMetrics().measure(df) == [1.0]
    df["true_label_a"] = [0.5, 0, 0]  # one half is not true
    assert MulticlassMetrics().measure(df) == [2 / 3]


def test_pandas_nullable_columns_give_the_same_values():
    df = multiclass_frame()
    df["true_label_a"] = df["true_label_a"].astype(int)
    nullable = df.convert_dtypes()
    assert nullable.dtypes.astype(str).tolist() == ["Int64"] + ["Int64"] * 3 + ["Float64"] * 4
    for metric in (MulticlassMetrics(), MulticlassMetrics(True, True, [2])):
        assert metric.measure(nullable) == metric.measure(df)
    assert MulticlassMetrics(True, True, [2]).measure(nullable) == pytest.approx([0.2, 1.4, 0.6])
    # a missing true value (pd.NA) is not true: the row has no true class, as with NaN
    nullable.loc[1, "true_label_c"] = pd.NA
    df.loc[1, "true_label_c"] = np.nan
    assert MulticlassMetrics(True, True, [2]).measure(nullable) == MulticlassMetrics(True, True, [2]).measure(df)
    assert MulticlassMetrics(True, True, [2]).measure(nullable) == pytest.approx([0.2, 6 / 4, 2 / 4])


def test_ranks_order_each_row_by_descending_score():
    assert MulticlassMetrics.ranks(SCORES)[np.arange(5), TRUE_CLASS].tolist() == TRUE_RANKS
    assert MulticlassMetrics.ranks(SCORES).tolist() == [
        [0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1], [1, 0, 2, 3]]


def test_a_nan_prediction_is_ranked_and_never_the_winner():
    # argsort puts NaN last; argmax alone would pick the NaN column
    scores = np.array([[np.nan, .2, .1], [.3, np.nan, .1]])
    df = multiclass_frame(scores, [1, 0], names="abc")
    assert MulticlassMetrics().measure(df) == [1.0]
    assert MulticlassMetrics(True, True).measure(df) == [1.0, 0.0]


def test_a_class_is_true_above_one_half():
    df = multiclass_frame(SCORES[:2], [0, 2])
    df["true_label_a"] = [0.5, 0.0]  # not true: the first row has no true class at all
    df["true_label_c"] = [0.0, 0.6]
    assert MulticlassMetrics(True, True, [1]).measure(df) == [0.0, 1.0, 0.0]


def test_no_true_class_in_any_row_gives_nan_rank():
    df = multiclass_frame(SCORES[:2], [0, 0])
    df["true_label_a"] = 0.0
    accuracy, rating, recall = MulticlassMetrics(True, True, [1]).measure(df)
    assert accuracy == 0.0 and math.isnan(rating) and math.isnan(recall)


def test_recall_at_accepts_ints_and_iterables_of_them():
    assert MulticlassMetrics(recall_at=np.int64(2)).get_names() == ["accuracy", "recall_at_2"]
    assert MulticlassMetrics(recall_at=(k for k in (3, 1))).get_names() == [
        "accuracy", "recall_at_3", "recall_at_1"]
    assert type(MulticlassMetrics(recall_at=[np.int32(1)]).recall_at[0]) is int
    assert MulticlassMetrics(recall_at=[]).get_names() == ["accuracy"]


@pytest.mark.parametrize("recall_at", [0, -1, [1, 0], [True], True, [1.0], 1.5, ["2"]])
def test_recall_at_rejects_anything_but_positive_ints(recall_at):
    with pytest.raises(ConfigurationError) as error:
        MulticlassMetrics(recall_at=recall_at)
    assert str(error.value) == f"recall_at must be a positive int or a list of them, but got {recall_at!r}"


def test_multiclass_repr_shows_its_settings():
    assert repr(MulticlassMetrics(recall_at=(1, 2))) == \
        "MulticlassMetrics(add_accuracy=True, add_rating=False, recall_at=[1, 2])"
    assert repr(MulticlassMetrics(False, True)) == \
        "MulticlassMetrics(add_accuracy=False, add_rating=True, recall_at=[])"


# ----------------------------------------------------------------------------- multiclass errors


def test_multiclass_on_a_frame_without_class_columns_names_the_convention():
    with pytest.raises(DataError) as error:
        MulticlassMetrics().measure(pd.DataFrame({"x": [1], "predicted_label_a": [1.0]}))
    assert str(error.value) == NO_CLASS_COLUMNS + "['x', 'predicted_label_a']"


def test_multiclass_on_a_one_column_frame_explains_the_single_class():
    with pytest.raises(DataError) as error:
        MulticlassMetrics().measure(pd.DataFrame({"true": [1], "predicted": [0.5]}))
    assert str(error.value) == (
        "MulticlassMetrics needs a label frame with one column per class (result columns "
        "'true_label_<class>'), but it has one column (the result frame has 'true' and 'predicted'): "
        + ONE_COLUMN_ADVICE)


def test_multiclass_names_the_missing_prediction_columns():
    df = multiclass_frame().drop(columns=["predicted_label_b", "predicted_label_d"])
    with pytest.raises(DataError) as error:
        MulticlassMetrics().measure(df)
    assert str(error.value) == (
        "MulticlassMetrics: prediction columns ['predicted_label_b', 'predicted_label_d'] are missing; "
        "available columns: ['true_label_a', 'true_label_b', 'true_label_c', 'true_label_d', "
        "'predicted_label_a', 'predicted_label_c']")


def test_multiclass_reads_only_the_class_columns_of_a_wider_frame():
    df = multiclass_frame()
    df.insert(0, "true", 1.0)  # a stray column of the other convention changes nothing
    df["stage"] = "test"
    df["label"] = list("acbdc")
    assert MulticlassMetrics(True, True, [2]).measure(df) == pytest.approx([0.2, 1.4, 0.6])


# ----------------------------------------------------------------------------- from a report's arrays


def multiclass_stage(name="test", extra_column=False):
    labels = pd.DataFrame(one_hot(TRUE_CLASS), columns=[f"label_{c}" for c in "abcd"])
    predicted = SCORES.astype(np.float32)
    if extra_column:  # a label frame column that is not a class: its outputs are not ranked
        labels["weight"] = 1.0
        predicted = np.column_stack([predicted, np.full(5, 9.0, dtype=np.float32)])
    return stage(name, labels, predicted)


@pytest.mark.parametrize("extra_column", [False, True])
def test_multiclass_from_arrays_equals_the_values_from_the_frame(extra_column):
    metric = MulticlassMetrics(True, True, [1, 2, 3])
    result = multiclass_stage(extra_column=extra_column)
    from_arrays = metric.measure_arrays(result)
    assert from_arrays == pytest.approx([0.2, 1.4, 0.2, 0.6, 0.8])
    if not extra_column:
        assert from_arrays == metric.measure(result.frame())
    assert MulticlassMetrics().measure_arrays(result) == [0.2]


def test_multiclass_from_one_column_arrays_explains_the_single_class():
    result = stage("test", pd.DataFrame({"label": [0, 1]}), [[0.2], [0.8]])
    with pytest.raises(DataError) as error:
        MulticlassMetrics().measure_arrays(result)
    assert str(error.value) == (
        "MulticlassMetrics needs a label frame with one column per class (result columns "
        "'true_label_<class>'), but it has one column ['label']: " + ONE_COLUMN_ADVICE)


def test_multiclass_from_arrays_without_class_columns_names_the_convention():
    result = stage("test", pd.DataFrame({"x": [0.0, 1.0], "y": [1.0, 0.0]}), [[0.2, 0.8], [0.8, 0.2]])
    with pytest.raises(DataError) as error:
        MulticlassMetrics().measure_arrays(result)
    assert str(error.value) == NO_CLASS_COLUMNS + "['row', 'true_x', 'predicted_x', 'true_y', 'predicted_y', 'stage']"


# ----------------------------------------------------------------------------- SklearnMetric


def test_sklearn_metric_is_named_after_the_function_or_its_type():
    assert SklearnMetric(roc_auc_score).get_names() == ["roc_auc_score"]
    assert SklearnMetric(functools.partial(roc_auc_score)).get_names() == ["partial"]


def test_sklearn_metric_rejects_what_cannot_be_called():
    with pytest.raises(ConfigurationError) as error:
        SklearnMetric("roc_auc_score")
    assert str(error.value) == "SklearnMetric expects a function such as roc_auc_score, but got 'roc_auc_score'"


def test_sklearn_metric_names_the_missing_columns():
    with pytest.raises(DataError) as error:
        SklearnMetric(roc_auc_score).measure(pd.DataFrame({"stage": ["test"], "label": [1]}))
    assert str(error.value) == (
        "metric 'roc_auc_score' needs the columns 'true' and 'predicted' in the result frame; "
        "missing ['true', 'predicted'], available columns: ['stage', 'label']")


def test_sklearn_metric_from_arrays_equals_sklearn_and_keeps_kwargs():
    labels = pd.DataFrame({"label": [0, 1, 1, 0, 1]})
    predicted = np.array([[.2], [.6], [.4], [.3], [.9]], dtype=np.float32)
    result = stage("test", labels, predicted)
    auc = SklearnMetric(roc_auc_score).measure_arrays(result)
    assert auc == [roc_auc_score([0, 1, 1, 0, 1], [.2, .6, .4, .3, .9])] == [1.0]
    counted = SklearnMetric(accuracy_score, normalize=False)
    assert counted.measure_arrays(stage("test", labels, predicted > 0.5)) == [4]
    assert counted.measure(result.frame().assign(predicted=lambda f: f["predicted"] > 0.5)) == [4]


def test_sklearn_metric_from_several_label_columns_says_what_the_frame_has():
    result = multiclass_stage()
    with pytest.raises(DataError) as error:
        SklearnMetric(roc_auc_score).measure_arrays(result)
    assert str(error.value) == (
        "metric 'roc_auc_score' needs the columns 'true' and 'predicted' in the result frame; the label "
        "frame has 4 columns ['label_a', 'label_b', 'label_c', 'label_d'], so the result frame has "
        "instead: ['row', 'true_label_a', 'predicted_label_a', 'true_label_b', 'predicted_label_b', "
        "'true_label_c', 'predicted_label_c', 'true_label_d', 'predicted_label_d', 'stage']")


def test_sklearn_metric_repr_shows_function_and_kwargs():
    assert repr(SklearnMetric(roc_auc_score, average="macro")) == \
        "SklearnMetric(roc_auc_score, **{'average': 'macro'})"


# ----------------------------------------------------------------------------- MetricPool


def binary_evaluation():
    labels = pd.DataFrame({"label": [0, 1, 0, 1, 1, 0, 1]})
    predicted = np.array([[.1], [.9], [.2], [.8], [.3], [.7], [.6]])
    return Evaluation([stage("test", labels.iloc[:4], predicted[:4]),
                       stage("display", labels.iloc[4:], predicted[4:])])


def accuracy_above_half(true, predicted):
    return accuracy_score(true, predicted > 0.5)


def test_pool_on_a_report_names_each_value_by_stage_and_equals_sklearn():
    pool = MetricPool().add_sklearn(roc_auc_score).add_sklearn(accuracy_above_half)
    evaluation = binary_evaluation()
    values = pool.run(evaluation)
    assert values == {"roc_auc_score_test": 1.0, "accuracy_above_half_test": 1.0,
                      "roc_auc_score_display": roc_auc_score([1, 0, 1], [.3, .7, .6]),
                      "accuracy_above_half_display": accuracy_score([1, 0, 1], [False, True, True])}
    assert list(values) == ["roc_auc_score_test", "accuracy_above_half_test", "roc_auc_score_display",
                            "accuracy_above_half_display"]
    assert values == pool.run(evaluation.frame())


def test_pool_values_are_plain_python_numbers():
    class Counts(Metric):
        def get_names(self):
            return ["rows", "share", "label"]

        def measure(self, df):
            return [np.int64(len(df)), np.float32(0.5), "x"]

    values = MetricPool().add(Counts()).run(binary_evaluation())
    assert values == {"rows_test": 4, "share_test": 0.5, "label_test": "x",
                      "rows_display": 3, "share_display": 0.5, "label_display": "x"}
    assert [type(v) for v in values.values()] == [int, float, str] * 2


def test_pool_on_a_frame_splits_interleaved_stages_in_order_of_appearance():
    df = pd.DataFrame({"true": [0, 1, 1, 0, 1, 0, 0, 1],
                       "predicted": [.1, .4, .8, .3, .9, .6, .2, .7],
                       "stage": ["display", "test", "display", "test", "display", "test", "display", "test"]})
    values = MetricPool().add_sklearn(roc_auc_score).run(df)
    assert list(values) == ["roc_auc_score_display", "roc_auc_score_test"]
    assert values["roc_auc_score_display"] == roc_auc_score([0, 1, 1, 0], [.1, .8, .9, .2]) == 1.0
    assert values["roc_auc_score_test"] == roc_auc_score([1, 0, 0, 1], [.4, .3, .6, .7]) == 0.75


def test_pool_hands_each_metric_the_rows_of_one_stage_only():
    seen = []

    class Rows(Metric):
        def get_names(self):
            return ["rows"]

        def measure(self, df):
            seen.append(df.index.tolist())
            return [len(df)]

    df = pd.DataFrame({"x": range(6), "stage": ["a", "a", "b", "b", "b", "a"]}, index=[5, 4, 3, 2, 1, 0])
    assert MetricPool().add(Rows()).run(df) == {"rows_a": 3, "rows_b": 3}
    assert seen == [[5, 4, 0], [3, 2, 1]]


def test_pool_cuts_single_rows_and_split_stages_exactly():
    seen = {}

    class Rows(Metric):
        def get_names(self):
            return ["rows"]

        def measure(self, df):
            seen[df["stage"].iloc[0]] = df["x"].tolist()
            return [len(df)]

    # a: first and last row (a gap of two), b: the two between, c: one row, d: rows 5, 6, 8 and 9
    df = pd.DataFrame({"x": range(10), "stage": list("abbacddedd")})
    assert MetricPool().add(Rows()).run(df) == {"rows_a": 2, "rows_b": 2, "rows_c": 1, "rows_d": 4, "rows_e": 1}
    assert seen == {"a": [0, 3], "b": [1, 2], "c": [4], "d": [5, 6, 8, 9], "e": [7]}


def test_pool_passes_add_sklearn_kwargs_on():
    df = pd.DataFrame({"true": [1, 0, 1, 1], "predicted": [1, 1, 1, 0], "stage": "test"})
    assert MetricPool().add_sklearn(accuracy_score, normalize=False).run(df) == {"accuracy_score_test": 2}
    assert MetricPool().add_sklearn(accuracy_score).run(df) == {"accuracy_score_test": 0.5}


class ArraysOnly(Metric):
    """A user's metric that measures from a report's arrays; its frame method must not run."""

    def get_names(self):
        return ["outputs"]

    def measure(self, df):
        raise AssertionError("the frame was built although measure_arrays exists")

    def measure_arrays(self, result):
        return [float(result.predicted.sum())]


def test_a_metric_with_measure_arrays_is_measured_from_the_arrays():
    values = MetricPool().add(ArraysOnly()).run(binary_evaluation())
    assert values == {"outputs_test": pytest.approx(2.0), "outputs_display": pytest.approx(1.6)}


class NamedColumns(Metric):
    """A user's metric that names the columns it reads: it gets only those, in that order."""

    columns = ["predicted", "row"]

    def __init__(self):
        self.seen = []

    def get_names(self):
        return ["top_row"]

    def measure(self, df):
        self.seen.append(list(df.columns))
        return [int(df["row"][df["predicted"].idxmax()])]


def test_a_frame_metric_naming_columns_gets_only_those_from_a_report():
    metric = NamedColumns()
    assert MetricPool().add(metric).run(binary_evaluation()) == {"top_row_test": 1, "top_row_display": 1}
    assert metric.seen == [["predicted", "row"]] * 2


def test_a_metric_whose_names_and_values_differ_in_number_is_refused():
    class Short(Metric):
        def get_names(self):
            return ["a", "b"]

        def measure(self, df):
            return [1]

        def __repr__(self):
            return "Short()"

    with pytest.raises(ConfigurationError) as error:
        MetricPool().add(Short()).run(binary_evaluation())
    assert str(error.value) == "metric Short() names 2 values ['a', 'b'] but measured 1"


def test_pool_refuses_a_frame_without_stage_and_a_plain_function():
    with pytest.raises(DataError) as error:
        MetricPool().add_sklearn(roc_auc_score).run(pd.DataFrame({"true": [1], "predicted": [1.0]}))
    assert str(error.value) == ("MetricPool.run needs a 'stage' column in the result frame; "
                                "available columns: ['true', 'predicted']")

    class NoMeasure:
        def get_names(self):
            return ["x"]

        def __repr__(self):
            return "NoMeasure()"

    for bad, shown in ((NoMeasure(), "NoMeasure()"), ("accuracy", "'accuracy'")):
        with pytest.raises(ConfigurationError) as error:
            MetricPool().add(bad)
        assert str(error.value) == (
            f"MetricPool.add expects an object with get_names() and measure(df), but got {shown}; "
            "wrap a plain function with add_sklearn(function)")


def test_pool_repr_lists_its_metrics():
    pool = MetricPool().add_sklearn(roc_auc_score).add(MulticlassMetrics())
    assert repr(pool) == ("MetricPool([SklearnMetric(roc_auc_score, **{}), "
                          "MulticlassMetrics(add_accuracy=True, add_rating=False, recall_at=[])])")
    assert repr(MetricPool()) == "MetricPool([])"


def test_a_frame_metric_without_columns_gets_the_whole_frame_from_a_report():
    seen = []

    class Whole(Metric):
        def get_names(self):
            return ["columns"]

        def measure(self, df):
            seen.append(list(df.columns))
            return [len(df.columns)]

    assert MetricPool().add(Whole()).run(binary_evaluation()) == {"columns_test": 4, "columns_display": 4}
    assert seen == [["row", "true", "predicted", "stage"]] * 2
