"""``sweep`` and ``search``: validate -> begin -> enqueue or sample -> work the queue.

Both share one path. The driver checks every argument before anything runs, begins the sweep in
the store (race-free), enqueues the grid points the store does not hold yet (a search samples
its trials as it goes), and then works the queue with its executor's participants until nothing
is waiting or running. Results are written by whoever ran the task, straight into the store, so
killing any participant never loses a recorded result, and any number of drivers and
``sweeps worker`` processes can share one sweep: each task runs once.
"""
from __future__ import annotations

import contextlib
import dataclasses
import errno
import difflib
import logging
import os
import pickle
import re
import signal
import socket
import sys
import threading
import time
import uuid
from typing import Any, Callable, Optional

from ._autonamer import Autonamer, _capped, _digest
from ._codec import encode
from ._errors import SweepsError, SweepsTypeError, SweepsValueError, TaskFailedError
from ._executors import EXECUTORS, Executor, WorkerCrash, make_executor
from ._objective import check_mode
from ._registry import get_study
from ._results import SweepResult
from ._spec import FAILED, TIMED_OUT, TaskResult
from ._store import Store, function_path
from ._urls import printable
from ._trials import fail_lost, index, params_key, parent_of, release_stale
from ._work import (  # noqa: F401 - derive_seed and seed_everything are public here too
    InMemoryData,
    Job,
    Participate,
    PickledData,
    SearchPlan,
    derive_seed,
    participate,
    run_spec,
    seed_everything,
)

logger = logging.getLogger(__name__)

ON_ERROR = ("record", "raise")
_CANNOT_WRITE = (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT, errno.EPERM)
_SQLITE_CANNOT_WRITE = ("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN")
_SWEEP_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")
_FINISHED = ("COMPLETE", "FAIL", "PRUNED")


class _Unset:
    def __repr__(self) -> str:
        return "<the study's data>"


UNSET: Any = _Unset()


@dataclasses.dataclass
class _Plan:
    """Everything the driver checked before starting: nothing below runs on bad input."""

    name: str
    create_task: Callable[..., Any]
    data: Any
    executor: Executor
    store: Store
    seed: Optional[int]
    on_error: str
    progress: bool
    metric: Optional[str]
    mode: Optional[str]
    meta: dict
    specs: Optional[list] = None  # a grid's points
    search: Optional[SearchPlan] = None
    task_timeout: Optional[float] = None
    devices: Optional[list] = None


# ----------------------------------------------------------------------------- entry points


def sweep(
    task: Any,
    grid: Optional[dict] = None,
    *,
    data: Any = UNSET,
    name: Optional[str] = None,
    store: Any = None,
    executor: Any = "processes",
    n_jobs: Optional[int] = None,
    seed: Optional[int] = 0,
    on_error: str = "record",
    task_timeout: Optional[float] = None,
    devices: Any = None,
    tasks_per_device: int = 1,
    progress: bool = True,
    metric: Optional[str] = None,
    mode: Optional[str] = None,
    direction: Optional[str] = None,
    prefix: Optional[str] = None,
    abbreviations: Optional[dict] = None,
) -> SweepResult:
    """Run every combination of ``grid`` and return all the results of sweep ``name``.

    Each grid point the store does not hold yet is enqueued; the driver's participants (and any
    other driver or ``sweeps worker`` on the same sweep) claim the points one at a time, build
    each task as ``create_task(**params)``, run it as ``task.run(data)`` and record the result
    in the store as soon as it is known. Complete tasks are never run again (failed ones are),
    so calling ``sweep`` again after a crash or Ctrl-C resumes the sweep.

    Args:
        task: a ``create_task`` function, or the name of a registered study (or a study file's
            path), whose grid and data loader are then the defaults.
        grid: argument name -> list of values (lists are ranges, anything else is fixed).
            With a study, it overrides the study's grid key by key.
        data: the data every task runs on: a picklable object, or a zero-argument loader that
            is called once, here; each worker receives the data once. Required unless ``task``
            names a study.
        name: the sweep's name in the store; defaults to the study name or
            ``create_task.__name__``.
        store: a ``Store`` or a store URL; None is ``./runs/sweeps.log``.
        executor: ``'processes'`` (default), ``'sequential'``, another name in ``EXECUTORS``, or
            an ``Executor`` object.
        n_jobs: worker processes; None or -1 means every core, never more than the tasks.
        seed: the sweep seed; each task's seed derives from it and the task's name (None: no
            seeding).
        on_error: ``'record'`` keeps going past a failing task (recorded with its traceback);
            ``'raise'`` stops the sweep and raises ``TaskFailedError``.
        task_timeout: seconds a task may run; a task that runs longer is stopped and recorded
            as timed out, and the sweep goes on (None: no limit). Tasks in worker processes
            and in a sequential sweep's main thread can be stopped; 'fused' groups cannot.
        devices, tasks_per_device: device slots: ``'auto'`` (every GPU, else the CPU),
            ``'cpu'`` or a list such as ``['cuda:0', 'cuda:1']``; each worker owns one slot
            (``tasks_per_device`` slots per device) and its tasks run on that device
            (``run(data, device=...)``) and record it. The CPU alone limits nothing: every
            worker (``n_jobs`` of them) gets it. None: tasks pick their own device.
        progress: show a progress bar on stderr.
        metric, mode: the metric to rank by, and ``'max'`` or ``'min'`` (default: from the
            metric's name; ``direction='maximize'/'minimize'`` is the older spelling).
        prefix, abbreviations: passed to ``Autonamer`` to name the tasks.

    Example:
        >>> result = sweep(create_task, dict(learning_rate=[0.1, 0.3]), data=load_bundle,
        ...                name='iris-lr', n_jobs=2)                          # doctest: +SKIP
        >>> result.leaderboard('accuracy_test')                                # doctest: +SKIP
    """
    problems: list = []
    create_task, grid, data, default_name, problems = _resolve(task, grid, data)
    plan = _common(problems, create_task, data, name if name is not None else _default_name(default_name), store, executor, n_jobs,
                   seed, on_error, progress, metric, mode, direction, task_timeout, devices,
                   tasks_per_device)
    namer = _attempt(problems, Autonamer, create_task, prefix=prefix, abbreviations=abbreviations)
    specs = None if namer is None else _attempt(problems, namer.specs, **grid)
    _check_store(problems, plan)
    plan.store.check_create_task(plan.name, plan.create_task)  # before anything is written
    plan.specs = specs
    plan.meta = {"kind": "grid", "create_task": _describe(create_task), "data": _loader(data),
                 "seed": seed, "grid": grid, "prefix": prefix, "abbreviations": abbreviations}
    return _execute(plan)


