"""An explicit direction wins over the metric's name everywhere users read a ranking: the
leaderboard, ``best``, both plots, and the same sweep loaded back from its store.

The metrics here are named against their direction on purpose (``score`` to minimize, ``loss``
to maximize), so a ranking that guesses from the name comes out reversed.
"""
import matplotlib

matplotlib.use("Agg")  # no display in tests

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from sweeps import Store, SweepResult, TaskResult, load_sweep, sweep  # noqa: E402
from tests.sweeps import tasks_for_tests as toys  # noqa: E402


def task(name, scores, losses):
    rows = [{"score_test": s, "loss": l, "iteration": i}
            for i, (s, l) in enumerate(zip(scores, losses))]
    return TaskResult(name, {"lr": float(name[1:])}, 0, "complete", history=rows,
                      metrics=dict(rows[-1]), seconds=1.0)


TASKS = [task("a1", [0.9, 0.5], [0.1, 0.3]),  # the lowest score, the highest loss
         task("a2", [0.1, 0.7], [0.9, 0.2]),
         task("a3", [0.2, 0.8], [0.5, 0.1])]   # the highest score, the lowest loss


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _top_bar(ax):
    """The value of the bar drawn at the top (plot_leaderboard puts the best there)."""
    bars = sorted(ax.patches, key=lambda bar: bar.get_y())
    return bars[-1].get_width()


def _texts(ax):
    legend = ax.get_legend()
    parts = [ax.get_xlabel(), ax.get_title()]
    if legend is not None:
        parts += [legend.get_title().get_text()] + [t.get_text() for t in legend.get_texts()]
    return " ".join(parts)


@pytest.mark.parametrize("metric, direction, order, best_epoch_leader", [
    ("score_test", "minimize", ["a1", "a2", "a3"], "a2"),
    ("score_test", "maximize", ["a3", "a2", "a1"], "a1"),
    ("loss", "maximize", ["a1", "a2", "a3"], "a2"),
    ("loss", "minimize", ["a3", "a2", "a1"], "a1"),  # a tie at 0.1: the sweep's order
])
def test_the_given_direction_ranks_leaderboard_best_and_plots(metric, direction, order,
                                                              best_epoch_leader):
    result = SweepResult("s", TASKS, metric=metric, direction=direction)
    assert result.direction == direction
    assert result.leaderboard()["name"].tolist() == order
    assert result.leaderboard(metric)["name"].tolist() == order
    assert result.leaderboard(metric, at="best")["name"].iloc[0] == best_epoch_leader
    assert result.best.name == order[0]
    better = "lower" if direction == "minimize" else "higher"
    ax = result.plot_leaderboard()
    assert _top_bar(ax) == result.leaderboard()[metric].iloc[0]
    assert f"{better} is better" in ax.get_xlabel()
    curves = result.plot_curves()
    assert f"{better} is better" in " ".join(_texts(a) for a in curves.figure.axes)


def test_at_best_takes_the_best_epoch_in_the_given_direction():
    lowest = SweepResult("s", TASKS, metric="score_test", direction="minimize")
    board = lowest.leaderboard(at="best")
    assert board["name"].tolist() == ["a2", "a3", "a1"]
    assert board["score_test"].tolist() == [0.1, 0.2, 0.5]
    assert board["epoch"].tolist() == [0, 0, 1]


def test_another_metric_than_the_sweeps_follows_its_own_name():
    result = SweepResult("s", TASKS, metric="score_test", direction="minimize")
    # 'loss' is not the sweep's metric: lower is better, by its name
    assert result.leaderboard("loss")["name"].tolist() == ["a3", "a2", "a1"]
    assert result.leaderboard("loss", mode="max")["name"].tolist() == ["a1", "a2", "a3"]


@pytest.fixture
def store(tmp_path):
    return Store(str(tmp_path / "store.log"))


@pytest.mark.parametrize("kwargs", [dict(mode="min"), dict(direction="minimize")])
def test_a_sweeps_direction_survives_the_store(store, kwargs):
    # score_display = x * iteration: X1 has the lowest; by its name a score is maximized
    result = sweep(toys.create_task, dict(x=[2, 1, 3]), data=toys.load_offset, store=store,
                   metric="score_display", executor="sequential", progress=False, **kwargs)
    for loaded in (result, load_sweep("create_task", store), load_sweep("create_task",
                                                                        Store(store.url))):
        assert (loaded.metric, loaded.direction) == ("score_display", "minimize")
        assert loaded.leaderboard()["name"].tolist() == ["X1", "X2", "X3"]
        assert loaded.best.name == "X1"
        assert _top_bar(loaded.plot_leaderboard()) == 2.0
        assert "lower is better" in loaded.plot_leaderboard().get_xlabel()


def test_a_loss_maximized_by_choice_survives_the_store(store):
    result = sweep(toys.create_task, dict(x=[2, 1, 3]), data=toys.load_offset, store=store,
                   metric="loss", mode="max", executor="sequential", progress=False)
    again = load_sweep("create_task", Store(store.url))
    for loaded in (result, again):
        assert loaded.direction == "maximize"
        assert "higher is better" in loaded.plot_leaderboard().get_xlabel()
