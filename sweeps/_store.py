"""The store: an Optuna storage that is the single record of every task of every sweep.

One Optuna study per sweep (the study name is the sweep name), one finished trial per recorded
``TaskResult``. A trial holds:

- ``value``: the primary metric at the last epoch. Optuna refuses NaN as the value of a COMPLETE
  trial, so a task that completed with a NaN (or missing) metric gets the worst value for the
  direction (``-inf`` when maximizing, ``+inf`` when minimizing): it ranks last in the dashboard,
  and its history keeps the true NaN.
- ``intermediate_values``: the primary metric per ``iteration`` (what the dashboard plots).
- ``params``: each param with an Optuna distribution: ints and floats as one-point
  ``IntDistribution``/``FloatDistribution``, everything else as a ``CategoricalDistribution``
  over the sweep's choices (``meta['grid']``) with non-scalar values shown by their ``repr``.
  A value that cannot fit the distribution the study already holds for that param is left out of
  the Optuna params (Optuna refuses to change a param's distribution inside a study).
- ``user_attrs``: name, params, seed, status, seconds, device, error, metrics, history, extra.
  params, metrics, history and extra use a tagged JSON (``{"__tuple__": [...]}``,
  ``{"__float__": "nan"}``, ...) so that ``records()`` returns exactly what was recorded; a value
  JSON cannot hold (a class, a function) comes back as its ``repr`` string.

The study's user attrs hold ``metric``, ``direction`` and ``meta``. Everything is standard Optuna,
so ``optuna-dashboard <store.url>`` opens it.

The default store is a journal file, ``./runs/sweeps.log``: recording a result is one appended
line, several times cheaper than a SQLite transaction (``benchmarks/store_overhead.py``).
"""
from __future__ import annotations

import datetime
import difflib
import logging
import math
import numbers
import operator
import os
import pathlib
import re
from typing import Any, Optional, Union

from ._errors import SweepsTypeError, SweepsValueError, UnknownSweepError
from ._results import SweepResult, choose_metric, default_direction, final_value
from ._spec import COMPLETE, FAILED, TaskResult

logger = logging.getLogger(__name__)

DEFAULT_FOLDER = "runs"
DEFAULT_FILE = "sweeps.log"
JOURNAL_SUFFIXES = (".log", ".jsonl", ".journal")
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
RDB_DIALECTS = ("sqlite", "postgresql", "mysql", "mariadb", "oracle", "mssql")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9]*)(\+[A-Za-z0-9_]+)?://")
_ACCEPTED = (
    "None (the default journal file ./runs/sweeps.log); a journal file path ending in "
    f"{'/'.join(JOURNAL_SUFFIXES)} or 'journal:///path/to/file.log'; a SQLite file path ending "
    f"in {'/'.join(SQLITE_SUFFIXES)} or 'sqlite:///path/to/file.db'; or a database URL such as "
    "'postgresql://user:password@host/db' or 'mysql+pymysql://user:password@host/db'"
)
_USER_ATTRS = ("name", "params", "seed", "status", "seconds", "device", "error", "metrics",
               "history", "extra")


# --------------------------------------------------------------------------------- tagged JSON
_TAGS = ("__tuple__", "__float__", "__dict__", "__repr__")


def encode(value: Any) -> Any:
    """A JSON-able form of ``value`` that ``decode`` turns back into it (tuples, NaN, ...)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {"__float__": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, numbers.Integral):
        return int(value)  # numpy integers too
    if isinstance(value, numbers.Real):
        return encode(float(value))  # numpy floats that are not float subclasses
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        plain = all(isinstance(k, str) for k in value) and not (
            len(value) == 1 and next(iter(value)) in _TAGS
        )
        if plain:
            return {k: encode(v) for k, v in value.items()}
        return {"__dict__": [[encode(k), encode(v)] for k, v in value.items()]}
    return {"__repr__": repr(value)}


def decode(value: Any) -> Any:
    """The inverse of ``encode``; a ``repr``-encoded value comes back as its repr string."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (tag, inner), = value.items()
        if tag == "__tuple__":
            return tuple(decode(v) for v in inner)
        if tag == "__float__":
            return float(inner)
        if tag == "__dict__":
            return {_hashable(decode(k)): decode(v) for k, v in inner}
        if tag == "__repr__":
            return inner
    return {k: decode(v) for k, v in value.items()}


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


