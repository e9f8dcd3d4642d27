"""search(): Optuna samplers and pruners over the same create_task, names from params, resume."""
import logging
import pathlib
import sys

import optuna
import pytest

from sweeps import Autonamer, SweepsTypeError, SweepsValueError, load_sweep, search, sweep
from sweeps._spec import PRUNED
from tests import bad_input_tasks as marked
from tests.sweeps import tasks_for_tests as toys


@pytest.fixture
def store(tmp_path):
    return str(tmp_path / "store" / "sweeps.log")


def _search(store, **kwargs):
    arguments = dict(data={"offset": 0}, n_trials=12, metric="score_test", store=store,
                     executor="sequential", sampler="random", progress=False)
    arguments.update(kwargs)
    return search(toys.create_hooked_task, dict(x=(0.0, 1.0)), **arguments)


def test_a_search_holds_n_trials_named_from_their_params(store):
    result = _search(store)
    assert len(result) == 12 and all(r.ok for r in result)
    for r in result:
        assert r.name == Autonamer(toys.create_hooked_task).name({"x": r.params["x"]}) or (
            r.name.startswith(Autonamer(toys.create_hooked_task).name({"x": r.params["x"]}) + "-"))
        assert isinstance(r.params["x"], float) and 0.0 <= r.params["x"] <= 1.0
    assert len({r.name for r in result}) == 12


def test_a_resumed_search_continues_to_n_trials_in_total(store):
    _search(store, n_trials=5)
    result = _search(store, n_trials=9)
    assert len(result) == 9
    again = _search(store, n_trials=9)
    assert len(again) == 9  # nothing left to run


def test_the_same_seed_gives_the_same_search(tmp_path):
    first = _search(str(tmp_path / "a.log"), n_trials=6, sampler="tpe")
    second = _search(str(tmp_path / "b.log"), n_trials=6, sampler="tpe")
    assert [r.params for r in first] == [r.params for r in second]


def test_choices_keep_their_python_values(store):
    result = search(toys.create_hooked_task, dict(x=[0.5, 1.5], epochs=[(2), 3]),
                    data={"offset": 0}, n_trials=6, metric="score_test", store=store,
                    executor="sequential", sampler="random", progress=False)
    assert {type(r.params["epochs"]) for r in result} == {int}


def test_pruning_stops_bad_trials_early_and_records_them_as_pruned(store):
    result = _search(store, n_trials=20, pruner="median")
    pruned = [r for r in result if r.status == PRUNED]
    complete = [r for r in result if r.ok]
    assert pruned and complete
    assert all(len(r.history) < 10 for r in pruned) and all(len(r.history) == 10 for r in complete)
    loaded = load_sweep(result.name, store)
    assert sorted(r.name for r in loaded if r.status == PRUNED) == sorted(r.name for r in pruned)
    board = loaded.leaderboard()
    assert list(board["status"]).count("pruned") == len(pruned)
    assert board["status"].iloc[0] == "complete" and board["status"].iloc[-1] == "pruned"
    ran = {r.name: len(r.history) for r in result}  # the README: "... and the epochs they ran"
    assert dict(zip(board["name"], board["epochs"])) == ran
    study = optuna.load_study(study_name=result.name,
                              storage=loaded.store.optuna_storage())
    states = [t.state.name for t in study.trials]
    assert states.count("PRUNED") == len(pruned)
    trial = next(t for t in study.trials if t.state.name == "PRUNED")
    assert len(trial.intermediate_values) == len(next(
        r for r in pruned if r.name == trial.user_attrs["name"]).history)


