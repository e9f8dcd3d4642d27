"""Learning curves and leaderboard bars: they return Axes and write PNG files."""
import math

import matplotlib

matplotlib.use("Agg")  # no display in tests

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from sweeps._plots import plot_curves, plot_leaderboard  # noqa: E402
from sweeps._results import SweepResult  # noqa: E402
from sweeps._spec import COMPLETE, FAILED, TaskResult  # noqa: E402


def task(name, lr, rate):
    rows = [{"accuracy_test": 1 - math.exp(-rate * (i + 1)), "loss": math.exp(-rate * i),
             "iteration": i} for i in range(10)]
    return TaskResult(name, {"lr": lr}, 0, COMPLETE, history=rows, metrics=rows[-1], seconds=1)


@pytest.fixture
def sweep():
    tasks = [task(f"lr{lr}_size{s}", lr, 0.05 * (k + 1)) for k, (lr, s) in
             enumerate((lr, s) for lr in (0.01, 0.1, 0.3) for s in (10, 20))]
    tasks.append(TaskResult("lr9", {"lr": 9}, 0, FAILED, error="boom"))
    tasks.append(TaskResult("lr5", {"lr": 5}, 0, FAILED, error="boom",
                            history=[{"accuracy_test": 0.2, "iteration": 0},
                                     {"accuracy_test": 0.1, "iteration": 1}]))
    return SweepResult("iris", tasks)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_plot_curves_writes_a_png(sweep, tmp_path):
    path = tmp_path / "curves.png"
    ax = sweep.plot_curves(path=path)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert path.exists() and path.stat().st_size > 0
    assert "iris" in ax.get_title() and "accuracy_test" in ax.get_title()
    assert len(ax.get_lines()) == 7  # six complete tasks, one failed with a partial history
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "lr0.3_size20"  # the best first
    assert labels[-1] == "lr5 (failed)"


def test_plot_curves_of_a_frame_into_given_axes(sweep):
    fig, ax = plt.subplots()
    assert plot_curves(sweep.history, "loss", ax=ax) is ax
    assert len(ax.get_lines()) == 6  # the failed task reported no loss


def test_many_tasks_name_only_the_best(tmp_path):
    many = SweepResult("big", [task(f"t{i:02d}", i, 0.01 * (i + 1)) for i in range(30)])
    ax = many.plot_curves(path=tmp_path / "many.png")
    assert len(ax.get_legend().get_texts()) == 20 and "best 20 of 30" in ax.get_title()


def test_plot_leaderboard_writes_a_png(sweep, tmp_path):
    path = tmp_path / "board.png"
    ax = plot_leaderboard(sweep, path=path)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert path.exists() and path.stat().st_size > 0
    heights = {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks())}
    assert max(heights, key=heights.get) == "lr0.3_size20"  # the best at the top
    assert min(heights, key=heights.get) == "lr0.01_size10"
    assert "iris" in ax.get_title() and "accuracy_test" in ax.get_title()
    ax = sweep.plot_leaderboard("loss", at="best", top=3, path=tmp_path / "loss.png")
    assert len(ax.patches) == 3 and "best 3 of 6" in ax.get_title()
