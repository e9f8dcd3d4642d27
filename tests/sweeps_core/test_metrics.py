"""MetricPool, SklearnMetric and MulticlassMetrics."""
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from sweeps_core._errors import ConfigurationError, DataError
from sweeps_core._metrics import Metric, MetricPool, MulticlassMetrics, SklearnMetric

# 6 samples x 3 classes, scores /10, index x10. True-class ranks: 0, 0, 0, 1, 1, 2.
SCORES = [[3, 2, 1], [1, 3, 2], [2, 1, 3], [3, 2, 1], [1, 3, 2], [2, 1, 3]]
TRUE_CLASS = [0, 1, 2, 1, 2, 1]


@pytest.fixture
def multiclass_df():
    classes = ["a", "b", "c"]
    true = np.eye(3)[TRUE_CLASS]
    df = pd.DataFrame(true, columns=[f"true_label_{c}" for c in classes], index=np.arange(6) * 10)
    for j, c in enumerate(classes):
        df[f"predicted_label_{c}"] = [row[j] / 10 for row in SCORES]
    return df


@pytest.fixture
def binary_df():
    return pd.DataFrame({
        "true": [0, 1, 0, 1, 0, 1, 1, 0],
        "predicted": [0.1, 0.9, 0.2, 0.8, 0.7, 0.3, 0.6, 0.4],
        "stage": ["test"] * 4 + ["display"] * 4,
    })


def test_multiclass_values_of_the_original_test(multiclass_df):
    values = MulticlassMetrics(True, True, [1, 2]).measure(multiclass_df)
    assert values == pytest.approx([0.5, 4 / 6, 0.5, 5 / 6])
    assert MulticlassMetrics(True, True, [1, 2]).get_names() == ["accuracy", "rating", "recall_at_1", "recall_at_2"]


def test_multiclass_ranking_table(multiclass_df):
    predicted = multiclass_df[[c for c in multiclass_df if c.startswith("predicted")]].to_numpy()
    ranks = MulticlassMetrics.ranks(predicted)
    assert ranks[0].tolist() == [0, 1, 2]  # predicted 0.3, 0.2, 0.1
    assert ranks[np.arange(6), TRUE_CLASS].tolist() == [0, 0, 0, 1, 1, 2]


def test_multiclass_defaults_and_int_recall():
    assert MulticlassMetrics().get_names() == ["accuracy"]
    assert MulticlassMetrics(False, False, 3).get_names() == ["recall_at_3"]


def test_multiclass_in_a_pool_gets_stage_suffixes(multiclass_df):
    multiclass_df["stage"] = ["test"] * 3 + ["display"] * 3
    result = MetricPool().add(MulticlassMetrics(recall_at=2)).run(multiclass_df)
    assert result == {"accuracy_test": 1.0, "recall_at_2_test": 1.0,
                      "accuracy_display": 0.0, "recall_at_2_display": pytest.approx(2 / 3)}


def test_multiclass_errors_name_the_convention(multiclass_df):
    with pytest.raises(DataError, match="true_label_"):
        MulticlassMetrics().measure(pd.DataFrame({"true": [1], "predicted": [0.5]}))
    with pytest.raises(DataError, match="predicted_label_c"):
        MulticlassMetrics().measure(multiclass_df.drop(columns="predicted_label_c"))
    with pytest.raises(ConfigurationError, match="recall_at"):
        MulticlassMetrics(recall_at=[0])


def test_pool_names_by_stage_in_order_of_appearance(binary_df):
    pool = MetricPool().add_sklearn(roc_auc_score)
    result = pool.run(binary_df)
    assert list(result) == ["roc_auc_score_test", "roc_auc_score_display"]
    assert result["roc_auc_score_test"] == 1.0
    assert result["roc_auc_score_display"] == roc_auc_score([0, 1, 1, 0], [0.7, 0.3, 0.6, 0.4])
    assert type(result["roc_auc_score_test"]) is float  # plain values for the history


def test_pool_is_fluent_and_lists_base_names():
    pool = MetricPool()
    assert pool.add_sklearn(roc_auc_score).add(MulticlassMetrics(True, True)) is pool
    assert pool.get_metric_names() == ["roc_auc_score", "accuracy", "rating"]
    assert len(pool.metrics) == 2


def test_sklearn_metric_passes_kwargs(binary_df):
    metric = SklearnMetric(accuracy_score, normalize=False)
    binary_df["predicted"] = (binary_df["predicted"] > 0.5).astype(int)
    assert metric.get_names() == ["accuracy_score"]
    assert metric.measure(binary_df) == [6]


def test_custom_metric_with_several_values(binary_df):
    class Sizes(Metric):
        def get_names(self):
            return ["rows", "positives"]

        def measure(self, df):
            return [len(df), int(df["true"].sum())]

    assert MetricPool().add(Sizes()).run(binary_df) == {
        "rows_test": 4, "positives_test": 2, "rows_display": 4, "positives_display": 2}


def test_pool_errors(binary_df):
    with pytest.raises(DataError, match="'stage'"):
        MetricPool().add_sklearn(roc_auc_score).run(binary_df.drop(columns="stage"))
    with pytest.raises(DataError, match="'predicted'"):
        MetricPool().add_sklearn(roc_auc_score).run(binary_df.drop(columns="predicted"))
    with pytest.raises(ConfigurationError, match="add_sklearn"):
        MetricPool().add(roc_auc_score)


def test_everything_pickles(binary_df, multiclass_df):
    pool = MetricPool().add_sklearn(roc_auc_score).add(MulticlassMetrics(True, True, [1, 2]))
    restored = pickle.loads(pickle.dumps(pool))
    assert restored.get_metric_names() == pool.get_metric_names()
    assert restored.metrics[0].measure(binary_df) == pool.metrics[0].measure(binary_df)
    assert restored.metrics[1].measure(multiclass_df) == pool.metrics[1].measure(multiclass_df)
