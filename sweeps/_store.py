"""The store: an Optuna storage that is the single queue and record of every task of every sweep.

One Optuna study per sweep (the study name is the sweep name), one trial per task. A trial holds:

- ``value``: the primary metric at the last epoch (a NaN or missing metric is recorded as the
  direction's worst value, since Optuna refuses NaN; the history keeps the true NaN).
- ``intermediate_values``: the primary metric per epoch (what the dashboard plots, and what a
  pruner reads while the task runs).
- ``params``: each param with an Optuna distribution (see ``_distributions``).
- ``user_attrs``: name, params, seed, status, seconds, device, error, metrics, history, extra.
  params, metrics, history and extra use a tagged JSON (``_codec``) so that ``records()`` returns
  exactly what was recorded.
- ``system_attrs``: the queue's bookkeeping (``_trials``): the params' key, the lease, attempts.

The study's user attrs hold ``metric``, ``mode`` (and Optuna's word for it, ``direction``) and
``meta``. Everything is standard Optuna, so ``optuna-dashboard <file>`` opens it.

The default store is a journal file, ``./runs/sweeps.log``. Opening a journal first repairs a
torn or damaged line (``_journal``), so one bad write never hides the other sweeps in the file.
"""
from __future__ import annotations

import contextlib
import datetime
import difflib
import logging
import math
import numbers
import operator
import os
import re
import sys
import time
import zlib
from typing import Any, Iterator, Optional, Union

from . import _forksafe
from ._codec import decode, encode, unknown_tag
from ._distributions import ParamKinds
from ._errors import SweepsTypeError, SweepsValueError, UnknownSweepError
from ._journal import file_lock, journal_backend, repair, tail_damaged
from ._objective import check_mode, choose_metric, default_mode, final_value, to_direction
from ._results import SweepResult
from ._spec import COMPLETE, FAILED, PRUNED, TaskResult
from ._trials import KEY, index, params_key
from ._urls import DEFAULT_FILE, DEFAULT_FOLDER, redacted, resolve_url  # noqa: F401

logger = logging.getLogger(__name__)

_USER_ATTRS = ("name", "params", "seed", "status", "seconds", "device", "error", "metrics",
               "history", "extra")
_STATUS_OF_STATE = {"COMPLETE": COMPLETE, "FAIL": FAILED, "PRUNED": PRUNED}


