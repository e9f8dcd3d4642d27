"""Learning curves and leaderboard bars that compare: panels, colours and dashes by param, ties,
coinciding curves, baselines and bounded axes."""
import math

import matplotlib

matplotlib.use("Agg")  # no display in tests

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from sweeps import SweepsValueError  # noqa: E402
from sweeps._plots import default_roles, plot_curves, plot_leaderboard  # noqa: E402
from sweeps._results import SweepResult  # noqa: E402
from sweeps._spec import COMPLETE, FAILED, TaskResult  # noqa: E402

CHANCE = 1 / 3


def task(name, params, rate):
    """A task whose accuracy climbs at ``rate`` (0: it stays at chance)."""
    rows = [{"accuracy_test": CHANCE + (1 - CHANCE) * (1 - math.exp(-rate * i)),
             "loss": math.exp(-rate * i), "iteration": i} for i in range(10)]
    return TaskResult(name, params, 0, COMPLETE, history=rows, metrics=rows[-1], seconds=1)


@pytest.fixture
def grid():
    """algorithm (2 values) x lr (3) x size (3); every SGD task with size (10, 10) at chance."""
    tasks = []
    for algorithm in ("Adam", "SGD"):
        for lr in (0.1, 0.3, 1):
            for size in ((), (10,), (10, 10)):
                stuck = algorithm == "SGD" and size == (10, 10)
                rate = 0 if stuck else lr * (2 if algorithm == "Adam" else 1) + 0.05 * len(size)
                tasks.append(task(f"{algorithm}-{lr}-{len(size)}",
                                  {"algorithm": algorithm, "lr": lr, "size": size}, rate))
    return SweepResult("grid", tasks)