def test_the_leaderboard_plot_marks_pruned_tasks(store, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    result = _search(store, n_trials=20, pruner="median")
    pruned = {r.name for r in result if r.status == PRUNED}
    assert pruned
    ax = load_sweep(result.name, store).plot_leaderboard(top=None, path=tmp_path / "board.png")
    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert len(labels) == len(result)
    marked = {label.split()[1] for label in labels if label.endswith("(pruned)")}
    assert marked == pruned


def test_a_pruner_with_a_task_that_cannot_report_warns_once_and_runs_everything(store, caplog):
    with caplog.at_level(logging.WARNING):
        result = search(toys.create_searched_task, dict(x=(0.0, 1.0)), data={"offset": 0},
                        n_trials=6, metric="score_test", store=store, pruner="median",
                        executor="sequential", sampler="random", progress=False)
    assert len(result) == 6 and all(r.ok for r in result)
    assert caplog.text.count("on_epoch") == 1


def test_a_pruner_with_a_task_that_cannot_report_is_dropped_by_the_driver(store, caplog):
    # create_task needs x, so the driver builds its probe at the space's first point; the
    # warning is then the driver's, once, and no worker process warns again
    with caplog.at_level(logging.WARNING):
        result = search(toys.create_task, dict(x=(0.0, 1.0), delay=[0.01]), data={"offset": 0},
                        n_trials=6, metric="score_test", store=store, pruner="median",
                        n_jobs=2, sampler="random", progress=False)
    assert len(result) == 6 and all(r.ok for r in result)
    assert caplog.text.count("on_epoch") == 1
    assert caplog.records[0].name == "sweeps._sweep"


def test_search_in_worker_processes(store):
    result = _search(store, n_trials=8, executor="processes", n_jobs=2, pruner="median")
    assert len(result) == 8
    assert len({r.params["x"] for r in result}) == 8  # the participants did not repeat points


# ----------------------------------------------------------------------------- bad input


def _refused(error_type, store, marks, space, message, **kwargs):
    """search() raises ``error_type`` with ``message``; no task was built or run, and the store
    (its file and its folder) was not created."""
    arguments = dict(data={"offset": 0}, n_trials=3, metric="score", store=store,
                     executor="processes", n_jobs=2, sampler="random", progress=False)
    arguments.update(kwargs)
    with pytest.raises(error_type) as caught:
        search(marked.create_task, space, **arguments)
    assert message in str(caught.value), str(caught.value)
    assert list(marks.iterdir()) == [], "a task was built or run"
    assert not pathlib.Path(store).parent.exists(), "the store was written"
    return str(caught.value)


@pytest.mark.parametrize("kwargs,message", [
    (dict(sampler="tpee"), "sampler='tpee' is not a known sampler. Did you mean 'tpe'?"),
    (dict(sampler="annealing"), "['tpe', 'random', 'cmaes', 'grid']"),
    (dict(pruner="medain"), "pruner='medain' is not a known pruner. Did you mean 'median'?"),
    (dict(pruner="x"), "['median', 'hyperband', 'successive_halving']"),
    (dict(n_trials=0), "n_trials=0 must be a positive int"),
    (dict(n_trials=-3), "n_trials=-3 must be a positive int"),
    (dict(n_trials=2.5), "n_trials=2.5 must be a positive int"),
    (dict(n_trials="30"), "n_trials='30' must be a positive int"),
    (dict(n_trials=True), "n_trials=True must be a positive int"),
    (dict(metric=None), "metric=None must name the history key"),
])
def test_bad_arguments_are_refused_before_anything_is_written(store, marks, kwargs, message):
    _refused(SweepsValueError, store, marks, dict(x=(0.0, 1.0)), message, **kwargs)


@pytest.mark.parametrize("space,message", [
    (dict(x="fast"), "space['x']='fast' is not a distribution, a range or a list of choices"),
    (dict(x=3), "space['x']=3 is not a distribution, a range or a list of choices"),
    (dict(x={"low": 0, "high": 1}), "is not a distribution, a range or a list of choices"),
    (dict(x=(1.0, 0.5)), "low=1.0 must be below high=0.5"),
    (dict(x=(0.5, 0.5)), "low=0.5 must be below high=0.5"),
    (dict(x=(5, 2)), "low=5 must be below high=2"),
    (dict(x=(0.0, 1.0, "log")), "a log scale needs low > 0"),
    (dict(x=(-1, 1, "log")), "a log scale needs low > 0"),
    (dict(x=(0, 10, "log")), "a log scale needs low > 0"),
    (dict(x=(0.0, 1.0, "lin")), "is not a distribution, a range"),
    (dict(x=[]), "has no choices"),
    (dict(x=("a", "b")), "is not a distribution, a range"),
    ({}, "must be a non-empty dict"),
])
def test_bad_spaces_are_refused(store, marks, space, message):
    _refused(SweepsValueError, store, marks, space, message)


def test_every_problem_of_a_space_is_named_at_once(store, marks):
    message = _refused(SweepsValueError, store, marks,
                       dict(x=(1.0, 0.5), y=(0.0, 1.0, "log")), "2 problems", sampler="nope")
    assert "low=1.0 must be below high=0.5" in message and "space['y']" in message
    assert "sampler='nope'" in message


def test_an_unknown_argument_in_the_space_is_named(store):
    with pytest.raises(SweepsValueError, match="learning_rate"):
        search(toys.create_hooked_task, dict(learning_rate=(0.1, 1.0)), data={"offset": 0},
               n_trials=3, metric="score_test", store=store, executor="sequential",
               progress=False)


def test_grid_sampler_needs_lists(store):
    with pytest.raises(SweepsValueError, match="sampler='grid' needs a list"):
        _search(store, sampler="grid")
    result = search(toys.create_hooked_task, dict(x=[0.1, 0.2, 0.3]), data={"offset": 0},
                    n_trials=3, metric="score_test", store=store, executor="sequential",
                    sampler="grid", progress=False)
    assert sorted(r.params["x"] for r in result) == [0.1, 0.2, 0.3]


def test_a_grid_search_with_more_trials_than_points_is_refused(store, marks, caplog):
    message = _refused(SweepsValueError, store, marks, dict(x=[1, 2, 3], y=[1]),
                       "n_trials=10 is more than the 3 points of this space (x: 3 values, y: 1 value), and "
                       "sampler='grid' runs each point once: pass n_trials=3",
                       sampler="grid", n_trials=10)
    assert "re-evaluating" not in message + caplog.text
    result = search(toys.create_hooked_task, dict(x=[0.1, 0.2, 0.3]), data={"offset": 0},
                    n_trials=2, metric="score_test", store=store, executor="sequential",
                    sampler="grid", progress=False)  # fewer trials than points: a part
    assert len(result) == 2


@pytest.mark.parametrize("sampler", ["tpe", "random", "cmaes"])
def test_every_sampler_name_runs_a_search(store, sampler):
    result = search(toys.create_hooked_task, dict(x=(0.0, 1.0), epochs=(2, 4)),
                    data={"offset": 0}, n_trials=6, metric="score_test", store=store,
                    executor="sequential", sampler=sampler, progress=False)
    assert len(result) == 6 and all(r.ok for r in result)
    assert all(2 <= r.params["epochs"] <= 4 and len(r.history) == r.params["epochs"]
               for r in result)


@pytest.mark.parametrize("pruner", ["median", "hyperband", "successive_halving"])
def test_every_pruner_name_prunes(store, pruner):
    result = _search(store, n_trials=24, pruner=pruner)
    pruned = [r for r in result if r.status == PRUNED]
    assert len(result) == 24 and pruned, [r.status for r in result]
    # a pruner may also stop a trial at its last epoch: it is pruned, with its whole history
    assert any(len(r.history) < 10 for r in pruned)
    assert sum(len(r.history) for r in result) < 24 * 10


def test_cmaes_without_its_package_is_refused_before_anything_is_written(store, marks,
                                                                         monkeypatch):
    monkeypatch.setitem(sys.modules, "cmaes", None)  # what `import cmaes` meets when missing
    _refused(SweepsValueError, store, marks, dict(x=(0.0, 1.0)),
             "sampler='cmaes' needs the cmaes package, which is not installed here: "
             "pip install cmaes", sampler="cmaes")


def test_sampler_and_pruner_objects_are_accepted(store):
    result = _search(store, n_trials=4, sampler=optuna.samplers.RandomSampler(seed=1),
                     pruner=optuna.pruners.MedianPruner())
    assert len(result) == 4


def test_a_sampler_of_the_wrong_type_is_refused(store):
    with pytest.raises(SweepsTypeError, match="sampler=3"):
        _search(store, sampler=3)


# ----------------------------------------------------------------------------- names


def create_task(learning_rate=0.1, network_size=(10,), algorithm="Adam"):
    return None


def test_autonamer_names_a_point_from_its_params_alone():
    namer = Autonamer(create_task)
    assert namer.name({"learning_rate": 0.012345, "network_size": (10, 10)}) == "LR00123-NS10-10"
    assert namer.name({"learning_rate": 0.0123449}) == namer.name({"learning_rate": 0.0123})
    assert namer.name({"algorithm": "SGD"}) == "ASGD"
    assert Autonamer(create_task, prefix="p").name({}) == "p"
    with pytest.raises(SweepsValueError, match="learning_rat"):
        namer.name({"learning_rat": 1})


def test_grid_sweeps_keep_their_names(store):
    result = sweep(toys.create_task, dict(x=[1, 2]), data={"offset": 0}, store=store,
                   executor="sequential", progress=False)
    assert [r.name for r in result] == ["X1", "X2"]


def test_a_search_name_held_by_other_params_gets_a_suffix(store):
    result = search(toys.create_hooked_task, dict(x=[0.12341, 0.12342, 0.12343]),
                    data={"offset": 0}, n_trials=3, metric="score_test", store=store,
                    executor="sequential", sampler="grid", progress=False)
    # the first keeps the name; the others, other params with the same 3-digit name, are numbered
    assert sorted(r.name for r in result) == ["X0123", "X0123-v2", "X0123-v3"]
    # the name has 3 digits, the params (recorded and read back) the full value
    for got in (result, load_sweep(result.name, store)):
        assert sorted(r.params["x"] for r in got) == [0.12341, 0.12342, 0.12343]
        assert len({(r.name, r.params["x"]) for r in got}) == 3


def test_the_same_params_sampled_again_are_numbered_replicates(store):
    result = search(toys.create_hooked_task, dict(x=[0.5]), data={"offset": 0}, n_trials=3,
                    metric="score_test", store=store, executor="sequential", sampler="random",
                    progress=False)
    assert sorted(r.name for r in result) == ["X05", "X05-r2", "X05-r3"]
    assert all(r.ok and r.params == {"x": 0.5} for r in result)


@pytest.mark.slow
def test_the_pruning_benchmark_runs_and_prints_both_searches(tmp_path):
    import subprocess

    script = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "pruning.py"
    done = subprocess.run([sys.executable, str(script), "--trials", "6", "--epochs", "4",
                           "--study", "iris", "--n-jobs", "1"], cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines[:2]] == ["no-pruner", "median"], done.stdout
    assert all("epochs" in line and "best accuracy_test" in line for line in lines[:2])
    assert lines[2].startswith("epochs saved by pruning: ")
