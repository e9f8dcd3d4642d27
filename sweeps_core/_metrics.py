"""Metrics over a result frame, named ``<metric>_<stage>`` (e.g. ``roc_auc_score_test``).

The shipped metrics also measure straight from a report's arrays (``measure_arrays``), so an
epoch's report builds no DataFrame unless a user's own metric reads one.
"""
from __future__ import annotations

import collections.abc
import numbers
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from ._errors import ConfigurationError, DataError

TRUE_PREFIX, PREDICTED_PREFIX = "true_label_", "predicted_label_"


def _plain(value: Any) -> Any:
    """numpy scalars become Python ones, so a history row is plain data."""
    return value.item() if isinstance(value, np.generic) else value


class Metric:
    """One or several values measured on a result frame (columns such as ``true``, ``predicted``).

    A metric may set ``columns`` (a list of names) to receive a frame with only those columns, and
    may define ``measure_arrays(stage_result)`` to skip the frame altogether.
    """

    def get_names(self) -> list[str]:
        raise NotImplementedError

    def measure(self, df: pd.DataFrame) -> list:
        """The values, in the order of ``get_names()``."""
        raise NotImplementedError


class SklearnMetric(Metric):
    """Wraps ``method(y_true, y_pred, **kwargs)``, e.g. ``roc_auc_score``; named ``method.__name__``."""

    def __init__(self, method: Callable, **kwargs: Any) -> None:
        if not callable(method):
            raise ConfigurationError(f"SklearnMetric expects a function such as roc_auc_score, but got {method!r}")
        self.method = method
        self.kwargs = kwargs

    def get_names(self) -> list[str]:
        return [getattr(self.method, "__name__", type(self.method).__name__)]

    def measure(self, df: pd.DataFrame) -> list:
        missing = [c for c in ("true", "predicted") if c not in df.columns]
        if missing:
            raise DataError(f"metric {self.get_names()[0]!r} needs the columns 'true' and 'predicted' in the result frame; "
                            f"missing {missing!r}, available columns: {list(df.columns)}")
        # numpy arrays, not Series: sklearn validates Series far more slowly, and this runs every epoch
        return [self.method(df["true"].to_numpy(), df["predicted"].to_numpy(), **self.kwargs)]

    def measure_arrays(self, result: Any) -> list:
        """The same value from a report's arrays (a ``StageResult`` with a one-column label)."""
        if len(result.label_columns) != 1:
            raise DataError(f"metric {self.get_names()[0]!r} needs the columns 'true' and 'predicted' in the result frame; "
                            f"the label frame has {len(result.label_columns)} columns {result.label_columns}, so the "
                            f"result frame has instead: {result.column_names()}")
        return [self.method(result.truth.true_column(0), result.predicted[:, 0], **self.kwargs)]

    def __repr__(self) -> str:
        return f"SklearnMetric({self.get_names()[0]}, **{self.kwargs!r})"


