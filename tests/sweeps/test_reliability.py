"""What breaks: malformed results, hanging tasks, a metric typo, unsafe names, passwords, a
store that cannot be written. Each case fails on the code before the queue issue's follow-up."""
import math
import os
import subprocess
import time
import sys

import pytest

from sweeps import Store, SweepsError, SweepsValueError, UnknownMetricError, load_sweep, sweep
from sweeps._spec import TIMED_OUT
from tests.sweeps import tasks_for_tests as toys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def store(tmp_path):
    return str(tmp_path / "store" / "sweeps.log")


@pytest.mark.parametrize("executor", ["sequential", pytest.param("processes", marks=pytest.mark.slow)])
def test_malformed_results_fail_their_task_by_name_and_the_rest_completes(store, executor):
    result = sweep(toys.create_bad_result_task, dict(x=[0, 1, 2, 3]), data={"offset": 0},
                   store=store, executor=executor, progress=False)
    failed = dict(zip(result.failed["name"], result.failed["error"]))
    assert sorted(failed) == ["X0", "X1", "X2"]
    assert "row 0 is 1 (int), not a dict" in failed["X0"]
    assert "history of type str" in failed["X1"]
    assert "does not fit a float" in failed["X2"]
    assert [r.name for r in result if r.ok] == ["X3"]
    again = sweep(toys.create_bad_result_task, dict(x=[0, 1, 2, 3]), data={"offset": 0},
                  store=store, executor=executor, progress=False)  # a re-run does not die either
    assert len(again) == 4


def test_create_task_returning_nothing_is_named(store):
    result = sweep(toys.create_nothing, dict(x=[1]), data={"offset": 0}, store=store,
                   executor="sequential", progress=False)
    assert "returned None, which has no run(data) method" in result.failed["error"].iloc[0]


@pytest.mark.parametrize("executor", ["sequential", pytest.param("processes", marks=pytest.mark.slow)])
def test_a_hanging_task_times_out_and_the_sweep_goes_on(store, executor):
    result = sweep(toys.create_hanging_task, dict(x=[0, 1, 2], hang_on=(1,)), data={"offset": 0},
                   store=store, executor=executor, task_timeout=1.5, progress=False,
                   n_jobs=2 if executor == "processes" else None)
    statuses = {r.name: r.status for r in result}
    assert statuses == {"X0": "complete", "X1": TIMED_OUT, "X2": "complete"}
    timed_out = next(r for r in load_sweep(result.name, store) if r.name == "X1")
    assert timed_out.status == TIMED_OUT and "task_timeout=1.5" in timed_out.error


@pytest.mark.parametrize("value", [0, -1, "10", True, float("inf")])
def test_bad_task_timeout(store, value):
    with pytest.raises(SweepsValueError, match=f"task_timeout={value!r} must be a positive"):
        sweep(toys.create_task, dict(x=[1]), data={"offset": 0}, store=store,
              task_timeout=value, progress=False)
    assert not os.path.exists(store)


def test_a_metric_typo_stops_at_once_and_the_right_metric_then_runs(store):
    with pytest.raises(UnknownMetricError, match="metric='acc' is not in the history.*'score_test'"):
        sweep(toys.create_task, dict(x=[1, 2]), data={"offset": 0}, store=store, metric="acc",
              executor="sequential", progress=False, name="typo")
    assert all(not r.ok for r in load_sweep("typo", store)) or len(load_sweep("typo", store)) == 0
    result = sweep(toys.create_task, dict(x=[1, 2]), data={"offset": 0}, store=store,
                   metric="score_test", executor="sequential", progress=False, name="typo")
    assert len(result) == 2 and all(r.ok for r in result) and result.metric == "score_test"


@pytest.mark.parametrize("name", ["../../escaped", "/abs/x", "a/b", ".hidden", "line\nbreak",
                                  "\x1b[31mred", "x" * 65, ""])
def test_unsafe_sweep_names_are_refused_before_anything_is_written(tmp_path, name):
    store = str(tmp_path / "store" / "sweeps.log")
    with pytest.raises(SweepsValueError, match="is not a valid sweep name"):
        sweep(toys.create_task, dict(x=[1]), data={"offset": 0}, store=store, name=name,
              progress=False)
    assert not os.path.exists(store)
    assert not (tmp_path.parent / "escaped_curves.png").exists()