def search(
    create_task: Any,
    space: dict,
    *,
    data: Any = UNSET,
    n_trials: int,
    metric: str,
    name: Optional[str] = None,
    store: Any = None,
    sampler: Any = "tpe",
    pruner: Any = None,
    mode: str = "max",
    executor: Any = "processes",
    n_jobs: Optional[int] = None,
    seed: Optional[int] = 0,
    on_error: str = "record",
    task_timeout: Optional[float] = None,
    devices: Any = None,
    tasks_per_device: int = 1,
    progress: bool = True,
    prefix: Optional[str] = None,
    abbreviations: Optional[dict] = None,
) -> SweepResult:
    """Search ``space`` with an Optuna sampler (and pruner) over the same ``create_task``.

    Each trial is named from its params when it is sampled (``Autonamer.name``) and runs like a
    sweep's task: in worker processes (or ``sweeps worker`` processes on other machines), with
    its result and per-epoch values recorded in the store. A search run again under the same
    name continues until the store holds ``n_trials`` trials in total.

    Args:
        create_task: a ``create_task`` function, or the name of a registered study.
        space: argument name -> an Optuna distribution, ``(low, high)``, ``(low, high, 'log')``
            or a list of choices (any values, tuples included). Other arguments keep
            ``create_task``'s defaults.
        data: as in ``sweep``.
        n_trials: how many trials the search holds when it is done, over every run.
        metric: the history key to optimize, e.g. ``'accuracy_test'``; ``mode``: ``'max'`` or
            ``'min'``.
        sampler: ``'tpe'``, ``'random'``, ``'cmaes'``, ``'grid'`` or an Optuna sampler.
        pruner: None, ``'median'``, ``'hyperband'``, ``'successive_halving'`` or an Optuna
            pruner; it stops trials early from their per-epoch values (tasks whose ``run``
            takes ``on_epoch=``, as ``sweeps_core`` tasks do).
        executor, n_jobs, seed, on_error, task_timeout, devices, tasks_per_device, progress,
            prefix, abbreviations: as in ``sweep``.

    Example:
        >>> result = search(create_task, dict(learning_rate=(1e-3, 1.0, 'log'),
        ...                                   algorithm=['Adam', 'SGD']),
        ...                 data=load_bundle, n_trials=30, metric='accuracy_test',
        ...                 pruner='median')                                      # doctest: +SKIP
    """
    from ._space import Space, check_grid_trials, check_pruner, check_sampler

    create_task, _, data, default_name, problems = _resolve(create_task, None, data, grid_given=False)
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        problems.append(SweepsValueError(
            f"n_trials={n_trials!r} must be a positive int: how many trials the search holds "
            "when it is done"))
    if not isinstance(metric, str) or not metric:
        problems.append(SweepsValueError(
            f"metric={metric!r} must name the history key to optimize, e.g. 'accuracy_test'"))
    space_obj = _attempt(problems, Space, space)
    _attempt(problems, check_sampler, sampler)
    _attempt(problems, check_pruner, pruner)
    if space_obj is not None and sampler == "grid":
        grid = _attempt(problems, space_obj.grid)
        if grid is not None:
            _attempt(problems, check_grid_trials, grid, n_trials)
    plan = _common(problems, create_task, data, name if name is not None else _default_name(default_name), store, executor, n_jobs,
                   seed, on_error, progress, metric, mode, None, task_timeout, devices,
                   tasks_per_device)
    namer = _attempt(problems, Autonamer, create_task, prefix=prefix, abbreviations=abbreviations)
    if namer is not None and space_obj is not None:
        _attempt(problems, namer.name, {key: None for key in space_obj.distributions})
    if plan.executor is not None and not plan.executor.in_process:
        problems.extend(_unpicklable("sampler", sampler) if not isinstance(sampler, str) else [])
        problems.extend(_unpicklable("pruner", pruner) if pruner is not None
                        and not isinstance(pruner, str) else [])
    _check_store(problems, plan)
    plan.store.check_create_task(plan.name, plan.create_task)  # before anything is written
    plan.search = SearchPlan(space_obj, n_trials, sampler, pruner, namer)
    plan.meta = {"kind": "search", "create_task": _describe(create_task), "data": _loader(data),
                 "seed": seed, "space": space_obj.to_json(), "n_trials": n_trials,
                 "sampler": sampler if isinstance(sampler, str) else None,
                 "pruner": pruner if isinstance(pruner, str) or pruner is None else None,
                 "prefix": prefix, "abbreviations": abbreviations}
    if pruner is not None and _task_cannot_report(create_task, space_obj):
        plan.search.pruner = None
    return _execute(plan)


