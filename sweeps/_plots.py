"""Learning curves per task and leaderboard bars, drawn from a ``SweepResult`` (or its tidy frame).

matplotlib is imported inside the functions, so ``import sweeps`` does not pay for it. The
backend is matplotlib's choice (set ``MPLBACKEND=Agg`` on a machine without a display).
"""
from __future__ import annotations

import functools
import math
from typing import Any, Optional

from ._results import SweepResult, default_direction, split_key

# Beyond this many tasks, the best ones are drawn in colour and named, the rest in grey.
MAX_LABELLED = 20


def _figure_axes(ax: Any, figsize: tuple) -> tuple[Any, Any]:
    if ax is not None:
        return ax.figure, ax
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def _save(fig: Any, path: Any) -> None:
    if path is not None:
        # 'tight' keeps a legend placed outside the axes inside the picture.
        fig.savefig(path, dpi=110, bbox_inches="tight")


def _curves_frame(data: Any, metric: Optional[str]) -> tuple[Any, str, str, str]:
    """(rows of one metric key, the key, the sweep's name, 'max'|'min') from a result or frame."""
    if isinstance(data, SweepResult):
        metric = data._check_metric(metric)
        frame, name = data.history, data.name
        direction = data.direction if metric == data.metric and data.direction else None
    else:
        frame, name, direction = data, "", None
        if metric is None:
            raise ValueError("plot_curves of a frame needs metric=, e.g. 'accuracy_test'.")
    base, split = split_key(metric)
    rows = frame[(frame["metric"] == base) & (frame["split"] == split)]
    mode = "max" if (direction or default_direction(metric)) == "maximize" else "min"
    return rows, metric, name, mode


def plot_curves(
    data: Any,
    metric: Optional[str] = None,
    *,
    ax: Any = None,
    path: Any = None,
    figsize: tuple = (12, 6),
) -> Any:
    """One line per task: ``metric`` over iterations, labelled by task name.

    Args:
        data: a ``SweepResult``, or its ``history`` frame (then ``metric`` is required).
        metric: a history key such as ``'accuracy_test'``; default: the sweep's metric.
        ax: draw into these axes; default: a new figure of ``figsize``.
        path: also save the figure there as a PNG.

    With more than ``MAX_LABELLED`` tasks, only the best ``MAX_LABELLED`` (by final value) are
    coloured and in the legend; the others are thin grey lines.

    Returns:
        The matplotlib Axes.
    """
    rows, metric, name, mode = _curves_frame(data, metric)
    failed = {r.name for r in data.results if not r.ok} if isinstance(data, SweepResult) else set()
    fig, ax = _figure_axes(ax, figsize)
    curves = {
        task: group.sort_values("iteration") for task, group in rows.groupby("name", sort=False)
    }
    finals = {task: group["value"].iloc[-1] for task, group in curves.items()}
    ranked = sorted(curves, key=functools.partial(_final_key, finals, mode))
    labelled = set(ranked[:MAX_LABELLED])
    # Past 10 lines the default colour cycle repeats: use the 20 colours of tab20 instead.
    palette = None
    if len(labelled) > 10:
        import matplotlib

        palette = matplotlib.colormaps["tab20"].colors
    for task in reversed(ranked):  # the best drawn last, on top
        group = curves[task]
        if task in labelled:
            color = palette[ranked.index(task) % len(palette)] if palette else None
            ax.plot(group["iteration"], group["value"], marker="." if len(group) < 30 else None,
                    linewidth=1.6, color=color, linestyle="--" if task in failed else "-",
                    label=f"{task} (failed)" if task in failed else task)
        else:
            ax.plot(group["iteration"], group["value"], color="0.7", linewidth=0.8, alpha=0.6)
    ax.set_xlabel("iteration")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # iterations are whole epochs
    ax.set_ylabel(metric)
    shown = f" (best {len(labelled)} of {len(curves)} named)" if len(curves) > len(labelled) else ""
    ax.set_title(f"{name}: {metric} per iteration{shown}" if name else f"{metric} per iteration")
    ax.grid(True, alpha=0.3)
    if labelled:
        handles, labels = ax.get_legend_handles_labels()
        positions = {task: position for position, task in enumerate(ranked)}
        order = sorted(range(len(labels)), key=[positions[label.split(" (")[0]] for label in labels].__getitem__)
        ax.legend([handles[i] for i in order], [labels[i] for i in order],
                  loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
                  title=f"task ({'higher' if mode == 'max' else 'lower'} is better)",
                  title_fontsize="small", frameon=False)
    fig.tight_layout()
    _save(fig, path)
    return ax


def plot_leaderboard(
    data: SweepResult,
    metric: Optional[str] = None,
    *,
    ax: Any = None,
    path: Any = None,
    at: str = "last",
    top: Optional[int] = 40,
) -> Any:
    """Horizontal bars of ``metric`` per complete task, best at the top, labelled by name.

    Args:
        data: a ``SweepResult``.
        metric: a history key; default: the sweep's metric.
        at: ``'last'`` (final epoch) or ``'best'`` (best epoch), as in ``leaderboard``.
        top: show only the best ``top`` tasks (None: all).
        path: also save the figure there as a PNG.

    Returns:
        The matplotlib Axes.
    """
    board = data.leaderboard(metric, at=at)
    metric = metric or data.metric
    total = len(board)
    if top is not None:
        board = board.head(top)
    height = max(2.5, 0.32 * len(board) + 1.2)
    fig, ax = _figure_axes(ax, (10, height))
    values = board[metric].fillna(0.0).to_numpy()
    positions = range(len(board))[::-1]  # the best at the top
    bars = ax.barh(list(positions), values, color="tab:blue", alpha=0.8)
    ax.set_yticks(list(positions))
    ax.set_yticklabels(board["name"].tolist(), fontsize="small")
    for bar, value in zip(bars, board[metric].to_numpy()):
        label = "nan" if math.isnan(value) else f"{value:.4g}"
        ax.annotate(label, (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                    xytext=(3, 0), textcoords="offset points", va="center", fontsize="small")
    finite = [v for v in values if math.isfinite(v)]
    if finite and min(finite) > 0:
        # Zoom in on the differences: close scores would otherwise look identical.
        low, high = min(finite), max(finite)
        span = (high - low) or abs(high) or 1.0
        ax.set_xlim(max(0.0, low - 0.5 * span), high + 0.25 * span)
    better = "higher" if data._mode(metric, None) == "max" else "lower"
    ax.set_xlabel(f"{metric} at the {at} epoch ({better} is better)")
    shown = f", best {len(board)} of {total}" if total > len(board) else ""
    ax.set_title(f"{data.name}: leaderboard by {metric}{shown}")
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    _save(fig, path)
    return ax


def _final_key(finals: dict, mode: str, task: str):
    return _sort_key(finals[task], mode)


def _sort_key(value: float, mode: str) -> tuple:
    if value is None or math.isnan(value):
        return (1, 0.0)
    return (0, -value if mode == "max" else value)