def test_a_read_only_store_is_refused_before_any_task_runs(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes to read-only files")
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "s.log"
    sweep(toys.create_task, dict(x=[1]), data={"offset": 0}, store=str(path),
          executor="sequential", progress=False)
    os.chmod(path, 0o444)
    with pytest.raises(SweepsValueError, match="cannot be written: the file is read-only"):
        sweep(toys.create_task, dict(x=[1, 2]), data=toys.load_offset, store=str(path),
              executor="sequential", progress=False)


@pytest.fixture
def read_only_file():
    """read_only_file(path): make that one file read-only for this test, its folder writable:
    chmod as a user; as root (who writes read-only files) a read-only bind mount of the file."""
    mounted = []

    def make(path):
        if os.geteuid() != 0:
            os.chmod(path, 0o444)
            return
        done = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True)
        if done.returncode != 0:
            pytest.skip("root cannot bind-mount here: " + done.stderr.decode().strip())
        mounted.append(path)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(path), str(path)], check=True,
                       capture_output=True)

    yield make
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.mark.parametrize("suffix", [".log", ".db"])
def test_a_read_only_journal_or_sqlite_file_is_refused_before_any_task_runs(
        tmp_path, read_only_file, suffix):
    # before: a journal ran the tasks and then failed with a raw PermissionError (OSError
    # EROFS as root); SQLite said 'invalid data in the commit, e.g. exceeding max length'
    path = tmp_path / f"s{suffix}"
    sweep(toys.create_task, dict(x=[1]), data={"offset": 0}, store=str(path), name="kept",
          executor="sequential", progress=False)
    read_only_file(path)
    log = tmp_path / "ran.txt"
    with pytest.raises(SweepsValueError) as caught:
        sweep(toys.create_counted_task, dict(x=[1, 2], log=[str(log)]), data={"offset": 0},
              store=str(path), name="new", executor="sequential", progress=False)
    message = str(caught.value)
    assert "cannot be written: the file is read-only" in message and str(path) in message
    assert "\n" not in message
    assert not log.exists()  # nothing ran
    assert len(load_sweep("kept", path)) == 1  # what was recorded stays readable


@pytest.mark.parametrize("suffix", [".log", ".db"])
def test_a_full_disk_is_one_clear_line_naming_the_store_and_nothing_runs(tmp_path, tmpfs,
                                                                        suffix):
    # before, SQLite on a full disk said 'An exception is raised during the commit. This
    # typically happens due to invalid data in the commit, e.g. exceeding max length.'
    folder = tmp_path / "small"
    folder.mkdir()
    tmpfs(folder, "size=512k", "needs root to mount a small tmpfs and fill it")
    path = folder / f"s{suffix}"
    sweep(toys.create_task, dict(x=[1, 2]), data={"offset": 0}, store=str(path), name="kept",
          executor="sequential", progress=False)
    filler = _fill(folder)
    log = tmp_path / "ran.txt"
    with pytest.raises(SweepsError) as caught:
        sweep(toys.create_counted_task, dict(x=[1, 2, 3], log=[str(log)]), data={"offset": 0},
              store=str(path), name="new", executor="sequential", progress=False)
    message = str(caught.value)
    assert f"the store {Store(path).display_url!r} cannot be written (" in message
    assert "full" in message or "No space" in message, message
    assert "invalid data in the commit" not in message and "\n" not in message
    assert not log.exists()  # nothing ran
    filler.unlink()  # space freed: what was recorded reads back, and the sweep runs
    assert len(load_sweep("kept", path)) == 2
    assert all(r.ok for r in sweep(toys.create_task, dict(x=[1, 2, 3]), data={"offset": 0},
                                   store=str(path), name="kept", executor="sequential",
                                   progress=False))


