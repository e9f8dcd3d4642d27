"""``executor='dask'``: a sweep's participants run as tasks on a Dask cluster.

Each participant is one Dask task that claims trials from the store, runs them and records their
results itself (``sweeps._work.participate``); the driver only watches the store. A worker that
dies loses nothing: its trial's lease lapses and the trial goes back to the queue.

    >>> sweep(create_task, grid, data=load_bundle, executor="dask", n_jobs=4)  # doctest: +SKIP
    >>> sweep(create_task, grid, data=load_bundle,
    ...       executor=DaskExecutor(address="tcp://scheduler:8786"))          # doctest: +SKIP

This module imports ``distributed`` only when an executor is built, so ``import sweeps`` stays
free of Dask.
"""
from __future__ import annotations

import logging
import math
import os
import pickle
import threading
import time
import uuid
from typing import Any, Callable, Iterator, Optional

from ._errors import SweepsError, SweepsValueError
from ._executors import (Executor, WorkerCrash, _main_not_imported, raise_in_thread,
                         register_executor)

logger = logging.getLogger(__name__)

_INSTALL = 'pip install "sweeps[dask]" (or pip install "dask[distributed]")'


class DaskExecutor(Executor):
    """Runs the sweep's participants as tasks on a Dask cluster, one per worker thread.

    Give it a cluster, or let it start one on this machine:

    - ``client``: a ``distributed.Client`` you made; it stays open after the sweep;
    - ``address``: a scheduler's address (``'tcp://host:8786'``); connected for the sweep;
    - neither: a ``LocalCluster`` of ``n_jobs`` worker processes (one thread each) on
      127.0.0.1, started for each sweep and closed when its participants are done.

    Every worker must be able to import ``sweeps`` and the module of ``create_task`` (and open
    the store: PostgreSQL, or a journal file on a shared disk); this is checked on every worker
    before any trial is claimed. Every call to the cluster has a time limit, ``timeout``, so an
    address that does not answer or a worker that cannot load the code gives an error, never a
    hang.

    Args:
        client: a connected ``distributed.Client``.
        address: a scheduler address; not with ``client``.
        n_jobs: worker processes of the local cluster; None or -1 means every core. Not with
            ``client`` or ``address`` (the cluster's size decides there).
        timeout: seconds each cluster call may take (connecting, starting the local cluster,
            checking the workers, sending the data); participants themselves run as long as
            the sweep needs.
    """

    def __init__(self, client: Any = None, *, address: Optional[str] = None,
                 n_jobs: Optional[int] = None, timeout: float = 30.0):
        super().__init__(n_jobs)
        _require_distributed()
        problems = []
        if client is not None and address is not None:
            problems.append(f"client={client!r} and address={address!r} both given: pass one")
        if client is not None and not _is_client(client):
            problems.append(f"client={client!r} is not a distributed.Client; pass "
                            "distributed.Client(...) or address='tcp://host:8786'")
        if address is not None and (not isinstance(address, str) or not address.strip()):
            problems.append(f"address={address!r} must be a scheduler address (a str), e.g. "
                            "address='tcp://127.0.0.1:8786'")
        if n_jobs is not None and (client is not None or address is not None):
            problems.append(f"n_jobs={n_jobs!r} given with a cluster to connect to: its workers "
                            "decide how many tasks run at once; leave n_jobs out (it sizes the "
                            "local cluster started when neither client nor address is given)")
        if (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                or not timeout > 0 or not math.isfinite(timeout)):
            problems.append(f"timeout={timeout!r} must be a positive number of seconds")
        if problems:
            raise SweepsValueError("; ".join(problems))
        self.client, self.address, self.timeout = client, address, float(timeout)
        self._client: Any = client  # the client in use: given, connected, or the local one's
        self._cluster: Any = None  # the LocalCluster this executor started
        self._futures: dict = {}  # future -> item, while a map runs
        self._event: Optional[str] = None  # the name of the map's stop signal
        self._cancelled = False
        self._width = 1  # workers of the local cluster: the participants of the map
        self._no_workers_since: Optional[float] = None

    # ------------------------------------------------------------------------- connecting
    def workers_for(self, n_items: int) -> int:
        if self.client is None and self.address is None:
            return super().workers_for(n_items)
        return max(1, min(self._threads(self._connect()), n_items))

    def _threads(self, client: Any) -> int:
        """Threads of the cluster's workers, waiting up to ``timeout`` for a first worker."""
        try:
            client.wait_for_workers(1, timeout=self.timeout)
        except Exception as error:
            raise SweepsError(
                f"no Dask worker joined the scheduler at {self._where()} within timeout="
                f"{self.timeout:g} s; start one with `dask worker {self._where()}`") from error
        return sum(client.nthreads().values())

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        import dask
        from distributed import Client, LocalCluster

        with dask.config.set({"distributed.comm.timeouts.connect": f"{self.timeout}s"}):
            if self.address is not None:
                try:
                    self._client = Client(self.address, timeout=self.timeout,
                                          set_as_default=False)
                except Exception as error:
                    raise SweepsError(
                        f"no Dask scheduler answered at address={self.address!r} within "
                        f"timeout={self.timeout:g} s ({type(error).__name__}: {error}); start "
                        "one there with `dask scheduler`, or check the address") from error
                return self._client
            try:
                with _main_not_imported():  # a script without a __main__ guard must not rerun
                    self._cluster = LocalCluster(
                        n_workers=self._width, threads_per_worker=1, processes=True,
                        host="127.0.0.1", dashboard_address="127.0.0.1:0",
                        timeout=self.timeout)
                self._client = Client(self._cluster, timeout=self.timeout,
                                      set_as_default=False)
            except Exception as error:
                self.close()
                raise SweepsError(
                    f"could not start a local Dask cluster of {self._width} workers within "
                    f"timeout={self.timeout:g} s ({type(error).__name__}: {error})") from error
        return self._client

    def _where(self) -> str:
        return self.address or getattr(getattr(self._client, "scheduler", None), "address",
                                       None) or repr(self.client)

    # ------------------------------------------------------------------------- mapping
    def map(self, fn: Callable[[Any], Any], items: list) -> Iterator[Any]:
        if not items:
            return iter(())
        return self._map(fn, list(items))

    def _map(self, fn: Callable[[Any], Any], items: list) -> Iterator[Any]:
        from distributed import as_completed

        self._width = len(items)
        self._cancelled = False
        client = self._connect()
        try:
            blob = self._pickle(fn)
            self._check_workers(client, blob)
            self._event = f"sweeps-stop-{uuid.uuid4().hex}"
            if self._cancelled:
                return
            self._futures = {client.submit(_participate, blob, item, self._event, pure=False,
                                           key=f"sweeps-participant-{item}-{uuid.uuid4().hex}"):
                             item for item in items}
            finished = as_completed(list(self._futures), loop=client.loop)
            checked = time.monotonic()
            # cancel() stops the participants; their futures then end this loop as they return
            while not finished.is_empty():
                # a heartbeat, not one long block: the cluster's health is checked each second
                if not finished.has_ready():
                    time.sleep(0.05)
                    if time.monotonic() - checked > 1.0:
                        self._check_alive(client)
                        checked = time.monotonic()
                    continue
                for future in finished.next_batch(block=False):
                    outcome = self._outcome(future)
                    if outcome is not None:
                        yield outcome
        finally:
            futures, self._futures = list(self._futures), {}
            if futures:
                # wakes the participants' watchers, which would otherwise sit in a wait on the
                # scheduler (and log its cancellation when a local cluster closes)
                try:
                    self._signal_stop(client)
                except Exception as error:  # the scheduler is gone: nothing left to wake
                    logger.debug("could not signal the Dask participants: %s", error)
                client.cancel(futures)
            if self._cluster is not None:
                self.close()

    @staticmethod
    def _pickle(fn: Callable[[Any], Any]) -> bytes:
        """The function (and the data in its job) pickled once, here.

        The bytes travel inside each participant's task, not through ``scatter``: a scattered
        copy dies with the workers that hold it, while the scheduler keeps a task's own
        arguments to run it again elsewhere when its worker dies.
        """
        import cloudpickle  # functions of a script's __main__ travel by value

        return cloudpickle.dumps(fn, protocol=pickle.HIGHEST_PROTOCOL)

    def _check_workers(self, client: Any, blob: bytes) -> None:
        """Load the sweep's function on every worker before any trial is claimed: a worker
        missing a module names it here instead of failing (or hanging) in the middle."""
        workers = sorted(client.nthreads())
        probes = {client.submit(pickle.loads, blob, workers=[worker], allow_other_workers=False,
                                pure=False, key=f"sweeps-check-{uuid.uuid4().hex}"): worker
                  for worker in workers}
        if not _settled(list(probes), self.timeout):
            late = [w for f, w in probes.items() if f.status == "pending"]
            client.cancel(list(probes))
            raise SweepsError(
                f"the Dask workers {late} did not load the sweep's code within timeout="
                f"{self.timeout:g} s; check that they are alive and not busy") from None
        failed = [(w, f.exception()) for f, w in probes.items() if f.status == "error"]
        client.cancel(list(probes))
        if failed:
            worker, error = failed[0]
            raise SweepsError(
                f"the Dask worker {worker} cannot load the sweep's code: "
                f"{type(error).__name__}: {error}. Every worker must import sweeps and the "
                f"module of create_task: install them where the workers run (pip install the "
                f"project there, or add its folder to the workers' PYTHONPATH) and restart the "
                f"workers ({len(failed)} of {len(workers)} workers failed)") from error

    def _check_alive(self, client: Any) -> None:
        if client.status not in ("running", "connecting"):
            raise SweepsError(f"lost the Dask scheduler at {self._where()} (client "
                              f"{client.status}); the trials it ran go back to the queue")
        if client.nthreads():
            self._no_workers_since = None
        elif self._no_workers_since is None:
            self._no_workers_since = time.monotonic()
        elif time.monotonic() - self._no_workers_since > self.timeout:
            raise SweepsError(
                f"no Dask worker left at {self._where()} for timeout={self.timeout:g} s; the "
                f"trials they ran go back to the queue: start workers with `dask worker "
                f"{self._where()}` and run the sweep again")

    def _outcome(self, future: Any) -> Any:
        """What ``map`` yields for a finished participant (None for a cancelled one)."""
        item = self._futures.get(future)
        if future.status == "cancelled":
            return None
        if future.status == "error":
            error = future.exception(timeout=self.timeout)
            if _is_crash(error):
                return WorkerCrash(item, f"the Dask worker running this participant died "
                                   f"({type(error).__name__}: {error})", None)
            raise error
        return future.result(timeout=self.timeout)

    # ------------------------------------------------------------------------- stopping
    def kill(self, pid: int, host: Optional[str] = None) -> bool:
        """End the Dask worker process ``pid`` (on ``host``): a task stuck past its
        task_timeout where its own time limit cannot reach it (inside one C call). Its nanny
        starts a new worker (a worker started with ``--no-nanny`` is gone); False when there is
        no such worker."""
        import socket

        client = self._client
        if client is None:
            return False
        try:
            workers = [address for address, worker_pid in client.run(os.getpid).items()
                       if worker_pid == pid]
            if host is not None and len(workers) > 1:
                names = client.run(socket.gethostname, workers=workers)
                workers = [w for w in workers if names.get(w) == host]
            if len(workers) != 1:
                return False
            # the worker's nanny starts a new one; the participants it ran start again elsewhere
            client.run(_exit_soon, workers=workers)
        except Exception as error:  # noqa: BLE001 - no nanny, or the worker is gone already
            logger.warning("could not restart the Dask worker (pid %s) of a task past its "
                           "task_timeout: %s", pid, error)
            return False
        return True

    def cancel(self) -> None:
        """Stop the participants: each puts back the trial it holds and returns (a Dask task
        cannot be interrupted from outside, so each one watches a stop signal)."""
        self._cancelled = True
        client, futures = self._client, list(self._futures)
        if client is None or not futures:
            return
        try:
            self._signal_stop(client)
            if not _settled(futures, self.timeout):
                logger.warning("Dask participants did not stop within %g s; cancelled",
                               self.timeout)
        except Exception as error:  # stopped by force below; the leases lapse
            logger.warning("could not signal the Dask participants to stop: %s", error)
        client.cancel(futures)

    def _signal_stop(self, client: Any) -> None:
        from distributed import Event

        Event(self._event, client=client).set()

    def close(self) -> None:
        """Close the local cluster or the connection this executor made (never a given
        client)."""
        cluster, self._cluster = self._cluster, None
        if self.client is None and self._client is not None:
            client, self._client = self._client, None
            try:
                client.close(timeout=self.timeout)
            except Exception as error:
                logger.debug("closing the Dask client failed: %s", error)
        if cluster is not None:
            try:
                cluster.close(timeout=self.timeout)
            except Exception as error:
                logger.debug("closing the local Dask cluster failed: %s", error)

    def __repr__(self) -> str:
        if self.client is not None:
            return f"DaskExecutor({self.client!r}, timeout={self.timeout:g})"
        if self.address is not None:
            return f"DaskExecutor(address={self.address!r}, timeout={self.timeout:g})"
        return f"DaskExecutor(n_jobs={self.n_jobs!r}, timeout={self.timeout:g})"


