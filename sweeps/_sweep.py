"""``sweep``: validate -> expand -> name -> skip done -> dispatch -> record.

The driver process is the only writer of the store: workers return ``TaskResult`` objects and
the driver records each one as it arrives, so killing the driver never loses a recorded result
and a second ``sweep`` call with the same name runs only what is not complete yet.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import logging
import os
import pickle
import random
import sys
import tempfile
import time
import traceback
import uuid
from typing import Any, Callable, Optional

from ._autonamer import _ADDRESS, Autonamer, _capped, _digest
from ._errors import SweepsError, SweepsTypeError, SweepsValueError, TaskFailedError
from ._executors import EXECUTORS, Executor, WorkerCrash, make_executor
from ._registry import get_study
from ._results import SweepResult
from ._spec import COMPLETE, FAILED, TaskResult, TaskSpec
from ._store import Store

logger = logging.getLogger(__name__)

ON_ERROR = ("record", "raise")
DIRECTIONS = (None, "maximize", "minimize")


class _Unset:
    def __repr__(self) -> str:
        return "<the study's data>"


UNSET: Any = _Unset()

# Per-process cache of the sweep data, keyed by a token that is new for every sweep call: a
# worker loads the data of a sweep once and reuses it for every task it runs. Holding only the
# latest sweep's data keeps a reused worker from piling up old data sets.
_DATA_CACHE: dict[str, Any] = {}


# ----------------------------------------------------------------------------- seeds


def derive_seed(sweep_seed: Optional[int], name: str) -> Optional[int]:
    """The seed of task ``name``: the same in every process and Python run; fits 32 bits."""
    if sweep_seed is None:
        return None
    digest = hashlib.sha256(f"{sweep_seed}/{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def seed_everything(seed: int) -> None:
    """Seed ``random``, numpy and, if this process has imported it, torch."""
    import numpy

    random.seed(seed)
    numpy.random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


# ----------------------------------------------------------------------------- data shipping


class InMemoryData:
    """Data handed over as is: the sequential executor runs in the driver's process."""

    def __init__(self, data: Any):
        self.data = data

    def load(self) -> Any:
        return self.data

    def __repr__(self) -> str:
        return f"InMemoryData({type(self.data).__name__})"


class FileData:
    """Data pickled once by the driver into a temporary file; each worker reads it once."""

    def __init__(self, path: str, token: str):
        self.path = path
        self.token = token

    def load(self) -> Any:
        if self.token not in _DATA_CACHE:
            with open(self.path, "rb") as file:
                data = pickle.load(file)
            _DATA_CACHE.clear()
            _DATA_CACHE[self.token] = data
        return _DATA_CACHE[self.token]

    def __repr__(self) -> str:
        return f"FileData({self.path!r})"


# ----------------------------------------------------------------------------- the worker side


def run_spec(
    create_task: Callable[..., Any], data_ref: Any, spec: TaskSpec, seed: Optional[int]
) -> TaskResult:
    """Build the task of ``spec`` and run it on the data; never raises (but KeyboardInterrupt).

    Any exception becomes a FAILED ``TaskResult`` carrying the traceback text, so one failing
    combination never loses the others.
    """
    start = time.perf_counter()
    device = None
    try:
        data = data_ref.load()
        start = time.perf_counter()  # the task's time, without the worker's one-off data load
        if seed is not None:
            seed_everything(seed)
        task = create_task(**spec.params)
        settings = getattr(task, "settings", None)
        if seed is not None and getattr(settings, "seed", 0) is None:
            settings.seed = seed
        device = getattr(settings, "device", None)
        history, metrics = _read_result(task.run(data))
        device = getattr(getattr(task, "model_handler", None), "device", None) or device  # 'auto' resolved
    except (Exception, SystemExit):  # sys.exit() in a task fails that task, not the sweep
        return TaskResult(
            spec.name, spec.params, seed, FAILED,
            error=traceback.format_exc(), seconds=time.perf_counter() - start,
            device=None if device is None else str(device),
        )
    return TaskResult(
        spec.name, spec.params, seed, COMPLETE, history=history, metrics=metrics,
        seconds=time.perf_counter() - start, device=None if device is None else str(device),
    )