def test_a_store_in_an_unwritable_folder_is_refused(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    folder = tmp_path / "ro"
    folder.mkdir()
    os.chmod(folder, 0o555)
    with pytest.raises(SweepsValueError, match="is not writable"):
        sweep(toys.create_task, dict(x=[1]), data={"offset": 0}, store=str(folder / "s.log"),
              progress=False)


def test_names_from_a_store_print_safely(tmp_path):
    import optuna

    path = tmp_path / "s.log"
    store = Store(path)
    storage = store.optuna_storage()
    storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], "fake\nsweeps in /etc:\x1b[2J")
    done = subprocess.run([sys.executable, "-m", "sweeps", "list", "--store", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "\x1b" not in done.stdout and "fake\\nsweeps in /etc:\\x1b[2J" in done.stdout


def test_passwords_are_masked_in_reprs_and_errors():
    url = "postgresql://user:s3cretpw@127.0.0.1:1/db"
    store = Store(url)
    assert "s3cretpw" not in repr(store) and "***" in repr(store)
    with pytest.raises(SweepsValueError) as caught:
        sweep(toys.create_task, dict(x=[1]), data={"offset": 0}, store=url, progress=False)
    assert "s3cretpw" not in str(caught.value)
    done = subprocess.run([sys.executable, "-m", "sweeps", "list", "--store", url],
                          capture_output=True, text=True, timeout=60)
    assert "s3cretpw" not in done.stdout + done.stderr
    with pytest.raises(SweepsValueError) as caught:
        Store("postgres://user:s3cretpw@host/db")
    assert "s3cretpw" not in str(caught.value)


def test_many_string_choices_do_not_grow_the_store_with_the_square_of_the_grid(tmp_path):
    def size(n):
        path = tmp_path / f"s{n}.log"
        sweep(toys.create_labelled_task, dict(label=[f"value-{i:04d}" for i in range(n)]),
              data={"offset": 0}, store=str(path), executor="sequential", progress=False)
        return path.stat().st_size

    small, large = size(50), size(200)
    assert large / small < 4 * 1.3  # linear in the number of tasks, not quadratic (16x)


@pytest.mark.slow
def test_the_issues_1600_string_values_keep_the_journal_small(tmp_path):
    # the issue's case: 1,600 values made a 31.8 MB journal (every trial held every choice)
    path = tmp_path / "s.log"
    labels = [f"value-{i:04d}" for i in range(1600)]
    result = sweep(toys.create_labelled_task, dict(label=labels), data={"offset": 0},
                   store=str(path), executor="sequential", progress=False)
    assert len(result) == 1600
    assert path.stat().st_size < 1600 * 6000  # about 4.3 KB a task, whatever the grid's size
    assert path.read_text().count('"value-1234"') < 10  # each choice a few times, not per task


def test_a_writer_killed_inside_the_journal_lock_leaves_no_lock_that_stalls_the_next(tmp_path):
    """A process killed while it holds the journal's write lock (the very lock the store takes
    for every append): the kernel drops the flock with it. Optuna's own symlink lock was left
    behind and stalled every later writer for its 30 s grace period."""
    path = tmp_path / "s.log"
    sweep(toys.create_task, dict(x=[1]), data={"offset": 0}, store=str(path),
          executor="sequential", progress=False)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from sweeps import Store; "
        "Store(sys.argv[1]).optuna_storage()._backend._lock.acquire(); "
        "print('locked', flush=True); time.sleep(60)"), str(path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
    finally:
        holder.kill()
        holder.wait()
    started = time.monotonic()
    result = sweep(toys.create_task, dict(x=[1, 2]), data={"offset": 0}, store=str(path),
                   executor="sequential", progress=False)
    assert len(result) == 2 and all(r.ok for r in result)
    assert time.monotonic() - started < 20  # Optuna's stale symlink lock waited 30 s


@pytest.mark.parametrize("executor", ["sequential", pytest.param("processes", marks=pytest.mark.slow)])
def test_a_diverged_run_is_failed_with_the_epochs_it_ran(store, executor):
    result = sweep(toys.create_diverging_task, dict(x=[1]), data={"offset": 0}, store=store,
                   executor=executor, progress=False, name="nan")
    (task,) = list(result)
    assert task.status == "failed" and "loss became NaN at epoch 2" in task.error
    assert [row["iteration"] for row in task.history] == [0, 1, 2]
    (stored,) = load_sweep("nan", store).results
    assert stored.history[:2] == task.history[:2] and math.isnan(stored.history[2]["loss"])


def test_the_journal_holds_valid_json_even_for_nan_and_infinite_values(store):
    import json

    result = sweep(toys.create_nan_task, dict(x=[0, 1]), data={"offset": 0}, store=store,
                   executor="sequential", progress=False, metric="score_test")
    assert len(result) == 2

    def refuse(constant):
        raise ValueError(f"bare {constant} in the journal")

    for line in open(store, encoding="utf-8"):
        json.loads(line, parse_constant=refuse)
    (nan_task,) = [r for r in load_sweep(result.name, store) if r.name == "X1"]
    assert math.isnan(nan_task.history[-1]["score_test"])  # the history keeps the true NaN
    assert result.leaderboard()["name"].iloc[-1] == "X1"  # and it ranks last


class _LeavesAMark:
    """Unpickled, it would create the file ``path``: a payload that shows it ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_crafted_record_is_refused_with_a_clear_error_never_unpickled(tmp_path):
    import base64
    import datetime
    import pickle

    import optuna

    path = tmp_path / "s.log"
    mark = tmp_path / "the-payload-ran"
    store = Store(path)
    payload = base64.b64encode(pickle.dumps(_LeavesAMark(str(mark)))).decode()
    now = datetime.datetime.now()
    crafted_attrs = ({"name": "evil", "params": {"x": {"__pickle__": payload}}},
                     {"name": "odd", "params": {"x": 2}, "history": 5})
    sweep(toys.create_task, dict(x=[1]), data={"offset": 0}, store=str(path),
          executor="sequential", progress=False, name="fine")
    for number, attrs in enumerate(crafted_attrs):
        sweep_name = f"crafted{number}"
        sweep(toys.create_task, dict(x=[1]), data={"offset": 0}, store=str(path),
              executor="sequential", progress=False, name=sweep_name)
        crafted = optuna.trial.FrozenTrial(
            number=-1, trial_id=-1, state=optuna.trial.TrialState.COMPLETE, value=1.0,
            datetime_start=now, datetime_complete=now, params={}, distributions={},
            user_attrs=attrs, system_attrs={}, intermediate_values={})
        store.optuna_storage().create_new_trial(store.study_id(sweep_name), template_trial=crafted)
        what = "an unknown tag '__pickle__'" if number == 0 else "history"
        with pytest.raises(SweepsValueError, match=f"malformed record: .*{what}"):
            load_sweep(sweep_name, path)
        with pytest.raises(SweepsValueError, match=f"malformed record: .*{what}"):
            sweep(toys.create_task, dict(x=[1, 2]), data={"offset": 0}, store=str(path),
                  executor="sequential", progress=False, name=sweep_name)
    out = {}
    for args, code in ((["leaderboard", "crafted0"], 2), (["plot", "crafted0"], 2),
                       (["verify", "crafted0"], 1), (["list"], 0)):
        done = subprocess.run([sys.executable, "-m", "sweeps", *args, "--store", str(path)],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": REPO, "MPLBACKEND": "Agg"})
        assert done.returncode == code, (args, done.stderr)
        assert "Traceback" not in done.stderr
        if code == 2:  # one line naming the trial and what is wrong
            assert done.stderr.count("\n") == 1 and "'__pickle__'" in done.stderr
        out[args[0]] = done.stdout
    assert "user attr 'params' holds the unknown tag '__pickle__'" in out["verify"]
    assert "fine: 1 complete, 0 failed" in out["list"]  # one bad sweep hides no other
    assert "crafted0: cannot be read" in out["list"]
    assert not mark.exists()  # the payload never ran


PASSWORD_STUDY = """
from sweeps import register
from tests.sweeps.tasks_for_tests import create_task, load_offset

register("pwtoy", create_task, grid=dict(x=[1, 2], epochs=2), data=load_offset)
"""


@pytest.mark.slow
def test_passwords_never_print_with_a_real_postgresql_server(tmp_path, capsys, caplog):
    """A server that asks for the password: every place that shows the store (the sweeps run
    summary and its errors, list, leaderboard, plot, verify, worker, UnknownSweepError, reprs,
    the progress bar, logs at DEBUG, the dashboard banner) shows it masked, and so do the
    errors of a wrong password."""
    import logging
    import socket

    from tests import postgres

    if postgres.bindir() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is missing under CI")
        pytest.skip("PostgreSQL's server binaries are missing")
    study = tmp_path / "pwtoy.py"
    study.write_text(PASSWORD_STUDY)
    env = {**os.environ, "PYTHONPATH": REPO, "MPLBACKEND": "Agg", "SWEEPS_DEBUG": ""}

    def command(*args, debug=False):
        done = subprocess.run([sys.executable, "-m", "sweeps", *args], capture_output=True,
                              text=True, timeout=180, cwd=tmp_path,
                              env={**env, "SWEEPS_DEBUG": "1" if debug else ""})
        return done.stdout + done.stderr

    with postgres.server(password="s3cretpw") as url:
        assert ":s3cretpw@" in url
        wrong = url.replace("s3cretpw", "n0tthe0ne")
        with caplog.at_level(logging.DEBUG):
            result = sweep(toys.create_task, dict(x=[1, 2]), data={"offset": 0}, store=url,
                           executor="sequential", progress=True, name="pw")
        texts = {"repr(result.store)": repr(result.store), "repr(Store)": repr(Store(url)),
                 "progress bar": capsys.readouterr().err, "logs": caplog.text}
        assert "***" in texts["repr(result.store)"]
        for call, name in ((load_sweep, "load_sweep"), (Store(url).load, "Store.load")):
            with pytest.raises(Exception) as caught:
                call("nosuch", url) if call is load_sweep else call("nosuch")
            texts[name] = str(caught.value)
        with pytest.raises(SweepsValueError) as caught:
            sweep(toys.create_task, dict(x=[1]), data={"offset": 0}, store=wrong,
                  executor="sequential", progress=False)
        texts["sweep() with a wrong password"] = str(caught.value)
        assert "password authentication failed" in texts["sweep() with a wrong password"]
        texts["sweeps run"] = command("run", str(study), "--store", url, "--executor",
                                      "sequential")
        assert "ran 2 tasks" in texts["sweeps run"] and "***" in texts["sweeps run"]
        texts["sweeps run, wrong password"] = command("run", str(study), "--store", wrong,
                                                      "--executor", "sequential")
        texts["sweeps run, wrong password, SWEEPS_DEBUG=1"] = command(
            "run", str(study), "--store", wrong, "--executor", "sequential", debug=True)
        for args in (["list"], ["leaderboard", "pw"], ["leaderboard", "nosuch"],
                     ["plot", "pw", "--out", str(tmp_path / "plots")], ["verify", "pw"],
                     ["verify", "nosuch"], ["worker", "nosuch"]):
            texts["sweeps " + " ".join(args)] = command(*args, "--store", url)
        assert "***" in texts["sweeps list"] and "***" in texts["sweeps verify pw"]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        dashboard = subprocess.Popen([sys.executable, "-m", "sweeps", "dashboard", "--store", url,
                                      "--port", str(port)], stderr=subprocess.PIPE, text=True,
                                     cwd=tmp_path, env=env)
        try:
            texts["dashboard banner"] = dashboard.stderr.readline()  # serving <store> on ...
        finally:
            dashboard.kill()
            dashboard.wait(30)
        assert "serving" in texts["dashboard banner"] and "***" in texts["dashboard banner"]
    for place, text in texts.items():
        assert "s3cretpw" not in text and "n0tthe0ne" not in text, f"{place}: {text}"


def test_a_store_on_a_read_only_filesystem_is_refused_before_any_task_runs(tmp_path, tmpfs):
    """Root writes to read-only files, but not to a read-only filesystem."""
    folder = tmp_path / "ro"
    folder.mkdir()
    tmpfs(folder, "ro,size=1m", "needs root to mount a read-only tmpfs (the permission tests "
          "run otherwise)")
    log = tmp_path / "ran.txt"
    with pytest.raises(SweepsValueError, match="cannot be written"):
        sweep(toys.create_counted_task, dict(x=[1], log=str(log)), data={"offset": 0},
              store=str(folder / "s.log"), executor="sequential", progress=False)
    assert not log.exists()  # nothing ran


def test_a_full_temp_folder_does_not_stop_a_process_sweep(tmp_path, monkeypatch, tmpfs):
    """The data travels in memory with each worker's job: no temporary file is written (it was
    pickled to the temp folder, and a full one read 'cannot be pickled ... make it picklable')."""
    import tempfile

    folder = tmp_path / "tmp"
    folder.mkdir()
    tmpfs(folder, "size=64k", "needs root to mount a tiny tmpfs")
    filler = _fill(folder)
    # a few KB stay free: enough for tempfile's own probe (so the folder is used), not the data
    os.truncate(filler, filler.stat().st_size - 8192)
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)
    assert tempfile.gettempdir() == str(folder)  # the full folder is the temp folder
    data = {"offset": 0, "rows": list(range(20000))}  # pickles to far more than 8 KB
    result = sweep(toys.create_task, dict(x=[1, 2, 3]), data=data,
                   store=str(tmp_path / "s.log"), n_jobs=2, progress=False)
    assert len(result) == 3 and all(r.ok for r in result), result.failed


class _StartsThenRuns(toys.ToyTask):
    """Writes 'x pid' when it starts; x=0 takes 3 s, x=2 kills its worker process."""

    def __init__(self, x, log):
        super().__init__(x, delay=3.0 if x == 0 else 0.0)
        self.log = log

    def run(self, data):
        with open(self.log, "a") as side:
            side.write(f"{self.x} {os.getpid()}\n")
        if self.x == 2:
            time.sleep(0.3)
            os._exit(3)
        return super().run(data)


def create_starts_then_runs(x, log):
    return _StartsThenRuns(x, log)


def _worker_pids(parent):
    """The pids of ``parent``'s child processes, but multiprocessing's trackers."""
    pids = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"tracker" not in command:
            pids.append(int(entry))
    return pids


@pytest.mark.slow
def test_an_idle_worker_that_dies_fails_no_other_task(tmp_path):
    """x=2 kills its worker; while x=0 runs on a healthy worker, every other worker (idle) is
    killed too: x=2 alone is failed, x=0 and x=1 complete. Before, the healthy task was recorded
    as failed with 'the worker process running this task died'."""
    import threading

    log = tmp_path / "runs.txt"
    log.touch()
    killed = []

    def kill_the_idle_workers():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            lines = [line.split() for line in log.read_text().splitlines()]
            started = {x: int(pid) for x, pid in lines}  # the latest start of each task
            crashed = "2" in started and not os.path.exists(f"/proc/{started['2']}/cmdline")
            if crashed and "0" in started and "1" in started:
                time.sleep(0.6)  # x=1 is done: its worker is idle (x=0 may have started again)
                started = {x: int(pid) for x, pid in
                           (line.split() for line in log.read_text().splitlines())}
                for pid in _worker_pids(os.getpid()):
                    if pid != started["0"]:
                        os.kill(pid, 9)
                        killed.append(pid)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_the_idle_workers)
    killer.start()
    result = sweep(create_starts_then_runs, dict(x=[0, 1, 2], log=str(log)),
                   data={"offset": 0}, store=str(tmp_path / "s.log"), n_jobs=3, progress=False)
    killer.join()
    assert killed, "no idle worker was killed: the test did not test anything"
    statuses = {r.name: r.ok for r in result}
    assert statuses == {"X0": True, "X1": True, "X2": False}, result.failed
    assert "the worker process running this task died" in result.failed["error"].iloc[0]


def test_a_task_run_in_a_thread_is_stopped_at_its_timeout():
    # a Dask worker or a driver's background participant runs tasks in a thread, where SIGALRM
    # cannot reach: the time limit still stops a task that keeps stepping through Python
    import threading
    import time

    from sweeps._work import run_spec

    results = []

    def run():
        start = time.monotonic()
        spun = run_spec(toys.create_spinning_task, {"offset": 0}, "X1", {"x": 1, "spin_on": (1,)},
                        seed=0, timeout=0.5)
        results.append((spun, time.monotonic() - start))
        results.append(run_spec(toys.create_spinning_task, {"offset": 0}, "X2",
                                {"x": 2, "spin_on": (1,)}, seed=0, timeout=0.5))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    (stopped, seconds), finished = results
    assert stopped.status == TIMED_OUT and "task_timeout=0.5" in stopped.error
    assert seconds < 5
    assert finished.ok  # the next task in the same thread is not hit by a late alarm
    time.sleep(0.7)  # nor is anything after it


class _ImportsSlowly:
    def __init__(self, module):
        self.module = module

    def run(self, data):
        import importlib

        importlib.import_module(self.module)
        end = time.monotonic() + 3600
        while time.monotonic() < end:
            pass


def _create_importing(module):
    return _ImportsSlowly(module)


@pytest.mark.parametrize("in_thread", [False, True])
def test_a_timeout_never_breaks_a_module_half_imported(tmp_path, monkeypatch, in_thread):
    # stopping a task inside an import would leave the module half-initialised for every later
    # task in that worker (torch: "partially initialized module 'torch' has no attribute ...")
    import threading

    from sweeps._work import run_spec

    name = f"slow_module_{int(in_thread)}"
    (tmp_path / f"{name}.py").write_text(
        "import time\nend = time.monotonic() + 1.0\nwhile time.monotonic() < end:\n    pass\n"
        "COMPLETE = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    results = []

    def run():
        results.append(run_spec(_create_importing, {}, "T", {"module": name}, seed=0,
                                timeout=0.2))

    if in_thread:
        thread = threading.Thread(target=run)
        thread.start()
        thread.join(30)
    else:
        run()
    assert results and results[0].status == TIMED_OUT
    assert sys.modules[name].COMPLETE is True  # the import finished before the task stopped


_CTRL_C_STUDY = """
from sweeps import register
from tests.sweeps.tasks_for_tests import create_task, load_offset

register("ctrlc", create_task, grid=dict(x=list(range(6)), delay=3.0), data=load_offset)
"""


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return children.read().split()
    except OSError:
        return []


@pytest.mark.parametrize("when", ["start-up", "mid-task"])
def test_ctrl_c_of_sweeps_run_prints_one_line_stops_everything_and_requeues(tmp_path, when):
    """Ctrl-C as a terminal sends it, to the whole process group: the painters and workers the
    driver forked printed 39-164 lines of KeyboardInterrupt tracebacks, and the tasks running
    stayed 'stale' (RUNNING under a dead worker) until the next run."""
    import signal

    study = tmp_path / "ctrlc_study.py"
    study.write_text(_CTRL_C_STUDY)
    url = str(tmp_path / "s.log")
    # a test run from a background shell ignores SIGINT; a terminal's `sweeps run` handles it
    driver = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
              "from sweeps.cli import main; sys.exit(main(sys.argv[1:]))")
    process = subprocess.Popen(
        [sys.executable, "-c", driver, "run", str(study), "--store", url, "--n-jobs", "2",
         "--no-progress"], cwd=REPO, env={**os.environ, "PYTHONPATH": REPO},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(_children(process.pid)) < 4:  # two painters, two workers
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.01)
        if when == "mid-task":
            store = Store(url)
            while sum(e.state == "RUNNING" and e.lease and "pid" in e.lease
                      for e in store.entries("ctrlc")) < 2:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            running = {e.name for e in store.entries("ctrlc") if e.state == "RUNNING"}
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, err
    assert "Traceback" not in err and len(err.splitlines()) <= 3, err
    assert "interrupted" in err
    deadline = time.monotonic() + 10
    group = lambda: subprocess.run(["pgrep", "-g", str(process.pid)], capture_output=True,
                                   text=True).stdout.split()
    while group() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert group() == [], "processes of the interrupted run were left"
    entries = Store(url).entries("ctrlc")
    assert len(entries) == 6 and {e.state for e in entries} <= {"WAITING", "COMPLETE"}, entries
    verify = subprocess.run([sys.executable, "-m", "sweeps", "verify", "ctrlc", "--store", url],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert "stale          0" in verify.stdout, verify.stdout
    if when == "mid-task":  # the tasks that were running wait in the queue for the next run
        assert {e.name for e in entries if e.state == "WAITING"} >= running


def _fill(folder):
    """Write a file in ``folder`` until its filesystem is full; return the file's path."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass
    return filler
