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
import concurrent.futures
import dataclasses
import difflib
import os
import sys
import warnings
from typing import Any, Callable, Iterator, Optional

from ._errors import SweepsTypeError, SweepsValueError


@dataclasses.dataclass
class WorkerCrash:
    """Yielded by ``map`` in place of ``fn(item)`` when the process running ``item`` died
    (a segmentation fault, ``os._exit``, the kernel's out-of-memory killer)."""

    item: Any
    message: str


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
    """Runs items in a pool of worker processes (joblib's loky backend).

    Items are sent in batches that joblib sizes automatically, so hundreds of tiny items cost
    little; results come back in completion order. The pool is joblib's reusable loky
    executor: workers stay up between sweeps (a second sweep starts warm) and are killed when
    a sweep is cancelled (an error with ``on_error='raise'``, or Ctrl-C). As in joblib, a
    single job (``n_jobs=1``, or one item) runs in the calling process.

    Args:
        n_jobs: worker processes; None or -1 means every core (``joblib.cpu_count()``). Never
            more than the number of items.
        threads_per_worker: torch (and BLAS/OpenMP) threads inside each worker. The default, 1,
            is what makes processes pay off: with N workers each running N threads on N cores
            the threads fight and a parallel sweep can run slower than a sequential one. None
            leaves the libraries' defaults alone.
    """

    def __init__(self, n_jobs: Optional[int] = None, *, threads_per_worker: Optional[int] = 1):
        super().__init__(n_jobs)
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
        self._outputs: Optional[Iterator[Any]] = None  # joblib's generator, while it runs
        self._mapping: Optional[Iterator[Any]] = None  # the generator map returned
        self._pool = None  # the loky pool of the crash-isolating path, while it runs

    def workers_for(self, n_items: int) -> int:
        """The number of worker processes a map over ``n_items`` items uses."""
        import joblib

        n_jobs = joblib.cpu_count() if self.n_jobs in (None, -1) else self.n_jobs
        return max(1, min(n_jobs, n_items))

    def map(self, fn: Callable[[Any], Any], items: list) -> Iterator[Any]:
        if not items:
            return iter(())
        threads = self.threads_per_worker
        call = fn if threads is None else _ThreadLimited(fn, threads)
        self._mapping = self._map(_Indexed(call), list(enumerate(items)))
        return self._mapping

    def _map(self, call: "_Indexed", indexed: list) -> Iterator[Any]:
        """Fast path: joblib's batched pool. If a worker dies, the items not yet back are run
        again on a fresh pool, where the item that kills its worker is found and yielded as a
        ``WorkerCrash``, and every other item still runs."""
        from joblib.externals.loky.process_executor import BrokenProcessPool

        done = set()
        try:
            for position, result in self._parallel(call, indexed):
                done.add(position)
                yield result
            return
        except BrokenProcessPool as crash:
            message = _crash_message(crash)
        self._outputs = None
        rest = [pair for pair in indexed if pair[0] not in done]
        yield from self._isolate(call, rest, message)

    def _parallel(self, call: "_Indexed", indexed: list) -> Iterator[Any]:
        import joblib

        # inner_max_num_threads reaches the workers' environment only through parallel_config.
        with joblib.parallel_config(backend="loky", inner_max_num_threads=self.threads_per_worker):
            parallel = joblib.Parallel(
                n_jobs=self.workers_for(len(indexed)),
                return_as="generator_unordered",
                batch_size="auto",
                max_nbytes=None,  # items are small; skip joblib's scan for arrays to memory-map
            )
            # joblib aborts the pool (killing the workers) when this generator is closed early
            # or when an exception, KeyboardInterrupt included, reaches it while waiting.
            self._outputs = parallel(joblib.delayed(call)(pair) for pair in indexed)
        return self._outputs

    def _isolate(self, call: "_Indexed", indexed: list, message: str) -> Iterator[Any]:
        """Run items one per future; when a worker dies, every item then in flight is a
        suspect and runs again alone, so the one that kills its worker is known for sure."""
        from joblib.externals.loky import get_reusable_executor
        from joblib.externals.loky.process_executor import BrokenProcessPool

        width = self.workers_for(len(indexed))
        normal, alone = collections.deque(indexed), collections.deque()
        in_flight: dict = {}
        while normal or alone or in_flight:
            queue, limit = (alone, 1) if alone else (normal, width)
            pool = get_reusable_executor(max_workers=width)  # a new pool once one broke
            self._pool = pool
            while queue and len(in_flight) < limit:
                pair = queue.popleft()
                in_flight[pool.submit(call, pair)] = pair
            finished, _ = concurrent.futures.wait(in_flight, return_when=concurrent.futures.FIRST_COMPLETED)
            broken = []
            for future in finished:
                pair = in_flight.pop(future)
                try:
                    yield future.result()[1]
                except BrokenProcessPool as crash:
                    broken.append(pair)
                    message = _crash_message(crash)
            if broken:
                # the pool is gone: everything still in flight fails with it
                concurrent.futures.wait(in_flight)
                broken += list(in_flight.values())
                in_flight.clear()
                if len(broken) == 1:
                    yield WorkerCrash(broken[0][1], message)
                else:
                    alone.extend(sorted(broken, key=_first))

    def close(self) -> None:
        # Closing a generator that is already exhausted does nothing; closing one that is not
        # cancels the pending items and kills the workers. joblib then warns that finished
        # results went unused: here that is the point.
        mapping, self._mapping = self._mapping, None
        if mapping is not None:
            mapping.close()
        if self._outputs is not None:
            with warnings.catch_warnings():
                warnings.filterwarnings(
                    "ignore", "[0-9]+ tasks (have been|which were)", UserWarning)
                self._outputs.close()
            self._outputs = None
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, kill_workers=True)

    def __repr__(self) -> str:
        return (
            f"ProcessExecutor(n_jobs={self.n_jobs!r}, "
            f"threads_per_worker={self.threads_per_worker!r})"
        )


def _first(pair: tuple) -> Any:
    return pair[0]


def _crash_message(crash: BaseException) -> str:
    return (f"the worker process running this task died ({type(crash).__name__}: "
            f"{' '.join(str(crash).split())[:400]}). A segmentation fault, os._exit() or running "
            "out of memory does this; the other tasks were not affected")


class _Indexed:
    """``(position, item) -> (position, fn(item))``: tells which items came back."""

    def __init__(self, fn: Callable[[Any], Any]):
        self.fn = fn

    def __call__(self, pair: tuple) -> tuple:
        return pair[0], self.fn(pair[1])

    def __repr__(self) -> str:
        return f"_Indexed({self.fn!r})"


class _ThreadLimited:
    """Calls ``fn`` after capping torch's intra-op threads in the worker process.

    joblib's ``inner_max_num_threads`` sets OMP_NUM_THREADS and friends before a worker starts,
    which covers torch when the worker imports it later; torch imported while unpickling the
    item (before this runs) needs ``torch.set_num_threads`` too. With one job joblib runs the
    items in the calling process: there the setting is restored after each call.
    """

    def __init__(self, fn: Callable[[Any], Any], threads: int):
        self.fn = fn
        self.threads = threads
        self.driver_pid = os.getpid()

    def __call__(self, item: Any) -> Any:
        torch = sys.modules.get("torch")
        before = None if torch is None else torch.get_num_threads()
        if before is None or before == self.threads:
            return self.fn(item)
        torch.set_num_threads(self.threads)
        try:
            return self.fn(item)
        finally:
            if os.getpid() == self.driver_pid:
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