def _read_result(result: Any) -> tuple[list, dict]:
    try:
        return list(result["output"]["history"]), dict(result["metrics"])
    except (KeyError, TypeError) as error:
        raise SweepsTypeError(
            f"task.run(data) returned {result!r:.200}; expected a dict like {{'metrics': {{...}}, "
            "'runs': {}, 'output': {'history': [{...one dict per epoch...}]}}"
        ) from error


class TaskRunner:
    """What the executor maps over the specs: ``run_spec`` with the task's derived seed."""

    def __init__(self, create_task: Callable[..., Any], data_ref: Any, sweep_seed: Optional[int]):
        self.create_task = create_task
        self.data_ref = data_ref
        self.sweep_seed = sweep_seed

    def __call__(self, spec: TaskSpec) -> TaskResult:
        seed = derive_seed(self.sweep_seed, spec.name)
        return run_spec(self.create_task, self.data_ref, spec, seed)

    def __repr__(self) -> str:
        return (f"TaskRunner({_describe(self.create_task)}, {self.data_ref!r}, "
                f"sweep_seed={self.sweep_seed!r})")


# ----------------------------------------------------------------------------- the driver side


@dataclasses.dataclass
class _Plan:
    """Everything ``sweep`` checked before starting: nothing below runs on bad input."""

    name: str
    create_task: Callable[..., Any]
    grid: dict
    specs: list
    data: Any
    executor: Executor
    store: Any


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
    progress: bool = True,
    metric: Optional[str] = None,
    direction: Optional[str] = None,
    prefix: Optional[str] = None,
    abbreviations: Optional[dict] = None,
) -> SweepResult:
    """Run every combination of ``grid`` and return all the results of sweep ``name``.

    Each task is built in its worker as ``create_task(**params)`` and run as
    ``task.run(data)``; its result is recorded in the store as soon as it arrives. Tasks already
    complete in the store under the same sweep name are not run again (failed ones are), so
    calling ``sweep`` again after a crash or Ctrl-C resumes the sweep.

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
        store: a ``Store`` or a store URL; None is the default file under ``./runs/``.
        executor: ``'processes'`` (default), ``'sequential'``, another name in ``EXECUTORS``, or
            an ``Executor`` object.
        n_jobs: worker processes; None or -1 means every core, never more than the tasks.
        seed: the sweep seed; each task's seed derives from it and the task's name (None: no
            seeding).
        on_error: ``'record'`` keeps going past a failing task (recorded with its traceback);
            ``'raise'`` stops the sweep and raises ``TaskFailedError``.
        progress: show a progress bar on stderr.
        metric, direction: the metric to rank by and ``'maximize'``/``'minimize'``.
        prefix, abbreviations: passed to ``Autonamer`` to name the tasks.

    Example:
        >>> result = sweep(create_task, dict(learning_rate=[0.1, 0.3]), data=load_bundle,
        ...                name='iris-lr', n_jobs=2)                          # doctest: +SKIP
        >>> result.leaderboard('accuracy_test')                                # doctest: +SKIP
    """
    plan = _plan(task, grid, data, name, store, executor, n_jobs, seed, on_error, direction,
                 prefix, abbreviations)
    pending = _pending(plan)
    data_ref, cleanup = _ship(plan.data, plan.executor) if pending else (None, _nothing)
    try:
        plan.store.begin(plan.name, metric=metric, direction=direction,
                         meta={"create_task": _describe(plan.create_task), "seed": seed,
                               "grid": plan.grid})
        if pending:
            _run(plan, pending, TaskRunner(plan.create_task, data_ref, seed), on_error, progress)
    finally:
        cleanup()
    return _result(plan)


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
    data_ref = InMemoryData(data() if callable(data) else data)
    return run_spec(create_task, data_ref, by_name[name], derive_seed(sweep_seed, name))


def _resolve(task: Any, grid: Optional[dict], data: Any) -> tuple:
    """(create_task, grid, data, default sweep name, problems) from a function or a study."""
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
        return study.create_task, grid, data, study.name, problems
    if not callable(task):
        raise SweepsTypeError(
            f"task={task!r} must be a create_task function (keyword arguments -> a task with "
            "run(data)) or the name of a registered study (see `sweeps list`)")
    if data is UNSET:
        problems.append(SweepsValueError(
            "data= is missing: pass the data the tasks run on, as a picklable object or a "
            "zero-argument loader function (data=None if the tasks need none)"))
    return task, dict(grid or {}), data, getattr(task, "__name__", None), problems