class Store:
    """Where sweeps keep their queue and results: any Optuna storage.

    Args:
        url: None for ``./runs/sweeps.log`` (a journal file, created on first use); a path
            ending in .log/.jsonl/.journal (journal file) or .db/.sqlite (SQLite); or an Optuna
            storage URL: ``sqlite:///x.db``, ``journal:///path.log``, ``postgresql://...``,
            ``mysql://...``.

    Example:
        >>> store = Store("sqlite:///runs/sweeps.db")               # doctest: +SKIP
        >>> store.list_sweeps()                                     # doctest: +SKIP
        ['iris']
        >>> store.load("iris").leaderboard().head()                 # doctest: +SKIP
    """

    def __init__(self, url: Union[str, os.PathLike, None] = None):
        self.kind, self.url, self._path = resolve_url(url)
        self.folder = self._path.parent if self._path else None
        self._storage: Any = None
        self._backend: Any = None  # a journal file's backend, once open
        self._study_ids: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"Store({self.display_url!r})"

    @property
    def display_url(self) -> str:
        """The URL to show people: the password masked."""
        return redacted(self.url)

    def __getstate__(self) -> dict:
        # An open storage holds a connection or a file handle; reopen it on the other side.
        return {**self.__dict__, "_storage": None, "_backend": None, "_study_ids": {}}

    # ----------------------------------------------------------------------------- opening
    def _exists(self) -> bool:
        return self._path is None or self._path.exists()

    def check(self) -> None:
        """Open the storage now, so that a missing database driver or an unreachable server is a
        clear error before any task runs (the sweep driver calls this first)."""
        self._check_writable()
        try:
            self._open()
        except ImportError as error:
            raise SweepsValueError(
                f"store {redacted(self.url)!r} needs a database driver that is not installed "
                f"({error}); for PostgreSQL: pip install 'psycopg[binary]' (the [postgres] extra)"
            ) from None
        except Exception as error:  # sqlalchemy's OperationalError, OSError for a file, ...
            first = redacted((str(error).strip().splitlines() or [""])[0])
            raise SweepsValueError(
                f"store {redacted(self.url)!r} cannot be opened ({type(error).__name__}: {first}); "
                "check that the database server is running and that the URL's host, port, user and "
                "database are right (or that the file's folder is writable)"
            ) from None

    def _check_writable(self) -> None:
        """A file store must be writable, and so must its folder (locks live beside it)."""
        if self._path is None:
            return
        folder = self._path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        problem = None
        if self._path.exists() and not os.access(self._path, os.W_OK):
            problem = "the file is read-only"
        elif not os.access(folder, os.W_OK | os.X_OK):
            problem = f"the folder {str(folder)!r} is not writable"
        if problem:
            raise SweepsValueError(
                f"store {self.display_url!r} cannot be written: {problem}. Sweeps record every "
                "result there as it runs; pass a writable store= (or --store), or fix the "
                "permissions")

    def optuna_storage(self) -> Any:
        """The Optuna storage object, for Optuna's own tools:
        ``optuna.load_study(study_name='iris', storage=store.optuna_storage())``."""
        return self._open()

    def _open(self) -> Any:
        """The Optuna storage, opened (and its file created, or a damaged journal repaired) on
        first use."""
        if self._storage is None:
            import optuna

            if self.kind == "journal":
                with file_lock(self._lock_path()):
                    if tail_damaged(self._path):
                        repair(self._path)
                    try:
                        self._open_journal()
                    except ValueError:  # a damaged line further up: Optuna's reader says so
                        repair(self._path)
                        self._open_journal()
            elif self._path is not None:
                # Several processes creating the tables of a new SQLite file at once collide
                # ('table alembic_version already exists'): one at a time.
                with file_lock(self._lock_path()):
                    # several participants write one SQLite file: wait for its lock for up to a
                    # minute instead of sqlite3's 5 s ('database is locked' under load)
                    self._storage = optuna.storages.RDBStorage(
                        self.url, engine_kwargs={"connect_args": {"timeout": 60}})
                # a worker forked during an SQLite call would keep a read lock forever
                _forksafe.guard(self._storage.engine)
            else:
                self._storage = _open_database(self.url)
        return self._storage

    def _open_journal(self) -> None:
        import optuna

        self._backend = journal_backend(self._path)
        self._storage = optuna.storages.JournalStorage(self._backend)

    def _lock_path(self) -> Any:
        return self._path.with_name(self._path.name + ".sweeps-lock")

    @contextlib.contextmanager
    def lock(self, sweep: str) -> Iterator[None]:
        """Held while a participant changes the queue in several steps (creating the study,
        enqueuing a grid, putting back lost trials): a file lock beside a file store, an
        advisory lock on a database server."""
        if self._path is not None:
            with file_lock(self._lock_path()):
                yield
            return
        storage = self._open()
        dialect = self.url.split(":", 1)[0].split("+", 1)[0].lower()
        if dialect not in ("postgresql", "mysql", "mariadb") or not hasattr(storage, "engine"):
            yield  # no lock on this server: Optuna's compare-and-set still claims each trial once
            return
        import sqlalchemy

        key = zlib.crc32(sweep.encode())
        with storage.engine.connect() as connection:
            if dialect == "postgresql":
                connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
                release = "SELECT pg_advisory_unlock(:k)"
            else:
                connection.execute(sqlalchemy.text("SELECT GET_LOCK(:k, -1)"), {"k": str(key)})
                release = "SELECT RELEASE_LOCK(:k)"
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text(release),
                                   {"k": key if dialect == "postgresql" else str(key)})

    def batched(self) -> Any:
        """Gather the writes of one step into one append on a journal file (elsewhere: as is)."""
        self._open()
        return self._backend.batched() if self._backend is not None else contextlib.nullcontext()

    def relaxed(self) -> Any:
        """Skip the disk sync of the queue's bookkeeping on a journal file (elsewhere: as is)."""
        self._open()
        return self._backend.relaxed() if self._backend is not None else contextlib.nullcontext()

    def claim_lock(self, sweep: str) -> Any:
        """Held while claiming a trial. Optuna's compare-and-set is atomic on a journal file and
        on database servers (``SELECT ... FOR UPDATE``), but SQLite ignores ``FOR UPDATE``: two
        processes could both see a trial WAITING and both take it. SQLite claims take the lock."""
        if self.kind == "rdb" and self._path is not None:
            return self.lock(sweep)
        return contextlib.nullcontext()

    def study_id(self, sweep: str) -> Optional[int]:
        """The study id of ``sweep``, or None when the store does not hold it (creates nothing)."""
        if sweep in self._study_ids:
            return self._study_ids[sweep]
        if not self._exists():
            return None
        try:
            study_id = self._open().get_study_id_from_name(sweep)
        except KeyError:
            return None
        self._study_ids[sweep] = study_id  # a study keeps its id: ask the storage once
        return study_id

    # ----------------------------------------------------------------------------- reading
    def list_sweeps(self) -> list[str]:
        """The names of the sweeps (Optuna studies) in the store, in creation order."""
        if not self._exists():
            return []
        return [study.study_name for study in self._open().get_all_studies()]

    def meta(self, sweep: str) -> dict:
        """The ``meta`` given to ``begin`` (the grid, the study name ...); {} if none."""
        study_id = self.study_id(sweep)
        if study_id is None:
            return {}
        return decode(self._open().get_study_user_attrs(study_id).get("meta")) or {}

    def objective(self, sweep: str) -> tuple[Optional[str], Optional[str]]:
        """(metric, mode) the store holds for ``sweep``; (None, None) when not fixed yet."""
        study_id = self.study_id(sweep)
        if study_id is None:
            return None, None
        return _objective(self._open(), study_id)

    def entries(self, sweep: str) -> list:
        """The queue's view of every trial of ``sweep`` (state, key, name, lease), no histories."""
        study_id = self.study_id(sweep)
        return [] if study_id is None else index(self._open(), study_id)

    def records(self, sweep: str) -> list[TaskResult]:
        """The latest record of each finished task; a complete record beats a later failed one.

        Ordered by ``result.extra['index']`` (the grid's task order), then by name; [] for a
        sweep the store does not hold. Waiting and running trials are not records yet.
        """
        study_id = self.study_id(sweep)
        if study_id is None:
            return []
        import optuna

        states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL,
                  optuna.trial.TrialState.PRUNED)
        trials = self._open().get_all_trials(study_id, deepcopy=False, states=states)
        latest: dict[str, TaskResult] = {}
        for trial in sorted(trials, key=operator.attrgetter("number")):
            result = _to_result(trial)
            previous = latest.get(result.name)
            if previous is None or result.ok or not previous.ok:
                latest[result.name] = result
        return sorted(latest.values(), key=_record_order)

    def result(self, trial_id: int) -> TaskResult:
        """The record of one trial (the driver reads a failure's traceback so)."""
        return _to_result(self._open().get_trial(trial_id))

    def completed(self, sweep: str) -> dict[str, dict]:
        """name -> params of every task that completed."""
        return {r.name: r.params for r in self.records(sweep) if r.ok}

    def load(self, sweep: str) -> SweepResult:
        """The ``SweepResult`` of ``sweep``, rebuilt from the store alone."""
        study_id = self.study_id(sweep)
        if study_id is None:
            raise self.unknown(sweep)
        metric, mode = _objective(self._open(), study_id)
        if mode is None:  # a study that sweeps did not create: Optuna's own direction is right
            mode = check_mode(_optuna_direction(self._open(), study_id))
        return SweepResult(sweep, self.records(sweep), metric=metric, direction=to_direction(mode),
                           store=self)

    def unknown(self, sweep: str) -> UnknownSweepError:
        """The error for a sweep this store does not hold, naming the ones it does."""
        available = self.list_sweeps()
        close = difflib.get_close_matches(sweep, available, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return UnknownSweepError(
            f"sweep {sweep!r} is not in the store {redacted(self.url)!r}.{hint} "
            f"Available sweeps: {available!r}."
        )

    # ----------------------------------------------------------------------------- writing
    def begin(
        self,
        sweep: str,
        *,
        metric: Optional[str] = None,
        mode: Optional[str] = None,
        meta: Optional[dict] = None,
        direction: Optional[str] = None,
    ) -> int:
        """Create the sweep's study if needed (race-free) and fix its metric and mode.

        Any number of participants may begin the same sweep at once. ``metric=None`` keeps the
        metric the store holds, or leaves it to the first complete result (``fix_metric``);
        ``mode=None`` follows the metric's name ('min' for losses and errors). ``direction``
        ('maximize'/'minimize') is the older spelling of ``mode``. Returns the study id.

        Raises:
            SweepsValueError: a bad mode, or a metric or mode that differs from the one the
                store already holds for this sweep (its trial values would not compare).
        """
        if not isinstance(sweep, str) or not sweep:
            raise SweepsValueError(f"sweep={sweep!r} is not valid: expected a non-empty str.")
        mode = check_mode(mode if mode is not None else direction,
                          "mode" if mode is not None else "direction")
        if metric is not None and mode is None:
            mode = default_mode(metric)
        storage = self._open()
        with self.lock(sweep):
            study_id = self.study_id(sweep)
            if study_id is None:
                study_id = _create_study(storage, sweep, to_direction(mode or "max"))
            stored_metric, stored_mode = _objective(storage, study_id)
            if stored_metric is not None:
                clash = (metric is not None and metric != stored_metric) or (
                    mode is not None and mode != stored_mode)
                if clash:
                    raise SweepsValueError(
                        f"sweep {sweep!r} was recorded with metric={stored_metric!r}, "
                        f"mode={stored_mode!r}, not metric={metric!r}, mode={mode!r}: pass "
                        "metric=None and mode=None to go on with the stored ones, or use a new "
                        "sweep name.")
            elif metric is not None:
                _write_objective(storage, study_id, metric, mode)
            if meta is not None:
                storage.set_study_user_attr(study_id, "meta", encode(meta))
        return study_id

    def check_create_task(self, sweep: str, create_task: Any) -> None:
        """Refuse to go on with ``sweep`` when the store holds it begun by another create_task.

        Tasks are matched by their params alone, so two functions that share a sweep name (both
        called ``create_task``, say) would share results: the second would be handed the first
        one's. Only import paths are compared (module + qualname); a sweep whose recorded
        create_task is not one (a partial, an object) is not checked. Reads, writes nothing.
        """
        recorded = self.meta(sweep).get("create_task")
        current = function_path(create_task)
        if not _is_import_path(recorded) or not _is_import_path(current) or _same_function(
                recorded, current):
            return
        suggestion = self._free_name(current)
        url = self.display_url
        raise SweepsValueError(
            f"sweep {sweep!r} in the store {url!r} was begun by create_task {recorded}, not by "
            f"{current}: tasks are matched by their params alone, so this sweep would be handed "
            f"the results of {recorded}'s tasks. Give this sweep its own name, e.g. "
            f"name={suggestion!r} (--name on the command line), or use another store. If "
            f"{current} is {recorded} moved to another module, record its new place once with "
            f"sweeps.Store({url!r}).set_create_task({sweep!r}, '{current}') and run again.")

    def set_create_task(self, sweep: str, create_task: Any) -> None:
        """Record ``create_task`` (a function or its import path, ``'package.module.name'``) as
        the one that runs ``sweep``: for a create_task moved to another module, so that the
        sweep goes on with its recorded results (and ``sweeps worker`` imports the new path)."""
        study_id = self.study_id(sweep)
        if study_id is None:
            raise self.unknown(sweep)
        path = create_task if isinstance(create_task, str) else function_path(create_task)
        if not _is_import_path(path):
            raise SweepsValueError(
                f"create_task={create_task!r} is not a function with an import path (module + "
                "name) nor such a path as a str, e.g. 'my_project.tasks.create_task'")
        with self.lock(sweep):
            meta = self.meta(sweep)
            meta["create_task"] = path
            self._open().set_study_user_attr(study_id, "meta", encode(meta))

    def _free_name(self, create_task_path: str) -> str:
        """A sweep name after the function's module, that this store does not hold yet."""
        import re

        module, _, qualname = create_task_path.rpartition(".")
        stem = f"{module.rpartition('.')[2].lstrip('_')}-{qualname}" if module else qualname
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).lstrip(".")[:60] or "sweep"
        taken = set(self.list_sweeps())
        number = 2
        name = stem
        while name in taken:
            name, number = f"{stem}-{number}", number + 1
        return name

    def fix_metric(self, sweep: str, result: TaskResult) -> tuple[str, str]:
        """The sweep's (metric, mode); the first complete result fixes them when nobody did."""
        storage = self._open()
        study_id = self.study_id(sweep)
        metric, mode = _objective(storage, study_id)
        if metric is not None:
            return metric, mode
        with self.lock(sweep):
            metric, mode = _objective(storage, study_id)
            if metric is None:
                metric = choose_metric(result)
                mode = default_mode(metric)
                _write_objective(storage, study_id, metric, mode)
                if to_direction(mode) != _optuna_direction(storage, study_id):
                    logger.warning(
                        "sweep %r ranks by %r (mode=%r), picked from its first result; Optuna's "
                        "study was created maximizing, so the dashboard's 'best trial' is the "
                        "worst. Pass metric= and mode= to sweep() to fix both from the start.",
                        sweep, metric, mode)
        return metric, mode

    def forget_metric(self, sweep: str) -> None:
        """Drop the metric the sweep was begun with (it is not in the tasks' histories), so
        that the sweep can be run again with the right one."""
        study_id = self.study_id(sweep)
        with self.lock(sweep):
            self._open().set_study_user_attr(study_id, "metric", None)

    def templates(self, sweep: str, items: list) -> list:
        """WAITING trial templates for (name, params, position) items, with Optuna params that
        fit the distributions the study holds."""
        from ._trials import waiting_template

        storage = self._open()
        study_id = self.study_id(sweep)
        kinds = ParamKinds(self.meta(sweep), storage.get_all_trials(study_id, deepcopy=False))
        out = []
        for name, params, position in items:
            optuna_params, distributions = kinds.fit(params)
            out.append(waiting_template(name, params, params_key(params), optuna_params,
                                        distributions, position))
        return out

    def record(self, sweep: str, result: TaskResult) -> None:
        """Write one finished result as one finished trial, outside the queue (for importing
        results from elsewhere; sweeps themselves go through the queue)."""
        import optuna

        if not isinstance(result, TaskResult):
            raise SweepsTypeError(
                f"result={result!r} is not a TaskResult; the store records TaskResult objects.")
        study_id = self.study_id(sweep)
        if study_id is None:
            study_id = self.begin(sweep)
        metric, mode = (self.fix_metric(sweep, result) if result.ok else self.objective(sweep))
        storage = self._open()
        kinds = ParamKinds(self.meta(sweep), storage.get_all_trials(study_id, deepcopy=False))
        params, distributions = kinds.fit(result.params)
        now = datetime.datetime.now()
        state = {COMPLETE: "COMPLETE", PRUNED: "PRUNED"}.get(result.status, "FAIL")
        trial = optuna.trial.FrozenTrial(
            number=-1, trial_id=-1, state=optuna.trial.TrialState[state],
            value=trial_value(result, metric, mode) if state == "COMPLETE" else None,
            datetime_start=now - datetime.timedelta(seconds=max(float(result.seconds or 0), 0)),
            datetime_complete=now, params=params, distributions=distributions,
            user_attrs=user_attrs(result), system_attrs={KEY: params_key(result.params)},
            intermediate_values=intermediate_values(result, metric) if metric else {},
        )
        storage.create_new_trial(study_id, template_trial=trial)


