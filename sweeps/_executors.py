"""Executors: map one picklable function over a list of items.

An executor knows nothing about tasks, specs or stores; ``sweep`` hands it a function (a
module-level function or a callable object) and the items, and reads the results back in the
order they complete. Executors live in a plain dict, ``EXECUTORS``; add one with
``register_executor``::

    class ThreadExecutor(Executor):
        def map(self, fn, items):
            with concurrent.futures.ThreadPoolExecutor(self.n_jobs) as pool:
                futures = [pool.submit(fn, item) for item in items]
                for future in concurrent.futures.as_completed(futures):
                    yield future.result()

    register_executor("threads", ThreadExecutor)
"""
from __future__ import annotations

import abc
import collections
import contextlib
import dataclasses
import difflib
import os
import sys
import threading
import time
from typing import Any, Callable, Iterator, Optional

from . import _forksafe
from ._errors import SweepsTypeError, SweepsValueError


@dataclasses.dataclass
class WorkerCrash:
    """Yielded by ``map`` in place of ``fn(item)`` when the process running ``item`` died
    (a segmentation fault, ``os._exit``, the kernel's out-of-memory killer)."""

    item: Any
    message: str
    pid: Optional[int] = None  # the process that died


class Executor(abc.ABC):
    """Runs ``fn(item)`` for every item and yields the results as they complete.

    Abilities are stated as flags: ``in_process`` is True when ``fn`` runs in the calling
    process, so nothing needs to pickle and the caller may hand over objects directly.

    Args:
        n_jobs: how many items run at the same time; None means every core.
    """

    in_process: bool = False

    def __init__(self, n_jobs: Optional[int] = None):
        self.n_jobs = check_n_jobs(n_jobs)

    @abc.abstractmethod
    def map(self, fn: Callable[[Any], Any], items: list) -> Iterator[Any]:
        """Yield ``fn(item)`` for every item, in completion order.

        Closing the returned iterator early (``close()``, or dropping it) cancels what is
        still pending.
        """

    def close(self) -> None:
        """Release workers. Called once the sweep is over, also after an error or Ctrl-C."""

    def cancel(self) -> None:
        """Stop what a ``map`` running in another thread is doing, from the calling thread
        (the driver stopping its participants); the map then ends. Default: ``close()``."""
        self.close()

    def workers_for(self, n_items: int) -> int:
        """How many items run at once in a map over ``n_items`` items."""
        n_jobs = (os.cpu_count() or 1) if self.n_jobs in (None, -1) else self.n_jobs
        return max(1, min(n_jobs, n_items))

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_jobs={self.n_jobs!r})"


class SequentialExecutor(Executor):
    """Runs every item in the calling process, one after the other (completion = input order).

    Best for debugging (breakpoints, tracebacks, no pickling) and for tasks too small to be
    worth a process.
    """

    in_process = True

    def __init__(self, n_jobs: Optional[int] = None):
        super().__init__(n_jobs)
        if self.n_jobs not in (None, 1):
            raise SweepsValueError(
                f"n_jobs={n_jobs!r} does not fit executor='sequential', which runs one task at "
                "a time; use executor='processes' to run several at once, or leave n_jobs out"
            )

    def map(self, fn: Callable[[Any], Any], items: list) -> Iterator[Any]:
        for item in items:
            yield fn(item)