def _plan(task, grid, data, name, store, executor, n_jobs, seed, on_error, direction, prefix,
          abbreviations) -> _Plan:
    """Check every argument and expand the grid; raise once, listing every problem."""
    create_task, grid, data, default_name, problems = _resolve(task, grid, data)
    name = default_name if name is None else name
    if not isinstance(name, str) or not name:
        problems.append(SweepsValueError(
            f"name={name!r} must be a non-empty str naming the sweep in the store"))
    if on_error not in ON_ERROR:
        problems.append(SweepsValueError(
            f"on_error={on_error!r} must be one of {list(ON_ERROR)}: 'record' keeps going past "
            "a failing task, 'raise' stops the sweep"))
    if direction not in DIRECTIONS:
        problems.append(SweepsValueError(
            f"direction={direction!r} must be one of {list(DIRECTIONS)}"))
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        problems.append(SweepsValueError(f"seed={seed!r} must be an int, or None for no seeding"))
    executor_obj = _attempt(problems, make_executor, executor, n_jobs)
    # Even when n_jobs is wrong, say whether the functions could reach the workers.
    kind = executor_obj or (EXECUTORS.get(executor) if isinstance(executor, str) else None)
    if kind is not None and not kind.in_process:
        problems.extend(_unpicklable("create_task", create_task))
        if callable(data):
            problems.extend(_unpicklable("data", data))
    store_obj = store if isinstance(store, Store) else _attempt(problems, Store, store)
    if store_obj is not None:
        _attempt(problems, store_obj.check)  # a missing driver or a server that is down
    namer = _attempt(problems, Autonamer, create_task, prefix=prefix, abbreviations=abbreviations)
    specs = None if namer is None else _attempt(problems, namer.specs, **grid)
    if problems:
        _raise(problems)
    return _Plan(name, create_task, grid, specs, data, executor_obj, store_obj)


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
            pickle.dumps(obj)
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


def _pending(plan: _Plan) -> list:
    """The specs to run: all but the complete ones, named as the store already knows them.

    A grid that grew can name a recorded task differently (1500 is ``L1K`` alone but ``L1500``
    beside 1600), so a task is known by its params: it keeps the name it was recorded under and
    is never run twice. A new task whose name the store gives to other params gets a suffix. A
    complete task whose params match no task of the grid any more means a fixed value changed:
    that is refused, since a name must keep its meaning in a sweep.
    """
    records = plan.store.records(plan.name)
    by_name = {record.name: record for record in records}
    specs = [_known_name(spec, records, by_name) for spec in plan.specs]
    changed = []
    for i, spec in enumerate(specs):
        record = by_name.get(spec.name)
        if record is None or _same_params(record.params, spec.params):
            continue
        if any(_same_params(record.params, other.params) for other in specs):
            specs[i] = dataclasses.replace(spec, name=_capped(spec.name, "-" + _digest(repr(spec.params))))
        elif record.ok:
            changed.append((spec, record))
    if changed:
        lines = "\n".join(f"  - task {s.name!r}: recorded params {r.params!r}, now {s.params!r}"
                          for s, r in changed[:5])
        raise SweepsValueError(
            f"sweep {plan.name!r} already holds complete tasks with the same names but other "
            f"params ({len(changed)} of them):\n{lines}\nA task's name must keep its meaning in "
            f"a sweep: use another sweep name= (e.g. name={plan.name + '-2'!r}) or another store")
    plan.specs = specs
    done = {record.name for record in records if record.ok}
    return [spec for spec in specs if spec.name not in done]


def _known_name(spec: TaskSpec, records: list, by_name: dict) -> TaskSpec:
    """The spec under the name the store holds its params by (a complete record first)."""
    record = by_name.get(spec.name)
    if record is not None and _same_params(record.params, spec.params):
        return spec
    matches = [r for r in records if _same_params(r.params, spec.params)]
    if not matches:
        return spec
    best = next((r for r in matches if r.ok), matches[0])
    return dataclasses.replace(spec, name=best.name)