class MetricPool:
    """The metrics of a task; ``run`` names each value ``<metric>_<stage>``.

    Example:
        >>> from sklearn.metrics import roc_auc_score
        >>> df = pd.DataFrame({'true': [0, 1, 0, 1], 'predicted': [.1, .9, .2, .8], 'stage': 'test'})
        >>> MetricPool().add_sklearn(roc_auc_score).run(df)
        {'roc_auc_score_test': 1.0}
    """

    def __init__(self) -> None:
        self.metrics: list[Metric] = []

    def add(self, metric: Metric) -> "MetricPool":
        if not (hasattr(metric, "get_names") and hasattr(metric, "measure")):
            raise ConfigurationError(f"MetricPool.add expects an object with get_names() and measure(df), but got {metric!r}; "
                                     f"wrap a plain function with add_sklearn(function)")
        self.metrics.append(metric)
        return self

    def add_sklearn(self, method: Callable, **kwargs: Any) -> "MetricPool":
        return self.add(SklearnMetric(method, **kwargs))

    def get_metric_names(self) -> list[str]:
        """The base names (no stage suffix), in order."""
        return [name for metric in self.metrics for name in metric.get_names()]

    def run(self, result: Any) -> dict:
        """``{<metric>_<stage>: value}`` for each stage (in order of appearance), then each metric.

        ``result`` is a result frame with a ``stage`` column, or a report's ``Evaluation``.
        """
        if isinstance(result, pd.DataFrame):
            if "stage" not in result.columns:
                raise DataError(f"MetricPool.run needs a 'stage' column in the result frame; available columns: {list(result.columns)}")
            stages = [(stage, stage_df, None) for stage, stage_df in _stage_frames(result)]
        else:
            stages = [(stage.stage, None, stage) for stage in result.stages]
        values = {}
        for stage, stage_df, arrays in stages:
            for metric in self.metrics:
                names, measured = metric.get_names(), list(_measure(metric, stage_df, arrays))
                if len(names) != len(measured):
                    raise ConfigurationError(f"metric {metric!r} names {len(names)} values {names!r} but measured {len(measured)}")
                values.update({f"{name}_{stage}": _plain(value) for name, value in zip(names, measured)})
        return values

    def __repr__(self) -> str:
        return f"MetricPool({self.metrics!r})"


def _measure(metric: Metric, stage_df: pd.DataFrame | None, arrays: Any) -> list:
    """From the arrays where the metric can; else from a frame of the columns it names (or all)."""
    if stage_df is not None:
        return metric.measure(stage_df)
    if hasattr(metric, "measure_arrays"):
        return metric.measure_arrays(arrays)
    return metric.measure(arrays.frame(getattr(metric, "columns", None)))


def _stage_frames(result_df: pd.DataFrame):
    """(stage, rows of that stage) in order of appearance; contiguous stages are cut as slices (no copy)."""
    stages = result_df["stage"].to_numpy()
    for stage in pd.unique(stages):
        positions = np.flatnonzero(stages == stage)
        if positions[-1] - positions[0] + 1 == len(positions):
            yield stage, result_df.iloc[positions[0]:positions[-1] + 1]
        else:
            yield stage, result_df.iloc[positions]


def _recall_levels(recall_at: int | Iterable[int] | None) -> list[int]:
    if recall_at is None:
        return []
    # a lone non-int (1.5) becomes one bad level, so it gets the message below, not a TypeError
    levels = list(recall_at) if isinstance(recall_at, collections.abc.Iterable) else [recall_at]
    bad = [k for k in levels if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1]
    if bad:
        raise ConfigurationError(f"recall_at must be a positive int or a list of them, but got {recall_at!r}")
    return [int(k) for k in levels]


