"""SweepResult over hand-built TaskResults: tidy history, leaderboard, best and failed tasks."""
import math

import pytest

from sweeps._errors import SweepsValueError, UnknownMetricError
from sweeps._results import SweepResult, choose_metric, split_key
from sweeps._spec import COMPLETE, FAILED, TaskResult


def task(name, lr, size, accuracies, losses, seconds=1.0):
    rows = [
        {"accuracy_test": a, "roc_auc_score_display": a / 2, "loss": l, "iteration": i,
         "timestamp": f"t{i}"}
        for i, (a, l) in enumerate(zip(accuracies, losses))
    ]
    return TaskResult(name, {"lr": lr, "size": size}, 0, COMPLETE, history=rows,
                      metrics=dict(rows[-1]), seconds=seconds)


@pytest.fixture
def sweep():
    return SweepResult(
        "iris",
        [
            task("lr0.1", 0.1, (10,), [0.6, 0.9, 0.8], [0.9, 0.5, 0.4]),  # best epoch 1, last 0.8
            task("lr0.3", 0.3, (10, 5), [0.7, 0.85, 0.85], [0.8, 0.6, 0.3]),
            task("lr1", 1.0, (20,), [0.5, math.nan, math.nan], [0.7, 0.7, 0.7]),
            TaskResult("lr3", {"lr": 3.0, "size": (20,)}, 0, FAILED,
                       history=[{"accuracy_test": 0.1, "loss": 9.0, "iteration": 0}],
                       error="Traceback\nRuntimeError: diverged"),
        ],
    )


def test_split_key():
    assert split_key("accuracy_test") == ("accuracy", "test")
    assert split_key("roc_auc_score_display") == ("roc_auc_score", "display")
    assert split_key("loss") == ("loss", "train")
    assert split_key("loss_validation") == ("loss", "validation")
    assert split_key("f1_val") == ("f1", "val")
    assert split_key("lr") == ("lr", "")
    assert split_key("_test") == ("_test", "")


def test_metric_and_direction_defaults(sweep):
    assert (sweep.metric, sweep.direction) == ("accuracy_test", "maximize")
    only_loss = TaskResult("a", {}, 0, COMPLETE, history=[{"loss": 1.0, "iteration": 0}])
    assert choose_metric(only_loss) == "loss"
    assert SweepResult("s", [only_loss]).direction == "minimize"
    display = TaskResult("a", {}, 0, COMPLETE, history=[{"loss": 1.0, "f1_display": 0.5}])
    assert choose_metric(display) == "f1_display"
    assert SweepResult("s", []).metric is None


def test_history_is_one_tidy_long_frame(sweep):
    frame = sweep.history
    assert list(frame.columns) == ["name", "lr", "size", "iteration", "split", "metric", "value"]
    # 3 tasks x 3 epochs x 3 metrics + 1 failed epoch x 2 metrics; iteration/timestamp dropped
    assert len(frame) == 3 * 3 * 3 + 2
    assert set(frame["metric"]) == {"accuracy", "roc_auc_score", "loss"}
    assert set(zip(frame["metric"], frame["split"])) == {
        ("accuracy", "test"), ("roc_auc_score", "display"), ("loss", "train")}
    assert frame.loc[frame["name"] == "lr0.3", "size"].iloc[0] == (10, 5)
    assert isinstance(frame["size"].iloc[0], tuple)
    assert frame["value"].dtype == float
    assert frame["value"].isna().sum() == 4  # NaN accuracy and its roc_auc half, twice


def test_param_named_like_a_column_is_prefixed():
    result = SweepResult("s", [TaskResult("a", {"value": 1, "metric": "x"}, 0, COMPLETE,
                                          history=[{"loss": 1.0, "iteration": 0}])])
    assert list(result.history.columns) == ["name", "param_value", "param_metric", "iteration",
                                            "split", "metric", "value"]


def test_leaderboard_max_last(sweep):
    board = sweep.leaderboard()
    assert board["name"].tolist() == ["lr0.3", "lr0.1", "lr1"]  # NaN last; failed excluded
    assert board["rank"].tolist() == [1, 2, 3]
    assert list(board.columns) == ["rank", "name", "lr", "size", "accuracy_test", "seconds"]
    assert board["accuracy_test"].tolist()[:2] == [0.85, 0.8]
    assert board["size"].iloc[0] == (10, 5)