def _same_params(recorded: Any, value: Any) -> bool:
    """Whether a param read back from the store is the one the grid gives now.

    The store returns what JSON can hold as it was, and anything else (a class, a function) as
    its repr, compared here without memory addresses, which change from run to run.
    """
    if isinstance(value, dict):
        return (isinstance(recorded, dict) and recorded.keys() == value.keys()
                and all(_same_params(recorded[k], value[k]) for k in value))
    if isinstance(value, (list, tuple)):
        return (type(recorded) is type(value) and len(recorded) == len(value)
                and all(_same_params(r, v) for r, v in zip(recorded, value)))
    if recorded == value:
        return True
    return (isinstance(recorded, str) and not isinstance(value, str)
            and _ADDRESS.sub("", recorded) == _ADDRESS.sub("", repr(value)))


def _run(plan: _Plan, pending: list, runner: TaskRunner, on_error: str, progress: bool) -> None:
    """Dispatch the pending specs and record each result as it arrives."""
    tqdm = _progress_bar_class()

    index = {spec.name: i for i, spec in enumerate(plan.specs)}
    bar = tqdm(total=len(pending), desc=plan.name, unit="task", file=sys.stderr,
               disable=not progress, mininterval=0.5, dynamic_ncols=True)
    failed = recorded = 0
    outputs = plan.executor.map(runner, pending)
    try:
        for result in outputs:
            if isinstance(result, WorkerCrash):
                spec = result.item
                result = TaskResult(spec.name, spec.params, derive_seed(runner.sweep_seed, spec.name),
                                    FAILED, error=result.message)
            result.extra["index"] = index[result.name]
            plan.store.record(plan.name, result)
            recorded += 1
            bar.update(1)
            if not result.ok:
                failed += 1
                bar.set_postfix(failed=failed, refresh=False)
                logger.info("task %r failed:\n%s", result.name, result.error)
                if on_error == "raise":
                    raise TaskFailedError(result.name, _failure_message(result)) from (
                        RemoteTraceback(result.error))
    except KeyboardInterrupt:
        logger.warning("sweep %r interrupted: %d of %d results recorded; run it again to run "
                       "the rest", plan.name, recorded, len(pending))
        raise
    finally:
        plan.executor.close()  # cancels what is pending
        bar.close()
    if failed:
        logger.warning("sweep %r: %d of %d tasks failed; their tracebacks are in "
                       "result.failed", plan.name, failed, len(pending))


def _progress_bar_class() -> Any:
    """tqdm's notebook bar where Jupyter widgets are installed, else the text bar (tqdm.auto
    would warn in a notebook without ipywidgets)."""
    import importlib.util

    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm


def _nothing() -> None:
    pass


def _ship(data: Any, executor: Executor) -> tuple:
    """How the data reaches the tasks, and what to clean up after the sweep.

    A loader is called once, here in the driver: a loader with a random split (as the
    walkthrough's are) called in each worker would give tasks in different workers different
    data, and a sweep compares tasks on the same data. The result is pickled once to a file
    that each worker reads once.
    """
    if callable(data):
        data = data()
    if executor.in_process:
        return InMemoryData(data), _nothing
    token = uuid.uuid4().hex
    # With one job joblib runs the tasks in this process: do not keep the data cached here.
    forget = functools.partial(_DATA_CACHE.pop, token, None)
    handle, path = tempfile.mkstemp(prefix="sweeps-data-", suffix=".pkl")
    try:
        with os.fdopen(handle, "wb") as file:
            pickle.dump(data, file, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:
        os.remove(path)
        raise SweepsTypeError(
            f"data={data!r:.100} cannot be pickled ({type(error).__name__}: {error}), so it "
            "cannot be sent to worker processes; make it picklable (plain frames, arrays, "
            "DataBundles pickle) or run with executor='sequential'") from error
    return FileData(path, token), functools.partial(_cleanup, forget, path)


def _cleanup(forget: Callable[[], Any], path: str) -> None:
    forget()
    os.remove(path)


class RemoteTraceback(Exception):
    """The traceback of a task that failed in a worker, as text (the ``__cause__``)."""

    def __str__(self) -> str:
        return "\n" + str(self.args[0])


def _failure_message(result: TaskResult) -> str:
    last = (result.error or "").strip().splitlines()[-1:] or ["no traceback"]
    return (f"{last[0]} (params {result.params!r}). The traceback follows; pass "
            f"on_error='record' to keep going past failing tasks.\n{result.error}")


def _result(plan: _Plan) -> SweepResult:
    return plan.store.load(plan.name)


def _describe(fn: Any) -> str:
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    return f"{module}.{qualname}" if module and qualname else repr(fn)
