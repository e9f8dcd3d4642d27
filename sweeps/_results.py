"""The results of one sweep: a tidy history frame, a leaderboard, the best and the failed tasks.

``SweepResult`` reads only a list of ``TaskResult``, so it works the same on a sweep that just ran
and on one loaded from a store that another machine filled::

    >>> from sweeps import load_sweep
    >>> result = load_sweep("iris")                                 # doctest: +SKIP
    >>> result.leaderboard("accuracy_test", at="best").head()       # doctest: +SKIP
    >>> result.plot_curves(path="curves.png")                       # doctest: +SKIP
"""
from __future__ import annotations

import difflib
import math
from typing import TYPE_CHECKING, Any, Optional

from ._errors import SweepsValueError, UnknownMetricError
from ._objective import (  # noqa: F401 - the metric rules, re-exported for old imports
    MODES,
    NON_METRIC_KEYS,
    SPLITS,
    check_mode,
    choose_metric,
    default_direction,
    default_mode,
    final_value,
    metric_keys,
    split_key,
    to_direction,
)
from ._spec import COMPLETE, FAILED, PRUNED, TIMED_OUT, TaskResult

if TYPE_CHECKING:  # pandas is a dependency, but the store reads results without needing it
    import pandas as pd

# The tidy frame's own columns; a param of the same name becomes 'param_<name>'.
_RESERVED = ("rank", "name", "iteration", "split", "metric", "value", "epoch", "seconds", "error")
AT = ("last", "best")


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def param_columns(results: list[TaskResult]) -> dict[str, str]:
    """param key -> frame column: every param key in first-seen order, renamed on a clash."""
    columns: dict[str, str] = {}
    for result in results:
        for key in result.params:
            if key not in columns:
                columns[key] = f"param_{key}" if key in _RESERVED else key
    return columns


