"""executor=DaskExecutor(address=...): a real `dask scheduler` and two `dask worker` processes.

What a user with a cluster does: the scheduler and the workers are started by hand (here as
subprocesses on 127.0.0.1, one thread each, no nanny, no dashboard), the workers find the
task's module on their PYTHONPATH, and a sweep and a search connect by address only. The
processes are stopped in a ``finally``; the scheduler also stops itself when idle and the
workers when the scheduler goes away, so a test killed outright leaves nothing running for long.
"""
import collections
import os
import pathlib
import socket
import subprocess
import sys

import pytest

if os.environ.get("CI"):
    import distributed  # noqa: F401  CI installs the dev extra: a missing dask is a failure
else:
    distributed = pytest.importorskip(
        "distributed", reason="the dask tests need dask[distributed]: pip install -e '.[dask]'")

from sweeps import DaskExecutor, search, sweep  # noqa: E402
from tests.sweeps import tasks_for_tests as toys  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parents[2]
TIMEOUT = 30  # seconds for each wait on the cluster: starting, connecting, stopping


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stop(processes):
    """Terminate, then kill what did not exit in time; every wait has a limit."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def address(tmp_path_factory):
    """A scheduler and two workers as separate processes; yields the scheduler's address."""
    logs = tmp_path_factory.mktemp("dask-logs")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    address = f"tcp://127.0.0.1:{_free_port()}"
    dask = [sys.executable, "-m", "dask"]
    commands = [dask + ["scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                        "--no-dashboard", "--idle-timeout", "300"]]
    commands += [dask + ["worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                         "--no-nanny", "--no-dashboard", "--death-timeout", "30",
                         "--name", f"worker-{i}"] for i in range(2)]
    processes = []
    try:
        for i, command in enumerate(commands):
            with open(logs / f"process-{i}.txt", "w") as log:
                processes.append(subprocess.Popen(command, cwd=str(ROOT), env=env, stdout=log,
                                                  stderr=subprocess.STDOUT))
        # wait for both workers here, so that the sweep below is spread over two processes
        with distributed.Client(address, timeout=TIMEOUT, set_as_default=False) as client:
            try:
                client.wait_for_workers(2, timeout=TIMEOUT)
            except Exception:
                pytest.fail("the dask workers did not join:\n" + "\n".join(
                    p.read_text()[-2000:] for p in sorted(logs.iterdir())))
        yield address
    finally:
        _stop(processes)
        # no leftover processes: each one started here has exited
        assert [p.poll() for p in processes if p.poll() is None] == []


def _runs(log):
    """x -> how many times a task with that x completed its run; and the pids that ran them."""
    pairs = [line.split() for line in pathlib.Path(log).read_text().splitlines() if line]
    return collections.Counter(float(x) if "." in x else int(x) for x, _ in pairs), {
        int(pid) for _, pid in pairs}


def _worker_pids(address):
    with distributed.Client(address, timeout=TIMEOUT, set_as_default=False) as client:
        return set(client.run(os.getpid).values())


def test_a_grid_runs_each_task_once_on_the_worker_processes(tmp_path, address):
    log = tmp_path / "runs.txt"
    result = sweep(toys.create_counted_task, dict(x=list(range(6)), log=str(log), delay=0.2),
                   data=toys.load_offset, store=str(tmp_path / "sweeps.log"), name="grid",
                   executor=DaskExecutor(address=address, timeout=TIMEOUT), progress=False)
    assert len(result) == 6 and all(r.ok for r in result), result.failed
    runs, pids = _runs(log)
    assert runs == collections.Counter(range(6))  # each task ran once
    worker_pids = _worker_pids(address)
    assert pids <= worker_pids and os.getpid() not in pids  # on the workers, not in the driver
    assert len(pids) == 2  # both workers took part
    assert {r.metrics["loads"] for r in result} == {0}  # the data were loaded in the driver


def test_a_search_runs_its_trials_on_the_worker_processes(tmp_path, address):
    log = tmp_path / "runs.txt"
    result = search(toys.create_searched_task, dict(x=(0.0, 1.0), log=[str(log)]),
                    data={"offset": 0}, n_trials=4, metric="score_test",
                    store=str(tmp_path / "sweeps.log"), name="search", sampler="random", seed=3,
                    executor=DaskExecutor(address=address, timeout=TIMEOUT), progress=False)
    assert len(result) == 4 and all(r.ok for r in result), result.failed
    runs, pids = _runs(log)
    assert sorted(runs.elements()) == sorted(r.params["x"] for r in result)
    assert set(runs.values()) == {1}  # each trial ran once
    assert pids <= _worker_pids(address)