def function_path(fn: Any) -> str:
    """``module.qualname`` of a function (or class): how the store names a sweep's create_task;
    ``repr`` for what has none (a partial, an object)."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    return f"{module}.{qualname}" if module and qualname else repr(fn)


_STUDY_FILE_MODULE = re.compile(r"_sweeps_study_(\w+)_[0-9a-f]{10}")


def _same_function(recorded: str, current: str) -> bool:
    """Whether two import paths name one function. A study file's functions imported by path
    (``sweeps run my_study.py``: the module is ``_sweeps_study_my_study_<digest>``) and by name
    (``import my_study``, ``sweep('wine')``) are the same: ``my_study.<qualname>`` either way."""
    if recorded == current:
        return True
    for one, other in ((recorded, current), (current, recorded)):
        short = _study_file_short(one)
        if short is not None and (other == short or other.endswith("." + short)
                                  or _study_file_short(other) == short):
            return True
    return False


def _study_file_short(path: str) -> Optional[str]:
    """``'my_study.create_task'`` for ``'_sweeps_study_my_study_<digest>.create_task'``."""
    module, _, qualname = path.partition(".")
    found = _STUDY_FILE_MODULE.fullmatch(module)
    return f"{found.group(1)}.{qualname}" if found and qualname else None


def _is_import_path(path: Any) -> bool:
    return isinstance(path, str) and bool(path) and all(
        part.isidentifier() or part in ("<locals>", "<lambda>") for part in path.split("."))


def _open_database(url: str, attempts: int = 5) -> Any:
    """An RDBStorage; several processes creating the tables of a new database at once may
    collide, and the loser simply opens what the winner made."""
    import optuna

    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url)
        except Exception as error:  # sqlalchemy's IntegrityError / ProgrammingError on a race
            text = str(error).lower()
            racing = "already exists" in text or "duplicate" in text or "unique" in text
            if not racing or attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _objective(storage: Any, study_id: int) -> tuple[Optional[str], Optional[str]]:
    attrs = storage.get_study_user_attrs(study_id)
    mode = attrs.get("mode") or check_mode(attrs.get("direction"))
    return attrs.get("metric"), mode


def _write_objective(storage: Any, study_id: int, metric: str, mode: str) -> None:
    storage.set_study_user_attr(study_id, "metric", metric)
    storage.set_study_user_attr(study_id, "mode", mode)
    storage.set_study_user_attr(study_id, "direction", to_direction(mode))
    # what Study.set_metric_names stores: the dashboard then names the objective
    storage.set_study_system_attr(study_id, "study:metric_names", [metric])


def _optuna_direction(storage: Any, study_id: int) -> Optional[str]:
    direction = storage.get_study_directions(study_id)[0].name.lower()
    return direction if direction in ("maximize", "minimize") else None


def _create_study(storage: Any, sweep: str, direction: str) -> int:
    """Create the study; if another participant just did, use theirs."""
    import optuna
    from optuna.study import StudyDirection

    # Optuna logs every new study at INFO; in the middle of a progress bar that is noise.
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(min(max(verbosity, optuna.logging.WARNING), optuna.logging.CRITICAL))
    try:
        return storage.create_new_study([StudyDirection[direction.upper()]], study_name=sweep)
    except optuna.exceptions.DuplicatedStudyError:
        return storage.get_study_id_from_name(sweep)
    finally:
        optuna.logging.set_verbosity(verbosity)


def trial_value(result: TaskResult, metric: Optional[str], mode: Optional[str]) -> float:
    """The metric at the last epoch; the mode's worst (finite) value when it is NaN or missing."""
    value = final_value(result, metric) if metric else None
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = math.nan
    worst = -sys.float_info.max if mode != "min" else sys.float_info.max
    if math.isnan(value):
        return worst
    # JSON has no Infinity: other readers of the journal must parse it (the history keeps it)
    return max(min(value, sys.float_info.max), -sys.float_info.max)