class ProcessExecutor(Executor):
    """Runs items in worker processes of its own, one item at a time per worker.

    Each worker is an independent process (forked from the driver where that is safe, so it
    starts at once with torch already imported; spawned otherwise): a worker that dies (a
    segmentation fault, ``os._exit``, the out-of-memory killer) takes only its own item with it,
    which comes back as a ``WorkerCrash``; the other workers go on, and a new worker takes the
    dead one's place. Idle workers stay up for the next ``map`` in this process (a second sweep
    starts warm, with torch already imported), and every worker watches its parent: when the
    driver dies, even by SIGKILL, its workers exit within a second, so none is left behind.

    Args:
        n_jobs: worker processes; None or -1 means every core (``os.cpu_count()``). Never more
            than the number of items.
        threads_per_worker: torch (and BLAS/OpenMP) threads inside each worker. The default, 1,
            is what makes processes pay off: with N workers each running N threads on N cores
            the threads fight and a parallel sweep can run slower than a sequential one. None
            leaves the libraries' defaults alone.
    """

    def __init__(self, n_jobs: Optional[int] = None, *, threads_per_worker: Optional[int] = 1):
        super().__init__(n_jobs)
        self.start_method: Optional[str] = None  # None: fork where safe (see _start_method)
        if threads_per_worker is not None and (
            isinstance(threads_per_worker, bool)
            or not isinstance(threads_per_worker, int)
            or threads_per_worker < 1
        ):
            raise SweepsValueError(
                f"threads_per_worker={threads_per_worker!r} must be a positive int, or None to "
                "keep the libraries' defaults"
            )
        self.threads_per_worker = threads_per_worker
        self._busy: dict = {}  # worker -> item, while a map runs
        self._mapping: Optional[Iterator[Any]] = None
        self._cancelled = False
        self._lock = threading.Lock()  # between a map's thread and cancel() from another

    def prestart(self, n_items: int) -> None:
        """Start the workers a map over ``n_items`` items will use, now: each imports what
        torch's first optimizer step imports (torch._dynamo) itself, while the driver goes on
        loading the data, instead of the driver importing it first and the workers waiting."""
        if _start_method(self.start_method) != "fork":
            return  # a spawned worker imports everything itself anyway, at its start
        width = self.workers_for(n_items)
        while _POOL.ready(self.threads_per_worker) < width:
            _POOL.give_back(_Worker(self.threads_per_worker, self.start_method))

    def map(self, fn: Callable[[Any], Any], items: list) -> Iterator[Any]:
        if self._mapping is not None and self._mapping.gi_running:
            self._mapping = None  # a map still running in another thread goes on, on its own
            self._busy = {}
        self.close()
        if not items:
            return iter(())
        self._cancelled = False  # here, not in the generator: a cancel() may come before it runs
        self._mapping = self._map(fn, list(items))
        return self._mapping

    def _map(self, fn: Callable[[Any], Any], items: list) -> Iterator[Any]:
        from multiprocessing.connection import wait

        pending = collections.deque(items)
        width = self.workers_for(len(items))
        if "torch" in sys.modules and _start_method(self.start_method) == "fork" and _POOL.ready(
                self.threads_per_worker) < width:
            _warm_up()  # once here, and the forked workers inherit it
        while pending or self._busy:
            while pending and len(self._busy) < width and not self._cancelled:
                worker = _POOL.take(self.threads_per_worker, self.start_method)
                with self._lock:  # cancel() kills every worker it finds busy
                    if self._cancelled:
                        _POOL.give_back(worker)
                        break
                    item = pending.popleft()
                    self._busy[worker] = item
                worker.send(fn, item)
            if not self._busy:
                return  # cancelled
            ready = wait([w.conn for w in self._busy] + [w.process.sentinel for w in self._busy])
            for worker in [w for w in self._busy if w.conn in ready or w.process.sentinel in ready]:
                item = self._busy.pop(worker)
                status, value = worker.receive()
                if status == "crash":
                    yield WorkerCrash(item, value, worker.process.pid)
                    continue
                _POOL.give_back(worker)
                if status == "error":
                    raise value
                yield value

    def close(self) -> None:
        # Closing the generator early (Ctrl-C, on_error='raise') stops the workers that are
        # still busy: their items are cancelled. Idle workers stay for the next map.
        mapping, self._mapping = self._mapping, None
        if mapping is not None and mapping.gi_running:
            # running in another thread (a driver interrupted as it started its participants)
            self.cancel()
            return
        if mapping is not None:
            mapping.close()
        busy, self._busy = self._busy, {}
        for worker in busy:
            worker.kill()

    def kill(self, pid: int, host: Optional[str] = None) -> bool:
        """Kill the busy worker with this pid (a task past its timeout); its item comes back as
        a crash. False when no busy worker has that pid (or ``host`` is another machine)."""
        import socket

        if host is not None and host != socket.gethostname():
            return False
        for worker in list(self._busy):
            if worker.process.pid == pid and worker.process.is_alive():
                worker.process.kill()
                return True
        return False

    def cancel(self) -> None:
        # from the driver's thread while map runs in another: kill the busy workers; their
        # items come back as crashes and the map ends. Returns once they are dead (not
        # reaped: the map's thread does that), so that the driver can put their trials back.
        with self._lock:
            self._cancelled = True
            killed = [w for w in list(self._busy) if w.process.is_alive()]
        for worker in killed:
            worker.process.kill()
        deadline = time.monotonic() + 5
        while killed and time.monotonic() < deadline:
            time.sleep(0.005)
            killed = [w for w in killed if not _dead(w.process)]

    def __repr__(self) -> str:
        return (
            f"ProcessExecutor(n_jobs={self.n_jobs!r}, "
            f"threads_per_worker={self.threads_per_worker!r})"
        )


def _dead(process: Any) -> bool:
    """Whether the process has exited (a zombie counts): its sentinel is readable."""
    from multiprocessing.connection import wait

    try:
        return bool(wait([process.sentinel], 0))
    except (OSError, ValueError):  # closed: reaped by the map's thread
        return True