# --------------------------------------------------------------------------------- URLs
def resolve_url(url: Any) -> tuple[str, str, Optional[pathlib.Path]]:
    """``url`` -> (kind, resolved url, file path); kind is 'journal' or 'rdb'.

    Relative paths are resolved against the current directory now, so a later ``chdir`` does not
    move the store. Nothing is opened.
    """
    if url is None:
        path = pathlib.Path.cwd() / DEFAULT_FOLDER / DEFAULT_FILE
        return "journal", str(path), path
    if isinstance(url, os.PathLike):
        url = os.fspath(url)
    if not isinstance(url, str) or not url.strip():
        raise _bad_url(url)
    match = _SCHEME.match(url)
    if match:
        dialect = match.group(1).lower()
        rest = url[match.end():]
        if dialect == "journal" and rest:
            path = pathlib.Path(rest).expanduser().absolute()
            return "journal", str(path), path
        if dialect == "sqlite" and url.lower().startswith("sqlite:///"):
            rest = url[len("sqlite:///"):]
            if rest in ("", ":memory:"):
                return "rdb", "sqlite:///:memory:", None
            path = pathlib.Path(rest).expanduser().absolute()
            return "rdb", f"{url[:len('sqlite:///')]}{path}", path
        if dialect in RDB_DIALECTS and dialect != "sqlite" and rest:
            return "rdb", url, None
        hint = ""
        if dialect == "postgres":
            hint = " Did you mean 'postgresql://...'?"
        elif dialect == "sqlite":
            hint = (" A SQLite URL has three slashes: 'sqlite:///relative.db' or "
                    "'sqlite:////abs.db'.")
        raise _bad_url(url, hint)
    suffix = pathlib.PurePath(url).suffix.lower()
    # 'sqlit:/x.db' is a mistyped URL, not a file; 'C:\\x.db' (one letter) is a Windows path.
    mistyped_scheme = re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:", url) is not None
    if not mistyped_scheme and suffix in JOURNAL_SUFFIXES + SQLITE_SUFFIXES:
        path = pathlib.Path(url).expanduser().absolute()
        if suffix in JOURNAL_SUFFIXES:
            return "journal", str(path), path
        return "rdb", f"sqlite:///{path}", path
    close = difflib.get_close_matches(url.split(":")[0].lower(), RDB_DIALECTS + ("journal",), n=1)
    hint = f" Did you mean '{close[0]}://...'?" if close and ":" in url else ""
    raise _bad_url(url, hint)


def _bad_url(url: Any, hint: str = "") -> SweepsValueError:
    return SweepsValueError(f"store={url!r} is not a store location.{hint} Expected {_ACCEPTED}.")


