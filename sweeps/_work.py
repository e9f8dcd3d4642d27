"""A participant: claims trials from the store, runs their tasks, records the outcomes.

The driver, each of its worker processes and every ``sweeps worker`` run ``participate`` on the
same ``Job``; they share nothing but the store. A participant:

1. claims the next WAITING trial (a grid point), or, in a search with trials left to run, asks
   the sampler for a new one;
2. builds the task as ``create_task(**params)`` and runs it as ``task.run(data, seed=...,
   on_epoch=...)`` when the task takes those keywords (the task contract, ``_spec.Task``), else
   ``task.run(data)``; ``on_epoch`` reports the metric per epoch and asks the pruner;
3. finishes the trial COMPLETE, FAIL or PRUNED with the history, metrics, seed and seconds;
4. repeats until nothing is left, putting back trials whose participants died on the way.
"""
from __future__ import annotations

import contextlib
import dataclasses
import difflib
import hashlib
import importlib.util
import inspect
import logging
import math
import numbers
import pickle
import random
import signal
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from typing import Any, Callable, Optional

from ._codec import decode, encode
from ._errors import SweepsTypeError, UnknownMetricError
from ._spec import COMPLETE, FAILED, PRUNED, TIMED_OUT, TaskResult
from ._store import Store, intermediate_values, trial_value, user_attrs
from ._trials import (
    KEY,
    LEASE,
    LEASE_SECONDS,
    claim,
    ended,
    index,
    params_key,
    put_back,
    release_stale,
    renew,
    this_participant,
)

logger = logging.getLogger(__name__)

# Per-process cache of a sweep's data, keyed by a token new for every sweep call: a worker
# unpickles the data of a sweep once and reuses it for every task it runs.
_DATA_CACHE: dict[str, Any] = {}


# ----------------------------------------------------------------------------- seeds