def test_leaderboard_min_and_mode_from_loss(sweep):
    board = sweep.leaderboard("loss")
    assert board["name"].tolist() == ["lr0.3", "lr0.1", "lr1"]
    assert board["loss"].tolist() == [0.3, 0.4, 0.7]
    assert sweep.leaderboard("loss", mode="max")["name"].tolist() == ["lr1", "lr0.1", "lr0.3"]
    assert sweep.leaderboard(mode="min")["name"].tolist() == ["lr0.1", "lr0.3", "lr1"]


def test_leaderboard_at_best_adds_the_epoch(sweep):
    board = sweep.leaderboard("accuracy_test", at="best")
    assert board["name"].tolist() == ["lr0.1", "lr0.3", "lr1"]
    assert board["accuracy_test"].tolist() == [0.9, 0.85, 0.5]
    assert board["epoch"].tolist() == [1, 1, 0]
    assert "epoch" in board.columns and list(board.columns)[-1] == "seconds"


def test_unknown_metric_lists_the_available_ones(sweep):
    with pytest.raises(UnknownMetricError) as error:
        sweep.leaderboard("accuracy_tst")
    message = str(error.value)
    assert "'accuracy_tst'" in message and "Did you mean 'accuracy_test'?" in message
    assert "'roc_auc_score_display'" in message and "'loss'" in message
    assert isinstance(error.value, KeyError)


@pytest.mark.parametrize(
    "kwargs, valid", [({"mode": "maximum"}, "'max'"), ({"at": "first"}, "'best'")]
)
def test_bad_mode_or_at_lists_valid_choices(sweep, kwargs, valid):
    with pytest.raises(SweepsValueError) as error:
        sweep.leaderboard(**kwargs)
    assert repr(next(iter(kwargs.values()))) in str(error.value) and valid in str(error.value)


def test_best_failed_len_repr(sweep):
    assert sweep.best.name == "lr0.3"
    failed = sweep.failed
    assert list(failed.columns) == ["name", "lr", "size", "error"]
    assert failed["name"].tolist() == ["lr3"] and "diverged" in failed["error"].iloc[0]
    assert len(sweep) == 4
    assert repr(sweep) == ("SweepResult('iris', 3 complete, 1 failed, metric='accuracy_test', "
                           "direction='maximize')")


def test_empty_and_all_failed_sweeps():
    empty = SweepResult("s", [])
    assert empty.best is None and empty.leaderboard().empty and empty.failed.empty
    assert list(empty.history.columns) == ["name", "iteration", "split", "metric", "value"]
    broken = SweepResult("s", [TaskResult("a", {"x": 1}, 0, FAILED, error="boom")])
    assert broken.best is None and broken.failed["x"].tolist() == [1]


def test_bad_direction_is_refused():
    with pytest.raises(SweepsValueError, match="'up'"):
        SweepResult("s", [], direction="up")


# --- the metric and mode rules (sweeps._objective) ----------------------------------------------

def one(rows, metrics=None, name="a"):
    return TaskResult(name, {}, 0, COMPLETE, history=rows, metrics=metrics or {})


@pytest.mark.parametrize("metric, direction", [
    ("error_rate_valid", "minimize"), ("Error", "minimize"), ("val_LogLoss", "minimize"),
    ("loss", "minimize"), ("accuracy_test", "maximize"), ("roc_auc_score_display", "maximize"),
])
def test_the_direction_a_metrics_name_implies(metric, direction):
    result = SweepResult("s", [one([{metric: 0.5, "iteration": 0}])])
    assert (result.metric, result.direction) == (metric, direction)


def test_the_first_test_metric_is_the_default_even_after_other_keys():
    rows = [{"f1_display": 0.5, "loss": 0.3, "accuracy_test": 0.9, "f1_test": 0.4}]
    assert choose_metric(one(rows)) == "accuracy_test"
    assert choose_metric(one([{"loss": 0.3, "iteration": 0, "timestamp": "t"}])) == "loss"
    assert choose_metric(one([], {"Accuracy_TEST": 0.9, "f1_display": 0.5})) == "Accuracy_TEST"


def test_the_last_value_comes_from_the_last_epoch_that_reported_it():
    rows = [{"accuracy_test": 0.5, "iteration": 0}, {"accuracy_test": 0.7, "iteration": 1},
            {"accuracy_test": None, "iteration": 2}, {"loss": 0.1, "iteration": 3}]
    board = SweepResult("s", [one(rows, {"accuracy_test": 0.2})]).leaderboard("accuracy_test")
    assert board["accuracy_test"].tolist() == [0.7]
    only_final = one([{"loss": 0.1}], {"accuracy_test": 0.2, "loss": 0.1})
    assert SweepResult("s", [only_final]).leaderboard("accuracy_test")["accuracy_test"].tolist() == [0.2]


