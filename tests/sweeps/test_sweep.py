"""sweep() and run_task(): results, resume, failures, seeds, data shipping, bad input, Ctrl-C."""
import functools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from tests.processes import process_alive

from sweeps import (
    EXECUTORS,
    Autonamer,
    Store,
    SweepsError,
    SweepsTypeError,
    SweepsValueError,
    TaskFailedError,
    UnknownStudyError,
    register,
    run_task,
    sweep,
)
from sweeps import _registry
from sweeps._sweep import RemoteTraceback, derive_seed
from tests.sweeps import tasks_for_tests as toys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _executor_params():
    # the local executors that run any task; 'fused' runs sweeps_core networks only
    # (test_fused.py) and 'dask' starts a cluster (test_dask.py runs its own suite)
    for name in sorted(n for n in EXECUTORS if n not in ("fused", "dask")):
        marks = [pytest.mark.slow] if name == "processes" else []
        yield pytest.param(name, marks=marks, id=name)


@pytest.fixture(params=list(_executor_params()))
def run(request, tmp_path):
    """sweep() on one executor (2 processes for 'processes'), into a store under tmp_path."""
    name = request.param
    n_jobs = 2 if name == "processes" else None
    store = Store(str(tmp_path / "store.log"))

    def run_sweep(create_task=toys.create_task, grid=None, **kwargs):
        kwargs.setdefault("data", toys.load_offset)
        kwargs.setdefault("progress", False)
        return sweep(create_task, grid, store=store, executor=name, n_jobs=n_jobs, **kwargs)

    run_sweep.store = store
    run_sweep.executor = name
    return run_sweep


@pytest.fixture
def store(tmp_path):
    return Store(str(tmp_path / "store.log"))


# ------------------------------------------------------------------ shared suite over EXECUTORS


def test_results_come_in_spec_order_with_seeds_and_histories(run):
    result = run(grid=dict(x=[3, 1, 2], epochs=2))
    assert [r.name for r in result.results] == ["X3", "X1", "X2"]
    assert [r.extra["index"] for r in result.results] == [0, 1, 2]
    for r in result.results:
        assert r.ok and len(r.history) == 2
        assert r.params == {"x": r.params["x"], "epochs": 2}
        assert r.seed == derive_seed(0, r.name)
        assert r.metrics["task_seed"] == r.seed  # settings.seed was None: sweep set it
        assert r.device == "cpu"


def test_histories_reproduce_with_run_task(run):
    grid = dict(x=[1, 2])
    result = run(grid=grid, seed=7)
    again = run_task(toys.create_task, "X2", grid=grid, data=toys.load_offset, sweep_seed=7)
    assert again.history == result.results[1].history
    assert again.seed == result.results[1].seed


def test_a_failing_task_is_recorded_and_the_others_complete(run):
    result = run(grid=dict(x=[1, 2, 3], fail_on=2))
    assert [r.status for r in result.results] == ["complete", "failed", "complete"]
    failed = result.failed
    assert list(failed["name"]) == ["X2"]
    assert "ValueError: x=2 is the combination that fails" in failed["error"].iloc[0]
    assert "Traceback" in failed["error"].iloc[0]


def test_resume_runs_only_what_is_not_complete(run):
    first = run(grid=dict(x=[1, 2, 3]), data={"offset": 100, "fail_x": [2]})
    assert [r.ok for r in first.results] == [True, False, True]
    # Same params, other data: only the failed task runs again, with the new offset.
    second = run(grid=dict(x=[1, 2, 3]), data={"offset": 200})
    scores = {r.name: r.metrics["score_test"] for r in second.results}
    assert all(r.ok for r in second.results)
    assert scores["X1"] < 200 and scores["X3"] < 200 and scores["X2"] >= 200
    assert len(run.store.records("create_task")) == 3


def test_result_holds_earlier_runs_complete_tasks(run):
    run(grid=dict(x=[1, 2]))
    result = run(grid=dict(x=[3]))
    assert sorted(r.name for r in result.results) == ["X1", "X2", "X3"]


