"""The store is the queue: many drivers and workers on one sweep, each task run once.

Runs are counted with a side file that each task appends to when it completes (not only with
store rows), on the journal file, SQLite and a real PostgreSQL server.
"""
import collections
import os
import pathlib
import random
import signal
import subprocess
import sys
import textwrap
import time

import optuna
import pytest

from tests.processes import process_alive

from sweeps import Store, load_sweep, sweep
from tests import postgres
from tests.sweeps import tasks_for_tests as toys

REPO = str(pathlib.Path(__file__).resolve().parents[2])
ENV = {**os.environ, "PYTHONPATH": REPO}

DRIVER = textwrap.dedent("""
    import sys
    from sweeps import sweep
    from tests.sweeps import tasks_for_tests as toys
    url, log, executor, n_jobs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    result = sweep(toys.create_counted_task, dict(x=list(range(24)), log=log, delay=0.05),
                   data=toys.load_offset, store=url, name="shared", executor=executor,
                   n_jobs=n_jobs if executor == "processes" else None, progress=False)
    assert len(result) == 24 and all(r.ok for r in result), result
""")


def _runs(log):
    """x -> how many times a task with that x completed its run."""
    lines = pathlib.Path(log).read_text().split()
    return collections.Counter(float(x) if "." in x else int(x) for x in lines[0::2])


def _pids(log):
    return set(pathlib.Path(log).read_text().split()[1::2])


@pytest.fixture(scope="module")
def pg_url():
    yield from postgres.database_or_skip()


def _url(kind, tmp_path, request):
    if kind == "journal":
        return str(tmp_path / "store" / "sweeps.log")
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'sweeps.db'}"
    base = request.getfixturevalue("pg_url")
    return base  # one server for the module: each test uses its own sweep name or database