def intermediate_values(result: TaskResult, metric: str) -> dict[int, float]:
    """The metric per epoch (``iteration``); values that are not finite numbers are left out
    (JSON has no NaN; the history keeps them)."""
    values = {}
    for position, row in enumerate(result.history):
        if metric in row:
            try:
                value = float(row[metric])
                step = int(row.get("iteration", position))
            except (TypeError, ValueError, OverflowError):
                continue
            if math.isfinite(value):
                values[step] = value
    return values


def user_attrs(result: TaskResult) -> dict:
    """The trial's user attrs for a result (tagged JSON where values need it), with the final
    metrics as plain ``metric:<key>`` numbers for optuna-dashboard."""
    from ._dashboard import display_attrs

    return {
        "name": result.name,
        **display_attrs(result.metrics),
        "params": encode(result.params),
        "seed": encode(result.seed),
        "status": result.status,
        "seconds": encode(float(result.seconds or 0.0)),
        "device": result.device,
        "error": result.error,
        "metrics": encode(result.metrics),
        "history": encode(result.history),
        "extra": encode(result.extra),
    }


def _to_result(trial: Any) -> TaskResult:
    """A ``TaskResult`` from a trial; a trial not written by the store gets what Optuna holds.

    The store holds JSON only, decoded here and never executed; a record of the wrong shape
    (edited by hand, written by another tool) is refused with the trial and what is wrong.
    """
    result = _decoded(trial)
    problems = [what for what, ok in (
        ("params (not a dict)", isinstance(result.params, dict)),
        ("history (not a list of dicts)", isinstance(result.history, list)
         and all(isinstance(row, dict) for row in result.history)),
        ("metrics (not a dict)", isinstance(result.metrics, dict)),
        ("extra (not a dict)", isinstance(result.extra, dict)),
        ("name (not a str)", isinstance(result.name, str)),
    ) if not ok]
    tags = [unknown_tag(trial.user_attrs.get(key)) for key in ("params", "metrics", "history")]
    problems += [f"an unknown tag {tag!r}" for tag in tags if tag]
    if problems:
        raise SweepsValueError(
            f"trial {trial.number} ({result.name!r}) holds a malformed record: "
            f"{', '.join(problems)}; nothing in it was run. "
            "`sweeps verify` lists such records; fix or delete the trial, or use a new sweep name")
    return result


