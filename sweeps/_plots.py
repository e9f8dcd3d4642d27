"""Learning curves and leaderboard bars that compare tasks by their params.

A sweep's history is a tidy long frame (one row per task, epoch and metric), so a picture is a
choice of roles: ``by`` makes one panel per value of a param, ``hue`` colours by another,
``style`` draws a third as line dashes. The palettes and the look are seaborn's ("deep" colours
on a white grid), written out here so that a picture pays for matplotlib only (seaborn imports
scipy: a second or more). matplotlib is imported inside the functions, so ``import sweeps``
does not pay for it. The backend is matplotlib's choice (set ``MPLBACKEND=Agg`` on a machine
without a display).

    >>> result.plot_curves("accuracy_test", by="algorithm", hue="learning_rate",
    ...                    style="network_size", baseline=1 / 3)          # doctest: +SKIP
    >>> result.plot_leaderboard("accuracy_test", hue="algorithm")        # doctest: +SKIP
"""
from __future__ import annotations

import difflib
import math
from typing import Any, Optional, Sequence

from ._errors import SweepsValueError
from ._objective import default_direction, split_key
from ._spec import PRUNED

# Metrics whose values lie in [0, 1] (matched on the metric's name without its split): their
# axes stay within those bounds.
BOUNDED = ("accuracy", "balanced_accuracy", "f1", "precision", "recall", "roc_auc", "auc",
           "average_precision", "jaccard")
# Beyond this many tasks without a hue, the best ones are coloured and named, the rest grey.
MAX_LABELLED = 20
DASHES = ["-", "--", ":", "-."]
MARKERS = ["o", "s", "^", "D", "v", "P"]
PANEL = (4.6, 3.4)  # inches per panel
MAX_COLUMNS = 3  # panels per row
# seaborn's "deep" palette, for up to 10 levels
DEEP = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C",
        "#CCB974", "#64B5CD"]
# seaborn's "whitegrid" style
WHITEGRID = {
    "axes.facecolor": "white", "axes.edgecolor": ".8", "axes.grid": True, "axes.axisbelow": True,
    "axes.labelcolor": ".15", "figure.facecolor": "white", "grid.color": ".8",
    "grid.linestyle": "-", "text.color": ".15", "xtick.color": ".15", "ytick.color": ".15",
    "xtick.direction": "out", "ytick.direction": "out", "lines.solid_capstyle": "round",
    "patch.edgecolor": "w", "patch.force_edgecolor": True, "xtick.bottom": False,
    "xtick.top": False, "ytick.left": False, "ytick.right": False,
}


def _palette(n: int) -> list:
    """n distinct colours: seaborn's "deep" up to 10, else evenly spaced hues."""
    import colorsys

    if n <= len(DEEP):
        return DEEP[:max(n, 1)]
    return [colorsys.hls_to_rgb((0.01 + k / n) % 1.0, 0.6, 0.65) for k in range(n)]


def _style() -> Any:
    import matplotlib

    return matplotlib.rc_context(WHITEGRID)


def _is_result(data: Any) -> bool:
    """A SweepResult (duck-typed: this module reads results, ``_results`` imports it lazily)."""
    return hasattr(data, "results") and hasattr(data, "param_columns")


# ----------------------------------------------------------------------------- roles


def default_roles(data: Any) -> dict:
    """``by``, ``hue`` and ``style`` for a grid: panels for the param with the fewest values,
    colours for the next, dashes for the third (params with one value are left out).

    Example:
        >>> default_roles(result)                                        # doctest: +SKIP
        {'by': 'algorithm', 'hue': 'network_size', 'style': 'learning_rate'}
    """
    frame, columns = _frame_and_params(data)
    params = _task_params(data, frame, columns)
    counts = {key: len(_levels([p[column] for p in params.values()]))
              for key, column in columns.items()}
    swept = sorted((key for key in counts if counts[key] > 1), key=lambda key: counts[key])
    roles = dict(zip(("by", "hue", "style"), swept))
    if "style" in roles and counts[roles["style"]] > len(DASHES):
        del roles["style"]  # more dashes than the eye tells apart
    if len(roles) == 1:  # one swept param: colours read better than one panel per value
        roles = {"hue": roles["by"]}
    return roles


def _frame_and_params(data: Any) -> tuple[Any, dict]:
    """(the tidy history frame, param key -> frame column) of a result or of a frame."""
    if _is_result(data):
        return data.history, data.param_columns()
    reserved = {"name", "iteration", "split", "metric", "value"}
    return data, {column: column for column in data.columns if column not in reserved}