def test_a_grown_grid_that_renames_recorded_tasks_never_runs_them_again(run):
    # 1.05 alone is X105; beside 10.5 (also '105' the REL way) both need exact labels
    first = run(grid=dict(x=[1.05]))
    assert [r.name for r in first.results] == ["X105"]
    second = run(grid=dict(x=[1.05, 10.5]))
    assert sorted(r.name for r in second.results) == ["X10.5", "X105"]
    assert {r.name: r.params["x"] for r in second.results} == {"X105": 1.05, "X10.5": 10.5}
    first_score = first.results[0].metrics["score_test"]
    assert next(r for r in second.results if r.name == "X105").metrics["score_test"] == first_score


def test_a_new_task_whose_name_the_store_gives_to_other_params_gets_a_suffix(run):
    run(grid=dict(x=[1.5]))  # named X15
    result = run(grid=dict(x=[1.5, 15]))  # now 1.5 would be X1.5 and 15 would be X15
    names = {r.params["x"]: r.name for r in result.results}
    assert names[1.5] == "X15"
    assert names[15].startswith("X15-") and len(result) == 2
    assert len(run.store.records("create_task")) == 2
    again = run(grid=dict(x=[1.5, 15]))  # and a third run runs nothing and keeps both names
    assert {r.params["x"]: r.name for r in again.results} == names


def test_on_error_raise_stops_and_names_the_task(run):
    with pytest.raises(TaskFailedError) as caught:
        run(grid=dict(x=[1, 2, 3], fail_on=1), on_error="raise")
    message = str(caught.value)
    assert "'X1'" in message and "x=1 is the combination that fails" in message
    assert "Traceback" in message and "on_error='record'" in message
    assert caught.value.name == "X1"
    assert isinstance(caught.value.__cause__, RemoteTraceback)
    assert [r.name for r in run.store.records("create_task") if not r.ok] == ["X1"]


def test_changed_fixed_params_refuse_to_resume(run):
    run(grid=dict(x=[1, 2]))
    with pytest.raises(SweepsValueError) as caught:
        run(grid=dict(x=[1, 2], epochs=5))
    message = str(caught.value)
    assert "'X1'" in message and "{'x': 1}" in message and "{'x': 1, 'epochs': 5}" in message
    assert "name=" in message


def test_resume_with_params_the_store_keeps_as_repr(run):
    # A class and a function are recorded as their repr; resuming must still match them.
    grid = dict(x=[1, 2], fail_on=[toys.ToyTask, toys.square])
    run(grid=grid, data={"offset": 100})
    again = run(grid=grid, data={"offset": 200})
    assert len(again) == 4 and all(r.ok for r in again)
    assert all(r.metrics["score_test"] < 200 for r in again)  # none ran again


def test_a_result_that_is_not_the_result_dict_is_a_failure(run):
    result = run(create_task=toys.create_task_bad_result, grid=dict(x=[1]))
    assert "expected a dict like" in result.results[0].error


def test_two_swept_keys(run):
    result = run(create_task=toys.create_task_two, grid=dict(x=[1, 2], y=[0, 5]))
    assert len(result) == 4 and all(r.ok for r in result)


# ------------------------------------------------------------------ data shipping


def test_sequential_calls_the_loader_once(store):
    before = len(toys.LOADS)
    sweep(toys.create_task, dict(x=[1, 2, 3]), data=toys.load_offset, store=store,
          executor="sequential", progress=False)
    assert len(toys.LOADS) == before + 1


@pytest.mark.slow
def test_the_loader_runs_once_in_the_driver_and_every_worker_gets_its_data(store, tmp_path):
    from tests.sweeps import pinned_tasks

    before = len(toys.LOADS)
    # each worker's first task waits until the other worker has started one: both work, even
    # when one worker alone could take every task of a cold pool
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    result = sweep(pinned_tasks.create_meeting_task, dict(x=list(range(8)), folder=str(meeting)),
                   data=toys.load_random_offset, store=store, n_jobs=2, progress=False)
    assert toys.LOADS[before:] == [os.getpid()]
    assert len({r.metrics["pid"] for r in result}) == 2
    # a loader with randomness (like the walkthrough's unseeded split) still gives every task,
    # in every worker, the same data
    assert len({r.metrics["offset"] for r in result}) == 1


