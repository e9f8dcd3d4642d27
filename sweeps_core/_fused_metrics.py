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
    Values are kept as columns and made into each task's dict once: with thousands of tasks a
    step of Python per task and value would cost more than the measuring.
    """
    count = outputs[0].shape[0] if outputs else 0
    keys: list = []
    columns: list = []
    failed: dict = {}
    for truth, predicted in zip(stages, outputs):
        for metric in pool.metrics:
            names = metric.get_names()
            vectorized = _vectorized(metric, truth, predicted)
            if vectorized is not None:
                values, ok = vectorized
                measured = [values[:, j].tolist() for j in range(len(names))]
                alone = np.flatnonzero(~ok).tolist()
            else:
                measured = [[None] * count for _ in names]
                alone = range(count)
            for task in alone:
                if task in failed:
                    continue
                try:
                    one = list(_measure(metric, None, StageResult(truth, predicted[task])))
                    if len(names) != len(one):
                        raise ValueError(f"metric {metric!r} names {len(names)} values {names!r} "
                                         f"but measured {len(one)}")
                except Exception:  # the task fails as its unfused report would
                    failed[task] = traceback.format_exc()
                    continue
                for j, value in enumerate(one):
                    measured[j][task] = _plain(value)
            keys.extend(f"{name}_{truth.stage}" for name in names)
            columns.extend(measured)
    rows: list = [dict(zip(keys, values)) for values in zip(*columns)] if columns else [{} for _ in range(count)]
    for task, text in failed.items():
        rows[task] = text
    return rows


def _vectorized(metric: Any, truth: StageTruth, predicted: np.ndarray) -> Optional[tuple]:
    """(values as a (tasks, names) float array, which tasks they hold), measured for the whole
    group; tasks left out (non-finite outputs) are measured on their own. None: no group form."""
    if type(metric) is SklearnMetric:
        return _roc_auc(metric, truth, predicted)
    if type(metric) is MulticlassMetrics:
        return _multiclass(metric, truth, predicted)
    return None


def _roc_auc(metric: SklearnMetric, truth: StageTruth, predicted: np.ndarray) -> Optional[tuple]:
    from sklearn.metrics import roc_auc_score

    if metric.method is not roc_auc_score or metric.kwargs or len(truth.label_columns) != 1:
        return None
    true = truth.true_column(0)
    classes = np.unique(true)
    if len(classes) != 2 or predicted.shape[1] != len(true):
        return None  # sklearn's own error (one class, multiclass) comes from the fallback
    import torch

    scores = torch.from_numpy(np.ascontiguousarray(predicted[:, :, 0]))
    finite = torch.isfinite(scores).all(dim=1)
    scores = torch.where(finite[:, None], scores, 0.0)
    positive = torch.from_numpy(true == classes[1])
    negatives = scores[:, ~positive].sort(dim=1).values.contiguous()
    positives = scores[:, positive].contiguous()
    # the Mann-Whitney statistic: per positive, the negatives below it and half those tied with it;
    # counted exactly, so the area is one division (sklearn's trapezoids agree within 1e-15)
    below = torch.searchsorted(negatives, positives, side="left").sum(dim=1)
    tied = torch.searchsorted(negatives, positives, side="right").sum(dim=1) - below
    pairs = positives.shape[1] * negatives.shape[1]
    auc = (2 * below + tied).double().numpy() / (2 * pairs)
    return auc[:, None], finite.numpy()


def _multiclass(metric: MulticlassMetrics, truth: StageTruth, predicted: np.ndarray) -> Optional[tuple]:
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
    table = np.stack(values, axis=1) if values else np.empty((len(predicted), 0))
    return table, finite


def _mean_rows(values: np.ndarray) -> np.ndarray:
    """``_metrics._mean`` of each row: a count over the size for booleans, else numpy's mean."""
    if not values.shape[1]:
        return np.full(len(values), np.nan)
    if values.dtype == np.bool_:
        # an int over an int, correctly rounded, as Python's division in _metrics._mean
        return np.count_nonzero(values, axis=1) / values.shape[1]
    return values.mean(axis=1)  # integer ranks: the sums are exact, so the means are numpy's
