"""A worker forked while the driver is inside an SQLite call must not keep a lock on the store.

Four drivers on one SQLite store hung for good in CI: a worker forked while another thread of
its driver was reading the store inherited SQLite's per-process lock table with that read in
progress, so after its first write it kept a read lock forever and no participant could commit
again. These tests fork while a read is in progress and then write from outside.
"""
import fcntl
import os
import sqlite3
import threading
import time

import optuna
import pytest

from sweeps import Store
from sweeps._executors import _POOL, ProcessExecutor
from sweeps import _forksafe
from sweeps._journal import file_lock


def _write_in_worker(url):
    """In the worker: open the store, write to it, read it; the worker then stays idle."""
    storage = Store(url).optuna_storage()
    study_id = storage.get_study_id_from_name("s")
    storage.set_study_user_attr(study_id, f"worker-{os.getpid()}", 1)
    storage.get_all_trials(study_id)
    return os.getpid()


def _read_slowly(engine, started, seconds):
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT * FROM studies, trials")
        rows.fetchone()  # the statement is open: SQLite holds a read lock for it
        started.set()
        time.sleep(seconds)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_worker_forked_during_a_read_leaves_the_store_writable(tmp_path, monkeypatch):
    monkeypatch.setenv("SWEEPS_START_METHOD", "fork")
    url = f"sqlite:///{tmp_path / 'sweeps.db'}"
    storage = Store(url).optuna_storage()
    study = optuna.create_study(study_name="s", storage=storage)
    for _ in range(20):
        study.enqueue_trial({"x": 1})
    _POOL.shutdown()  # a fresh worker, forked now
    started = threading.Event()
    reader = threading.Thread(target=_read_slowly, args=(storage.engine, started, 0.5))
    reader.start()
    started.wait(10)
    try:
        executor = ProcessExecutor(1)
        [pid] = list(executor.map(_write_in_worker, [url]))
    finally:
        reader.join()
    assert pid != os.getpid()
    # the worker is idle in the pool now; the store must take a write from anyone
    connection = sqlite3.connect(str(tmp_path / "sweeps.db"), timeout=5)
    try:
        connection.execute("UPDATE studies SET study_name = study_name")
        connection.commit()  # 'database is locked' after 5 s when the worker kept its lock
    finally:
        connection.close()
        _POOL.shutdown()


def _hold_until_killed(path):
    return os.getpid()


def test_a_file_lock_is_free_after_its_block_even_if_a_worker_was_forked_inside_it(
        tmp_path, monkeypatch):
    monkeypatch.setenv("SWEEPS_START_METHOD", "fork")
    lock = tmp_path / "x.sweeps-lock"
    _POOL.shutdown()
    with file_lock(lock):
        executor = ProcessExecutor(1)
        list(executor.map(_hold_until_killed, [str(lock)]))  # the idle worker holds a copy
    handle = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError while held
    finally:
        os.close(handle)
        _POOL.shutdown()


def test_a_ctrl_c_during_a_fork_is_raised_after_it_not_lost_inside():
    """With another thread running, the kernel may hand SIGINT to that thread and Python raise
    KeyboardInterrupt in the main thread at its next step: inside a fork's after-fork hooks,
    which swallow it. Held, the interrupt waits for the end of the block, and is raised there."""
    import signal
    import threading

    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)  # a thread that does not block SIGINT
    other.start()
    reached_the_end = False
    try:
        with pytest.raises(KeyboardInterrupt):
            with _forksafe.interrupts_held():
                os.kill(os.getpid(), signal.SIGINT)
                for _ in range(50):  # Python steps, in which a KeyboardInterrupt would land
                    time.sleep(0.01)
                reached_the_end = True
    finally:
        stop.set()
    assert reached_the_end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