def _check_roles(columns: dict, **roles: Optional[str]) -> dict:
    """role -> frame column; every unknown param named at once, with the valid ones."""
    chosen, problems = {}, []
    for role, key in roles.items():
        if key is None:
            continue
        if key in columns:
            chosen[role] = columns[key]
            continue
        close = difflib.get_close_matches(str(key), list(columns), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        problems.append(f"{role}={key!r} is not a param of this sweep.{hint}")
    if problems:
        raise SweepsValueError(" ".join(problems) + f" The params are {list(columns)!r}; "
                               "pass one of them, or None.")
    return chosen


def _levels(series: Any) -> list:
    """The distinct values of a param column in a readable order: numbers and tuples sorted,
    anything else in first-seen order."""
    seen: list = []
    for value in series:
        if not any(_same(value, other) for other in seen):
            seen.append(value)
    try:
        return sorted(seen, key=_order_key)
    except TypeError:
        return seen


def _order_key(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return (len(value), tuple(value))
    return value


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same kind: 1 and True and 1.0 are different params' values."""
    a, b = _plain(a), _plain(b)
    return type(a) is type(b) and a == b


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)  # a numpy scalar, as pandas hands out
    return item() if callable(item) and getattr(value, "shape", None) == () else value


def _label(value: Any) -> str:
    return str(_plain(value))


# ----------------------------------------------------------------------------- metric


def _is_bounded(metric: str) -> bool:
    return split_key(metric)[0] in BOUNDED


def _metric_rows(data: Any, metric: Optional[str]) -> tuple[Any, str, str, str]:
    """(rows of one metric key, the key, the sweep's name, 'max'|'min') from a result or frame."""
    if _is_result(data):
        metric = data._check_metric(metric)
        frame, name = data.history, data.name
        mode = data._mode(metric, None)
    else:
        if metric is None:
            raise SweepsValueError("plot_curves of a frame needs metric=, e.g. 'accuracy_test'.")
        frame, name = data, ""
        mode = "max" if default_direction(metric) == "maximize" else "min"
    base, split = split_key(metric)
    rows = frame[(frame["metric"] == base) & (frame["split"] == split)]
    return rows, metric, name, mode


def _check_baseline(baseline: Optional[float]) -> Optional[float]:
    if baseline is None:
        return None
    try:
        value = float(baseline)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise SweepsValueError(f"baseline={baseline!r} must be a finite number (the metric's "
                               "chance level, e.g. 1/3 for accuracy on three balanced classes) "
                               "or None.")
    return value


# ----------------------------------------------------------------------------- curves


def plot_curves(
    data: Any,
    metric: Optional[str] = None,
    *,
    by: Optional[str] = None,
    hue: Optional[str] = None,
    style: Optional[str] = None,
    baseline: Optional[float] = None,
    ax: Any = None,
    path: Any = None,
) -> Any:
    """Learning curves: ``metric`` per epoch, one line per task.

    Args:
        data: a ``SweepResult``, or its ``history`` frame (then ``metric`` is required).
        metric: a history key such as ``'accuracy_test'``; default: the sweep's metric.
        by: a param; one panel per value (panels share the y axis).
        hue: a param whose values get distinct colours.
        style: a param whose values get distinct dashes and markers.
        baseline: a known reference level (chance, a previous model), drawn as a dotted line.
        ax: draw into these axes (only without ``by``).
        path: also save the figure there as a PNG.

    Without ``by``, ``hue`` and ``style``, each task gets its own colour and its name in the
    legend (the best ``MAX_LABELLED`` by their last value; others are thin grey lines). Tasks
    whose curves coincide are drawn as one line with a halo per extra task and labelled
    "n tasks". A bounded metric (accuracy, f1, ...) keeps its axis within [0, 1].

    Returns:
        The Axes, or an array of Axes (one per panel) with ``by``.

    Example:
        >>> result.plot_curves("accuracy_test", by="algorithm", hue="learning_rate",
        ...                    path="curves.png")                        # doctest: +SKIP
    """
    rows, metric, name, mode = _metric_rows(data, metric)
    _, columns = _frame_and_params(data)
    roles = _check_roles(columns, by=by, hue=hue, style=style)
    baseline = _check_baseline(baseline)
    if ax is not None and "by" in roles:
        raise SweepsValueError(f"by={by!r} draws one panel per value, so it cannot draw into "
                               "the given ax=; pass ax=None (a new figure) or by=None.")
    failed = {r.name for r in data.results if not r.ok} if _is_result(data) else set()
    import matplotlib.pyplot as plt
    import numpy as np

    params = _task_params(data, rows, columns)
    panels = _levels([params[t][roles["by"]] for t in params]) if "by" in roles else [None]
    with _style():
        if ax is None:
            n_columns = min(MAX_COLUMNS, len(panels))
            n_rows = math.ceil(len(panels) / n_columns)
            fig, axes = plt.subplots(n_rows, n_columns, sharey=True, squeeze=False,
                                     figsize=(PANEL[0] * n_columns + 2.2, PANEL[1] * n_rows + 0.6))
            axes = axes.ravel()
        else:
            fig, axes = ax.figure, np.array([ax])
    looks, legend = _looks(rows, params, roles, mode)
    for panel_ax, value in zip(axes, panels):
        part = rows if value is None else rows[[_same(params[t][roles["by"]], value)
                                                for t in rows["name"]]]
        _draw_panel(panel_ax, part, looks, failed)
        if value is not None:
            panel_ax.set_title(f"{by} = {_label(value)}", fontsize="medium")
        _axis_style(panel_ax, metric, baseline, rows)
    for position, panel_ax in enumerate(axes[: len(panels)]):
        if ax is None and position % MAX_COLUMNS:
            panel_ax.set_ylabel("")  # the panels share the y axis: one label per row
    for extra in axes[len(panels):]:
        extra.set_visible(False)
    legend_ax = axes[min(len(panels), MAX_COLUMNS) - 1]
    _legend(legend_ax, legend, failed & set(rows["name"]), baseline, mode)
    title = f"{metric} per epoch"
    if ax is None:
        fig.suptitle(f"{name}: {title}" if name else title)
        fig.tight_layout()
    else:
        ax.set_title(f"{name}: {title}" if name else title)
    _save(fig, path)
    return axes[: len(panels)] if "by" in roles else axes[0]


def _task_params(data: Any, rows: Any, columns: dict) -> dict:
    """task name -> {frame column: the param's value as the user wrote it} (a frame turns 1
    into 1.0 in a column of floats; the result keeps the 1)."""
    if _is_result(data):
        return {r.name: {column: r.params.get(key) for key, column in columns.items()}
                for r in data.results}
    first = rows.drop_duplicates("name")
    return {row["name"]: {column: row[column] for column in columns.values()}
            for _, row in first.iterrows()}


def _looks(rows: Any, params: dict, roles: dict, mode: str) -> tuple[dict, list]:
    """task name -> line properties, and the legend's (title, [(label, properties)]) sections."""
    tasks = list(dict.fromkeys(rows["name"]))
    legend: list = []
    looks = {task: {"color": "0.25", "linestyle": "-", "marker": None} for task in tasks}
    if "hue" not in roles and "style" not in roles:
        return _looks_by_name(rows, tasks, mode)
    if "hue" in roles:
        levels = _levels([params[task][roles["hue"]] for task in tasks])
        palette = _palette(len(levels))
        for task in tasks:
            looks[task]["color"] = palette[_index(levels, params[task][roles["hue"]])]
        legend.append((roles["hue"], [(_label(v), {"color": c, "linestyle": "-"})
                                      for v, c in zip(levels, palette)]))
    if "style" in roles:
        levels = _levels([params[task][roles["style"]] for task in tasks])
        for task in tasks:
            k = _index(levels, params[task][roles["style"]])
            looks[task]["linestyle"] = DASHES[k % len(DASHES)]
            looks[task]["marker"] = MARKERS[k % len(MARKERS)]
        legend.append((roles["style"], [(_label(v), {"color": "0.3",
                                                     "linestyle": DASHES[k % len(DASHES)],
                                                     "marker": MARKERS[k % len(MARKERS)]})
                                        for k, v in enumerate(levels)]))
    return looks, legend


def _looks_by_name(rows: Any, tasks: list, mode: str) -> tuple[dict, list]:
    finals = {task: group.sort_values("iteration")["value"].iloc[-1]
              for task, group in rows.groupby("name", sort=False)}
    ranked = sorted(tasks, key=lambda task: _sort_key(finals.get(task, math.nan), mode))
    labelled = ranked[:MAX_LABELLED]
    palette = _palette(len(labelled))
    looks = {task: {"color": "0.75", "linestyle": "-", "marker": None, "linewidth": 0.8}
             for task in tasks}
    for task, color in zip(labelled, palette):
        looks[task] = {"color": color, "linestyle": "-", "marker": None}
    title = "task" + (f" (best {len(labelled)} of {len(tasks)})" if len(tasks) > len(labelled)
                      else "")
    return looks, [(title, [(task, looks[task]) for task in labelled])]


def _index(levels: list, value: Any) -> int:
    return next(k for k, level in enumerate(levels) if _same(level, value))


def _draw_panel(ax: Any, part: Any, looks: dict, failed: set) -> None:
    """Each task's line; tasks with the same curve drawn once, with a wider halo per extra task
    underneath, so that none hides another."""
    curves: dict = {}
    for task, group in part.groupby("name", sort=False):
        group = group.sort_values("iteration")
        key = (tuple(group["iteration"]), tuple(round(v, 9) for v in group["value"]))
        curves.setdefault(key, []).append((task, group))
    for members in curves.values():
        n = len(members)
        for depth, (task, group) in enumerate(reversed(members)):  # the first task on top
            look = looks[task]
            halo = n - 1 - depth  # 0 for the line on top
            width = look.get("linewidth", 1.6) + 2.6 * halo
            markevery = max(1, len(group) // 8)
            ax.plot(group["iteration"], group["value"], color=look["color"],
                    linestyle=look["linestyle"] if halo == 0 else "-",
                    marker=look["marker"] if halo == 0 else None, markevery=markevery,
                    markersize=4, linewidth=width, alpha=1.0 if halo == 0 else 0.45,
                    zorder=3 + n - halo, solid_capstyle="round")
            if task in failed:  # where a failed task stopped
                ax.plot(group["iteration"].iloc[-1:], group["value"].iloc[-1:], marker="x",
                        color="crimson", markersize=8, linestyle="", zorder=10)
        if n > 1:
            _, group = members[0]
            ax.annotate(f"{n} tasks", (group["iteration"].iloc[-1], group["value"].iloc[-1]),
                        xytext=(-4, 6), textcoords="offset points", ha="right",
                        fontsize="x-small", color="0.2", zorder=12)


def _axis_style(ax: Any, metric: str, baseline: Optional[float], rows: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.set_ylabel(metric)
    if baseline is not None:
        ax.axhline(baseline, color="0.35", linestyle=(0, (1, 2)), linewidth=1.2, zorder=2)
    if _is_bounded(metric):
        ax.set_ylim(-0.02, 1.02)


def _legend(ax: Any, sections: list, failed: set, baseline: Optional[float], mode: str) -> None:
    from matplotlib.lines import Line2D

    handles, labels = [], []
    for title, entries in sections:
        handles.append(Line2D([], [], linestyle=""))
        labels.append(title)
        for label, look in entries:
            handles.append(Line2D([], [], color=look.get("color", "0.3"),
                                  linestyle=look.get("linestyle", "-"),
                                  marker=look.get("marker"), markersize=4, linewidth=1.6))
            labels.append(label)
    if failed:
        handles.append(Line2D([], [], color="crimson", marker="x", linestyle=""))
        labels.append("failed here")
    if baseline is not None:
        handles.append(Line2D([], [], color="0.35", linestyle=(0, (1, 2))))
        labels.append(f"baseline {baseline:.3g}")
    if not handles:
        return
    legend = ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                       fontsize="small", frameon=False,
                       title=f"{'higher' if mode == 'max' else 'lower'} is better",
                       title_fontsize="small")
    titles = {title for title, _ in sections}
    for text in legend.get_texts():
        if text.get_text() in titles:
            text.set_fontweight("bold")


# ----------------------------------------------------------------------------- leaderboard


def plot_leaderboard(
    data: Any,
    metric: Optional[str] = None,
    *,
    hue: Optional[str] = None,
    baseline: Optional[float] = None,
    ax: Any = None,
    path: Any = None,
    at: str = "last",
    top: Optional[int] = 40,
) -> Any:
    """Horizontal bars of ``metric`` per complete task, best at the top, labelled by rank and name.

    Args:
        data: a ``SweepResult``.
        metric: a history key; default: the sweep's metric.
        hue: a param whose values colour the bars.
        baseline: a known reference level, drawn as a dotted line.
        at: ``'last'`` (final epoch) or ``'best'`` (best epoch), as in ``leaderboard``.
        top: show only the best ``top`` tasks (None: all).
        path: also save the figure there as a PNG.

    Tasks with the same value share a rank (``6=``) and a shaded band. A bounded metric
    (accuracy, f1, ...) keeps its axis within [0, 1].

    Returns:
        The matplotlib Axes.
    """
    board = data.leaderboard(metric, at=at)
    metric = metric or data.metric
    columns = data.param_columns()
    roles = _check_roles(columns, hue=hue)
    baseline = _check_baseline(baseline)
    total = len(board)
    if top is not None:
        board = board.head(top)
    import matplotlib.pyplot as plt

    with _style():
        if ax is None:
            _, ax = plt.subplots(figsize=(9, max(2.5, 0.3 * len(board) + 1.3)))
    fig = ax.figure
    params = _task_params(data, board, columns)
    colors, legend = _bar_colors([params[task] for task in board["name"]], roles.get("hue"))
    values = board[metric].to_numpy()
    positions = list(range(len(board)))[::-1]  # the best at the top
    bars = ax.barh(positions, [0.0 if math.isnan(v) else v for v in values], color=colors,
                   height=0.72, zorder=3)
    ax.set_yticks(positions)
    ax.set_yticklabels(_rank_labels(board), fontsize="small", family="monospace")
    _shade_ties(ax, board, positions)
    for bar, value in zip(bars, values):
        ax.annotate("nan" if math.isnan(value) else f"{value:.4g}",
                    (bar.get_width(), bar.get_y() + bar.get_height() / 2), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize="x-small", zorder=4)
    _value_axis(ax, metric, values, baseline)
    better = "higher" if data._mode(metric, None) == "max" else "lower"
    ax.set_xlabel(f"{metric} at the {at} epoch ({better} is better)")
    ax.set_ylim(-0.6, len(board) - 0.4)
    shown = f", best {len(board)} of {total}" if total > len(board) else ""
    ax.set_title(f"{data.name}: leaderboard by {metric}{shown}")
    ax.grid(False, axis="y")
    if baseline is not None:
        from matplotlib.lines import Line2D

        legend = legend + [Line2D([], [], color="0.35", linestyle=(0, (1, 2)),
                                  label=f"baseline {baseline:.3g}")]
    if legend:
        ax.legend(handles=legend, title=hue, loc="upper left", bbox_to_anchor=(1.08, 1.0),
                  fontsize="small", title_fontsize="small", frameon=False)
    fig.tight_layout()
    _save(fig, path)
    return ax


def _bar_colors(params: list, column: Optional[str]) -> tuple[list, list]:
    from matplotlib.patches import Patch

    if column is None:
        return [DEEP[0]] * len(params), []
    values = [p[column] for p in params]
    levels = _levels(values)
    palette = _palette(len(levels))
    colors = [palette[_index(levels, value)] for value in values]
    return colors, [Patch(color=c, label=_label(v)) for v, c in zip(levels, palette)]


def _rank_labels(board: Any) -> list[str]:
    counts = board["rank"].value_counts()
    width = len(str(board["rank"].max())) + 1
    # a pruned task stopped early: its bar is not a final value, so its label says so
    status = board["status"] if "status" in board else [None] * len(board)
    return [f"{str(rank) + ('=' if counts[rank] > 1 else ''):>{width}} {name}"
            + (" (pruned)" if state == PRUNED else "")
            for rank, name, state in zip(board["rank"], board["name"], status)]


def _shade_ties(ax: Any, board: Any, positions: Sequence[int]) -> None:
    """A light band behind each group of tied tasks."""
    by_rank: dict = {}
    for rank, position in zip(board["rank"], positions):
        by_rank.setdefault(rank, []).append(position)
    for members in by_rank.values():
        if len(members) > 1:
            ax.axhspan(min(members) - 0.45, max(members) + 0.45, color="0.9", zorder=1,
                       linewidth=0)


def _value_axis(ax: Any, metric: str, values: Any, baseline: Optional[float]) -> None:
    finite = [float(v) for v in values if math.isfinite(v)]
    if baseline is not None:
        ax.axvline(baseline, color="0.35", linestyle=(0, (1, 2)), linewidth=1.2, zorder=5,
                   label=f"baseline {baseline:.3g}")
    if _is_bounded(metric):
        ax.set_xlim(0.0, 1.0)
    elif finite:
        low, high = min(finite + [0.0]), max(finite + [0.0])
        span = (high - low) or 1.0
        ax.set_xlim(low - 0.02 * span, high + 0.12 * span)


# ----------------------------------------------------------------------------- helpers


def _save(fig: Any, path: Any) -> None:
    if path is not None:
        # 'tight' keeps a legend placed outside the axes inside the picture.
        fig.savefig(path, dpi=110, bbox_inches="tight")


def _sort_key(value: float, mode: str) -> tuple:
    if value is None or math.isnan(value):
        return (1, 0.0)
    return (0, -value if mode == "max" else value)