class MulticlassMetrics(Metric):
    """Accuracy, mean rank of the true class (``rating``) and ``recall_at_<k>`` over one-hot labels.

    Reads ``true_label_<cls>`` / ``predicted_label_<cls>`` columns. Classes are ranked per sample by
    predicted score, descending (rank 0 is the winner); a class is true where its value is > 0.5.
    """

    def __init__(self, add_accuracy: bool = True, add_rating: bool = False,
                 recall_at: int | Iterable[int] | None = None) -> None:
        self.add_accuracy = add_accuracy
        self.add_rating = add_rating
        self.recall_at = _recall_levels(recall_at)

    def get_names(self) -> list[str]:
        names = (["accuracy"] if self.add_accuracy else []) + (["rating"] if self.add_rating else [])
        return names + [f"recall_at_{k}" for k in self.recall_at]

    @staticmethod
    def _matrices(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        true_columns = [c for c in df.columns if str(c).startswith(TRUE_PREFIX)]
        if not true_columns:
            if "true" in df.columns:  # a one-column label: 'true'/'predicted' instead of one column per class
                raise _one_column_error(None)
            raise DataError(f"MulticlassMetrics needs columns named '{TRUE_PREFIX}<class>' (a label frame whose columns "
                            f"start with 'label_', e.g. one-hot of a column 'label'); available columns: {list(df.columns)}")
        predicted = [PREDICTED_PREFIX + str(c)[len(TRUE_PREFIX):] for c in true_columns]
        missing = [c for c in predicted if c not in df.columns]
        if missing:
            raise DataError(f"MulticlassMetrics: prediction columns {missing!r} are missing; available columns: {list(df.columns)}")
        return df[true_columns].to_numpy(dtype=np.float64), df[predicted].to_numpy(dtype=np.float64)

    @staticmethod
    def ranks(predicted: np.ndarray) -> np.ndarray:
        """``ranks[i, j]``: the rank of class j in sample i (0 = highest score; ties keep column order)."""
        order = np.argsort(-predicted, axis=1, kind="stable")
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.arange(predicted.shape[1])[None, :].repeat(len(order), 0), axis=1)
        return ranks

    def measure(self, df: pd.DataFrame) -> list:
        return self._measure(*self._matrices(df))

    def measure_arrays(self, result: Any) -> list:
        """The same values from a report's arrays (a ``StageResult``)."""
        columns = result.label_columns
        if len(columns) == 1:
            raise _one_column_error(columns)
        chosen = result.truth.derived("label_positions", _label_positions)
        if not chosen:
            raise DataError(f"MulticlassMetrics needs columns named '{TRUE_PREFIX}<class>' (a label frame whose columns "
                            f"start with 'label_', e.g. one-hot of a column 'label'); available columns: {result.column_names()}")
        true = result.truth.true_matrix
        if len(chosen) < len(columns):
            true, predicted = true[:, chosen], result.predicted[:, chosen]
        else:
            predicted = result.predicted
        return self._measure(true, predicted.astype(np.float64))

    def _measure(self, true: np.ndarray, predicted: np.ndarray) -> list:
        if not (self.add_rating or self.recall_at) and not np.isnan(predicted).any():
            # accuracy alone needs only the winner: argmax picks the first of tied maxima, as the ranks do
            winners = np.argmax(predicted, axis=1)
            return [_mean(true[np.arange(len(true)), winners] > 0.5)] if self.add_accuracy else []
        ranks = self.ranks(predicted)
        true_ranks = ranks[true > 0.5]
        values = []
        if self.add_accuracy:
            winners = np.argmin(ranks, axis=1)
            values.append(_mean(true[np.arange(len(true)), winners] > 0.5))
        if self.add_rating:
            values.append(_mean(true_ranks))
        values.extend(_mean(true_ranks < k) for k in self.recall_at)
        return values

    def __repr__(self) -> str:
        return f"MulticlassMetrics(add_accuracy={self.add_accuracy}, add_rating={self.add_rating}, recall_at={self.recall_at})"


def _label_positions(columns: list) -> list:
    """Positions of the label columns named ``label_<class>``."""
    return [i for i, c in enumerate(columns) if str(c).startswith(TRUE_PREFIX[len("true_"):])]


def _one_column_error(columns: list | None) -> DataError:
    which = f" {columns}" if columns else " (the result frame has 'true' and 'predicted')"
    return DataError(
        f"MulticlassMetrics needs a label frame with one column per class (result columns "
        f"'{TRUE_PREFIX}<class>'), but it has one column{which}: "
        f"the label transformer saw a single class when it was fitted. This happens when it is fitted on "
        f"one batch of rows sorted by class (settings.fit_on='first_batch'): fit it on the whole training "
        f"split (settings.fit_on='train', the default), or shuffle the rows, or make sure the training split "
        f"holds every class. For a binary label, use add_sklearn(roc_auc_score) instead"
    )


def _mean(values: np.ndarray) -> float:
    if not values.size:
        return float("nan")
    if values.dtype == np.bool_:  # the same value as np.mean, without its float conversion
        return np.count_nonzero(values) / values.size
    return float(np.mean(values))
