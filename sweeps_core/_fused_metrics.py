"""Per-epoch metrics of a whole fused group at once.

Each stage's outputs arrive as one ``(tasks, rows, label columns)`` array. ``roc_auc_score``
(binary labels, no keyword arguments) and ``MulticlassMetrics`` are measured for every task in a
few numpy calls; any other metric, and any task whose outputs are not finite, is measured task by
task through the metric itself, exactly as an unfused report measures it.
"""
from __future__ import annotations

import traceback
from typing import Any, Optional

import numpy as np

from ._evaluation import StageResult, StageTruth
from ._metrics import MetricPool, MulticlassMetrics, SklearnMetric, _label_positions, _measure, _plain


def group_metrics(pool: MetricPool, stages: list, outputs: list) -> list:
    """``[{<metric>_<stage>: value}, ...]`` per task, or a traceback text where measuring failed.

    ``stages`` are the ``StageTruth`` of each stage in report order, ``outputs`` one float32
    ``(tasks, rows, columns)`` array per stage. The keys come in ``MetricPool.run``'s order.
    """
    count = outputs[0].shape[0] if outputs else 0
    rows: list = [{} for _ in range(count)]
    for truth, predicted in zip(stages, outputs):
        for metric in pool.metrics:
            names = metric.get_names()
            values = _vectorized(metric, truth, predicted)
            for task in range(count):
                if isinstance(rows[task], str):
                    continue
                try:
                    measured = (values[task] if values is not None and values[task] is not None
                                else list(_measure(metric, None, StageResult(truth, predicted[task]))))
                    if len(names) != len(measured):
                        raise ValueError(f"metric {metric!r} names {len(names)} values {names!r} "
                                         f"but measured {len(measured)}")
                except Exception:  # the task fails as its unfused report would
                    rows[task] = traceback.format_exc()
                    continue
                rows[task].update({f"{name}_{truth.stage}": _plain(value)
                                   for name, value in zip(names, measured)})
    return rows


def _vectorized(metric: Any, truth: StageTruth, predicted: np.ndarray) -> Optional[list]:
    """Per task, the metric's values measured for the whole group, or None where a task must
    be measured on its own (non-finite outputs); None for all when the metric has no group form."""
    if type(metric) is SklearnMetric:
        return _roc_auc(metric, truth, predicted)
    if type(metric) is MulticlassMetrics:
        return _multiclass(metric, truth, predicted)
    return None


def _roc_auc(metric: SklearnMetric, truth: StageTruth, predicted: np.ndarray) -> Optional[list]:
    from sklearn.metrics import roc_auc_score

    if metric.method is not roc_auc_score or metric.kwargs or len(truth.label_columns) != 1:
        return None
    true = truth.true_column(0)
    classes = np.unique(true)
    if len(classes) != 2 or predicted.shape[1] != len(true):
        return None  # sklearn's own error (one class, multiclass) comes from the fallback
    from scipy.stats import rankdata

    scores = predicted[:, :, 0]
    finite = np.isfinite(scores).all(axis=1)
    positive = true == classes[1]
    n_pos = int(positive.sum())
    n_neg = len(true) - n_pos
    # the Mann-Whitney statistic with tied scores at their mean rank is the ROC curve's area
    ranks = rankdata(np.where(finite[:, None], scores, 0.0), axis=1)
    auc = (ranks[:, positive].sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return [[float(value)] if ok else None for value, ok in zip(auc, finite)]


def _multiclass(metric: MulticlassMetrics, truth: StageTruth, predicted: np.ndarray) -> Optional[list]:
    columns = truth.label_columns
    chosen = truth.derived("label_positions", _label_positions)
    if len(columns) == 1 or not chosen:
        return None  # the metric's own error comes from the fallback
    true = truth.true_matrix
    if len(chosen) < len(columns):
        true, predicted = true[:, chosen], predicted[:, :, chosen]
    predicted = predicted.astype(np.float64)
    finite = ~np.isnan(predicted).any(axis=(1, 2))
    rows = np.arange(len(true))[None, :]
    values = []
    if not (metric.add_rating or metric.recall_at):
        winners = np.argmax(predicted, axis=2)
        if metric.add_accuracy:
            values.append(_mean_rows(true[rows, winners] > 0.5))
    else:
        order = np.argsort(-predicted, axis=2, kind="stable")
        ranks = np.empty_like(order)
        steps = np.broadcast_to(np.arange(predicted.shape[2]), order.shape)
        np.put_along_axis(ranks, order, steps, axis=2)
        true_ranks = ranks[:, true > 0.5]  # (tasks, true entries): the same entries for every task
        if metric.add_accuracy:
            winners = np.argmin(ranks, axis=2)
            values.append(_mean_rows(true[rows, winners] > 0.5))
        if metric.add_rating:
            values.append(_mean_rows(true_ranks))
        values.extend(_mean_rows(true_ranks < k) for k in metric.recall_at)
    measured = [list(task_values) for task_values in zip(*values)] if values else [[]] * len(predicted)
    return [m if ok else None for m, ok in zip(measured, finite)]


def _mean_rows(values: np.ndarray) -> list:
    """``_metrics._mean`` of each row: a count over the size for booleans, else numpy's mean."""
    if not values.shape[1]:
        return [float("nan")] * len(values)
    if values.dtype == np.bool_:
        return [int(count) / values.shape[1] for count in np.count_nonzero(values, axis=1)]
    return [float(np.mean(row)) for row in values]
