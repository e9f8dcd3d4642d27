"""Reports measured from arrays: the same values as from the result frame, frames only on request."""
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import sweeps_core as bt
from sweeps_core import DataError
from sweeps_core._evaluation import Evaluation, StageResult, StageTruth
from tests.sweeps_core.tasks import BinaryTask, IrisTask, breast_cancer_bundle, iris_bundle


def evaluation():
    index = pd.DataFrame({"label": ["a", "b", "c", "a"], "split": "test"}, index=[10, 20, 30, 40])
    labels = pd.DataFrame(np.eye(3)[[0, 1, 2, 0]], columns=["label_a", "label_b", "label_c"], index=index.index)
    predicted = np.array([[.9, .1, 0], [.2, .7, .1], [.5, .4, .1], [.3, .3, .3]], dtype=np.float32)
    half = [StageResult(StageTruth(stage, index.iloc[rows], labels.iloc[rows]), predicted[rows])
            for stage, rows in (("test", slice(0, 2)), ("display", slice(2, 4)))]
    return Evaluation(half)


def test_arrays_and_frame_give_the_same_metrics():
    pool = bt.MetricPool().add(bt.MulticlassMetrics(True, True, [1, 2])).add(bt.MulticlassMetrics())
    result = evaluation()
    assert pool.run(result) == pool.run(result.frame())
    assert result.frame().columns.tolist() == result.stages[0].column_names() == [
        "label", "split", "true_label_a", "predicted_label_a", "true_label_b", "predicted_label_b",
        "true_label_c", "predicted_label_c", "stage"]


class ColumnsMetric(bt.Metric):
    """A user's metric that reads a frame and names the columns it reads."""

    columns = ["predicted_label_a", "stage"]

    def __init__(self):
        self.seen = []

    def get_names(self):
        return ["mean_a"]

    def measure(self, df):
        self.seen.append(list(df.columns))
        return [float(df["predicted_label_a"].mean())]


class FrameMetric(ColumnsMetric):
    columns = None


def test_a_users_frame_metric_gets_only_the_columns_it_names():
    named, whole = ColumnsMetric(), FrameMetric()
    values = bt.MetricPool().add(named).add(whole).run(evaluation())
    assert values["mean_a_test"] == pytest.approx(0.55)
    assert named.seen == [["predicted_label_a", "stage"]] * 2
    assert whole.seen[0] == evaluation().stages[0].column_names()


class SetosaMetric(ColumnsMetric):
    columns = ["predicted_label_setosa"]

    def get_names(self):
        return ["mean_setosa"]

    def measure(self, df):
        self.seen.append(list(df.columns))
        return [float(df["predicted_label_setosa"].mean())]


class IrisWithSetosaMetric(IrisTask):
    def initialize_task(self, data):
        super().initialize_task(data)
        self.metric_pool.add(SetosaMetric())


def test_a_users_frame_metric_in_a_task():
    task = IrisWithSetosaMetric(epochs=2)
    history = task.run(iris_bundle())["output"]["history"]
    assert list(history[0])[:4] == ["accuracy_test", "mean_setosa_test", "accuracy_display", "mean_setosa_display"]
    assert task.metric_pool.metrics[1].seen == [["predicted_label_setosa"]] * 4


def test_sklearn_metric_on_a_multicolumn_label_names_the_columns():
    with pytest.raises(DataError, match=r"'roc_auc_score' needs the columns 'true' and 'predicted'.*3 columns"):
        bt.MetricPool().add_sklearn(roc_auc_score).run(evaluation())


def test_result_df_is_the_last_reports_frame():
    result = BinaryTask(epochs=2).run(breast_cancer_bundle(), seed=0)
    frame = result["output"]["result_df"]
    assert frame.columns.tolist() == ["label", "split", "true", "predicted", "stage"]
    assert roc_auc_score(frame[frame.stage == "test"].true, frame[frame.stage == "test"].predicted) == \
        result["metrics"]["roc_auc_score_test"]
