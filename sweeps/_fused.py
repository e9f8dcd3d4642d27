"""``executor='fused'``: claim a batch of trials, train the ones that fit together as one program.

The driver calls ``FusedExecutor.participate(job, on_result)``, which works the queue in this
process: it claims up to ``batch_size`` trials, builds their tasks, prepares them, groups those
with the same network shapes, data, epochs, batching and loss (``sweeps_core``'s fused training),
trains each group at once, runs every other task on the normal path (one log line per reason),
and finishes each trial with its own ``TaskResult``: name, history, metrics, seed, pruning and
resume work as with any executor.

    >>> sweep(create_task, grid, data=load_bundle, executor="fused")        # doctest: +SKIP
    >>> sweep(create_task, grid, data=load_bundle,
    ...       executor=FusedExecutor(fallback=True, group_size=1024))       # doctest: +SKIP
"""
from __future__ import annotations

import collections
import logging
import threading
import time
import traceback
from typing import Any, Callable, Iterator, Optional

from ._codec import decode
from ._errors import SweepsTypeError, SweepsValueError
from ._executors import Executor, register_executor
from ._spec import COMPLETE, FAILED, TaskResult
from ._trials import LEASE, LEASE_SECONDS, ended, put_back, renew
from ._work import _Participant, _read_result, _Reporter, derive_seed, seed_everything

logger = logging.getLogger(__name__)


class FusedExecutor(Executor):
    """Trains same-shape ``sweeps_core`` tasks of a sweep together, in this process.

    Tasks fuse when their networks are made of ``InputConversionNetwork``, ``Perceptron`` /
    ``Linear`` and sigmoid, ReLU or tanh (``Factories.FullyConnected`` networks), they train
    with SGD, Adam or AdamW and an MSE, L1, BCE or cross-entropy loss, and they share the data,
    epoch count and batching; learning rates, momenta, betas, weight decay and seeds may differ.
    Each fused task's history equals its unfused history within float32 rounding.

    Args:
        n_jobs: None or 1 (one process trains every group).
        batch_size: trials claimed from the queue at once; groups form inside a batch.
        group_size: tasks trained at once in one group; None sizes groups to half the device's
            free memory.
        fallback: when no task of the sweep is a ``sweeps_core`` torch task, run them all on the
            normal path with a warning instead of raising.
    """

    in_process = True

    def __init__(self, n_jobs: Optional[int] = None, *, batch_size: int = 4096,
                 group_size: Optional[int] = None, fallback: bool = False):
        super().__init__(n_jobs)
        problems = []
        if self.n_jobs not in (None, 1):
            problems.append(f"n_jobs={n_jobs!r} does not fit executor='fused', which trains every group "
                            "in this process; leave n_jobs out")
        for name, value in (("batch_size", batch_size), ("group_size", group_size)):
            if value is None and name == "group_size":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"{name}={value!r} must be a positive int"
                                + (" or None (sized to the device's memory)" if name == "group_size" else ""))
        if problems:
            raise SweepsValueError("; ".join(problems))
        self.batch_size, self.group_size, self.fallback = batch_size, group_size, bool(fallback)

    def map(self, fn: Callable[[Any], Any], items: list) -> Iterator[Any]:
        """As the sequential executor: a driver that does not call ``participate`` still works."""
        for item in items:
            yield fn(item)

    def participate(self, job: Any, on_result: Optional[Callable] = None) -> int:
        """Work the queue of ``job`` in batches until nothing is left; the number of trials run."""
        worker = _Participant(job, 0)
        ran, first = 0, True
        try:
            while True:
                trials = []
                while len(trials) < self.batch_size:
                    trial = worker.next_trial()
                    if trial is None:
                        break
                    trials.append(trial)
                if not trials:
                    return ran
                ran += _Batch(self, worker, trials, check=first).run(on_result)
                first = False
        finally:
            worker.heartbeat.stop()
            ended(worker.me)  # its leases die with it: the driver puts back what it held

    def __repr__(self) -> str:
        return (f"FusedExecutor(batch_size={self.batch_size!r}, group_size={self.group_size!r}, "
                f"fallback={self.fallback!r})")