def test_mode_rules_and_their_message():
    from sweeps._objective import check_mode, default_mode, to_direction

    assert [check_mode(m) for m in ("max", "min", None, "maximize", "minimize")] == [
        "max", "min", None, "max", "min"]
    assert (default_mode("val_loss"), default_mode("accuracy_test")) == ("min", "max")
    assert (to_direction("min"), to_direction("max"), to_direction(None)) == (
        "minimize", "maximize", None)
    with pytest.raises(SweepsValueError) as caught:
        check_mode("up", "direction")
    assert str(caught.value) == (
        "direction='up' is not valid: expected one of ['max', 'min'] ('max': higher is better; "
        "'min': lower is better), or None to follow the metric's name ('min' for losses and "
        "errors).")


# --- details users read off the frames --------------------------------------------------------

def test_history_iterations_come_from_the_rows_or_their_positions():
    rows = [{"iteration": 5, "accuracy_test": 0.1}, {"accuracy_test": 0.2, "timestamp": "t"},
            {"iteration": 9, "timestamp": "t", "accuracy_test": 0.3}]
    frame = SweepResult("s", [one(rows)]).history
    assert frame["iteration"].tolist() == [5, 1, 9]
    assert frame["value"].tolist() == [0.1, 0.2, 0.3]  # keys after 'iteration' are kept


def test_empty_frames_have_their_columns_and_dtypes():
    empty = SweepResult("s", [])
    assert empty.history["value"].dtype == float
    assert list(empty.leaderboard().columns) == ["rank", "name", "seconds"]
    broken = SweepResult("s", [TaskResult("a", {"x": 1}, 0, FAILED, error="boom",
                                          history=[{"accuracy_test": 0.5}])])
    board = broken.leaderboard("accuracy_test")
    assert list(board.columns) == ["rank", "name", "x", "accuracy_test", "seconds"]
    assert board.empty and board["accuracy_test"].dtype == float


def test_leaderboard_seconds_ranks_and_ties(sweep):
    board = sweep.leaderboard("loss")
    assert board["seconds"].tolist() == [1.0, 1.0, 1.0]
    assert board["rank"].tolist() == [1, 2, 3] and board["rank"].dtype.kind == "i"
    tied = SweepResult("s", [task(f"t{i}", i, (1,), [0.5], [0.2]) for i in range(3)]
                       + [task("low", 9, (1,), [0.1], [0.9])])
    for metric, order in (("accuracy_test", ["t0", "t1", "t2", "low"]),
                          ("loss", ["t0", "t1", "t2", "low"])):
        board = tied.leaderboard(metric)
        assert board["name"].tolist() == order
        assert board["rank"].tolist() == [1, 1, 1, 4]


def test_ties_keep_the_sweeps_order_in_a_long_leaderboard():
    names = [f"t{i:02d}" for i in range(40)]
    tied = SweepResult("s", [task(name, i, (1,), [0.5], [0.2]) for i, name in enumerate(names)])
    assert tied.leaderboard()["name"].tolist() == names
    assert tied.leaderboard("loss")["name"].tolist() == names


def test_a_metric_other_than_the_sweeps_is_ranked_by_its_own_name():
    result = SweepResult("s", [task("a", 1, (1,), [0.9], [0.5]), task("b", 2, (1,), [0.8], [0.1])],
                         metric="loss", direction="minimize")
    assert result.leaderboard()["name"].tolist() == ["b", "a"]
    assert result.leaderboard("accuracy_test")["name"].tolist() == ["a", "b"]


def test_best_epoch_skips_nan_keeps_the_first_of_equals_and_falls_back_to_metrics():
    rows = [{"loss": math.nan, "accuracy_test": math.nan}, {"loss": 0.3, "accuracy_test": 0.7},
            {"loss": 0.1, "accuracy_test": 0.9}, {"loss": 0.1, "accuracy_test": 0.9}]
    result = SweepResult("s", [one(rows)])
    assert result.leaderboard("accuracy_test", at="best")[["accuracy_test", "epoch"]].values.tolist() == [[0.9, 2]]
    assert result.leaderboard("loss", at="best")[["loss", "epoch"]].values.tolist() == [[0.1, 2]]
    final_only = SweepResult("s", [one([{"loss": 0.4}], {"accuracy_test": 0.6})])
    board = final_only.leaderboard("accuracy_test", at="best")
    assert board["accuracy_test"].tolist() == [0.6] and board["epoch"].tolist() == [None]