def _crash_message(exitcode: Optional[int]) -> str:
    how = f"killed by signal {-exitcode}" if exitcode and exitcode < 0 else f"exit code {exitcode}"
    return (f"the worker process running this task died ({how}). A segmentation fault, "
            "os._exit() or running out of memory does this; the other tasks were not affected")


class _Worker:
    """One worker process and the pipe to it (the driver's side)."""

    def __init__(self, threads: Optional[int], start_method: Optional[str] = None):
        import multiprocessing

        context = multiprocessing.get_context(start_method or _start_method())
        self.conn, child = context.Pipe()
        self.threads = threads
        self.start_method = start_method
        self.process = context.Process(target=_serve, args=(child, os.getpid(), threads),
                                       name="sweeps-worker", daemon=True)
        with _main_not_imported(), _forksafe.quiet(), _forksafe.interrupts_held():
            self.process.start()
        child.close()

    def alive(self) -> bool:
        return self.process.is_alive()

    def send(self, fn: Callable[[Any], Any], item: Any) -> None:
        import pickle

        import cloudpickle  # functions of study files travel by value (see _registry)

        try:
            self.conn.send_bytes(cloudpickle.dumps((fn, item), protocol=pickle.HIGHEST_PROTOCOL))
        except (BrokenPipeError, ConnectionResetError, EOFError):
            pass  # the worker is dead: receive() reports it

    def receive(self) -> tuple:
        """("ok", value), ("error", exception) or ("crash", message)."""
        import pickle

        try:
            status, value = pickle.loads(self.conn.recv_bytes())
        except (EOFError, OSError):
            self.process.join(5)
            self.conn.close()
            return "crash", _crash_message(self.process.exitcode)
        return status, value

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()


def _start_method(chosen_here: Optional[str] = None) -> str:
    """``fork`` where it is safe, else ``spawn`` (``chosen_here``: an executor's own choice).

    A forked worker starts in milliseconds with what the driver imported (torch included), so
    a sweep pays no start-up; torch's CPU side is fork-safe (its DataLoader forks the same
    way), CUDA is not: once the driver has initialised CUDA, workers are spawned. Set
    ``SWEEPS_START_METHOD=spawn`` to always spawn.
    """
    chosen = chosen_here or os.environ.get("SWEEPS_START_METHOD")
    if chosen in ("fork", "spawn", "forkserver"):
        return chosen
    if not sys.platform.startswith("linux"):
        return "spawn"
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    if cuda is not None and cuda.is_initialized():
        return "spawn"
    return "fork"


@contextlib.contextmanager
def _main_not_imported() -> Iterator[None]:
    """Start a worker without running the user's main script in it.

    multiprocessing's spawn re-imports ``__main__`` in each worker: a script without an
    ``if __name__ == '__main__':`` guard would start its sweep again in every worker, and a
    script read from stdin cannot be imported at all. Items travel through cloudpickle, which
    sends functions and classes of ``__main__`` by value, so workers do not need it.
    """
    main = sys.modules.get("__main__")
    missing = object()
    saved_file = getattr(main, "__file__", missing)
    saved_spec = getattr(main, "__spec__", missing)
    try:
        if saved_file is not missing:
            del main.__file__
        if saved_spec is not missing:
            main.__spec__ = None
        yield
    finally:
        if saved_file is not missing:
            main.__file__ = saved_file
        if saved_spec is not missing:
            main.__spec__ = saved_spec


class _Pool:
    """Idle workers kept for the next map in this process, killed when the process exits."""

    def __init__(self) -> None:
        self.idle: list[_Worker] = []
        self.registered = False

    def take(self, threads: Optional[int], start_method: Optional[str] = None) -> _Worker:
        while self.idle:
            worker = self.idle.pop()
            if worker.threads == threads and worker.alive() and (
                    start_method is None or worker.start_method == start_method):
                return worker
            worker.kill()
        if not self.registered:
            import atexit

            atexit.register(self.shutdown)
            self.registered = True
        return _Worker(threads, start_method)

    def ready(self, threads: Optional[int]) -> int:
        return sum(w.threads == threads and w.alive() for w in self.idle)

    def give_back(self, worker: _Worker) -> None:
        self.idle.append(worker)

    def shutdown(self) -> None:
        idle, self.idle = self.idle, []
        for worker in idle:
            worker.kill()


_POOL = _Pool()