class _Entry:
    """One claimed trial on its way through a batch."""

    def __init__(self, worker: _Participant, trial: Any, metric: Optional[str]):
        self.trial = trial
        self.name = trial.user_attrs.get("name") or f"trial_{trial.number}"
        self.params = decode(trial.user_attrs.get("params")) or {}
        self.seed = derive_seed(worker.job.seed, self.name)
        self.reporter = _Reporter(worker, trial, metric)
        self.member = None
        self.why = None  # why the task cannot fuse
        self.result: Optional[TaskResult] = None
        self.seconds = 0.0
        self.attempts = (trial.system_attrs.get(LEASE) or {}).get("attempts", 1)


class _Batch:
    def __init__(self, executor: FusedExecutor, worker: _Participant, trials: list, check: bool):
        self.executor, self.worker, self.check = executor, worker, check
        metric, _ = worker.store.objective(worker.job.sweep)
        self.entries = [_Entry(worker, trial, metric) for trial in trials]

    def run(self, on_result: Optional[Callable]) -> int:
        beat = _Heartbeat(self.worker.storage, [(e.trial._trial_id, e.attempts) for e in self.entries],
                          self.worker.me)
        try:
            alone = self._prepare()
            self._train()
        except BaseException:  # nothing is recorded yet: every trial goes back to the queue
            beat.stop()
            self._put_back(self.entries)
            raise
        beat.stop()
        fused = [e for e in self.entries if e.result is not None]
        self._finish(fused)  # every result is recorded before anything can raise
        remaining = list(alone)
        try:
            for entry in fused:
                if on_result is not None:
                    on_result(entry.result)
            while remaining:
                entry = remaining.pop(0)
                result = self.worker.run(entry.trial)  # finishes the trial, or puts it back
                if on_result is not None:
                    on_result(result)
        except BaseException:
            self._put_back(remaining)
            raise
        return len(self.entries)

    # ------------------------------------------------------------------------- steps
    def _prepare(self) -> list:
        """Build and prepare every task; the entries that run alone, one log line per reason."""
        from sweeps_core._fused import NotATorchTask, NotFusible, prepare

        data, cache = self.worker.data(), {}
        reasons: dict = collections.defaultdict(list)
        for entry in self.entries:
            start = time.perf_counter()
            try:
                if entry.seed is not None:
                    seed_everything(entry.seed)
                task = self.worker.job.create_task(**entry.params)
                entry.member = prepare(task, data, seed=entry.seed, cache=cache)
            except NotFusible as reason:
                entry.why = reason
                reasons[str(reason)].append(entry)
            except (Exception, SystemExit):  # the unfused run fails the same way
                entry.result = TaskResult(entry.name, entry.params, entry.seed, FAILED,
                                          error=traceback.format_exc(),
                                          seconds=time.perf_counter() - start)
            entry.seconds = time.perf_counter() - start
        alone = [e for entries in reasons.values() for e in entries]
        foreign = {reason: entries for reason, entries in reasons.items()
                   if isinstance(entries[0].why, NotATorchTask)}
        if self.check and foreign and not any(e.member is not None for e in self.entries):
            self._refuse(foreign)
        for reason, entries in reasons.items():
            names = ", ".join(repr(e.name) for e in entries[:3]) + (" ..." if len(entries) > 3 else "")
            logger.warning("%d task(s) run unfused (%s): %s", len(entries), names, reason)
        return alone

    def _refuse(self, reasons: dict) -> None:
        reason, entries = next(iter(reasons.items()))
        if self.executor.fallback:
            logger.warning("executor='fused': no task of sweep %r can fuse (%s); they run one by one",
                           self.worker.job.sweep, reason)
            return
        raise SweepsTypeError(
            f"executor='fused' cannot fuse the tasks of sweep {self.worker.job.sweep!r}: task "
            f"{entries[0].name!r}: {reason}. Fused tasks are sweeps_core torch tasks whose networks are "
            "Factories.FullyConnected-style (InputConversionNetwork, Perceptron/Linear, sigmoid/relu/tanh) "
            "trained with SGD, Adam or AdamW; use executor='sequential' or 'processes', or "
            "FusedExecutor(fallback=True) to run such tasks one by one")

    def _train(self) -> None:
        from sweeps_core._fused import group, train

        members = [e.member for e in self.entries if e.member is not None]
        by_member = {id(e.member): e for e in self.entries if e.member is not None}
        for members_of_group in group(members):
            entries = [by_member[id(m)] for m in members_of_group]
            hooks = [e.reporter if e.reporter.active else None for e in entries]
            start = time.perf_counter()
            outputs = train(members_of_group, on_epoch=hooks, group_size=self.executor.group_size,
                            result_frames=False)  # a TaskResult keeps history and metrics
            share = (time.perf_counter() - start) / len(entries)
            for entry, output in zip(entries, outputs):
                entry.result = self._result(entry, output, share, len(entries))
                entry.member = None  # the prepared task and its data go as soon as possible

    def _result(self, entry: _Entry, output: Any, share: float, size: int) -> TaskResult:
        seconds = entry.seconds + share  # its preparation and its share of the group's training
        extra = {"hooked": True, "fused": size}
        if isinstance(output, BaseException):  # the error the task's own run() raises
            output = "".join(traceback.format_exception(type(output), output, output.__traceback__))
        if isinstance(output, str):
            return TaskResult(entry.name, entry.params, entry.seed, FAILED, error=output,
                              seconds=seconds, extra=extra)
        history, metrics = _read_result(output)
        if output["output"].get("stopped_early"):
            extra["stopped_early"] = True
        device = getattr(output["output"].get("model"), "device", None)
        return TaskResult(entry.name, entry.params, entry.seed, COMPLETE, history=history,
                          metrics=metrics, seconds=seconds,
                          device=None if device is None else str(device), extra=extra)

    def _finish(self, entries: list) -> None:
        """Record every result, gathered into one write where the store allows it."""
        store, sweep = self.worker.store, self.worker.job.sweep
        for entry in entries:
            stored = decode(entry.trial.user_attrs.get("extra") or {})
            entry.result.extra.update({k: v for k, v in stored.items() if k not in entry.result.extra})
        first = 0
        while first < len(entries) and store.objective(sweep)[0] is None:
            # the first result fixes the sweep's metric, which the next ones read back
            self.worker.finish(entries[first].trial, entries[first].result, entries[first].reporter)
            first += 1
        with store.batched():
            for entry in entries[first:]:
                self.worker.finish(entry.trial, entry.result, entry.reporter)

    def _put_back(self, entries: list) -> None:
        for entry in entries:
            try:
                put_back(self.worker.storage, entry.trial._trial_id)
            except Exception as error:  # the store itself may be what failed
                logger.debug("could not put back trial %s: %s", entry.trial._trial_id, error)


class _Heartbeat:
    """Renews the leases of a batch's trials while they train (one thread for the batch)."""

    def __init__(self, storage: Any, trials: list, participant: dict):
        self.storage, self.trials, self.participant = storage, trials, participant
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="sweeps-fused-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(LEASE_SECONDS / 4):
            for trial_id, attempts in self.trials:
                if self._stop.is_set():
                    return
                try:
                    renew(self.storage, trial_id, self.participant, attempts)
                except Exception as error:  # the next beat may succeed
                    logger.debug("heartbeat of trial %s failed: %s", trial_id, error)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


register_executor("fused", FusedExecutor)