@pytest.fixture
def sweep():
    tasks = [task(f"lr{lr}_size{s}", {"lr": lr}, 0.05 * (k + 1)) for k, (lr, s) in
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


def lines_of(ax, width=None):
    """The task lines of a panel (not the baseline), optionally only those of one width."""
    return [line for line in ax.get_lines() if len(line.get_xdata()) > 1
            and (width is None or line.get_linewidth() == width)]


def top_lines(ax):
    return [line for line in lines_of(ax) if line.get_alpha() in (None, 1.0)]


# ------------------------------------------------------------------ curves


def test_by_makes_one_panel_per_value_with_its_own_tasks(grid, tmp_path):
    path = tmp_path / "curves.png"
    axes = grid.plot_curves("accuracy_test", by="algorithm", hue="lr", style="size", path=path)
    assert path.stat().st_size > 0
    assert [ax.get_title() for ax in axes] == ["algorithm = Adam", "algorithm = SGD"]
    assert axes[0].figure._suptitle.get_text() == "grid: accuracy_test per epoch"
    # Adam: 9 distinct curves; SGD: 6 distinct ones and the three stuck ones drawn as one line
    # with two halos underneath.
    assert len(lines_of(axes[0])) == 9 and len(top_lines(axes[0])) == 9
    assert len(lines_of(axes[1])) == 9 and len(top_lines(axes[1])) == 7
    assert all(ax.get_xlabel() == "epoch" for ax in axes)


def test_hue_gives_each_value_its_own_colour_and_style_its_own_dashes(grid):
    axes = grid.plot_curves("accuracy_test", by="algorithm", hue="lr", style="size")
    lines = top_lines(axes[0])
    tasks = [t for t in grid.results if t.params["algorithm"] == "Adam"]
    colour = {}
    dashes = {}
    for line in lines:  # match lines to tasks by their data
        t = next(t for t in tasks if list(line.get_ydata()) == [r["accuracy_test"] for r in t.history])
        colour.setdefault(t.params["lr"], set()).add(mcolors.to_hex(line.get_color()))
        dashes.setdefault(t.params["size"], set()).add(line.get_linestyle())
    assert all(len(c) == 1 for c in colour.values())  # one colour per learning rate
    assert len({c.pop() for c in colour.values()}) == 3  # and three different ones
    assert all(len(d) == 1 for d in dashes.values())
    assert len({d.pop() for d in dashes.values()}) == 3
    legend = [t.get_text() for t in axes[-1].get_legend().get_texts()]
    assert legend[:4] == ["lr", "0.1", "0.3", "1"] and "size" in legend and "(10, 10)" in legend


def test_coinciding_curves_stay_visible_and_are_counted(grid):
    sgd = grid.plot_curves("accuracy_test", by="algorithm", hue="lr", style="size")[1]
    stuck = [line for line in lines_of(sgd) if set(line.get_ydata()) == {CHANCE}]
    assert len(stuck) == 3
    assert len({line.get_linewidth() for line in stuck}) == 3  # halos of growing width
    assert len({mcolors.to_hex(line.get_color()) for line in stuck}) == 3  # each task's colour
    assert "3 tasks" in [t.get_text() for t in sgd.texts]


def test_baseline_and_bounded_axis(grid):
    ax = grid.plot_curves("accuracy_test", hue="lr", baseline=CHANCE)
    flat = [line for line in ax.get_lines() if list(line.get_ydata()) == [CHANCE, CHANCE]]
    assert len(flat) == 1 and "baseline 0.333" in [t.get_text() for t in ax.get_legend().get_texts()]
    low, high = ax.get_ylim()
    assert -0.05 < low <= 0 and 1 <= high < 1.05
    loss = grid.plot_curves("loss", hue="lr")
    assert loss.get_ylim()[0] > -0.5 and loss.get_ylim()[1] < 1.5  # unbounded: data's own range


def test_default_roles_facet_by_fewest_values(grid, sweep):
    assert default_roles(grid) == {"by": "algorithm", "hue": "lr", "style": "size"}
    assert default_roles(sweep) == {"hue": "lr"}  # one swept param: colours, no panels


def test_without_roles_tasks_are_named_best_first(sweep, tmp_path):
    ax = sweep.plot_curves(path=tmp_path / "c.png")
    assert isinstance(ax, matplotlib.axes.Axes)
    assert len(lines_of(ax)) == 7  # six complete tasks, one failed with a partial history
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[1] == "lr0.3_size20"  # the best first, after the section title
    assert "failed here" in labels


def test_plot_curves_of_a_frame_into_given_axes(sweep):
    fig, ax = plt.subplots()
    assert plot_curves(sweep.history, "loss", ax=ax) is ax
    assert len(lines_of(ax)) == 6  # the failed task reported no loss


def test_many_tasks_name_only_the_best(tmp_path):
    many = SweepResult("big", [task(f"t{i:02d}", {"i": i}, 0.01 * (i + 1)) for i in range(30)])
    ax = many.plot_curves(path=tmp_path / "many.png")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "task (best 20 of 30)" and len(labels) == 21


@pytest.mark.parametrize("kwargs, needle", [
    (dict(by="algoritm"), "by='algoritm' is not a param of this sweep. Did you mean 'algorithm'?"),
    (dict(hue="nope", style="zz"), "hue='nope'"),
    (dict(baseline="chance"), "baseline='chance' must be a finite number"),
])
def test_bad_roles_are_named(grid, kwargs, needle):
    with pytest.raises(SweepsValueError, match="The params are|baseline") as caught:
        grid.plot_curves("accuracy_test", **kwargs)
    assert needle in str(caught.value)


def test_by_cannot_draw_into_one_axes(grid):
    _, ax = plt.subplots()
    with pytest.raises(SweepsValueError, match="by='algorithm' draws one panel per value"):
        grid.plot_curves(by="algorithm", ax=ax)


# ------------------------------------------------------------------ leaderboard


def test_plot_leaderboard_writes_a_png_best_on_top(sweep, tmp_path):
    path = tmp_path / "board.png"
    ax = plot_leaderboard(sweep, path=path)
    assert path.stat().st_size > 0
    labels = {t.get_text().strip(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks())}
    assert max(labels, key=labels.get) == "1 lr0.3_size20"
    assert min(labels, key=labels.get) == "6 lr0.01_size10"
    assert "iris" in ax.get_title() and "accuracy_test" in ax.get_title()
    ax = sweep.plot_leaderboard("loss", at="best", top=3, path=tmp_path / "loss.png")
    assert len(ax.patches) == 3 and "best 3 of 6" in ax.get_title()


def test_leaderboard_shows_ties_colours_by_hue_and_stays_in_bounds(grid):
    ax = grid.plot_leaderboard("accuracy_test", hue="algorithm", baseline=CHANCE)
    labels = [t.get_text().strip() for t in ax.get_yticklabels()][::-1]  # top first
    stuck = [label for label in labels if label.split()[1].startswith("SGD") and label.endswith("-2")]
    assert len(stuck) == 3 and len({label.split()[0] for label in stuck}) == 1
    assert stuck[0].split()[0].endswith("=")  # "16=": a shared rank
    bars = {label.split()[1]: mcolors.to_hex(bar.get_facecolor()) for label, bar in
            zip([t.get_text().strip() for t in ax.get_yticklabels()], ax.patches)}
    assert len({c for n, c in bars.items() if n.startswith("Adam")}) == 1
    assert len(set(bars.values())) == 2  # one colour per algorithm
    assert ax.get_xlim() == (0.0, 1.0)  # accuracy never drawn past 1
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["Adam", "SGD", "baseline 0.333"]


def test_leaderboard_hue_must_be_a_param(grid):
    with pytest.raises(SweepsValueError, match="hue='algo' is not a param.*'algorithm'"):
        grid.plot_leaderboard(hue="algo")


# ------------------------------------------------------------------ the command's pictures

STUDY = """
from sweeps import register
from tests.sweeps.tasks_for_tests import create_task, load_offset

register("plotgrid", create_task, grid=dict(x=[1, 2, 3, 4], epochs=[2, 3],
                                            delay=[0.0, 0.0001, 0.0002]), data=load_offset)
"""


def drawn(result, folder, **roles):
    """The two pictures of ``result`` drawn by the Python API, as bytes."""
    folder.mkdir()
    result.plot_curves(path=folder / "curves.png", **roles)
    result.plot_leaderboard(path=folder / "board.png", hue=roles.get("by"))
    return (folder / "curves.png").read_bytes(), (folder / "board.png").read_bytes()


def written(folder, stem="s.plotgrid"):
    return ((folder / f"{stem}.curves.png").read_bytes(),
            (folder / f"{stem}.leaderboard.png").read_bytes())


@pytest.mark.usefixtures("empty_registry")
def test_sweeps_plot_facets_by_the_param_with_fewest_values_and_colours_by_the_next(
        write_study, tmp_path):
    from sweeps import load_sweep
    from sweeps.cli import main

    study, store = write_study("plotgrid", STUDY), str(tmp_path / "s.log")
    assert main(["run", study, "--store", store, "--executor", "sequential", "--no-progress"]) == 0
    assert main(["plot", "plotgrid", "--store", store, "--out", str(tmp_path / "cli")]) == 0
    result = load_sweep("plotgrid", store=store)
    # epochs has 2 values, delay 3, x 4: panels by epochs, colours by delay, dashes by x
    expected = drawn(result, tmp_path / "api", by="epochs", hue="delay", style="x")
    assert written(tmp_path / "cli") == expected
    assert written(tmp_path) == expected  # sweeps run drew the same, beside its store


@pytest.mark.usefixtures("empty_registry")
def test_a_grid_subset_plots_only_the_tasks_it_asked_for(write_study, tmp_path):
    from sweeps import load_sweep
    from sweeps.cli import main

    study, store = write_study("plotgrid", STUDY), str(tmp_path / "s.log")
    base = ["run", study, "--store", store, "--executor", "sequential", "--no-progress"]
    assert main(base) == 0  # all 24 tasks
    assert main(base + ["--grid", "x=1,2", "epochs=3"]) == 0  # 6 of them, already complete
    whole = load_sweep("plotgrid", store=store)
    asked = SweepResult("plotgrid", [r for r in whole if r.params["x"] in (1, 2)
                                     and r.params["epochs"] == 3], metric=whole.metric)
    assert len(asked) == 6
    # two swept params left (delay: 3 values, x: 2): panels by x, colours by delay
    assert default_roles(asked) == {"by": "x", "hue": "delay"}
    assert written(tmp_path) == drawn(asked, tmp_path / "api", by="x", hue="delay")
