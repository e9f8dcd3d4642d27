"""executor='fused': the same records as one task at a time, the normal path for what cannot fuse,
pruning, failures, bad input."""
import logging

import pytest

from sweeps import EXECUTORS, FusedExecutor, Store, SweepsTypeError, SweepsValueError, TaskFailedError, search, sweep
from sweeps._work import InMemoryData, Job
from sweeps_core import factories as btf
from tests.sweeps import tasks_for_tests as toys
from tests.sweeps_core.tasks import BinaryTask, breast_cancer_bundle

TOLERANCE = 1e-5


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def bundle():
    return breast_cancer_bundle()


@pytest.fixture
def store(tmp_path):
    return Store(str(tmp_path / "store.log"))


def create_task(lr=0.01, algorithm="Adam", epochs=4, hidden=8, fail=False):
    if fail:
        raise ValueError("this combination fails")
    task = BinaryTask(btf.Factories.FullyConnected([hidden], "features", "label"), epochs=epochs, batch_size=64)
    task.optimizer_ctor.type = "torch.optim:" + algorithm
    task.optimizer_ctor.kwargs.lr = lr
    return task


def by_name(result):
    return {r.name: r for r in result}


def assert_same_records(expected, got):
    assert set(expected) == set(got)
    for name, one in expected.items():
        fused = got[name]
        assert (fused.status, fused.seed, fused.params) == (one.status, one.seed, one.params)
        assert len(fused.history) == len(one.history)
        for row, fused_row in zip(one.history, fused.history):
            assert list(row) == list(fused_row)
            for key, value in row.items():
                if key != "timestamp":
                    assert fused_row[key] == pytest.approx(value, rel=TOLERANCE, abs=1e-7), (name, key)


def test_fused_is_registered_and_runs_in_process():
    assert EXECUTORS["fused"] is FusedExecutor
    assert FusedExecutor.in_process


def test_a_fused_sweep_records_what_a_sequential_one_records(bundle, store, caplog):
    grid = dict(lr=[0.003, 0.03], algorithm=["Adam", "SGD", "AdamW", "RMSprop"])
    expected = sweep(create_task, grid, data=bundle, name="one", store=store, executor="sequential",
                     progress=False)
    with caplog.at_level(logging.WARNING, logger="sweeps._fused"):
        got = sweep(create_task, grid, data=bundle, name="fused", store=store, executor="fused",
                    progress=False)
    assert_same_records(by_name(expected), by_name(got))
    # RMSprop has no fused update rule: one log line names it, and its tasks ran on the normal path
    lines = [r.getMessage() for r in caplog.records if "unfused" in r.getMessage()]
    assert len(lines) == 1 and "RMSprop" in lines[0] and "2 task(s)" in lines[0]
    groups = {r.params["algorithm"]: r.extra.get("fused") for r in got}
    assert groups == {"Adam": 4, "AdamW": 4, "SGD": 2, "RMSprop": None}  # Adam and AdamW share a rule


def test_a_fused_sweep_resumes_and_runs_only_what_is_missing(bundle, store):
    sweep(create_task, dict(lr=[0.01, 0.1]), data=bundle, name="s", store=store, executor="fused",
          progress=False)
    result = sweep(create_task, dict(lr=[0.01, 0.1, 0.3]), data=bundle, name="s", store=store,
                   executor="fused", progress=False)
    assert len(result) == 3 and all(r.ok for r in result)
    assert sum("fused" in r.extra and r.extra["fused"] == 1 for r in result) == 1  # only the new one


def test_a_failing_task_is_recorded_and_the_group_completes(bundle, store):
    result = sweep(create_task, dict(lr=[0.01, 0.1], fail=[False, True]), data=bundle, name="f",
                   store=store, executor="fused", progress=False)
    records = by_name(result)
    failed = [r for r in records.values() if not r.ok]
    assert len(failed) == 2 and all("this combination fails" in r.error for r in failed)
    assert sum(r.ok for r in records.values()) == 2


def test_on_error_raise_stops_after_recording_the_fused_results(bundle, store):
    with pytest.raises(TaskFailedError):
        sweep(create_task, dict(lr=[0.01, 0.1], fail=[False, True]), data=bundle, name="r",
              store=store, executor="fused", progress=False, on_error="raise")
    states = {e.state for e in store.entries("r")}
    assert "RUNNING" not in states  # nothing is left claimed by a participant that stopped


def test_a_search_with_a_pruner_prunes_fused_tasks_and_records_their_epochs(bundle, store):
    result = search(create_task, dict(lr=(1e-4, 1.0, "log")), data=bundle, n_trials=14,
                    metric="roc_auc_score_test", pruner="median", name="search", store=store,
                    executor=FusedExecutor(batch_size=2), progress=False)
    assert len(result) == 14
    storage = store.optuna_storage()
    trials = storage.get_all_trials(store.study_id("search"))
    states = [t.state.name for t in trials]
    assert set(states) == {"COMPLETE", "PRUNED"}, states  # the pruner stopped some fused tasks
    for trial in trials:  # the hook reported each epoch the task ran, as on the normal path
        assert len(trial.intermediate_values) == len(by_name(result)[trial.user_attrs["name"]].history)


def test_tasks_that_are_not_sweeps_core_torch_tasks_are_refused_before_anything_runs(store):
    with pytest.raises(SweepsTypeError, match="ToyTask.*not a sweeps_core BatchedTrainingTask") as error:
        sweep(toys.create_task, dict(x=[1, 2]), data={"offset": 1}, name="toy", store=store,
              executor="fused", progress=False)
    assert "fallback=True" in str(error.value)
    assert {e.state for e in store.entries("toy")} == {"WAITING"}  # put back, none ran


def test_fallback_runs_them_on_the_normal_path_with_a_warning(store, caplog):
    with caplog.at_level(logging.WARNING, logger="sweeps._fused"):
        result = sweep(toys.create_task, dict(x=[1, 2]), data={"offset": 1}, name="toy", store=store,
                       executor=FusedExecutor(fallback=True), progress=False)
    assert all(r.ok for r in result) and len(result) == 2
    assert "no task of sweep 'toy' can fuse" in caplog.text


def test_participate_called_directly_works_the_queue(bundle, store):
    # the seam the driver uses: executor.participate(job, on_result) -> number of trials run
    sweep(create_task, dict(lr=[0.01]), data=bundle, name="d", store=store, executor="fused", progress=False)
    seen = []
    job = Job("d", store, create_task, InMemoryData(bundle), 0)
    assert FusedExecutor().participate(job, seen.append) == 0  # nothing is waiting
    assert seen == []


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_jobs=2), "n_jobs=2"),
    (dict(batch_size=0), "batch_size=0"),
    (dict(group_size="big"), "group_size='big'"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(SweepsValueError, match=message):
        FusedExecutor(**kwargs)