def _fresh_database(url, name):
    """A new empty database on the test server, so that tests do not see each other."""
    folder = postgres.bindir()
    host_port = url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    subprocess.run(postgres._as_owner([f"{folder}/createdb", "-h", host, "-p", port, "-U", "postgres",
                                       name]), check=True, capture_output=True, timeout=30)
    return url.rsplit("/", 1)[0] + "/" + name


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["journal", "sqlite", "postgresql"])
def test_four_drivers_at_once_run_each_task_exactly_once(kind, tmp_path, request):
    url = _url(kind, tmp_path, request)
    if kind == "postgresql":
        url = _fresh_database(url, f"drivers_{os.getpid()}")
    log = str(tmp_path / "runs.txt")
    arms = [("processes", 2), ("sequential", 1), ("processes", 1), ("sequential", 1)]
    drivers = [subprocess.Popen([sys.executable, "-c", DRIVER, url, log, executor, str(n)],
                                cwd=str(tmp_path), env=ENV, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for executor, n in arms]
    outputs = [driver.communicate(timeout=240) for driver in drivers]
    for driver, (out, err) in zip(drivers, outputs):
        assert driver.returncode == 0, err[-3000:]
        assert "Error" not in err and "Traceback" not in err, err[-3000:]
    runs = _runs(log)
    assert sorted(runs) == list(range(24)) and set(runs.values()) == {1}, runs
    assert len(_pids(log)) >= 2, "only one participant did all the work"
    study = optuna.load_study(study_name="shared", storage=Store(url).optuna_storage())
    assert len(study.trials) == 24
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert sorted(r.params["x"] for r in load_sweep("shared", url)) == list(range(24))


WORKER_DRIVER = textwrap.dedent("""
    import sys
    from sweeps import search, sweep
    from tests.sweeps import tasks_for_tests as toys
    url, log, kind = sys.argv[1], sys.argv[2], sys.argv[3]
    if kind == "grid":
        sweep(toys.create_counted_task, dict(x=list(range(24)), log=log, delay=0.1),
              data=toys.load_offset, store=url, name="grid", executor="sequential",
              progress=False)
    else:
        search(toys.create_searched_task, dict(x=(0.0, 1.0), log=[log]), data=toys.load_offset,
               n_trials=30, metric="score_test", store=url, name="search",
               executor="sequential", sampler="random", progress=False)
""")


@pytest.mark.slow
@pytest.mark.parametrize("kind,expected", [("grid", 24), ("search", 30)])
def test_three_sweeps_workers_share_a_sweep_on_postgresql(kind, expected, tmp_path, pg_url):
    url = _fresh_database(pg_url, f"workers_{kind}_{os.getpid()}")
    log = str(tmp_path / "runs.txt")
    driver = subprocess.Popen([sys.executable, "-c", WORKER_DRIVER, url, log, kind],
                              cwd=str(tmp_path), env=ENV, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    store = Store(url)
    deadline = time.monotonic() + 60
    while store.study_id(kind) is None or not store.meta(kind):
        assert driver.poll() is None, driver.communicate()
        assert time.monotonic() < deadline, "the driver never began the sweep"
        time.sleep(0.05)
    workers = [subprocess.Popen([sys.executable, "-m", "sweeps", "worker", kind, "--store", url,
                                 "--n-jobs", "1", "--no-progress"], cwd=str(tmp_path), env=ENV,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(3)]
    for process in [driver, *workers]:
        out, err = process.communicate(timeout=240)
        assert process.returncode == 0, err[-3000:]
    runs = _runs(log)
    assert sum(runs.values()) == expected
    if kind == "grid":
        assert set(runs.values()) == {1}
    assert len(_pids(log)) >= 2, "the workers did not share the work"
    trials = store.optuna_storage().get_all_trials(store.study_id(kind))
    assert len(trials) == expected
    assert all(t.state.name == "COMPLETE" for t in trials)


def test_worker_for_a_sweep_the_store_does_not_hold_names_the_ones_it_does(tmp_path):
    url = str(tmp_path / "s.log")
    sweep(toys.create_task, dict(x=[0, 1]), data=toys.load_offset, store=url, name="held",
          executor="sequential", progress=False)
    before = pathlib.Path(url).read_bytes()
    done = subprocess.run([sys.executable, "-m", "sweeps", "worker", "nosuch", "--store", url],
                          cwd=str(tmp_path), env=ENV, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "'nosuch' is not in the store" in done.stderr and "['held']" in done.stderr
    assert "Traceback" not in done.stderr
    assert pathlib.Path(url).read_bytes() == before  # nothing written, nothing ran
    # a store that does not exist holds no sweeps, and is not created
    missing = tmp_path / "nowhere" / "s.db"
    done = subprocess.run([sys.executable, "-m", "sweeps", "worker", "held", "--store",
                           f"sqlite:///{missing}"], cwd=str(tmp_path), env=ENV,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Available sweeps: []" in done.stderr, done.stderr
    assert not missing.parent.exists()


# ----------------------------------------------------------------------------- SIGKILL


KILLED_DRIVER = textwrap.dedent("""
    import sys
    from sweeps import sweep
    from tests.sweeps import tasks_for_tests as toys
    url, log = sys.argv[1], sys.argv[2]
    sweep(toys.create_counted_task, dict(x=list(range(16)), log=log, delay=0.3),
          data=toys.load_offset, store=url, name="killed", n_jobs=2, progress=False)
""")


def _children(pid):
    """Every process whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(entry))
    return found


_alive = process_alive


def _marked(marker):
    """The pids of every process whose environment holds ``marker`` (inherited by every
    descendant, forked or spawned, even after its parent died and it was reparented)."""
    found = set()
    needle = marker.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if needle in environ.read():
                    found.add(int(entry))
        except OSError:
            continue
    return {pid for pid in found if _alive(pid)}


@pytest.mark.slow
def test_sigkill_of_a_driver_leaves_no_process_no_file_and_loses_nothing(tmp_path):
    url = str(tmp_path / "store" / "sweeps.log")
    log = str(tmp_path / "runs.txt")
    pathlib.Path(log).touch()
    temp = tmp_path / "tmp"  # the drivers' TMPDIR: whatever temp file they leave is here
    temp.mkdir()
    temp_before = set(os.listdir("/tmp"))
    rng = random.Random(7)
    for kill in range(10):
        marker = f"SWEEPS_KILL_TEST={os.getpid()}-{kill}-{rng.random()}"
        env = {**ENV, "TMPDIR": str(temp), marker.split("=")[0]: marker.split("=")[1]}
        driver = subprocess.Popen([sys.executable, "-c", KILLED_DRIVER, url, log],
                                  cwd=str(tmp_path), env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 2.5))
        children = _children(driver.pid)
        assert _marked(marker) >= children | {driver.pid}
        driver.send_signal(signal.SIGKILL)
        driver.wait(30)
        deadline = time.monotonic() + 10
        while _marked(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _marked(marker), "a process of the killed driver outlived it"
    before = set(Store(url).completed("killed"))
    runs_before = _runs(log)
    result = sweep(toys.create_counted_task, dict(x=list(range(16)), log=log, delay=0.3),
                   data=toys.load_offset, store=url, name="killed", n_jobs=2, progress=False)
    assert len(result) == 16 and all(r.ok for r in result)
    rerun = _runs(log) - runs_before
    # the re-run ran exactly the tasks that were not complete, each once
    assert sorted(rerun) == sorted(r.params["x"] for r in result if r.name not in before)
    assert set(rerun.values()) <= {1}
    trials = Store(url).optuna_storage().get_all_trials(Store(url).study_id("killed"))
    assert sum(t.state.name == "COMPLETE" for t in trials) == 16 == len(trials)
    # torch keeps its compile cache in the temp folder (/tmp/torchinductor_<user>) for good
    assert [p.name for p in temp.iterdir() if not p.name.startswith("torchinductor_")] == []
    leftovers = {name for name in set(os.listdir("/tmp")) - temp_before if "sweeps" in name}
    assert not leftovers
    # beside the store: the journal, its two lock files, and copies of repaired damage only
    beside = {p.name for p in (tmp_path / "store").iterdir()}
    assert {"sweeps.log", "sweeps.log.flock", "sweeps.log.sweeps-lock"} <= beside
    assert all(n.startswith("sweeps.log.damaged-") for n in beside - {
        "sweeps.log", "sweeps.log.flock", "sweeps.log.sweeps-lock"}), beside


class _StaleIndex:
    """A real store's storage whose trial listing is the one read before ``finish_meanwhile``:
    what a participant sees when another finishes a trial between its read and its write."""

    def __init__(self, storage):
        self.storage = storage
        self.snapshot = None

    def __getattr__(self, name):
        return getattr(self.storage, name)

    def get_all_trials(self, study_id, deepcopy=True, states=None):
        if self.snapshot is None:
            return self.storage.get_all_trials(study_id, deepcopy=deepcopy, states=states)
        return self.snapshot


def _running_trial_of_a_dead_worker(tmp_path, attempts, driver=1):
    from sweeps import _trials

    storage = Store(str(tmp_path / "store.log")).optuna_storage()
    study = optuna.create_study(study_name="s", storage=storage)
    study.enqueue_trial({}, user_attrs={"name": "a"})
    trial_id = study.trials[0]._trial_id
    storage.set_trial_system_attr(trial_id, _trials.KEY, "k")
    storage.set_trial_state_values(trial_id, state=optuna.trial.TrialState.RUNNING)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    storage.set_trial_system_attr(trial_id, _trials.LEASE, {
        "host": _trials.socket.gethostname(), "pid": int(dead), "start": None, "driver": driver,
        "id": "gone", "attempts": attempts, "until": 0})
    return storage, study, trial_id


@pytest.mark.parametrize("attempts", [1, 3])
def test_a_trial_finished_after_the_index_was_read_is_neither_put_back_nor_failed(
        tmp_path, attempts):
    # Four drivers on SQLite failed with UpdateFinishedTrialError: one read the queue, saw a
    # trial RUNNING under a worker that then finished it and exited, and tried to put it back.
    from sweeps import _trials

    storage, study, trial_id = _running_trial_of_a_dead_worker(tmp_path, attempts)
    stale = _StaleIndex(storage)
    stale.snapshot = storage.get_all_trials(study._study_id, deepcopy=True)
    storage.set_trial_state_values(trial_id, state=optuna.trial.TrialState.COMPLETE, values=[1.0])
    assert _trials.release_stale(stale, study._study_id) == []
    trial = storage.get_trial(trial_id)
    assert trial.state == optuna.trial.TrialState.COMPLETE and trial.value == 1.0
    assert _trials.put_back(storage, trial_id) is False


def test_a_trial_of_a_dead_worker_is_put_back_or_failed(tmp_path):
    from sweeps import _trials

    storage, study, trial_id = _running_trial_of_a_dead_worker(tmp_path, 1)
    assert _trials.release_stale(storage, study._study_id) == []
    assert storage.get_trial(trial_id).state == optuna.trial.TrialState.WAITING
    storage, study, trial_id = _running_trial_of_a_dead_worker(tmp_path / "b", 3)
    [failed] = _trials.release_stale(storage, study._study_id)
    assert failed.trial_id == trial_id
    assert storage.get_trial(trial_id).state == optuna.trial.TrialState.FAIL


def test_a_trial_whose_worker_this_driver_stopped_is_put_back_however_often(tmp_path):
    """A driver stopped by Ctrl-C kills its own workers and puts their trials back: a long task
    interrupted three times is not failed as a task that 'died 3 times'."""
    from sweeps import _trials

    storage, study, trial_id = _running_trial_of_a_dead_worker(tmp_path, 3, driver=os.getpid())
    assert _trials.release_stale(storage, study._study_id) == []
    assert storage.get_trial(trial_id).state == optuna.trial.TrialState.WAITING