@pytest.mark.slow
def test_each_worker_unpickles_a_data_object_once(store):
    result = sweep(toys.create_task, dict(x=list(range(8))), data={"offset": 5}, store=store,
                   n_jobs=2, progress=False)
    ids_per_worker = {}
    for r in result:
        ids_per_worker.setdefault(r.metrics["pid"], set()).add(r.metrics["data_id"])
    assert all(len(ids) == 1 for ids in ids_per_worker.values())
    assert all(r.history[0]["score_test"] >= 5 for r in result)


def test_seed_none_does_not_seed(store):
    result = sweep(toys.create_task, dict(x=[1]), data=toys.load_offset, store=store,
                   executor="sequential", seed=None, progress=False)
    assert result.results[0].seed is None and result.results[0].metrics["task_seed"] is None


def test_derived_seeds_are_stable_and_32_bits():
    assert derive_seed(0, "X1") == derive_seed(0, "X1") != derive_seed(1, "X1")
    assert 0 <= derive_seed(123, "NS10-10-LR1-ASGD") < 2**32
    # Same in another interpreter with another PYTHONHASHSEED.
    code = "from sweeps._sweep import derive_seed; print(derive_seed(0, 'X1'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "PYTHONHASHSEED": "123"}, check=True)
    assert int(out.stdout) == derive_seed(0, "X1")


def test_name_defaults_to_the_function_name(store):
    sweep(toys.create_task, dict(x=[1]), data=None, store=store, executor="sequential",
          progress=False)
    assert store.list_sweeps() == ["create_task"]


def test_progress_bar_shows_failures(store, capsys):
    sweep(toys.create_task, dict(x=[1, 2], fail_on=2), data=toys.load_offset, store=store,
          executor="sequential", progress=True)
    err = capsys.readouterr().err
    assert "2/2" in err and "failed=1" in err


@pytest.mark.parametrize("fail_x,said,counts", [
    ((), "sweep 'create_hanging_task': 2 of 4 tasks timed out (task_timeout=0.5s); they are "
         "listed in result.failed", "2 complete, 0 failed, 2 timed out"),
    ((0,), "sweep 'create_hanging_task': 1 of 4 tasks failed, 2 timed out (task_timeout=0.5s); "
           "their tracebacks are in result.failed", "1 complete, 1 failed, 2 timed out"),
])
def test_timed_out_tasks_are_told_apart_from_failed_ones(store, caplog, fail_x, said, counts):
    with caplog.at_level("WARNING", logger="sweeps._sweep"):
        result = sweep(toys.create_hanging_task, dict(x=[0, 1, 2, 3], hang_on=(1, 2)),
                       data={"offset": 0, "fail_x": fail_x}, store=store,
                       executor="sequential", task_timeout=0.5, progress=False)
    assert said in caplog.text
    assert repr(result) == (f"SweepResult('create_hanging_task', {counts}, "
                            "metric='score_test', direction='maximize')")


# ------------------------------------------------------------------ studies


@pytest.fixture
def toy_study(monkeypatch):
    monkeypatch.setattr(_registry, "_STUDIES", {})
    register("toy", toys.create_task, grid=dict(x=[1, 2], epochs=2), data=toys.load_offset)
    return "toy"


def test_a_study_name_brings_its_grid_and_data(toy_study, store):
    result = sweep(toy_study, store=store, executor="sequential", progress=False)
    assert result.name == "toy" and [r.name for r in result] == ["X1", "X2"]
    assert all(len(r.history) == 2 for r in result)


def test_an_explicit_grid_overrides_the_study_grid_key_by_key(toy_study, store):
    result = sweep(toy_study, dict(x=[7]), store=store, executor="sequential", progress=False)
    assert [r.params for r in result] == [{"x": 7, "epochs": 2}]


