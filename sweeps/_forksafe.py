"""Forking a worker while this process is inside an SQLite call leaves a lock behind forever.

SQLite keeps, per process, a table of the locks its connections hold on each database file. A
worker forked while another thread of the driver was reading the store inherits that table with
the read in progress; when the worker's own connection later finishes a read, SQLite believes
the inherited (phantom) reader still needs the file and never releases the worker's read lock.
No participant can write again, and every driver of the sweep waits for a lock nobody frees.

``guard(engine)`` counts the connections of an engine that are in use in this process;
``quiet()`` is held around a fork: it waits until none is in use and keeps new ones waiting
until the fork is done.

Ctrl-C belongs to the driver: a terminal sends SIGINT to every process of the group, and a helper
process (a worker, a painter) interrupted in its start-up would print a KeyboardInterrupt
traceback of its own. ``interrupts_held()`` is held around the fork so that no SIGINT reaches the
child before it ``ignore_interrupts()``; the driver stops its helpers itself.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from typing import Any, Iterator

logger = logging.getLogger(__name__)

_cond = threading.Condition(threading.Lock())
_in_use: set = set()  # the pool records of connections checked out in this process
_forking = False
_WAIT_S = 60.0  # a call can wait this long for SQLite's own lock (see Store._open)


def _checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    with _cond:
        while _forking:
            _cond.wait()
        _in_use.add(id(record))


def _checkin(dbapi_connection: Any, record: Any) -> None:
    with _cond:
        _in_use.discard(id(record))
        _cond.notify_all()


def guard(engine: Any) -> None:
    """Count ``engine``'s connections in use, so that ``quiet()`` can wait for them."""
    from sqlalchemy import event

    if not event.contains(engine, "checkout", _checkout):
        event.listen(engine, "checkout", _checkout)
        event.listen(engine, "checkin", _checkin)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """No guarded connection is in use in this process while this is held (around a fork)."""
    global _forking
    deadline = time.monotonic() + _WAIT_S
    with _cond:
        while _in_use and time.monotonic() < deadline:
            _cond.wait(0.1)
        if _in_use:
            logger.warning("starting a worker while the store is in use in this process")
        _forking = True
    try:
        yield
    finally:
        with _cond:
            _forking = False
            _cond.notify_all()


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """SIGINT is blocked in this thread while held, and so in a child forked meanwhile until it
    calls ``ignore_interrupts``; one that arrives meanwhile is delivered here afterwards.

    Blocking it in this thread is not enough in a process with other threads: the kernel hands
    the signal to one of them, and Python then raises KeyboardInterrupt in the main thread at
    its next step, which may be inside an after-fork hook (logging's, say) that swallows it
    ("Exception ignored in ..."): the Ctrl-C would be lost and the sweep run on. So in the main
    thread Python's own handler is also replaced while held by one that only takes note, and
    the interrupt is raised when the fork is done.
    """
    deferred = _Deferred()
    previous = None
    if threading.current_thread() is threading.main_thread():
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):  # Python's (or the user's): SIG_IGN and SIG_DFL need nothing
            previous = handler
            signal.signal(signal.SIGINT, deferred)
    before = (signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
              if hasattr(signal, "pthread_sigmask") else None)
    try:
        yield
    finally:
        if before is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, before)
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
            if deferred.arrived:
                previous(*deferred.arrived[0])  # default_int_handler raises KeyboardInterrupt


class _Deferred:
    """A SIGINT handler that takes note of the signal instead of acting on it."""

    def __init__(self) -> None:
        self.arrived: list = []

    def __call__(self, signum: int, frame: Any) -> None:
        self.arrived.append((signum, frame))


def ignore_interrupts() -> Any:
    """In a helper process: ignore SIGINT (the driver stops this process); the handler it had."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: leave the signals alone
        return None
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    return previous


def _reset_in_child() -> None:
    global _cond, _forking, _in_use
    _cond = threading.Condition(threading.Lock())
    _forking = False
    _in_use = set()


os.register_at_fork(after_in_child=_reset_in_child)