def run_task(
    task_or_study: Any,
    name: str,
    *,
    grid: Optional[dict] = None,
    data: Any = UNSET,
    sweep_seed: Optional[int] = 0,
    prefix: Optional[str] = None,
    abbreviations: Optional[dict] = None,
) -> TaskResult:
    """Run again, in this process, the task called ``name`` of a grid; it reproduces the
    history the sweep recorded when given the same grid, data and ``sweep_seed``.

    "The same data" means the same rows: a loader is called again here, so it must give what
    it gave the sweep (the example studies' loaders split with a fixed ``random_state``).

    Example:
        >>> run_task("iris", "NS10-10-LR1-ASGD").metrics                       # doctest: +SKIP
    """
    create_task, grid, data, _, problems = _resolve(task_or_study, grid, data)
    if problems:
        _raise(problems)
    specs = Autonamer(create_task, prefix=prefix, abbreviations=abbreviations).specs(**grid)
    by_name = {spec.name: spec for spec in specs}
    if name not in by_name:
        close = difflib.get_close_matches(str(name), list(by_name), n=3)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise SweepsValueError(
            f"name={name!r} is not a task of this grid{hint} Its {len(specs)} tasks are named "
            f"like {list(by_name)[:3]}; pass the grid (and prefix=) the sweep ran with"
        )
    spec = by_name[name]
    return run_spec(create_task, data() if callable(data) else data, name, spec.params,
                    derive_seed(sweep_seed, name))


# ----------------------------------------------------------------------------- checking


def _common(problems: list, create_task: Any, data: Any, name: Any, store: Any, executor: Any,
            n_jobs: Any, seed: Any, on_error: Any, progress: bool, metric: Any, mode: Any,
            direction: Any, task_timeout: Any = None, devices: Any = None,
            tasks_per_device: Any = 1) -> _Plan:
    """Check what sweep and search share; problems are gathered, not raised."""
    from ._devices import slots as device_slots, worker_limit

    slots = _attempt(problems, device_slots, devices, tasks_per_device)
    limit = worker_limit(slots)  # None for the CPU: every worker shares its slot
    if limit is not None and n_jobs is None and executor == "processes":
        n_jobs = limit
    elif limit is not None and isinstance(n_jobs, int) and n_jobs > limit:
        problems.append(SweepsValueError(
            f"n_jobs={n_jobs!r} workers need {n_jobs} device slots, but devices={devices!r} with "
            f"tasks_per_device={tasks_per_device!r} gives {limit}: raise tasks_per_device, "
            "name more devices, or lower n_jobs"))
    if task_timeout is not None and (isinstance(task_timeout, bool) or not isinstance(
            task_timeout, (int, float)) or not task_timeout > 0 or task_timeout == float("inf")):
        problems.append(SweepsValueError(
            f"task_timeout={task_timeout!r} must be a positive number of seconds, or None for "
            "no limit"))
    if not isinstance(name, str) or not _SWEEP_NAME.fullmatch(name):
        problems.append(SweepsValueError(
            f"name={printable(repr(name))} is not a valid sweep name: use 1 to 64 of the "
            "characters A-Z a-z 0-9 . _ - , not starting with a dot (it names the sweep in the "
            "store and the files of its plots), e.g. name='iris-lr'"))
    if on_error not in ON_ERROR:
        problems.append(SweepsValueError(
            f"on_error={on_error!r} must be one of {list(ON_ERROR)}: 'record' keeps going past "
            "a failing task, 'raise' stops the sweep"))
    if mode is not None and direction is not None:
        problems.append(SweepsValueError(
            f"mode={mode!r} and direction={direction!r} both given: pass mode= alone"))
    mode = _attempt(problems, check_mode, mode if mode is not None else direction,
                    "mode" if mode is not None or direction is None else "direction")
    if metric is not None and (not isinstance(metric, str) or not metric):
        problems.append(SweepsValueError(f"metric={metric!r} must be a history key (a str)"))
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        problems.append(SweepsValueError(f"seed={seed!r} must be an int, or None for no seeding"))
    executor_obj = _attempt(problems, make_executor, executor, n_jobs)
    if task_timeout is not None and type(executor_obj).__name__ == "FusedExecutor":
        problems.append(SweepsValueError(
            f"task_timeout={task_timeout!r} cannot hold with executor='fused', which trains a "
            "group of tasks together in this process, so one task cannot be stopped alone: use "
            "executor='processes' (or 'sequential'), or leave task_timeout out"))
    # Even when n_jobs is wrong, say whether the functions could reach the workers.
    kind = executor_obj or (EXECUTORS.get(executor) if isinstance(executor, str) else None)
    if kind is not None and not kind.in_process and create_task is not None:
        problems.extend(_unpicklable("create_task", create_task))
        if callable(data):
            problems.extend(_unpicklable("data", data))
    store_obj = store if isinstance(store, Store) else _attempt(problems, Store, store)
    if slots is not None and executor_obj is not None and any(d != "cpu" for d in slots):
        executor_obj.start_method = "spawn"  # a forked worker cannot use CUDA
    return _Plan(name, create_task, data, executor_obj, store_obj, seed, on_error, progress,
                 metric, mode, {}, task_timeout=task_timeout, devices=slots)