def test_run_task_on_a_study(toy_study, store):
    result = sweep(toy_study, store=store, executor="sequential", progress=False)
    again = run_task(toy_study, "X2")
    assert again.history == result.results[1].history
    with pytest.raises(SweepsValueError, match="did you mean 'X2'"):
        run_task(toy_study, "X22")


def test_another_create_task_under_the_same_default_name_is_refused(store, tmp_path):
    """Both functions are called create_task, so both default to the sweep 'create_task': the
    second used to be handed the first one's results (or fail on a param it never had)."""
    from sweeps import search
    from tests import bad_input_tasks as other

    first = sweep(toys.create_task, dict(x=[1, 2]), data={"offset": 0}, store=store,
                  executor="sequential", progress=False)
    written = os.path.getsize(tmp_path / "store.log")
    for start in (lambda: sweep(other.create_task, dict(x=[1, 2]), data=None, store=store,
                                executor="sequential", progress=False),
                  lambda: search(other.create_task, dict(x=[1, 2]), data=None, store=store,
                                 n_trials=2, metric="score", executor="sequential",
                                 progress=False)):
        with pytest.raises(SweepsValueError, match=(
                r"sweep 'create_task' .* was begun by create_task "
                r"tests\.sweeps\.tasks_for_tests\.create_task, not by "
                r"tests\.bad_input_tasks\.create_task: .* name='bad_input_tasks-create_task'")):
            start()
    assert os.path.getsize(tmp_path / "store.log") == written
    # its own name runs it; the first sweep, resumed, still holds its own results
    own = sweep(other.create_task, dict(x=[1, 2]), data=None, store=store, name="other",
                executor="sequential", progress=False)
    assert [r.metrics["score"] for r in own] == [1.0, 2.0]
    again = sweep(toys.create_task, dict(x=[1, 2]), data={"offset": 0}, store=store,
                  executor="sequential", progress=False)
    assert [r.metrics for r in again] == [r.metrics for r in first]


def test_a_study_by_name_and_a_study_file_resume_under_their_names(toy_study, store, write_study,
                                                                   monkeypatch):
    for _ in range(2):
        assert len(sweep(toy_study, store=store, executor="sequential", progress=False)) == 2
    path = write_study("filed", textwrap.dedent("""
        import sweeps
        from tests.sweeps import tasks_for_tests as toys

        def create_task(x):
            return toys.create_task(x, epochs=1)

        sweeps.register("filed", create_task, grid=dict(x=[1, 2]), data={"offset": 0})
    """))
    for _ in range(2):
        assert len(sweep(path, store=store, executor="sequential", progress=False)) == 2
    # the file's create_task imported by name, as `import filed` gives it, is the same function
    monkeypatch.syspath_prepend(os.path.dirname(path))
    monkeypatch.delitem(sys.modules, "filed", raising=False)
    import filed

    try:
        assert len(sweep(filed.create_task, dict(x=[1, 2]), data={"offset": 0}, name="filed",
                         store=store, executor="sequential", progress=False)) == 2
    finally:
        del sys.modules["filed"]
    trials = store.optuna_storage().get_all_trials(store.study_id("filed"))
    assert len(trials) == 2  # resumed: nothing ran twice


# ------------------------------------------------------------------ bad input, before anything runs


def _nothing_ran(store, loads_before):
    return store.list_sweeps() == [] and len(toys.LOADS) == loads_before


def _fails(store, error, match, *args, **kwargs):
    kwargs.setdefault("data", toys.load_offset)
    before = len(toys.LOADS)
    with pytest.raises(error, match=match) as caught:
        sweep(*args, store=store, progress=False, **kwargs)
    assert _nothing_ran(store, before)
    return str(caught.value)


def test_unknown_grid_key_reaches_the_user_unchanged(store):
    with pytest.raises(SweepsValueError) as expected:
        Autonamer(toys.create_task).specs(x=[1], epoch=[2])
    message = _fails(store, SweepsValueError, "epoch", toys.create_task, dict(x=[1], epoch=[2]),
                     executor="sequential")
    assert message == str(expected.value)
    assert "did you mean 'epochs'" in message