def _serve(conn: Any, parent: int, threads: Optional[int]) -> None:
    """A worker's life: run (fn, item) messages until the pipe closes or the parent dies."""
    import pickle
    import threading

    if threads is not None:
        # before torch (or numpy's BLAS) is imported by the first item
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[name] = str(threads)
    # Ctrl-C is the driver's: it stops this worker and puts its trial back. Ignored here but
    # while a task runs, which keeps the handler it had (processes it starts inherit that).
    handler = _forksafe.ignore_interrupts()
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    _warm_up()
    while True:
        try:
            message = conn.recv_bytes()
        except (EOFError, OSError):
            return
        fn = item = None
        try:
            fn, item = pickle.loads(message)
            if threads is not None:
                torch = sys.modules.get("torch")
                if torch is not None and torch.get_num_threads() != threads:
                    torch.set_num_threads(threads)
            with _handling_interrupts(handler):
                message = ("ok", fn(item))
        except BaseException as error:  # noqa: BLE001 - sent back to be raised in the driver
            message = ("error", error)
        try:
            payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # a result or exception that does not pickle
            payload = pickle.dumps(("error", SweepsTypeError(
                f"the result of {fn!r} on {item!r:.100} cannot be sent back: {error}")))
        conn.send_bytes(payload)


@contextlib.contextmanager
def _handling_interrupts(handler: Any) -> Iterator[None]:
    """SIGINT handled by ``handler`` while held (a worker runs a task), ignored again after."""
    import signal

    if handler is None:
        yield
        return
    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def raise_in_thread(thread: int, exception: Optional[type]) -> None:
    """Raise ``exception`` in the thread with ident ``thread`` at its next Python step (None
    withdraws one not raised yet): how a task running in a thread is stopped from outside."""
    import ctypes

    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread), None if exception is None else ctypes.py_object(exception))


def _warm_up() -> None:
    """Import torch, and what its first optimizer imports (torch._dynamo), before the first
    item: seconds a worker would otherwise spend inside its first task."""
    import importlib.util

    if importlib.util.find_spec("torch") is None or "torch._dynamo" in sys.modules:
        return
    try:
        import torch

        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1).step()
    except Exception:  # a broken torch shows itself in the task, with its traceback
        pass


def _watch_parent(parent: int) -> None:
    """Exit this worker when the driver that started it is gone (SIGKILL included)."""
    import time

    while True:
        if os.getppid() != parent:
            os._exit(1)
        time.sleep(0.2)


class _ThreadLimited:
    """Calls ``fn`` with torch's intra-op threads capped, restoring them afterwards.

    For in-process executors that want the same thread limit as the workers.
    """

    def __init__(self, fn: Callable[[Any], Any], threads: int):
        self.fn = fn
        self.threads = threads

    def __call__(self, item: Any) -> Any:
        torch = sys.modules.get("torch")
        before = None if torch is None else torch.get_num_threads()
        if before is None or before == self.threads:
            return self.fn(item)
        torch.set_num_threads(self.threads)
        try:
            return self.fn(item)
        finally:
            torch.set_num_threads(before)

    def __repr__(self) -> str:
        return f"_ThreadLimited({self.fn!r}, threads={self.threads})"


EXECUTORS: dict[str, type[Executor]] = {
    "sequential": SequentialExecutor,
    "processes": ProcessExecutor,
}


def register_executor(name: str, cls: type[Executor]) -> None:
    """Make ``executor=name`` select ``cls`` (a subclass of ``Executor``)."""
    if not (isinstance(cls, type) and issubclass(cls, Executor)):
        raise SweepsTypeError(
            f"cls={cls!r} is not a subclass of sweeps.Executor; subclass it and implement map()"
        )
    EXECUTORS[name] = cls


def check_n_jobs(n_jobs: Any) -> Optional[int]:
    """Return n_jobs if it is None, -1 or a positive int; raise SweepsValueError otherwise.

    As in joblib, -1 means every core; other negative values (joblib's "all but k") are refused
    because on a shared machine their meaning changes with the machine.
    """
    if n_jobs is None or (
        isinstance(n_jobs, int) and not isinstance(n_jobs, bool) and (n_jobs >= 1 or n_jobs == -1)
    ):
        return n_jobs
    raise SweepsValueError(
        f"n_jobs={n_jobs!r} must be a positive int (the number of worker processes), -1 or "
        "None (every core)"
    )


def make_executor(executor: Any, n_jobs: Optional[int] = None) -> Executor:
    """Build the executor that ``executor=`` names, or check and return an Executor instance."""
    if isinstance(executor, Executor):
        if n_jobs is not None:
            raise SweepsValueError(
                f"n_jobs={n_jobs!r} given with an executor object {executor!r}; pass n_jobs to "
                "the executor's constructor instead"
            )
        return executor
    if not isinstance(executor, str) or executor not in EXECUTORS:
        valid = sorted(EXECUTORS)
        close = difflib.get_close_matches(str(executor), valid, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SweepsValueError(
            f"executor={executor!r} is not one of {valid}{hint} "
            "(or pass an Executor object; add names with sweeps.register_executor)"
        )
    return EXECUTORS[executor](n_jobs)