def _default_name(name: Any) -> Any:
    """A sweep name from create_task's or the study's name: unsafe characters become '_'."""
    if not isinstance(name, str):
        return name
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip(".")[:64] or "sweep"


def _check_store(problems: list, plan: _Plan) -> None:
    """Raise the problems found; with none, open the store and prove it writable (a missing
    driver, a server that is down, a read-only file) before any task runs. Opening creates a
    file store, so it comes last: bad arguments leave nothing behind."""
    if problems:
        _raise(problems)
    plan.store.check()


def _loader(data: Any) -> Optional[str]:
    """The import path of a data loader (for ``sweeps worker``), None for a data object."""
    return _describe(data) if callable(data) and not isinstance(data, type) else None


def _task_cannot_report(create_task: Callable[..., Any], space: Any) -> bool:
    """Warn once, before anything runs, when the task's run() takes no on_epoch hook.

    Builds one task at the space's first point (the lowest value of each range, the first
    choice) to look at its run(); when that is not possible the participants warn instead, at
    their first trial (once in each process).
    """
    import inspect

    try:
        probe = create_task(**space.first_point())
        parameters = inspect.signature(probe.run).parameters
    except Exception:
        return False
    if "on_epoch" not in parameters and not any(p.kind == p.VAR_KEYWORD
                                                for p in parameters.values()):
        logger.warning(
            "the pruner is ignored: %s's tasks have a run() without on_epoch=, so they cannot "
            "report per-epoch values (sweeps_core tasks can); every trial runs to the end",
            _describe(create_task))
        return True
    return False


def _resolve(task: Any, grid: Optional[dict], data: Any, *, grid_given: bool = True) -> tuple:
    """(create_task, grid, data, default sweep name, problems) from a function or a study.

    ``grid_given=False`` (a search: its space gives the arguments) skips the grid's checks."""
    problems: list = []
    if grid is not None and not isinstance(grid, dict):
        problems.append(SweepsValueError(
            f"grid={grid!r} must be a dict from create_task's argument names to lists of values, "
            "e.g. grid=dict(learning_rate=[0.1, 0.3])"))
        grid = None
    if isinstance(task, str):
        study = get_study(task)  # UnknownStudyError: nothing else can be checked without it
        grid = {**study.grid, **(grid or {})}
        data = study.data if data is UNSET else data
        if grid_given:
            problems.extend(_grid_problems(study.create_task, grid, grid))
        return study.create_task, grid, data, study.name, problems
    if not callable(task):
        raise SweepsTypeError(
            f"task={task!r} must be a create_task function (keyword arguments -> a task with "
            "run(data)) or the name of a registered study (see `sweeps list`)")
    if data is UNSET:
        problems.append(SweepsValueError(
            "data= is missing: pass the data the tasks run on, as a picklable object or a "
            "zero-argument loader function (data=None if the tasks need none)"))
    if grid_given and (not problems or grid is not None):  # one problem for a grid not a dict
        problems.extend(_grid_problems(task, dict(grid or {}), given=grid))
    # keys that are not str are reported above; left in, they would break the naming's call
    grid = {key: value for key, value in (grid or {}).items() if isinstance(key, str)}
    return task, grid, data, getattr(task, "__name__", None), problems


def _grid_problems(create_task: Any, grid: dict, given: Any) -> list:
    """Keys that are not names, values that are open files, and create_task's required
    arguments that the grid does not give: each would fail every task, so none runs."""
    import inspect
    import io

    problems: list = []
    bad_keys = [key for key in grid if not isinstance(key, str) or not key.isidentifier()]
    if bad_keys:
        problems.append(SweepsValueError(
            f"grid keys {bad_keys!r} are not argument names: each key of grid= must be a str "
            "naming an argument of create_task, e.g. grid=dict(learning_rate=[0.1, 0.3])"))
    for key, values in grid.items():
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, io.IOBase):
                problems.append(SweepsValueError(
                    f"grid[{key!r}] holds {value!r}, an open file or stream, which is not a value "
                    "a task can be named by or sent to a worker: pass its path (a str) instead "
                    "and open it in create_task"))
    try:
        parameters = inspect.signature(create_task).parameters.values()
    except (TypeError, ValueError):
        return problems
    missing = [p.name for p in parameters if p.default is p.empty
               and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in grid]
    if missing:
        problems.append(SweepsValueError(
            f"grid={given!r} does not give create_task's required "
            f"argument(s) {missing!r}, so "
            f"every task would fail: add them, e.g. grid=dict({missing[0]}=[...])"))
    return problems