def derive_seed(sweep_seed: Optional[int], name: str) -> Optional[int]:
    """The seed of task ``name``: the same in every process and Python run; fits 32 bits."""
    if sweep_seed is None:
        return None
    digest = hashlib.sha256(f"{sweep_seed}/{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def seed_everything(seed: int) -> None:
    """Seed ``random``, numpy and torch (imported here when installed: a task that imports it
    later, inside ``create_task``, would otherwise draw unseeded weights)."""
    import numpy

    random.seed(seed)
    numpy.random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is None and importlib.util.find_spec("torch") is not None:
        import torch
    if torch is not None:
        if torch.cuda.is_available():
            torch.manual_seed(seed)  # every device's generator
        else:
            # the CPU's alone: torch.manual_seed also queues a lazy seed, with a formatted stack,
            # for each accelerator it might meet later (half a millisecond, and memory, per task)
            torch.random.default_generator.manual_seed(seed)


# ----------------------------------------------------------------------------- data


class InMemoryData:
    """Data handed over as is, to a participant in the driver's own process."""

    def __init__(self, data: Any):
        self.data = data

    def load(self) -> Any:
        return self.data

    def __repr__(self) -> str:
        return f"InMemoryData({type(self.data).__name__})"


class PickledData:
    """Data pickled once by the driver; it travels with the job to each worker, which
    unpickles it once. No file is written, so nothing is left behind whatever happens."""

    def __init__(self, payload: bytes, token: str):
        self.payload = payload
        self.token = token

    def load(self) -> Any:
        if self.token not in _DATA_CACHE:
            _DATA_CACHE.clear()  # a reused worker holds only the latest sweep's data
            _DATA_CACHE[self.token] = pickle.loads(self.payload)
        return _DATA_CACHE[self.token]

    def __repr__(self) -> str:
        return f"PickledData({len(self.payload)} bytes)"


# ----------------------------------------------------------------------------- one task


class TaskTimeout(BaseException):
    """Raised inside a task that ran past ``task_timeout`` (a BaseException, so that a task's
    own ``except Exception`` does not swallow it)."""


@contextlib.contextmanager
def _time_limit(seconds: Optional[float]) -> Any:
    """Raise TaskTimeout in this thread after ``seconds``.

    In the main thread of a process (a worker process, a sequential sweep) SIGALRM raises it,
    even inside a long sleep. In another thread (a Dask worker's, a driver's background
    participant) a timer raises it at the thread's next Python step: a task stuck inside one C
    call is then stopped by the driver, which restarts its worker.
    """
    if seconds is None:
        yield
        return
    if threading.current_thread() is not threading.main_thread() or not hasattr(
            signal, "setitimer"):
        with _thread_time_limit(seconds):
            yield
        return

    def expire(signum: int, frame: Any) -> None:
        if _importing(frame):  # stopping an import half-way would break the module for good
            signal.setitimer(signal.ITIMER_REAL, 0.1)
            return
        raise TaskTimeout()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _thread_time_limit(seconds: float) -> Any:
    """TaskTimeout raised in this thread by another after ``seconds``, at this thread's next
    Python step (the way ``_Watcher`` stops a Dask participant)."""
    from ._executors import raise_in_thread

    target = threading.get_ident()
    lock = threading.Lock()
    done = threading.Event()
    state = {"running": True, "raised": False}

    def expire() -> None:
        # raised again every 0.1 s until the block ends: an exception raised while the thread
        # runs a callback (a garbage collector hook, a __del__) is swallowed there
        if done.wait(seconds):
            return
        while True:
            with lock:
                if not state["running"]:
                    return
                if _importing(sys._current_frames().get(target)):
                    pass  # stopping an import half-way would break the module: a moment later
                else:
                    state["raised"] = True
                    raise_in_thread(target, TaskTimeout)
            if done.wait(0.1):
                return

    timer = threading.Thread(target=expire, name="sweeps-task-timeout", daemon=True)
    timer.start()
    try:
        yield
    finally:
        with lock:
            state["running"] = False
            if state["raised"]:  # one not delivered yet is withdrawn
                raise_in_thread(target, None)
        done.set()
        if state["raised"]:
            raise TaskTimeout()


def _importing(frame: Any) -> bool:
    """Whether the thread at ``frame`` is inside an import (importlib's frames on its stack)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def run_spec(create_task: Callable[..., Any], data: Any, name: str, params: dict,
             seed: Optional[int], on_epoch: Optional[Callable] = None,
             timeout: Optional[float] = None, device: Optional[str] = None) -> TaskResult:
    """Build the task and run it on the data; never raises (but KeyboardInterrupt).

    Any exception becomes a FAILED ``TaskResult`` carrying the traceback text, so one failing
    combination never loses the others. ``extra['stopped_early']`` tells that ``on_epoch``
    stopped the run; ``extra['hooked']`` that the task took ``on_epoch`` at all.
    """
    start = time.perf_counter()
    try:
        with _time_limit(timeout):
            return _run_spec(create_task, data, name, params, seed, on_epoch, start, device)
    except TaskTimeout:
        return TaskResult(name, params, seed, TIMED_OUT, seconds=time.perf_counter() - start,
                          error=timeout_message(timeout))


def timeout_message(timeout: Optional[float]) -> str:
    return (f"the task ran longer than task_timeout={timeout!r} s and was stopped; raise "
            "task_timeout= (--task-timeout) if it needs longer")


def _run_spec(create_task: Callable[..., Any], data: Any, name: str, params: dict,
              seed: Optional[int], on_epoch: Optional[Callable], start: float,
              slot_device: Optional[str] = None) -> TaskResult:
    device, extra = None, {}
    try:
        if seed is not None:
            seed_everything(seed)
        task = create_task(**params)
        if not callable(getattr(task, "run", None)):
            raise SweepsTypeError(
                f"create_task(**{params!r:.200}) returned {task!r:.100}, which has no run(data) "
                "method; create_task must build and return the task (did it forget `return`?)")
        kwargs = _contract_kwargs(task, seed, on_epoch, slot_device)
        extra["hooked"] = "on_epoch" in kwargs
        output = task.run(data, **kwargs)
        history, metrics = _read_result(output)
        if isinstance(output.get("output"), dict) and output["output"].get("stopped_early"):
            extra["stopped_early"] = True
        device = getattr(getattr(task, "model_handler", None), "device", None) or slot_device or (
            getattr(getattr(task, "settings", None), "device", None))
    except (Exception, SystemExit) as error:  # sys.exit() in a task fails that task only
        # a run that failed part way may say how far it got (TrainingDivergedError.history)
        history = getattr(error, "history", None)
        return TaskResult(name, params, seed, FAILED, error=traceback.format_exc(),
                          history=[dict(row) for row in history if isinstance(row, Mapping)]
                          if isinstance(history, (list, tuple)) else [],
                          seconds=time.perf_counter() - start, extra=extra)
    return TaskResult(name, params, seed, COMPLETE, history=history, metrics=metrics,
                      seconds=time.perf_counter() - start,
                      device=None if device is None else str(device), extra=extra)


def _contract_kwargs(task: Any, seed: Optional[int], on_epoch: Optional[Callable],
                     device: Optional[str] = None) -> dict:
    """The keywords of the task contract that this task's ``run`` takes.

    A task whose ``run`` takes ``seed=`` gets its seed handed over; an older task that keeps
    ``settings.seed = None`` gets it set there, as before the contract existed.
    """
    try:
        parameters = inspect.signature(task.run).parameters
    except (TypeError, ValueError, AttributeError):
        parameters = {}
    takes_any = any(p.kind == p.VAR_KEYWORD for p in parameters.values())
    kwargs = {}
    if seed is not None:
        if "seed" in parameters or takes_any:
            kwargs["seed"] = seed
        else:
            settings = getattr(task, "settings", None)
            if settings is not None and getattr(settings, "seed", 0) is None:
                settings.seed = seed
    if on_epoch is not None and ("on_epoch" in parameters or takes_any):
        kwargs["on_epoch"] = on_epoch
    if device is not None:
        if "device" in parameters or takes_any:
            kwargs["device"] = device
        else:  # an older task: its settings, where it has them
            settings = getattr(task, "settings", None)
            if settings is not None and hasattr(settings, "device"):
                settings.device = device
    return kwargs


def _read_result(result: Any) -> tuple[list, dict]:
    """(history, metrics) from what ``task.run`` returned, checked here, in the worker: anything
    malformed fails this task with what was expected, and never reaches the store."""
    expected = ("expected a dict like {'metrics': {...}, 'runs': {}, 'output': {'history': "
                "[{...one dict per epoch: metric name -> number...}]}}")
    if not isinstance(result, Mapping) or not isinstance(result.get("output"), Mapping):
        raise SweepsTypeError(f"task.run(data) returned {result!r:.200}; {expected}")
    history, metrics = result["output"].get("history"), result.get("metrics", {})
    if not isinstance(history, (list, tuple)):
        raise SweepsTypeError(
            f"task.run(data) returned a history of type {type(history).__name__} "
            f"({history!r:.100}); {expected}")
    if not isinstance(metrics, Mapping):
        raise SweepsTypeError(f"task.run(data) returned metrics={metrics!r:.100}; {expected}")
    for position, row in enumerate(history):
        if not isinstance(row, Mapping):
            raise SweepsTypeError(
                f"task.run(data) returned a history whose row {position} is {row!r:.100} "
                f"({type(row).__name__}), not a dict; {expected}")
        _check_values(row, f"history row {position}")
    _check_values(metrics, "metrics")
    return [dict(row) for row in history], dict(metrics)


def _check_values(row: Mapping, where: str) -> None:
    for key, value in row.items():
        if not isinstance(key, str):
            raise SweepsTypeError(f"{where} has the key {key!r} ({type(key).__name__}); metric "
                                  "names must be str")
        if isinstance(value, numbers.Number) and not isinstance(value, (bool, complex)):
            try:
                float(value)
            except (OverflowError, TypeError, ValueError):
                raise SweepsTypeError(
                    f"{where}: {key}={value!r:.60} does not fit a float; report metrics as "
                    "floats (float(value))") from None


# ----------------------------------------------------------------------------- the job


@dataclasses.dataclass
class Job:
    """Everything a participant needs to work on one sweep; it pickles (the data as bytes)."""

    sweep: str
    store: Store
    create_task: Callable[..., Any]
    data: Any  # InMemoryData or PickledData
    seed: Optional[int]
    search: Any = None  # a SearchPlan for a search, None for a grid
    task_timeout: Optional[float] = None
    devices: Optional[list] = None  # the device of each participant slot

    def __repr__(self) -> str:
        kind = "search" if self.search is not None else "grid"
        return f"Job({self.sweep!r}, {kind}, {self.store!r}, {self.data!r})"


@dataclasses.dataclass
class SearchPlan:
    """What a search adds to a job: the space, the trial budget, sampler and pruner."""

    space: Any  # _space.Space
    n_trials: int
    sampler: Any = "tpe"
    pruner: Any = None
    namer: Any = None  # an Autonamer


class Participate:
    """``participate(job, slot)`` as a picklable callable: what an executor maps over slots."""

    def __init__(self, job: Job):
        self.job = job

    def __call__(self, slot: int) -> int:
        return participate(self.job, slot)

    def __repr__(self) -> str:
        return f"Participate({self.job!r})"


def participate(job: Job, slot: int = 0, on_result: Optional[Callable] = None,
                should_stop: Optional[Callable[[], bool]] = None) -> int:
    """Work the queue of ``job.sweep`` until nothing is left for this participant; return the
    number of trials it ran. ``on_result(result)`` is called after each (the driver's progress
    bar); ``slot`` tells participants apart (a search seeds each one's sampler differently)."""
    worker = _Participant(job, slot)
    ran = 0
    try:
        while not (should_stop and should_stop()):
            trial = worker.next_trial()
            if trial is None:
                break
            result = worker.run(trial)
            ran += 1
            if on_result is not None:
                on_result(result)
    finally:
        worker.heartbeat.stop()
        ended(worker.me)
    return ran


class _Participant:
    def __init__(self, job: Job, slot: int):
        self.job = job
        self.slot = slot
        self.store = job.store
        self.storage = job.store.optuna_storage()
        self.study_id = job.store.study_id(job.sweep)
        if self.study_id is None:
            raise job.store.unknown(job.sweep)
        self.me = this_participant()
        devices = job.devices
        self.device = devices[slot % len(devices)] if devices else None
        self.heartbeat = _Heartbeat(self.storage, self.me)
        self._study = None
        self._objective: Optional[tuple] = None
        self._data = None
        self._warned = False

    def study(self) -> Any:
        """The Optuna study with this participant's sampler and pruner (searches, pruning)."""
        if self._study is None:
            import optuna

            from ._space import make_pruner, make_sampler

            plan = self.job.search
            # a resumed search must not replay the points its seed gave the first time
            offset = len(self.storage.get_all_trials(self.study_id, deepcopy=False))
            sampler = (make_sampler(plan.sampler, plan.space, self.job.seed, self.slot, offset)
                       if plan is not None else None)
            pruner = make_pruner(plan.pruner if plan is not None else None)
            self._study = optuna.load_study(study_name=self.job.sweep, storage=self.storage,
                                            sampler=sampler, pruner=pruner)
        return self._study

    # ------------------------------------------------------------------------- claiming
    def next_trial(self) -> Optional[Any]:
        for _ in range(2):
            with self.store.claim_lock(self.job.sweep), self.store.relaxed():
                trial = claim(self.storage, self.study_id, self.me)
            if trial is not None:
                return trial
            if self.job.search is not None:
                trial = self._ask()
                if trial is not None:
                    return trial
            with self.store.lock(self.job.sweep):
                release_stale(self.storage, self.study_id)
        return None

    def _ask(self) -> Optional[Any]:
        """A new trial from the sampler, while the search has fewer than n_trials."""
        import optuna

        plan = self.job.search
        study = self.study()
        with self.store.lock(self.job.sweep):
            if len(self.storage.get_all_trials(self.study_id, deepcopy=False)) >= plan.n_trials:
                return None
            verbosity = optuna.logging.get_verbosity()
            optuna.logging.set_verbosity(optuna.logging.WARNING)
            try:
                trial = study.ask()
            finally:
                optuna.logging.set_verbosity(verbosity)
            renew(self.storage, trial._trial_id, self.me, 1)
        params = plan.space.suggest(trial)
        key = params_key(params)
        with self.store.lock(self.job.sweep):
            entries = index(self.storage, self.study_id)
            taken = {e.name: e.key for e in entries if e.name}
            name = plan.namer.name(params)
            if name in taken:
                from ._autonamer import _capped

                if taken[name] != key:  # other params, the same name at 3 digits: -v2, -v3, ...
                    base, variant = name, 2
                    name = _capped(base, f"-v{variant}")
                    while name in taken and taken[name] != key:
                        variant += 1
                        name = _capped(base, f"-v{variant}")
                repeat = 2
                base = name
                while name in taken:  # the sampler proposed these params again: a replicate
                    name = _capped(base, f"-r{repeat}")
                    repeat += 1
            self.storage.set_trial_user_attr(trial._trial_id, "name", name)
            self.storage.set_trial_user_attr(trial._trial_id, "params", encode(params))
            self.storage.set_trial_system_attr(trial._trial_id, KEY, key)
        return self.storage.get_trial(trial._trial_id)

    def objective(self) -> tuple:
        """(metric, mode) of the sweep; read from the store until it is fixed, then kept."""
        if self._objective is None:
            metric, mode = self.store.objective(self.job.sweep)
            if metric is None:
                return metric, mode
            self._objective = (metric, mode)
        return self._objective

    # ------------------------------------------------------------------------- running
    def data(self) -> Any:
        if self._data is None:
            self._data = self.job.data.load()
        return self._data

    def run(self, trial: Any) -> TaskResult:
        """Run one claimed trial and finish it; a KeyboardInterrupt puts it back."""
        name = trial.user_attrs.get("name") or f"trial_{trial.number}"
        params = decode(trial.user_attrs.get("params")) or {}
        seed = derive_seed(self.job.seed, name)
        metric, mode = self.objective()
        reporter = _Reporter(self, trial, metric)
        self.heartbeat.hold(trial._trial_id, (trial.system_attrs.get(LEASE) or {}).get("attempts", 1))
        try:
            data = self.data()
            result = run_spec(self.job.create_task, data, name, params, seed,
                              on_epoch=reporter if reporter.active else None,
                              timeout=self.job.task_timeout, device=self.device)
        except BaseException:
            self.heartbeat.release()
            put_back(self.storage, trial._trial_id)
            raise
        self.heartbeat.release()
        self._warn_if_unhooked(result, reporter)
        result.extra.update({k: v for k, v in decode(trial.user_attrs.get("extra") or {}).items()
                             if k not in result.extra})
        self.finish(trial, result, reporter)
        return result

    def _warn_if_unhooked(self, result: TaskResult, reporter: "_Reporter") -> None:
        if reporter.pruning and not result.extra.get("hooked") and not self._warned:
            self._warned = True
            logger.warning(
                "pruner=%r is ignored for sweep %r: its tasks' run() takes no on_epoch= hook, "
                "so they cannot report per-epoch values (sweeps_core tasks can); the trials run "
                "to the end", self.job.search.pruner, self.job.sweep)

    def finish(self, trial: Any, result: TaskResult, reporter: "_Reporter") -> None:
        import optuna

        from ._trials import finish

        if result.ok and result.extra.pop("stopped_early", False) and reporter.pruned:
            result.status = PRUNED
        result.extra.pop("hooked", None)
        metric, mode = self.objective()
        if metric is None and result.ok:
            metric, mode = self.store.fix_metric(self.job.sweep, result)
        if result.ok and metric is not None and not _reports(result, metric):
            # a typo in metric= must stop the sweep now, not rank every task at -inf
            put_back(self.storage, trial._trial_id)
            self.store.forget_metric(self.job.sweep)
            from ._objective import metric_keys

            available = metric_keys(result)
            close = difflib.get_close_matches(metric, available, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownMetricError(
                f"metric={metric!r} is not in the history of task {result.name!r} of sweep "
                f"{self.job.sweep!r}.{hint} Its metrics are {available!r}; run again with one of "
                "them (nothing was recorded with the wrong metric)")
        state = {COMPLETE: "COMPLETE", PRUNED: "PRUNED"}.get(result.status, "FAIL")  # timed out too
        value = trial_value(result, metric, mode) if state == "COMPLETE" else None
        values = intermediate_values(result, metric) if metric else {}
        unreported = {k: v for k, v in values.items() if k not in reporter.reported}
        try:
            with self.store.batched():
                finish(self.storage, trial._trial_id, user_attrs(result), state, value,
                       unreported)
        except optuna.exceptions.UpdateFinishedTrialError:
            # only when a lease was taken from a participant that was alive but silent for
            # longer than the lease (a frozen machine): the other run's record stands
            logger.warning("task %r was finished by another participant meanwhile; this run's "
                           "result is not recorded", result.name)


def _reports(result: TaskResult, metric: str) -> bool:
    return metric in result.metrics or any(metric in row for row in result.history)


class _Reporter:
    """The per-epoch hook: reports the metric to Optuna and asks the pruner whether to stop."""

    def __init__(self, participant: _Participant, trial: Any, metric: Optional[str]):
        plan = participant.job.search
        self.pruning = plan is not None and plan.pruner is not None
        self.active = self.pruning and metric is not None
        self.metric = metric
        self.reported: set = set()
        self.pruned = False
        self.participant = participant
        self.trial = trial
        self._optuna_trial = None

    def __call__(self, epoch: int, row: dict) -> bool:
        import optuna

        if self._optuna_trial is None:
            self._optuna_trial = optuna.trial.Trial(self.participant.study(), self.trial._trial_id)
        try:
            value = float(row.get(self.metric))
        except (TypeError, ValueError):
            return False
        if not math.isfinite(value):
            return False
        step = int(row.get("iteration", epoch))
        self._optuna_trial.report(value, step)
        self.reported.add(step)
        if self._optuna_trial.should_prune():
            self.pruned = True
            return True
        return False

    def __repr__(self) -> str:
        return f"_Reporter(metric={self.metric!r})"


class _Heartbeat:
    """Renews the lease of the trial a participant runs, so that participants on other hosts
    know the runner is alive (on this host they ask the operating system). One thread per
    participant, asleep between beats."""

    def __init__(self, storage: Any, participant: dict):
        self.storage, self.participant = storage, participant
        self._held: Optional[tuple] = None
        self._wake = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def hold(self, trial_id: int, attempts: int) -> None:
        self._held = (trial_id, attempts)
        if self._thread is None:
            self._thread = threading.Thread(target=self._beat, name="sweeps-heartbeat",
                                            daemon=True)
            self._thread.start()

    def release(self) -> None:
        self._held = None

    def stop(self) -> None:
        self._held = None
        self._wake.set()

    def _beat(self) -> None:
        while not self._wake.wait(LEASE_SECONDS / 4):
            held = self._held
            if held is None:
                continue
            try:
                renew(self.storage, held[0], self.participant, held[1])
            except Exception as error:  # the next beat may succeed; the task goes on
                logger.debug("heartbeat of trial %s failed: %s", held[0], error)