def _exit_soon() -> None:
    """On a worker: end this worker process a moment after answering the driver."""

    def end() -> None:
        time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=end, daemon=True).start()


def _settled(futures: list, timeout: float) -> bool:
    """Wait until every future is done (finished, failed or cancelled), at most ``timeout`` s.

    Polls instead of ``distributed.wait``, which needs a default client; the client here is
    the executor's own, never made the default.
    """
    deadline = time.monotonic() + timeout
    while not all(future.done() for future in futures):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _require_distributed() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError as error:
        raise SweepsValueError(
            f"executor='dask' needs Dask's distributed scheduler, which is not installed "
            f"({error}); {_INSTALL}") from error


def _is_client(client: Any) -> bool:
    from distributed import Client

    return isinstance(client, Client)


def _is_crash(error: BaseException) -> bool:
    from distributed import KilledWorker
    from distributed.comm.core import CommClosedError

    return isinstance(error, (KilledWorker, CommClosedError))


# ----------------------------------------------------------------------------- on a worker


class _Stopped(BaseException):
    """Raised in a participant's thread when the driver stops the sweep: a BaseException,
    so that the participant puts its trial back and no task records it as a failure."""


def _participate(blob: bytes, item: Any, event: str) -> Any:
    """Run one participant on a worker, stopping it when the map's stop signal is set."""
    from distributed import Event, get_client

    from ._executors import _warm_up

    _warm_up()  # torch and its first optimizer's imports, before any task's time limit starts
    fn = pickle.loads(blob)
    # the event is bound to this worker's client here, in the task's thread: unbound, it
    # cannot be waited on from the watcher's thread
    watcher = _Watcher(Event(event, client=get_client()), threading.get_ident())
    try:
        try:
            return fn(item)
        finally:
            watcher.done()
    except _Stopped:
        return 0