# --------------------------------------------------------------------------------- params
def _optuna_value(value: Any) -> Any:
    """A value Optuna can hold as a param: None/bool/int/float/str, else the value's repr."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _grid_choices(meta: Optional[dict]) -> dict[str, tuple]:
    """param -> its choices in ``meta['grid']`` (a dict of lists, or a list of such dicts)."""
    grid = (meta or {}).get("grid")
    grids = grid if isinstance(grid, (list, tuple)) else [grid]
    choices: dict[str, dict] = {}
    for sub in grids:
        if not isinstance(sub, dict):
            continue
        for key, values in sub.items():
            values = values if isinstance(values, (list, tuple)) else [values]
            bucket = choices.setdefault(key, {})
            for v in values:
                v = _optuna_value(v)
                bucket.setdefault((type(v), v), v)
    return {key: tuple(bucket.values()) for key, bucket in choices.items()}


class _SweepState:
    """What the store remembers about one sweep between records (one writer: the driver)."""

    def __init__(self, metric: Optional[str], direction: Optional[str], meta: Optional[dict]):
        self.metric = metric
        self.direction = direction
        self.meta = meta
        self.study_id: Optional[int] = None
        self.study_direction: Optional[str] = None
        self.metric_stored = False  # whether the study's user attrs hold metric and direction
        # param -> the distribution the study holds for it; None: not read from the study yet
        self.kinds: Optional[dict[str, Any]] = {}
        self.choices = _grid_choices(meta)


# --------------------------------------------------------------------------------- the store
class Store:
    """Where sweeps keep their results: any Optuna storage.

    Args:
        url: None for ``./runs/sweeps.log`` (a journal file, created on the first record); a
            path ending in .log/.jsonl/.journal (journal file) or .db/.sqlite (SQLite); or an
            Optuna storage URL: ``sqlite:///x.db``, ``journal:///path.log``,
            ``postgresql://...``, ``mysql://...``.

    Example:
        >>> store = Store("sqlite:///runs/sweeps.db")               # doctest: +SKIP
        >>> store.list_sweeps()                                     # doctest: +SKIP
        ['iris']
        >>> store.load("iris").leaderboard().head()                 # doctest: +SKIP
    """

    def __init__(self, url: Union[str, os.PathLike, None] = None):
        self.kind, self.url, self._path = resolve_url(url)
        self.folder: Optional[pathlib.Path] = self._path.parent if self._path else None
        self._storage: Any = None
        self._sweeps: dict[str, _SweepState] = {}

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def __getstate__(self) -> dict:
        # An open storage holds a connection or a file handle; reopen it on the other side.
        return {**self.__dict__, "_storage": None, "_sweeps": {}}

    # ----------------------------------------------------------------------------- opening
    def _exists(self) -> bool:
        return self._path is None or self._path.exists()

    def check(self) -> None:
        """Open the storage now, so that a missing database driver or an unreachable server is a
        clear error before any task runs (the sweep driver calls this first)."""
        try:
            self._open()
        except ImportError as error:
            raise SweepsValueError(
                f"store {_redacted(self.url)!r} needs a database driver that is not installed "
                f"({error}); for PostgreSQL: pip install 'psycopg[binary]' (the [postgres] extra)"
            ) from None
        except Exception as error:  # sqlalchemy's OperationalError, OSError for a file, ...
            first = (str(error).strip().splitlines() or [""])[0]
            raise SweepsValueError(
                f"store {_redacted(self.url)!r} cannot be opened ({type(error).__name__}: {first}); "
                "check that the database server is running and that the URL's host, port, user and "
                "database are right (or that the file's folder is writable)"
            ) from None

    def optuna_storage(self) -> Any:
        """The Optuna storage object, for Optuna's own tools:
        ``optuna.load_study(study_name='iris', storage=store.optuna_storage())``."""
        return self._open()

    def _open(self) -> Any:
        """The Optuna storage, opened (and its file created) on first use."""
        if self._storage is None:
            import optuna

            if self._path is not None:
                self._path.parent.mkdir(parents=True, exist_ok=True)
            if self.kind == "journal":
                backend = optuna.storages.journal.JournalFileBackend(str(self._path))
                self._storage = optuna.storages.JournalStorage(backend)
            else:
                self._storage = optuna.storages.RDBStorage(self.url)
        return self._storage

    def _study_id(self, sweep: str) -> Optional[int]:
        """The study id of ``sweep``, or None when the store does not hold it (creates nothing)."""
        if not self._exists():
            return None
        state = self._sweeps.get(sweep)
        if state is not None and state.study_id is not None:
            return state.study_id
        try:
            return self._open().get_study_id_from_name(sweep)
        except KeyError:
            return None

    # ----------------------------------------------------------------------------- reading
    def list_sweeps(self) -> list[str]:
        """The names of the sweeps (Optuna studies) in the store, in creation order."""
        if not self._exists():
            return []
        return [study.study_name for study in self._open().get_all_studies()]

    def meta(self, sweep: str) -> dict:
        """The ``meta`` given to ``begin`` (the grid, the study name ...); {} if none."""
        study_id = self._study_id(sweep)
        if study_id is None:
            return {}
        return decode(self._open().get_study_user_attrs(study_id).get("meta")) or {}

    def records(self, sweep: str) -> list[TaskResult]:
        """The latest record of each task; a complete record beats a later failed one.

        Ordered by ``result.extra['index']`` (the driver's task order), then by name; [] for a
        sweep the store does not hold.
        """
        study_id = self._study_id(sweep)
        if study_id is None:
            return []
        import optuna

        states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
        trials = self._open().get_all_trials(study_id, deepcopy=False, states=states)
        latest: dict[str, TaskResult] = {}
        for trial in sorted(trials, key=operator.attrgetter("number")):
            result = _to_result(trial)
            previous = latest.get(result.name)
            if previous is None or result.ok or not previous.ok:
                latest[result.name] = result
        return sorted(latest.values(), key=_record_order)

    def completed(self, sweep: str) -> dict[str, dict]:
        """name -> params of every task that completed; the driver skips these on a re-run."""
        return {r.name: r.params for r in self.records(sweep) if r.ok}

    def load(self, sweep: str) -> SweepResult:
        """The ``SweepResult`` of ``sweep``, rebuilt from the store alone."""
        study_id = self._study_id(sweep)
        if study_id is None:
            raise self._unknown(sweep)
        attrs = self._open().get_study_user_attrs(study_id)
        return SweepResult(
            sweep,
            self.records(sweep),
            metric=attrs.get("metric"),
            # A study that sweeps did not create has no direction attr: Optuna's own is right.
            direction=attrs.get("direction") or _optuna_direction(self._open(), study_id),
            store=self,
        )

    def _unknown(self, sweep: str) -> UnknownSweepError:
        available = self.list_sweeps()
        close = difflib.get_close_matches(sweep, available, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return UnknownSweepError(
            f"sweep {sweep!r} is not in the store {self.url!r}.{hint} "
            f"Available sweeps: {available!r}."
        )

    # ----------------------------------------------------------------------------- writing
    def begin(
        self,
        sweep: str,
        *,
        metric: Optional[str] = None,
        direction: Optional[str] = None,
        meta: Optional[dict] = None,
    ) -> None:
        """Remember the sweep's metric, direction and meta; the study comes at the first record.

        ``metric=None`` keeps the metric the store already holds for the sweep, else picks it
        from the first complete result (see ``choose_metric``); ``direction=None`` follows the
        metric's name ('minimize' for losses and errors). ``meta['grid']``, when given, fixes the
        choices of each categorical param in the Optuna study.

        Raises:
            SweepsValueError: a bad direction, or a metric or direction that differs from the one
                the store already holds for this sweep (its trial values would not compare).
        """
        if not isinstance(sweep, str) or not sweep:
            raise SweepsValueError(f"sweep={sweep!r} is not valid: expected a non-empty str.")
        if direction not in (None, "maximize", "minimize"):
            raise SweepsValueError(
                f"direction={direction!r} is not valid: expected one of "
                "['maximize', 'minimize'] or None (guessed from the metric's name)."
            )
        state = _SweepState(metric, direction, meta)
        study_id = self._study_id(sweep)
        if study_id is not None:
            self._adopt_study(sweep, state, study_id)
            if meta is not None:
                self._open().set_study_user_attr(study_id, "meta", encode(meta))
        if state.metric is not None and state.direction is None:
            state.direction = default_direction(state.metric)
        self._sweeps[sweep] = state

    def _adopt_study(self, sweep: str, state: _SweepState, study_id: int) -> None:
        """Take over an existing study: its metric and direction."""
        storage = self._open()
        attrs = storage.get_study_user_attrs(study_id)
        stored_metric, stored_direction = attrs.get("metric"), attrs.get("direction")
        if stored_metric is not None:
            clash = (state.metric is not None and state.metric != stored_metric) or (
                state.direction is not None and state.direction != stored_direction
            )
            if clash:
                raise SweepsValueError(
                    f"sweep {sweep!r} was recorded with metric={stored_metric!r}, "
                    f"direction={stored_direction!r}, not metric={state.metric!r}, "
                    f"direction={state.direction!r}: pass metric=None and direction=None to go "
                    "on with the stored ones, or use a new sweep name."
                )
            state.metric, state.direction = stored_metric, stored_direction
            state.metric_stored = True
        state.study_id = study_id
        state.study_direction = _optuna_direction(storage, study_id)
        state.kinds = None  # read from the study's trials at the first record, if one comes

    def record(self, sweep: str, result: TaskResult) -> None:
        """Write one result as one finished trial (COMPLETE or FAIL): one storage write.

        The driver calls this as each result arrives, so a killed sweep loses no result.
        """
        if not isinstance(result, TaskResult):
            raise SweepsTypeError(
                f"result={result!r} is not a TaskResult; the store records TaskResult objects."
            )
        state = self._sweeps.get(sweep)
        if state is None:
            self.begin(sweep)
            state = self._sweeps[sweep]
        storage = self._open()
        self._ensure_study(sweep, state, result)
        if state.kinds is None:
            # Optuna refuses to change a param's distribution inside a study: use the ones the
            # study already holds (a re-run).
            state.kinds = {}
            for trial in storage.get_all_trials(state.study_id, deepcopy=False):
                for key, dist in trial.distributions.items():
                    state.kinds.setdefault(key, dist)
        trial = self._trial(state, result)
        storage.create_new_trial(state.study_id, template_trial=trial)

    def _ensure_study(self, sweep: str, state: _SweepState, result: TaskResult) -> None:
        """Create the study if needed, and fix the metric at the first complete result."""
        storage = self._open()
        if state.metric is None and result.status == COMPLETE:
            state.metric = choose_metric(result)
            state.direction = state.direction or default_direction(state.metric)
        if state.study_id is None:
            # with no metric yet (the first record failed) the direction may change below
            direction = state.direction or "minimize"
            state.study_id = _create_study(storage, sweep, direction)
            state.study_direction = direction
            if state.meta is not None:
                storage.set_study_user_attr(state.study_id, "meta", encode(state.meta))
        if state.metric is not None and not state.metric_stored:
            if state.direction != state.study_direction:
                # Optuna cannot change a study's direction. Until now no metric was known, so
                # the study holds failed trials only: move them to a new study.
                self._recreate_study(sweep, state)
            storage.set_study_user_attr(state.study_id, "metric", state.metric)
            storage.set_study_user_attr(state.study_id, "direction", state.direction)
            # what Study.set_metric_names stores: the dashboard then names the objective
            storage.set_study_system_attr(state.study_id, "study:metric_names", [state.metric])
            state.metric_stored = True

    def _recreate_study(self, sweep: str, state: _SweepState) -> None:
        storage = self._open()
        trials = storage.get_all_trials(state.study_id)
        attrs = storage.get_study_user_attrs(state.study_id)
        storage.delete_study(state.study_id)
        state.study_id = _create_study(storage, sweep, state.direction)
        state.study_direction = state.direction
        for key, value in attrs.items():
            storage.set_study_user_attr(state.study_id, key, value)
        for trial in trials:
            storage.create_new_trial(state.study_id, template_trial=trial)

    def _trial(self, state: _SweepState, result: TaskResult) -> Any:
        import optuna

        params, distributions = self._params(state, result.params)
        now = datetime.datetime.now()
        ok = result.status == COMPLETE
        intermediate = _intermediate_values(result, state.metric) if state.metric else {}
        return optuna.trial.FrozenTrial(
            number=-1,
            trial_id=-1,
            state=optuna.trial.TrialState.COMPLETE if ok else optuna.trial.TrialState.FAIL,
            value=_trial_value(result, state) if ok else None,
            datetime_start=now - datetime.timedelta(seconds=max(float(result.seconds or 0), 0)),
            datetime_complete=now,
            params=params,
            distributions=distributions,
            user_attrs=_user_attrs(result),
            system_attrs={},
            intermediate_values=intermediate,
        )

    def _params(self, state: _SweepState, raw: dict) -> tuple[dict, dict]:
        """The Optuna params and distributions of one task, consistent across the study."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        params, distributions = {}, {}
        for key, value in raw.items():
            value = _optuna_value(value)
            known = state.kinds.get(key)
            if known is None:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    choices = state.choices.get(key, ())
                    if not any(type(c) is type(value) and c == value for c in choices):
                        choices = (*choices, value)
                    known = CategoricalDistribution(choices)
                elif isinstance(value, int) and all(
                    isinstance(c, int) and not isinstance(c, bool)
                    for c in state.choices.get(key, (value,))
                ):
                    known = IntDistribution(value, value)
                else:
                    known = FloatDistribution(float(value), float(value))
                state.kinds[key] = known
            dist = _fit(known, value)
            if dist is None:
                logger.debug("param %r=%r left out of the Optuna params: %r", key, value, known)
                continue
            params[key] = float(value) if isinstance(dist, FloatDistribution) else value
            distributions[key] = dist
        return params, distributions


def _fit(known: Any, value: Any) -> Any:
    """A distribution for ``value`` that Optuna accepts next to ``known``; None if none."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(known, CategoricalDistribution):
        hit = any(type(c) is type(value) and c == value for c in known.choices)
        return known if hit else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(known, IntDistribution):
        if isinstance(value, int) and not known.log:
            return IntDistribution(value, value)
        return None
    if isinstance(known, FloatDistribution) and math.isfinite(value) and not known.log:
        return FloatDistribution(float(value), float(value))
    return None


def _optuna_direction(storage: Any, study_id: int) -> Optional[str]:
    direction = storage.get_study_directions(study_id)[0].name.lower()
    return direction if direction in ("maximize", "minimize") else None


def _redacted(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]+:)[^/]*@", r"\1***@", url)


def _create_study(storage: Any, sweep: str, direction: str) -> int:
    import optuna
    from optuna.study import StudyDirection

    # Optuna logs every new study at INFO; in the middle of a progress bar that is noise.
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(min(max(verbosity, optuna.logging.WARNING), optuna.logging.CRITICAL))
    try:
        return storage.create_new_study([StudyDirection[direction.upper()]], study_name=sweep)
    finally:
        optuna.logging.set_verbosity(verbosity)


def _trial_value(result: TaskResult, state: _SweepState) -> float:
    """The metric at the last epoch; the direction's worst value when it is NaN or missing."""
    value = final_value(result, state.metric)
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = math.nan
    if math.isnan(value):
        return -math.inf if state.direction == "maximize" else math.inf
    return value


def _intermediate_values(result: TaskResult, metric: str) -> dict[int, float]:
    values = {}
    for position, row in enumerate(result.history):
        if metric in row:
            try:
                values[int(row.get("iteration", position))] = float(row[metric])
            except (TypeError, ValueError):
                continue
    return values


def _user_attrs(result: TaskResult) -> dict:
    return {
        "name": result.name,
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
    """A ``TaskResult`` from a trial; a trial not written by the store gets what Optuna holds."""
    attrs = trial.user_attrs
    status = attrs.get("status") or (COMPLETE if trial.state.name == "COMPLETE" else FAILED)
    if "params" in attrs:
        params = decode(attrs["params"])
    else:
        params = dict(trial.params)
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
    index = result.extra.get("index")
    if isinstance(index, numbers.Real) and not isinstance(index, bool):
        return (0, index, result.name)
    return (1, 0, result.name)


def load_sweep(name: str, store: Union[Store, str, os.PathLike, None] = None) -> SweepResult:
    """The ``SweepResult`` of the sweep ``name``, read from ``store`` (default ./runs/sweeps.log).

    Example:
        >>> result = load_sweep("iris")                             # doctest: +SKIP
        >>> result.best.name                                        # doctest: +SKIP
        'lr=0.1,size=10'
    """
    if not isinstance(store, Store):
        store = Store(store)
    return store.load(name)