def test_empty_range(store):
    _fails(store, SweepsValueError, "x=\\[\\] is an empty range", toys.create_task, dict(x=[]),
           executor="sequential")


@pytest.mark.parametrize("argument", ["create_task", "data"])
@pytest.mark.parametrize("kind", ["lambda", "closure"])
def test_lambdas_and_closures_are_refused_for_processes(store, argument, kind):
    offset = 3

    def closure(*args, **kwargs):
        if argument == "create_task":
            return toys.create_task(*args, **kwargs)
        return {"offset": offset}

    fn = (lambda **kw: toys.create_task(**kw)) if kind == "lambda" else closure
    if argument == "create_task":
        args, data = (fn, dict(x=[1])), toys.load_offset
    else:
        data = (lambda: {"offset": 1}) if kind == "lambda" else closure
        args = (toys.create_task, dict(x=[1]))
    message = _fails(store, SweepsTypeError, f"^{argument}=", *args, data=data)
    assert "module level" in message and "functools.partial" in message


def test_a_partial_of_a_module_level_function_is_fine(store):
    create = functools.partial(toys.create_task, epochs=1)
    result = sweep(create, dict(x=[1]), data=toys.load_offset, store=store, name="p",
                   executor="sequential", progress=False)
    assert len(result.results[0].history) == 1


def test_lambdas_are_fine_in_process(store):
    result = sweep(lambda x: toys.ToyTask(x), dict(x=[1]), data=lambda: {"offset": 0},
                   store=store, name="lam", executor="sequential", progress=False)
    assert result.results[0].ok


def test_unpicklable_data_object_is_refused(store):
    with pytest.raises(SweepsTypeError, match="data=.*cannot be pickled.*make it picklable"):
        sweep(toys.create_task, dict(x=[1]), data={"offset": 1, "lock": threading.Lock()},
              store=store, n_jobs=1, progress=False)


def test_unknown_study(toy_study, store):
    message = _fails(store, UnknownStudyError, "did you mean 'toy'", "tyo")
    assert "`sweeps list`" in message


def test_unknown_executor(store):
    message = _fails(store, SweepsValueError, "did you mean 'processes'", toys.create_task,
                     dict(x=[1]), executor="proceses")
    assert repr(sorted(EXECUTORS)) in message


def test_malformed_store_url():
    with pytest.raises(SweepsValueError, match="is not a store location"):
        sweep(toys.create_task, dict(x=[1]), data=None, store="postgres:/nope",
              executor="sequential")


@pytest.mark.parametrize("n_jobs", [0, -2, "two", 2.5, True])
def test_bad_n_jobs(store, n_jobs):
    message = _fails(store, SweepsValueError, "n_jobs=", toys.create_task, dict(x=[1]),
                     n_jobs=n_jobs)
    assert repr(n_jobs) in message and "positive int" in message


def test_sequential_refuses_several_jobs(store):
    _fails(store, SweepsValueError, "executor='processes'", toys.create_task, dict(x=[1]),
           executor="sequential", n_jobs=2)


def test_bad_on_error(store):
    _fails(store, SweepsValueError, r"on_error='ignore' must be one of \['record', 'raise'\]",
           toys.create_task, dict(x=[1]), on_error="ignore", executor="sequential")


def test_missing_data(store):
    with pytest.raises(SweepsValueError, match="data= is missing.*loader"):
        sweep(toys.create_task, dict(x=[1]), store=store, executor="sequential")
    assert store.list_sweeps() == []


def test_several_problems_are_reported_together(store):
    message = _fails(store, SweepsValueError, "4 problems", lambda x: None, dict(x=[]),
                     n_jobs=0, on_error="x", executor="processes")
    for part in ("n_jobs=0", "on_error='x'", "create_task=", "empty range"):
        assert part in message


def test_errors_are_sweeps_errors_and_builtins():
    assert issubclass(UnknownStudyError, KeyError) and issubclass(UnknownStudyError, SweepsError)