def _decoded(trial: Any) -> TaskResult:
    attrs = trial.user_attrs
    status = attrs.get("status") or _STATUS_OF_STATE.get(trial.state.name, FAILED)
    if trial.state.name == "PRUNED":
        status = PRUNED
    params = decode(attrs["params"]) if "params" in attrs else dict(trial.params)
    return TaskResult(
        name=attrs.get("name") or f"trial_{trial.number}",
        params=params,
        seed=decode(attrs.get("seed")),
        status=status,
        history=decode(attrs.get("history")) or [],
        metrics=decode(attrs.get("metrics")) or {},
        error=attrs.get("error"),
        seconds=decode(attrs.get("seconds")) or 0.0,
        device=attrs.get("device"),
        extra=decode(attrs.get("extra")) or {},
    )


def _record_order(result: TaskResult) -> tuple:
    index_ = result.extra.get("index")
    if isinstance(index_, numbers.Real) and not isinstance(index_, bool):
        return (0, index_, result.name)
    return (1, 0, result.name)


def load_sweep(name: str, store: Union[Store, str, os.PathLike, None] = None) -> SweepResult:
    """The ``SweepResult`` of the sweep ``name``, read from ``store`` (default ./runs/sweeps.log).

    Example:
        >>> result = load_sweep("iris")                             # doctest: +SKIP
        >>> result.best.name                                        # doctest: +SKIP
        'NS10-LR01-AAdam'
    """
    if not isinstance(store, Store):
        store = Store(store)
    return store.load(name)
