"""The objective of a sweep: which metric ranks its tasks, and whether higher or lower is better.

One vocabulary everywhere: ``mode='max'`` or ``mode='min'`` (Optuna's study keeps its own
``'maximize'``/``'minimize'``, converted here and nowhere else).
"""
from __future__ import annotations

from typing import Any, Optional

from ._errors import SweepsValueError
from ._spec import TaskResult

MODES = ("max", "min")
_DIRECTIONS = {"max": "maximize", "min": "minimize"}


# Keys of a history row that are not metrics.
NON_METRIC_KEYS = ("iteration", "timestamp", "iteration_absolute")
# Suffixes that name a split, longest first so that '_validation' wins over '_val'.
SPLITS = ("validation", "display", "train", "valid", "test", "val")


def split_key(key: str) -> tuple[str, str]:
    """``'accuracy_test'`` -> ``('accuracy', 'test')``; ``'loss'`` -> ``('loss', 'train')``.

    ``loss`` alone is the training loss of the walkthrough's history rows; a key without a known
    split suffix gets the split ``''``.
    """
    if key == "loss":
        return "loss", "train"
    for split in SPLITS:
        suffix = "_" + split
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)], split
    return key, ""


def metric_keys(result: TaskResult) -> list[str]:
    """The metric keys of one result, in the order its history and final metrics give them."""
    seen = dict.fromkeys([key for row in result.history for key in row] + list(result.metrics))
    return [key for key in seen if key not in NON_METRIC_KEYS]


def choose_metric(result: TaskResult) -> str:
    """The primary metric of a sweep, picked from its first complete result.

    The first key ending in ``_test``, else the first metric other than the training loss, else
    ``'loss'``.
    """
    keys = metric_keys(result)
    for key in keys:
        if key.endswith("_test"):
            return key
    for key in keys:
        if key != "loss":
            return key
    return "loss"


def default_direction(metric: str) -> str:
    """``'minimize'`` for losses and errors, ``'maximize'`` for everything else."""
    lowered = metric.lower()
    return "minimize" if ("loss" in lowered or "error" in lowered) else "maximize"


def final_value(result: TaskResult, metric: str) -> Optional[float]:
    """The metric at the last epoch that reported it, else from ``result.metrics``; else None."""
    for row in reversed(result.history):
        if metric in row and row[metric] is not None:
            return row[metric]
    return result.metrics.get(metric)


def default_mode(metric: str) -> str:
    """``'min'`` for losses and errors, ``'max'`` for everything else."""
    return "max" if default_direction(metric) == "maximize" else "min"


def check_mode(mode: Any, parameter: str = "mode") -> Optional[str]:
    """``mode`` as 'max'/'min' (None stays None); Optuna's 'maximize'/'minimize' are accepted."""
    if mode is None or mode in MODES:
        return mode
    if mode in _DIRECTIONS.values():
        return mode[:3]
    raise SweepsValueError(
        f"{parameter}={mode!r} is not valid: expected one of {list(MODES)!r} ('max': higher is "
        "better; 'min': lower is better), or None to follow the metric's name ('min' for losses "
        "and errors)."
    )


def to_direction(mode: Optional[str]) -> Optional[str]:
    """'max' -> 'maximize', 'min' -> 'minimize' (Optuna's words); None stays None."""
    return None if mode is None else _DIRECTIONS[check_mode(mode)]
