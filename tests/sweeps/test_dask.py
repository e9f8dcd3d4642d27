"""executor='dask': real LocalClusters (2 worker processes on 127.0.0.1), a real journal store."""
import collections
import os
import pathlib
import uuid

import pytest

distributed = pytest.importorskip("distributed")

from sweeps import DaskExecutor, Store, SweepsError, SweepsValueError, TaskFailedError  # noqa: E402
from sweeps import search, sweep  # noqa: E402
from tests.sweeps import tasks_for_tests as toys  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def store(tmp_path):
    return str(tmp_path / "store" / "sweeps.log")


@pytest.fixture(scope="module")
def client():
    """One cluster for the tests that bring their own client (starting one takes seconds)."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address="127.0.0.1:0")
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


def _runs(log):
    """x -> how many times a task with that x completed its run; and the pids that ran them."""
    lines = pathlib.Path(log).read_text().split("\n")
    pairs = [line.split() for line in lines if line]
    return collections.Counter(float(x) if "." in x else int(x) for x, _ in pairs), {
        int(pid) for _, pid in pairs}


def test_a_local_cluster_runs_each_task_of_a_grid_once_on_two_workers(tmp_path, store):
    log = tmp_path / "runs.txt"
    result = sweep(toys.create_counted_task, dict(x=list(range(12)), log=str(log), delay=0.05),
                   data=toys.load_offset, store=store, name="grid", executor="dask", n_jobs=2,
                   progress=False)
    assert len(result) == 12 and all(r.ok for r in result)
    runs, pids = _runs(log)
    assert runs == collections.Counter(range(12))  # each task ran once
    assert len(pids) >= 2 and os.getpid() not in pids  # on both workers, not in the driver
    # loaded once, in the driver; the workers got the data, not the loader
    assert {r.metrics["loads"] for r in result} == {0}


def test_a_search_on_a_given_client_runs_n_trials(tmp_path, store, client):
    log = tmp_path / "runs.txt"
    executor = DaskExecutor(client, timeout=20)
    result = search(toys.create_searched_task, dict(x=(0.0, 1.0), log=[str(log)]),
                    data={"offset": 0}, n_trials=8, metric="score_test", store=store,
                    name="search", executor=executor, sampler="random", seed=3, progress=False)
    assert len(result) == 8 and all(r.ok for r in result)
    runs, pids = _runs(log)
    assert sorted(runs.elements()) == sorted(r.params["x"] for r in result)
    assert set(runs.values()) == {1}
    worker_pids = set(client.run(os.getpid).values())
    assert pids <= worker_pids
    assert client.status == "running"  # a given client stays open


def test_a_worker_that_cannot_import_create_task_names_the_module(tmp_path, store, client,
                                                                   monkeypatch):
    # a module on the driver's sys.path only: the workers (started before) cannot import it
    module = f"only_on_the_driver_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        "from tests.sweeps.tasks_for_tests import ToyTask\n\n"
        "def create_task(x):\n    return ToyTask(x)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    create_task = __import__(module).create_task
    with pytest.raises(SweepsError, match=f"cannot load the sweep's code.*{module}.*install"):
        sweep(create_task, dict(x=[1, 2, 3]), data={"offset": 0}, store=store, name="missing",
              executor=DaskExecutor(client, timeout=10), progress=False)
    # nothing ran, and nothing is left claimed
    assert {e.state for e in Store(store).entries("missing")} == {"WAITING"}


def test_on_error_raise_stops_the_participants_and_puts_their_trials_back(tmp_path, store,
                                                                          client):
    log = tmp_path / "runs.txt"
    with pytest.raises(TaskFailedError):
        sweep(toys.create_counted_task, dict(x=list(range(12)), log=str(log), delay=0.3),
              data={"offset": 0, "fail_x": [1]}, store=store, name="raise",
              executor=DaskExecutor(client, timeout=20), on_error="raise", progress=False)
    states = collections.Counter(e.state for e in Store(store).entries("raise"))
    # participants still running after the raise would hold RUNNING trials and go on
    assert states["RUNNING"] == 0 and states["WAITING"] > 0, states
    runs, _ = _runs(log) if log.exists() else (collections.Counter(), set())
    assert sum(runs.values()) == states["COMPLETE"]
    # the workers are free again: the same sweep on the same cluster finishes the rest, and
    # over both runs each task ran once (x=1 failed before its run was counted)
    result = sweep(toys.create_counted_task, dict(x=list(range(12)), log=str(log), delay=0.3),
                   data={"offset": 0}, store=store, name="raise",
                   executor=DaskExecutor(client, timeout=20), progress=False)
    assert len(result) == 12 and all(r.ok for r in result)
    assert _runs(log)[0] == collections.Counter(range(12))


def test_an_address_that_does_not_answer_is_named(store):
    with pytest.raises(SweepsError, match=r"address='tcp://127.0.0.1:9'.*timeout=2 s"):
        sweep(toys.create_task, dict(x=[1]), data={"offset": 0}, store=store, name="nowhere",
              executor=DaskExecutor(address="tcp://127.0.0.1:9", timeout=2), progress=False)


@pytest.mark.parametrize("kwargs,message", [
    (dict(address="tcp://127.0.0.1:8786", n_jobs=2), "n_jobs=2 given with a cluster"),
    (dict(address=""), "address='' must be a scheduler address"),
    (dict(client="tcp://127.0.0.1:8786"), "is not a distributed.Client"),
    (dict(timeout=0), "timeout=0 must be a positive number"),
    (dict(timeout=float("inf")), "timeout=inf must be a positive number"),
])
def test_bad_arguments_are_refused_with_the_value(kwargs, message):
    with pytest.raises(SweepsValueError, match=message):
        DaskExecutor(**kwargs)


def test_without_distributed_executor_dask_says_what_to_install(store, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)
    with pytest.raises(SweepsValueError, match=r'pip install "sweeps\[dask\]"'):
        sweep(toys.create_task, dict(x=[1]), data={"offset": 0}, store=store, name="nodask",
              executor="dask", progress=False)
    assert not os.path.exists(store)  # refused before the store was opened


@pytest.mark.parametrize("factory,stuck", [
    (toys.create_spinning_task, "spin_on"),  # steps through Python: its own time limit stops it
    (toys.create_hanging_task, "hang_on"),   # inside one sleep: the driver ends its worker
])
def test_task_timeout_stops_a_task_on_a_dask_worker_and_the_sweep_goes_on(store, client,
                                                                          factory, stuck):
    executor = DaskExecutor(client, timeout=20)
    result = sweep(factory, {"x": [0, 1, 2], stuck: [(1,)]}, data={"offset": 0}, store=store,
                   name=f"timeout-{stuck}", executor=executor, task_timeout=1.5, progress=False)
    statuses = {r.params["x"]: r.status for r in result}
    assert statuses == {0: "complete", 1: "timed_out", 2: "complete"}
    stopped = next(r for r in result if r.params["x"] == 1)
    assert "task_timeout=1.5" in stopped.error
    client.wait_for_workers(2, timeout=60)  # a worker ended for a stuck task is back