class SweepResult:
    """Every task of one sweep, with the views users ask for.

    Args:
        name: the sweep's name.
        results: one ``TaskResult`` per task (the store keeps the latest per name).
        metric: the primary metric, a history key such as ``'accuracy_test'``; None picks it from
            the first complete result (see ``choose_metric``).
        direction: ``'maximize'`` or ``'minimize'``; None guesses from the metric's name.
        store: the store the results came from, if any.

    Example:
        >>> from sweeps._spec import TaskResult
        >>> r = TaskResult("lr=0.1", {"lr": 0.1}, 0, "complete",
        ...                history=[{"accuracy_test": 0.9, "loss": 0.3, "iteration": 0}])
        >>> SweepResult("toy", [r]).leaderboard()["accuracy_test"].tolist()
        [0.9]
    """

    def __init__(
        self,
        name: str,
        results: list[TaskResult],
        *,
        metric: Optional[str] = None,
        direction: Optional[str] = None,
        store: Any = None,
    ):
        if direction not in (None, "maximize", "minimize"):
            raise SweepsValueError(
                f"direction={direction!r} is not valid: expected one of ['maximize', 'minimize'] "
                "or None (guessed from the metric's name)."
            )
        self.name = name
        self.results = list(results)
        if metric is None:
            first = next((r for r in self.results if r.ok), None)
            metric = choose_metric(first) if first is not None else None
        self.metric = metric
        if direction is None and metric is not None:
            direction = default_direction(metric)
        self.direction = direction
        self.store = store
        self._history: Optional[pd.DataFrame] = None

    def param_columns(self) -> dict[str, str]:
        """param key -> the frames' column for it (``param_<key>`` where a name is taken)."""
        return param_columns(self.results)

    # ----------------------------------------------------------------------------- frames
    @property
    def history(self) -> pd.DataFrame:
        """One tidy long frame: name, <params>, iteration, split, metric, value.

        One row per task, epoch and metric key. Params keep their Python values (a tuple stays a
        tuple). A row without ``iteration`` takes its position in the history.
        """
        if self._history is None:
            self._history = self._build_history()
        return self._history

    def _build_history(self) -> pd.DataFrame:
        import pandas as pd

        columns = param_columns(self.results)
        rows = []
        for result in self.results:
            params = {column: result.params.get(key) for key, column in columns.items()}
            for position, entry in enumerate(result.history):
                iteration = entry.get("iteration", position)
                for key, value in entry.items():
                    if key in NON_METRIC_KEYS:
                        continue
                    metric, split = split_key(key)
                    rows.append(
                        {
                            "name": result.name,
                            **params,
                            "iteration": iteration,
                            "split": split,
                            "metric": metric,
                            "value": _as_float(value),
                        }
                    )
        order = ["name", *columns.values(), "iteration", "split", "metric", "value"]
        frame = pd.DataFrame(rows, columns=order)
        frame["value"] = frame["value"].astype(float)
        return frame

    def available_metrics(self) -> list[str]:
        """Every metric key that some task reported, in first-seen order."""
        return list(dict.fromkeys(key for result in self.results for key in metric_keys(result)))

    def _check_metric(self, metric: Optional[str]) -> str:
        metric = self.metric if metric is None else metric
        available = self.available_metrics()
        if metric is not None and metric in available:
            return metric
        if metric is None:
            raise UnknownMetricError(
                f"sweep {self.name!r} has no complete task, so it has no default metric; "
                f"pass one of {available!r}."
            )
        close = difflib.get_close_matches(str(metric), available, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownMetricError(
            f"metric {metric!r} is not in the history of sweep {self.name!r}.{hint} "
            f"Available metrics: {available!r}."
        )

    def _mode(self, metric: str, mode: Optional[str]) -> str:
        if mode is not None:
            if mode not in MODES:
                raise SweepsValueError(
                    f"mode={mode!r} is not valid: expected one of {list(MODES)!r} "
                    "(or None: from the sweep's direction, 'min' for losses and errors)."
                )
            return mode
        if metric == self.metric and self.direction is not None:
            direction = self.direction
        else:
            direction = default_direction(metric)
        return "max" if direction == "maximize" else "min"

    def leaderboard(
        self, metric: Optional[str] = None, *, mode: Optional[str] = None, at: str = "last"
    ) -> pd.DataFrame:
        """Complete tasks ranked by ``metric``, best first.

        Args:
            metric: a history key such as ``'accuracy_test'``; default: the sweep's metric.
            mode: ``'max'`` or ``'min'``; default: from the sweep's direction ('min' for losses).
            at: ``'last'`` ranks by the last epoch; ``'best'`` by the best epoch, and adds the
                ``epoch`` (iteration) where it was reached.

        Returns:
            Columns rank, name, <params>, <metric>, [epoch], seconds; when the sweep has
            pruned tasks (ranked after every complete one), also status and epochs (the number
            of epochs each task ran). A task whose value is NaN ranks last.
        """
        import pandas as pd

        if at not in AT:
            raise SweepsValueError(
                f"at={at!r} is not valid: expected one of {list(AT)!r} "
                "('last': the final epoch; 'best': the best epoch of each task)."
            )
        complete = [r for r in self.results if r.ok]
        # Pruned tasks stopped early: they are shown, ranked after every complete task.
        pruned = [r for r in self.results if r.status == PRUNED]
        if not complete and metric is None and self.metric is None:
            return pd.DataFrame(columns=["rank", "name", "seconds"])
        metric = self._check_metric(metric)
        mode = self._mode(metric, mode)
        columns = param_columns(self.results)
        rows = []
        for result in complete + pruned:
            row: dict[str, Any] = {"name": result.name}
            row.update({column: result.params.get(key) for key, column in columns.items()})
            if at == "last":
                row[metric] = _as_float(final_value(result, metric))
            else:
                row[metric], row["epoch"] = _best_epoch(result, metric, mode)
            row["seconds"] = result.seconds
            row["status"] = result.status
            row["epochs"] = len(result.history)
            rows.append(row)
        order = ["name", *columns.values(), metric] + (["epoch"] if at == "best" else []) + [
            "seconds", "status", "epochs"
        ]
        frame = pd.DataFrame(rows, columns=order)
        frame[metric] = frame[metric].astype(float)
        # A stable sort keeps the sweep's own order among ties; complete tasks come first.
        frame["_pruned"] = frame["status"] == PRUNED
        frame = frame.sort_values(
            metric, ascending=(mode == "min"), na_position="last", kind="stable"
        ).sort_values("_pruned", kind="stable").reset_index(drop=True)
        ranks = frame[metric].rank(method="min", ascending=(mode == "min"), na_option="bottom")
        if frame["_pruned"].any():
            complete_ranks = frame.loc[~frame["_pruned"], metric].rank(
                method="min", ascending=(mode == "min"), na_option="bottom")
            pruned_ranks = frame.loc[frame["_pruned"], metric].rank(
                method="min", ascending=(mode == "min"), na_option="bottom")
            ranks = pd.concat([complete_ranks, pruned_ranks + len(complete_ranks)])
        frame.insert(0, "rank", ranks.astype(int))
        # status and epochs (how far each task ran) tell pruned tasks apart: shown when any is
        keep = [c for c in frame.columns
                if c != "_pruned" and (c not in ("status", "epochs") or pruned)]
        return frame[keep]

    @property
    def best(self) -> Optional[TaskResult]:
        """The best complete task by the sweep's metric; None when no task completed."""
        if self.metric is None or not any(r.ok for r in self.results):
            return None
        if self.metric not in self.available_metrics():
            return None
        board = self.leaderboard(self.metric)
        if board.empty or math.isnan(board[self.metric].iloc[0]):
            return None
        name = board["name"].iloc[0]
        return next(r for r in self.results if r.ok and r.name == name)

    @property
    def failed(self) -> pd.DataFrame:
        """Failed tasks: name, <params>, error (the traceback text)."""
        import pandas as pd

        columns = param_columns(self.results)
        rows = [
            {
                "name": r.name,
                **{column: r.params.get(key) for key, column in columns.items()},
                "error": r.error,
            }
            for r in self.results
            if r.status in (FAILED, TIMED_OUT)
        ]
        return pd.DataFrame(rows, columns=["name", *columns.values(), "error"])

    # ----------------------------------------------------------------------------- plots
    def plot_curves(
        self,
        metric: Optional[str] = None,
        *,
        by: Optional[str] = None,
        hue: Optional[str] = None,
        style: Optional[str] = None,
        baseline: Optional[float] = None,
        ax: Any = None,
        path: Any = None,
    ) -> Any:
        """Learning curves per epoch: panels ``by`` a param, colours by ``hue``, dashes by
        ``style``; see ``sweeps._plots.plot_curves``.

        Example:
            >>> result.plot_curves("accuracy_test", by="algorithm", hue="learning_rate",
            ...                    baseline=1 / 3, path="curves.png")    # doctest: +SKIP
        """
        from ._plots import plot_curves

        return plot_curves(self, metric, by=by, hue=hue, style=style, baseline=baseline, ax=ax,
                           path=path)

    def plot_leaderboard(
        self,
        metric: Optional[str] = None,
        *,
        hue: Optional[str] = None,
        baseline: Optional[float] = None,
        ax: Any = None,
        path: Any = None,
        at: str = "last",
        top: Optional[int] = 40,
    ) -> Any:
        """Horizontal bars, best on top, ties shared, coloured by ``hue``; see
        ``sweeps._plots.plot_leaderboard``."""
        from ._plots import plot_leaderboard

        return plot_leaderboard(self, metric, hue=hue, baseline=baseline, ax=ax, path=path,
                                at=at, top=top)

    # ----------------------------------------------------------------------------- dunder
    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self):
        return iter(self.results)

    def __repr__(self) -> str:
        n_complete = sum(r.status == COMPLETE for r in self.results)
        n_failed = sum(r.status == FAILED for r in self.results)
        n_timed_out = sum(r.status == TIMED_OUT for r in self.results)
        n_pruned = sum(r.status == PRUNED for r in self.results)
        pruned = f"{n_pruned} pruned, " if n_pruned else ""
        timed_out = f"{n_timed_out} timed out, " if n_timed_out else ""
        return (
            f"SweepResult({self.name!r}, {n_complete} complete, {pruned}{n_failed} failed, "
            f"{timed_out}"
            f"metric={self.metric!r}, direction={self.direction!r})"
        )


def _best_epoch(result: TaskResult, metric: str, mode: str) -> tuple[float, Any]:
    """The best value of ``metric`` over a task's epochs and the iteration that reached it."""
    best_value, best_epoch = math.nan, None
    for position, row in enumerate(result.history):
        value = _as_float(row.get(metric))
        if math.isnan(value):
            continue
        better = value > best_value if mode == "max" else value < best_value
        if best_epoch is None or better:
            best_value, best_epoch = value, row.get("iteration", position)
    if best_epoch is None and metric in result.metrics:  # no history: the final metrics only
        best_value = _as_float(result.metrics[metric])
    return best_value, best_epoch