# ------------------------------------------------------------------ Ctrl-C, for real

_SLOW_SWEEP = textwrap.dedent("""
    import signal, sys
    # Ctrl-C as in a terminal: a test run started in the background (bash's `cmd &`) ignores
    # SIGINT, and its children would inherit that and never be interrupted
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from sweeps import sweep
    from tests.sweeps.tasks_for_tests import create_task, load_offset
    sweep(create_task, dict(x=list(range(16)), delay=0.5), data=load_offset, store=sys.argv[1],
          name="slow", n_jobs=2, progress=False)
""")


_alive = process_alive


@pytest.mark.slow
def test_ctrl_c_records_what_finished_kills_workers_and_resumes(tmp_path):
    url = str(tmp_path / "slow.log")
    process = subprocess.Popen([sys.executable, "-c", _SLOW_SWEEP, url], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = Store(url)
    try:
        deadline = time.monotonic() + 120
        while len(store.completed("slow")) < 2:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the sweep recorded nothing in time"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0 and "KeyboardInterrupt" in err
    done = Store(url).completed("slow")
    assert 2 <= len(done) < 16
    workers = {r.metrics["pid"] for r in Store(url).records("slow")}
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers), "worker processes outlived the sweep"

    result = sweep(toys.create_task, dict(x=list(range(16)), delay=0.5), data=toys.load_offset,
                   store=url, name="slow", n_jobs=2, progress=False)
    assert all(r.ok for r in result) and len(result) == 16
    rerun = {r.name for r in result if r.metrics["pid"] not in workers}
    assert rerun == {r.name for r in result} - set(done)


@pytest.mark.slow
@pytest.mark.parametrize("crash_on", [(2,), (1, 6)])
def test_a_task_that_kills_its_worker_is_recorded_and_the_others_complete(store, crash_on):
    result = sweep(toys.create_crashing_task, dict(x=list(range(8)), crash_on=crash_on),
                   data={"offset": 0}, store=store, n_jobs=2, progress=False)
    failed = {r.params["x"]: r.error for r in result if not r.ok}
    assert set(failed) == set(crash_on)
    assert all("worker process running this task died" in error for error in failed.values())
    assert sorted(r.params["x"] for r in result if r.ok) == [x for x in range(8) if x not in crash_on]


@pytest.mark.slow
def test_a_torch_task_rerun_by_name_reproduces_its_recorded_history(store):
    grid = dict(network_size=[(), (10,)], learning_rate=[0.3], algorithm=["Adam"], epoch_count=[15])
    result = sweep("iris", grid, store=store, n_jobs=2, progress=False)
    assert all(r.ok for r in result) and len(result) == 2
    for recorded in result:
        again = run_task("iris", recorded.name, grid=grid)
        strip = [{k: v for k, v in row.items() if k != "timestamp"} for row in recorded.history]
        assert [{k: v for k, v in row.items() if k != "timestamp"} for row in again.history] == strip
        assert again.seed == recorded.seed


def test_sys_exit_in_a_task_fails_that_task_only(store):
    result = sweep(toys.create_exiting_task, dict(x=[0, 1, 2]), data={"offset": 0}, store=store,
                   executor="sequential", progress=False)
    assert [r.ok for r in result] == [True, False, True]
    assert "SystemExit: task 1 called sys.exit" in result.failed["error"].iloc[0]


@pytest.mark.slow
def test_the_overhead_benchmark_runs_and_prints_milliseconds_per_task(tmp_path):
    script = os.path.join(REPO, "benchmarks", "sweep_overhead.py")
    done = subprocess.run([sys.executable, script, "--tasks", "20"], cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    timed = [line for line in done.stdout.splitlines() if line.endswith("ms/task")]
    assert [line.split("  ")[0] for line in timed] == [
        "sequential", "2 processes, cold (worker start-up)", "2 processes, warm (a second sweep)",
        "Store.record alone"], done.stdout
    assert "worker start-up, once (cold - warm)" in done.stdout
    assert os.listdir(tmp_path) == []  # it works in a temporary folder of its own