class _Watcher:
    """Waits for a stop signal in a thread and raises ``_Stopped`` in the participant's.

    The participant is plain Python looping over trials; raising in its thread is how
    Ctrl-C stops it in a driver, and it puts back the trial it holds the same way.
    """

    def __init__(self, event: Any, thread: int):
        self.event, self.thread = event, thread
        self._lock = threading.Lock()
        self._finished = False
        threading.Thread(target=self._watch, name="sweeps-dask-stop", daemon=True).start()

    def _watch(self) -> None:
        while not self._finished:
            try:
                stop = self.event.wait(timeout=1.0)
            except Exception as error:  # the scheduler is gone: the cluster ends the task
                if not self._finished:
                    logger.warning("a sweeps participant stopped watching for its stop "
                                   "signal: %s: %s", type(error).__name__, error)
                return
            if stop:
                with self._lock:
                    if not self._finished:
                        raise_in_thread(self.thread, _Stopped)
                return

    def done(self) -> None:
        with self._lock:
            self._finished = True


class _DaskByName(DaskExecutor):
    """``executor='dask'``: ``make_executor`` passes n_jobs positionally, which
    ``DaskExecutor`` takes as keyword only (its first argument is a client)."""

    def __init__(self, n_jobs: Optional[int] = None):
        super().__init__(n_jobs=n_jobs)


register_executor("dask", _DaskByName)