def test_messages_for_a_sweep_without_results_and_an_unlike_metric(sweep):
    broken = SweepResult("s", [TaskResult("a", {}, 0, FAILED, error="x",
                                          history=[{"loss": 1.0}])])
    with pytest.raises(UnknownMetricError) as caught:
        broken.plot_curves()  # no metric to default to
    assert caught.value.args[0] == ("sweep 's' has no complete task, so it has no default "
                                    "metric; pass one of ['loss'].")
    with pytest.raises(UnknownMetricError) as caught:
        sweep.leaderboard("zzz")
    assert "Did you mean" not in str(caught.value) and "metric 'zzz' is not in the history of " \
        "sweep 'iris'. Available metrics: ['accuracy_test', 'roc_auc_score_display', 'loss']." in str(caught.value)
    with pytest.raises(SweepsValueError) as caught:
        sweep.leaderboard(mode="up")
    assert str(caught.value) == ("mode='up' is not valid: expected one of ['max', 'min'] (or None: "
                                 "from the sweep's direction, 'min' for losses and errors).")
    with pytest.raises(SweepsValueError) as caught:
        sweep.leaderboard(at="first")
    assert str(caught.value) == ("at='first' is not valid: expected one of ['last', 'best'] "
                                 "('last': the final epoch; 'best': the best epoch of each task).")
    with pytest.raises(SweepsValueError) as caught:
        SweepResult("s", [], direction="up")
    assert str(caught.value) == ("direction='up' is not valid: expected one of ['maximize', "
                                 "'minimize'] or None (guessed from the metric's name).")


def test_plot_methods_pass_their_arguments_on(sweep, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    assert sweep.plot_curves("loss", ax=ax, path=tmp_path / "c.png") is ax
    assert ax.get_ylabel() == "loss" and (tmp_path / "c.png").stat().st_size > 0
    _, ax = plt.subplots()
    assert sweep.plot_leaderboard("loss", ax=ax, path=tmp_path / "l.png", at="best", top=2) is ax
    assert len(ax.patches) >= 2 and (tmp_path / "l.png").stat().st_size > 0
    assert "loss at the best epoch" in ax.get_xlabel()
    assert [t.get_text().split()[-1] for t in ax.get_yticklabels()][:2] == ["lr0.3", "lr0.1"]
    many = SweepResult("s", [task(f"t{i:02d}", i, (1,), [i / 50], [0.2]) for i in range(41)])
    ax = many.plot_leaderboard()
    assert "at the last epoch" in ax.get_xlabel() and len(ax.get_yticklabels()) == 40
    plt.close("all")


@pytest.mark.slow
def test_seconds_is_the_tasks_own_time_and_the_start_up_is_reported_apart(tmp_path):
    """`sweeps run` on two workers: the first task on each worker does not carry the worker's
    start-up (torch, torch._dynamo: about a second), and the summary says where the time went."""
    import os
    import re
    import statistics
    import subprocess
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    run = subprocess.run(
        [sys.executable, "-m", "sweeps", "run", "iris", "--grid", "network_size=(10,)",
         "learning_rate=0.1,0.3,1", "algorithm=Adam,SGD", "--n-jobs", "2", "--no-progress",
         "--store", str(tmp_path / "s.log")], cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": repo, "MPLBACKEND": "Agg"},
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    header, *rows = [line.split() for line in run.stdout.splitlines() if line.startswith(" ")]
    assert header[-1] == "seconds" and len(rows) == 6
    seconds = [float(row[-1]) for row in rows]
    assert max(seconds) < statistics.median(seconds) + 0.5, seconds
    own, startup = re.search(r"the tasks' own time: (\d+\.\d+) s in all \(the seconds column\); "
                             r"start-up until the first task began: (\d+\.\d) s", run.stderr).groups()
    assert float(own) == pytest.approx(sum(seconds), abs=0.011)
    assert float(startup) > 0.3  # python and torch, at the least
    assert run.stderr.splitlines()[-1].startswith("sweep 'iris': ran 6 tasks (6 complete, 0 failed)")