def _attempt(problems: list, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except SweepsError as error:
        problems.append(error)
        return None


def _raise(problems: list) -> None:
    if len(problems) == 1:
        raise problems[0]  # unchanged: e.g. the Autonamer's or the Store's own error
    lines = "\n".join("  - " + str(problem).replace("\n", "\n    ") for problem in problems)
    message = f"{len(problems)} problems with the sweep's arguments:\n{lines}"
    raise SweepsValueError(message) from problems[0]


def _unpicklable(argument: str, obj: Any) -> list:
    """A problem when ``obj`` cannot travel to a worker process, else nothing."""
    qualname = getattr(getattr(obj, "func", obj), "__qualname__", "")
    reason = None
    if "<lambda>" in qualname or "<locals>" in qualname:
        reason = "a lambda or a function defined inside another function"
    else:
        try:
            import cloudpickle

            cloudpickle.dumps(obj)
        except Exception as error:  # pickle raises several types; all mean the same here
            reason = f"not picklable ({type(error).__name__}: {error})"
    if reason is None:
        return []
    # A loader runs here, in the driver, but a sweep on processes is kept to pieces that can be
    # named and sent anywhere: the same sweep then runs on any process or cluster executor.
    travels = ("cannot be sent to worker processes" if argument == "create_task" else
               "so a process sweep refuses it (executors that load data on the workers must send it)")
    return [SweepsTypeError(
        f"{argument}={obj!r} is {reason}, {'so it ' if argument == 'create_task' else ''}{travels}; "
        "define it at module level in an importable file, or use functools.partial (or run with "
        "executor='sequential')")]


# ----------------------------------------------------------------------------- the queue


@contextlib.contextmanager
def _store_writes(store: Store) -> Any:
    """A full disk or a store that turned read-only is one clear error naming the store."""
    try:
        yield
    except Exception as error:
        reason = _unwritable(error)
        if reason is None:
            raise
        raise SweepsError(
            f"the store {store.display_url!r} cannot be written ({reason}); "
            "what was recorded before stays readable: free space (or fix its permissions) and "
            "run the same sweep again to go on") from error


def _unwritable(error: Exception) -> Optional[str]:
    """Why the store cannot be written, when ``error`` or its cause says so: an OSError of a
    journal file, or SQLite's code under Optuna's StorageInternalError (which reads 'invalid
    data in the commit, e.g. exceeding max length' for a full disk too); else None."""
    if isinstance(error, TaskFailedError):  # a task's own full disk is that task's failure
        return None
    for cause in (error, error.__cause__):
        if isinstance(cause, OSError) and cause.errno in _CANNOT_WRITE:
            return cause.strerror or str(cause)
        sqlite = getattr(cause, "orig", None)  # sqlalchemy's error wraps sqlite3's
        if str(getattr(sqlite, "sqlite_errorname", "")).startswith(_SQLITE_CANNOT_WRITE):
            return str(sqlite)
    return None


def _execute(plan: _Plan) -> SweepResult:
    """Begin the sweep, enqueue what is missing, work the queue; the result from the store."""
    with _store_writes(plan.store):
        return _execute_writes(plan)


def _execute_writes(plan: _Plan) -> SweepResult:
    store = plan.store
    store.begin(plan.name, metric=plan.metric, mode=plan.mode)
    if plan.specs is not None:
        _enqueue_grid(plan)
    else:
        with store.lock(plan.name):
            store.optuna_storage().set_study_user_attr(store.study_id(plan.name), "meta",
                                                       encode(plan.meta))
    _Driver(plan, _job(plan)).run()
    return store.load(plan.name)


def _job(plan: _Plan) -> Job:
    """What the plan's participants need; the data is shipped when the first one starts."""
    return Job(plan.name, plan.store, plan.create_task, None, plan.seed, search=plan.search,
               task_timeout=plan.task_timeout, devices=plan.devices)


def _execute_plan_as_worker(plan: _Plan) -> SweepResult:
    """Work on a sweep that a driver began (``sweeps worker``): no begin, no enqueue."""
    with _store_writes(plan.store):
        _Driver(plan, _job(plan)).run()
    return plan.store.load(plan.name)


def _enqueue_grid(plan: _Plan) -> None:
    """Enqueue every grid point the store holds no live or finished trial for (under the lock).

    A task is known by its params: a grid that grew can name a recorded task differently
    (1500 is ``L1K`` alone but ``L1500`` beside 1600), and it keeps the name it was recorded
    under. A new point whose name the store gives to other params gets a suffix. A complete task
    whose name the grid now gives to other params, and whose params are in the grid no more,
    means a fixed value changed: refused, since a name must keep its meaning in a sweep.
    """
    store, name = plan.store, plan.name
    with store.lock(name):
        entries = store.entries(name)
        keys = [params_key(spec.params) for spec in plan.specs]
        wanted = set(keys)
        by_key: dict = {}
        for entry in entries:
            best = by_key.get(entry.key)
            if best is None or (entry.state == "COMPLETE" and best.state != "COMPLETE"):
                by_key[entry.key] = entry
        by_name = {entry.name: entry for entry in entries if entry.name}
        specs, changed = [], []
        for spec, key in zip(plan.specs, keys):
            known = by_key.get(key)
            if known is not None and known.name:
                spec = dataclasses.replace(spec, name=known.name)
            else:
                holder = by_name.get(spec.name)
                if holder is not None and holder.key != key:
                    if holder.key in wanted or holder.state != "COMPLETE":
                        spec = dataclasses.replace(
                            spec, name=_capped(spec.name, "-" + _digest(repr(spec.params))))
                    else:
                        changed.append((spec, holder))
            specs.append(spec)
        if changed:
            records = {r.name: r for r in store.records(name)}
            lines = "\n".join(
                f"  - task {s.name!r}: recorded params {getattr(records.get(h.name), 'params', '?')!r}, "
                f"now {s.params!r}" for s, h in changed[:5])
            raise SweepsValueError(
                f"sweep {name!r} already holds complete tasks with the same names but other "
                f"params ({len(changed)} of them):\n{lines}\nA task's name must keep its meaning "
                f"in a sweep: use another sweep name= (e.g. name={name + '-2'!r}) or another store")
        storage = store.optuna_storage()
        storage.set_study_user_attr(store.study_id(name), "meta", encode(plan.meta))
        live = {e.key for e in entries if e.state in ("WAITING", "RUNNING", "COMPLETE", "PRUNED")}
        missing = [(spec.name, spec.params, position)
                   for position, (spec, key) in enumerate(zip(specs, keys)) if key not in live]
        from ._trials import enqueue

        templates = store.templates(name, missing)
        # Optuna's journal reads back the id of each trial it creates: the first one is written
        # on its own, the rest in one append
        enqueue(storage, store.study_id(name), templates[:1])
        with store.batched():
            enqueue(storage, store.study_id(name), templates[1:])
    plan.specs = specs


class _Driver:
    """Works the queue with the plan's executor until nothing is waiting or running."""

    def __init__(self, plan: _Plan, job: Job):
        self.plan, self.job = plan, job
        self.store = plan.store
        self.storage = plan.store.optuna_storage()
        self.study_id = plan.store.study_id(plan.name)
        entries = self.store.entries(plan.name)
        self.seen_failures = {e.trial_id for e in entries if e.state == "FAIL"}
        self.baseline = sum(e.state in _FINISHED for e in entries)
        if plan.search is not None:
            total = max(plan.search.n_trials - len(entries), 0) + sum(
                e.state in ("WAITING", "RUNNING") for e in entries)
        else:
            total = sum(e.state in ("WAITING", "RUNNING") for e in entries)
        self.bar = _progress_bar_class()(
            total=total, desc=plan.name, unit="task", file=sys.stderr, disable=not plan.progress,
            mininterval=0.5, dynamic_ncols=True)
        self.done = self.failed = self.timed_out = 0
        self.background: Optional[_Background] = None
        self.idle_crashes = 0  # participants that died holding no trial, since the last result
        self.overdue: set = set()  # pids of workers stopped for running past task_timeout
        self.shown = 0.0  # when in-process results last refreshed the progress bar

    def run(self) -> None:
        try:
            while True:
                entries = self.store.entries(self.plan.name)
                self._progress(entries)
                if self.background is not None:
                    self._stop_overdue(entries)
                    self._collect()
                if self.background is not None and self._all_done(entries):
                    # Workers still starting up would find nothing left: stop them rather
                    # than wait. With nothing waiting they hold no trial and write nothing.
                    self.plan.executor.cancel()
                    self.background.join()
                    self.background = None
                    break
                if self.background is None:
                    if self._work_left(entries):
                        self._participate()
                        continue
                    if not any(e.state == "RUNNING" for e in entries):
                        break
                    with self.store.lock(self.plan.name):
                        for lost in release_stale(self.storage, self.study_id):
                            logger.warning("task %r failed: its participant died %d times",
                                           lost.name, lost.attempts)
                if self.background is not None:
                    self.background.wait(0.1)  # wakes at once when the participants are done
                else:
                    time.sleep(0.25)
        except BaseException as error:
            self._stop()
            if isinstance(error, KeyboardInterrupt):
                logger.warning("sweep %r interrupted: %d results recorded in this run; run it "
                               "again to run the rest", self.plan.name, self.done)
            raise
        finally:
            self.bar.close()
        if self.failed or self.timed_out:
            logger.warning("sweep %r: %s; %s in result.failed", self.plan.name,
                           self._lost_summary(),
                           "their tracebacks are" if self.failed else "they are listed")

    def _lost_summary(self) -> str:
        """'1 of 4 tasks failed, 2 timed out (task_timeout=1s)': timed-out tasks did not fail."""
        parts = [f"{self.failed} of {self.done} tasks failed"] if self.failed else []
        if self.timed_out:
            of = "" if parts else f" of {self.done} tasks"
            parts.append(f"{self.timed_out}{of} timed out "
                         f"(task_timeout={self.plan.task_timeout:g}s)")
        return ", ".join(parts)

    def _all_done(self, entries: list) -> bool:
        return not self._work_left(entries) and not any(e.state == "RUNNING" for e in entries)

    def _work_left(self, entries: list) -> bool:
        if any(e.state == "WAITING" for e in entries):
            return True
        search = self.plan.search
        return search is not None and len(entries) < search.n_trials

    def _data(self) -> Any:
        """Ship the data the first time a participant needs it (a loader runs once, here)."""
        if self.job.data is None:
            self._raw_data = self.plan.data() if callable(self.plan.data) else self.plan.data
            self.job.data = _ship(self._raw_data, self.plan.executor)
        return self.job.data

    def _participate(self) -> None:
        prestart = getattr(self.plan.executor, "prestart", None)
        work = None
        if prestart is not None and self.job.data is None:
            work = max(self._work(), 1)
            prestart(work)  # workers warm up while the data loads
        self._data()
        executor = self.plan.executor
        own = getattr(executor, "participate", None)
        if own is not None:  # an executor that works the queue its own way (fused groups)
            own(self.job, self._on_result)
            return
        if executor.in_process:
            participate(self.job, 0, on_result=self._on_result)
            return
        slots = list(range(executor.workers_for(work or max(self._work(), 1))))
        background = _Background(executor, Participate(self.job), slots)
        self.background = background  # before it starts: a Ctrl-C from here on stops it
        background.start()

    def _work(self) -> int:
        entries = self.store.entries(self.plan.name)
        work = sum(e.state == "WAITING" for e in entries)
        if self.plan.search is not None:
            work += max(self.plan.search.n_trials - len(entries), 0)
        return work

    def _on_result(self, result: TaskResult) -> None:
        """In-process participants report here as each trial finishes."""
        now = time.monotonic()
        if self.plan.progress and now - self.shown > 0.5:  # the index read, not every trial
            self.shown = now
            self._progress(self.store.entries(self.plan.name))
        if not result.ok and self.plan.on_error == "raise" and result.status == FAILED:
            raise TaskFailedError(result.name, _failure_message(result)) from (
                RemoteTraceback(result.error))

    def _progress(self, entries: list) -> None:
        finished = sum(e.state in _FINISHED for e in entries) - self.baseline
        failures = [e for e in entries if e.state == "FAIL" and e.trial_id not in self.seen_failures]
        if finished > self.done:
            self.bar.update(finished - self.done)
            self.done = finished
        for entry in failures:
            self.seen_failures.add(entry.trial_id)
            result = self.store.result(entry.trial_id)
            if result.status == TIMED_OUT:
                self.timed_out += 1
            else:
                self.failed += 1
            self.bar.set_postfix(refresh=False, **{
                key: count for key, count in (("failed", self.failed),
                                              ("timed_out", self.timed_out)) if count})
            if not result.ok:
                logger.info("task %r failed:\n%s", result.name, result.error)
                if self.plan.on_error == "raise":
                    raise TaskFailedError(result.name, _failure_message(result)) from (
                        RemoteTraceback(result.error))

    def _collect(self) -> None:
        """Handle what the background participants returned: crashes and errors."""
        background = self.background
        for item in background.take():
            if isinstance(item, WorkerCrash):
                self._crashed(item)
        if background.error is not None:
            self.background = None
            if isinstance(background.error, SweepsError):
                raise background.error
            raise SweepsError(
                f"a worker process could not work on sweep {self.plan.name!r}: "
                f"{type(background.error).__name__}: {background.error}") from background.error
        if background.finished():
            for item in background.take():
                if isinstance(item, WorkerCrash):
                    self._crashed(item)
            self.background = None

    def _stop_overdue(self, entries: list) -> None:
        """Kill the worker of a task that ran well past task_timeout without stopping itself
        (stuck where the worker's own alarm cannot reach it)."""
        timeout = self.plan.task_timeout
        kill = getattr(self.plan.executor, "kill", None)
        if timeout is None or kill is None:
            return
        from ._work import timeout_message

        now = time.time()
        for entry in entries:
            lease = entry.lease or {}
            if entry.state != "RUNNING" or entry.started is None or lease.get("pid") is None:
                continue
            started = entry.started.timestamp()
            if now - started > timeout + 5 and kill(lease["pid"], lease.get("host")):
                self.overdue.add(lease["pid"])
                # recorded now: a Dask worker restarted this way reports no crash (its
                # participant runs again elsewhere)
                with self.store.lock(self.plan.name):
                    fail_lost(self.storage, entry, timeout_message(timeout), status="timed_out")

    def _crashed(self, crash: WorkerCrash) -> None:
        """A worker died: the trial it held is the one that killed it (or ran out of time)."""
        from ._work import timeout_message

        held = crash.pid is not None and crash.pid in self.overdue  # recorded when stopped
        with self.store.lock(self.plan.name):
            for entry in self.store.entries(self.plan.name):
                lease = entry.lease or {}
                if entry.state == "RUNNING" and lease.get("pid") == crash.pid:
                    if crash.pid in self.overdue:
                        failed = fail_lost(self.storage, entry,
                                           timeout_message(self.plan.task_timeout),
                                           status="timed_out")
                    else:
                        failed = fail_lost(self.storage, entry, crash.message)
                    held = held or failed
        self.idle_crashes = 0 if held else self.idle_crashes + 1
        if self.idle_crashes >= 3:
            raise SweepsError(
                f"the worker processes of sweep {self.plan.name!r} die before running any task "
                f"({crash.message.split('.')[0]}); run with executor='sequential' to see the "
                "error in this process")

    def _stop(self) -> None:
        """Stop this driver's participants and put their trials back in the queue."""
        if self.background is not None:
            self.background.stop()
            self.background.join()
            self.background = None
        else:
            self.plan.executor.close()
        try:
            # A worker stopped a moment ago may still hold its lease while it dies: look again,
            # briefly, until none of this driver's trials is left running.
            deadline = time.monotonic() + 3
            while True:
                with self.store.lock(self.plan.name):
                    release_stale(self.storage, self.study_id)
                if not self._own_running() or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        except Exception as error:  # the store itself may be what failed
            logger.debug("could not put back the trials of stopped participants: %s", error)

    def _own_running(self) -> bool:
        """Whether a trial is still RUNNING under a participant this driver started; a worker
        process of this driver still holding one is ended (the sweep is stopping)."""
        me, host, found = os.getpid(), socket.gethostname(), False
        for entry in index(self.storage, self.study_id):
            lease = entry.lease if isinstance(entry.lease, dict) else {}
            if entry.state != "RUNNING" or lease.get("driver") != me or lease.get("host") != host:
                continue
            found = True
            pid = lease.get("pid")
            if isinstance(pid, int) and pid != me and parent_of(pid) == me:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        return found


class _Background:
    """Runs ``executor.map(fn, items)`` in a thread, so that the driver can watch the store."""

    def __init__(self, executor: Executor, fn: Callable[[Any], Any], items: list):
        self.executor = executor
        self.results: list = []
        self.error: Optional[BaseException] = None
        self._lock = threading.Lock()
        self._stopped = False
        self._thread = threading.Thread(target=self._consume, args=(fn, items),
                                        name="sweeps-participants", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the participants: those running are cancelled, and a map that has not begun
        never begins (a Ctrl-C as the thread starts would otherwise leave its workers to claim
        trials after the driver has put back what it could and gone)."""
        with self._lock:
            self._stopped = True
        self.executor.cancel()

    def _consume(self, fn: Callable[[Any], Any], items: list) -> None:
        try:
            with self._lock:
                if self._stopped:
                    return
                mapping = self.executor.map(fn, items)
            for result in mapping:
                with self._lock:
                    self.results.append(result)
        except BaseException as error:  # handed to the driver's thread
            self.error = error

    def take(self) -> list:
        with self._lock:
            results, self.results = self.results, []
        return results

    def finished(self) -> bool:
        return not self._thread.is_alive()

    def join(self) -> None:
        if self._thread.ident is not None:  # started
            self._thread.join(30)

    def wait(self, seconds: float) -> None:
        if self._thread.ident is not None:
            self._thread.join(seconds)


def _ship(data: Any, executor: Executor) -> Any:
    """How the (loaded) data reaches the participants.

    A loader is called once, in the driver: a loader with a random split (as the
    walkthrough's are) called in each worker would give tasks in different workers different
    data, and a sweep compares tasks on the same data. For worker processes the data is pickled
    once and travels with the job, so nothing is written to disk.
    """
    if executor.in_process:
        return InMemoryData(data)
    import cloudpickle  # classes of a script's __main__ travel by value

    try:
        payload = cloudpickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:
        raise SweepsTypeError(
            f"data={data!r:.100} cannot be pickled ({type(error).__name__}: {error}), so it "
            "cannot be sent to worker processes; make it picklable (plain frames, arrays, "
            "DataBundles pickle) or run with executor='sequential'") from error
    return PickledData(payload, uuid.uuid4().hex)


def _progress_bar_class() -> Any:
    """tqdm's notebook bar where Jupyter widgets are installed, else the text bar (tqdm.auto
    would warn in a notebook without ipywidgets)."""
    import importlib.util

    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm


class RemoteTraceback(Exception):
    """The traceback of a task that failed in a worker, as text (the ``__cause__``)."""

    def __str__(self) -> str:
        return "\n" + str(self.args[0])


def _failure_message(result: TaskResult) -> str:
    last = (result.error or "").strip().splitlines()[-1:] or ["no traceback"]
    return (f"{last[0]} (params {result.params!r}). The traceback follows; pass "
            f"on_error='record' to keep going past failing tasks.\n{result.error}")


def _describe(fn: Any) -> str:
    return function_path(fn)
