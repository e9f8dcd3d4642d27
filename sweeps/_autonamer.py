"""Grid expansion and task naming: one short, unique, filesystem-safe name per grid point.

The released (REL) ``Autonamer`` rules are kept, and what they got wrong is fixed:

* Only swept values are named; fixed values are recorded in ``TaskSpec.params``.
* Names are unique within a sweep, also on case-insensitive file systems. Clashes are resolved
  in three steps, each deterministic: two keys with the same initials get longer abbreviations
  (``learning_rate`` / ``layer_ratio``: ``LeRa`` / ``LaRa``); a key whose REL labels are not all
  distinct gets exact labels (``1.5`` / ``15``, ``1.0`` / ``10``); whole names that still clash
  (``-`` is both the separator and the tuple joiner) get a digest suffix.
* A label never misstates a value by more than REL's own dropped dot: REL's ``K`` / ``M`` (its
  ``>`` thresholds) are used only where they are exact (``2000``: ``2K``; ``1500``: ``1500``, REL
  ``1K``), and a whole float above 1000 is spelled with its exponent (``1e8``: ``1e8``, not REL's
  ``1000000000``, which reads as 1e9). Smaller floats lose their dot as in REL: ``0.1``: ``01``,
  ``1.0``: ``10`` (exact labels take over where that makes two labels of one range equal).
* A grid of more than ``MAX_GRID_POINTS`` points is refused before any point is built.
* Names use only ``[A-Za-z0-9._-]`` and are at most 64 characters; a longer name is cut and
  ends with a digest of the whole name. Digests are SHA-1, never ``hash()``, so names are the
  same in every process.
"""
from __future__ import annotations

import collections
import collections.abc
import difflib
import enum
import hashlib
import inspect
import itertools
import math
import re
import unicodedata
from typing import Any, Callable, Mapping, Optional, Sequence

from ._errors import SweepsTypeError, SweepsValueError
from ._spec import TaskSpec

MAX_NAME_LENGTH = 64
MAX_GRID_POINTS = 1_000_000  # a bigger grid is a mistake or a job for search(): refused, not built
DEFAULT_NAME = "default"
_DIGEST_LENGTH = 8
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_UNSAFE_IN_ABBREVIATION = re.compile(r"[^A-Za-z0-9_]+")
_PREFIX = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_ABBREVIATION = re.compile(r"[A-Za-z0-9_]+")
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")


class Autonamer:
    """Expands a grid of keyword arguments into named tasks.

    A ``list`` value is a range; so are a ``range(...)`` object and a numpy array with at least
    one dimension (turned into a list, numpy scalars into Python ones). Every other value (a
    tuple, a set, a scalar ...) is fixed: it is passed to every task and is not in the names.
    The grid is the cartesian product of the ranges in keyword order, the first key slowest.

    Args:
        create_task: called as ``create_task(**params)`` for each grid point.
        prefix: put before every name as ``prefix-``; also the name of a grid without ranges.
        abbreviations: ``{key: abbreviation}`` overriding the derived ones, e.g. ``{'lr': 'lr'}``.

    Example:
        >>> def create_task(network_size=(50,), learning_rate=1.0, algorithm='Adam', epochs=20):
        ...     return {'lr': learning_rate}
        >>> namer = Autonamer(create_task, prefix='exp')
        >>> specs = namer.specs(network_size=[(), (10, 10)], learning_rate=[0.1, 1], epochs=5)
        >>> [spec.name for spec in specs]
        ['exp-NS-LR01', 'exp-NS-LR1', 'exp-NS10-10-LR01', 'exp-NS10-10-LR1']
        >>> specs[-1].params, specs[-1].swept
        ({'network_size': (10, 10), 'learning_rate': 1, 'epochs': 5}, ('network_size', 'learning_rate'))
        >>> [spec.name for spec in namer.specs(learning_rate=[1.5, 15])]
        ['exp-LR1.5', 'exp-LR15']
        >>> namer.count(network_size=[(), (10,)], learning_rate=range(3))
        6
    """

    def __init__(
        self,
        create_task: Callable[..., Any],
        prefix: Optional[str] = None,
        abbreviations: Optional[Mapping[str, str]] = None,
    ):
        if not callable(create_task):
            raise SweepsTypeError(f"create_task must be callable, got {create_task!r}")
        _raise_if(_prefix_problems(prefix) + _abbreviation_problems(abbreviations or {}))
        self.create_task = create_task
        self.prefix = prefix
        self.abbreviations = dict(abbreviations or {})

    def __repr__(self) -> str:
        return (f"Autonamer({_callable_name(self.create_task)}, prefix={self.prefix!r}, "
                f"abbreviations={self.abbreviations!r})")

    def count(self, /, **ranges: Any) -> int:
        """The number of tasks the grid gives, without expanding it (validates like ``specs``)."""
        grid, _ = self._checked(ranges)
        return math.prod(len(values) for values in grid.values())

    def specs(self, /, **ranges: Any) -> list[TaskSpec]:
        """One ``TaskSpec(name, params, swept)`` per grid point, in grid order; builds no task.

        ``params`` holds the swept keys in keyword order, then the fixed ones. Without any range
        there is one spec, named ``prefix`` (or ``'default'``).
        """
        grid, fixed = self._checked(ranges, limit=MAX_GRID_POINTS)
        if not grid:
            return [TaskSpec(_capped(self.prefix or DEFAULT_NAME), dict(fixed), ())]
        keys = tuple(grid)
        points = list(itertools.product(*(range(len(values)) for values in grid.values())))
        abbreviations = _key_abbreviations(keys, self.abbreviations)
        names = _names(grid, points, abbreviations, self.prefix)
        return [
            TaskSpec(name, {**{k: grid[k][i] for k, i in zip(keys, point)}, **fixed}, keys)
            for name, point in zip(names, points)
        ]

    def name(self, params: Mapping[str, Any], /) -> str:
        """The name of one point, from its params alone: for a trial sampled by a search.

        Every key of ``params`` is in the name, abbreviated as in a grid; floats are spelled at
        3 significant digits (the params keep full precision). Two points that differ only past
        the third digit get the same name: the store then suffixes the later one.

        Example:
            >>> def create_task(learning_rate=0.1, network_size=(10,)): ...
            >>> Autonamer(create_task).name({'learning_rate': 0.012345, 'network_size': (10, 10)})
            'LR00123-NS10-10'
        """
        if not isinstance(params, Mapping):
            raise SweepsTypeError(f"params={params!r} must be a dict of create_task's arguments")
        _raise_if(_key_problems(self.create_task, list(params)))
        if not params:
            return _capped(self.prefix or DEFAULT_NAME)
        abbreviations = _key_abbreviations(tuple(params), self.abbreviations)
        head = [self.prefix] if self.prefix else []
        parts = [abbreviations[key] + _readable(_rel_value(_three_digits(value)))
                 for key, value in params.items()]
        return _capped("-".join(head + parts))

    def build_tasks(self, /, **ranges: Any) -> list:
        """Calls ``create_task(**spec.params)`` for every spec and sets ``task.info['name']``."""
        tasks = []
        for spec in self.specs(**ranges):
            task = self.create_task(**spec.params)
            _set_name(task, spec.name)
            tasks.append(task)
        return tasks

    def _checked(self, call: Mapping[str, Any],
                 limit: Optional[int] = None) -> tuple[dict[str, list], dict[str, Any]]:
        key_problems = _key_problems(self.create_task, list(call))
        too_big = [] if limit is None else _size_problems(call, limit)
        if too_big:  # before _split, which turns every range into a list
            _raise_if(key_problems + too_big)
        grid, fixed, problems = _split(call)
        _raise_if(key_problems + problems)
        return grid, fixed


# --- validation -------------------------------------------------------------------------------

def _raise_if(problems: Sequence[str]) -> None:
    if len(problems) == 1:
        raise SweepsValueError(f"Autonamer: {problems[0]}")
    if problems:
        raise SweepsValueError("Autonamer found problems:\n- " + "\n- ".join(problems))


def _callable_name(function: Callable) -> str:
    return getattr(function, "__qualname__", None) or type(function).__qualname__


def _prefix_problems(prefix: Optional[str]) -> list[str]:
    if prefix is None or (isinstance(prefix, str) and _PREFIX.fullmatch(prefix)):
        return []
    return [f"prefix={prefix!r} is not filesystem-safe: use letters, digits, '.', '_' and '-' "
            "(not first: '.' and '-')"]


def _abbreviation_problems(abbreviations: Mapping[str, str]) -> list[str]:
    problems, owners = [], {}
    for key, abbreviation in abbreviations.items():
        if not isinstance(abbreviation, str) or not _ABBREVIATION.fullmatch(abbreviation):
            problems.append(f"abbreviations[{key!r}]={abbreviation!r} must be a non-empty string "
                            "of letters, digits and '_'")
        elif abbreviation.lower() in owners:
            problems.append(f"abbreviations[{key!r}]={abbreviation!r} clashes with "
                            f"abbreviations[{owners[abbreviation.lower()]!r}] (names must differ "
                            "even on case-insensitive file systems)")
        else:
            owners[abbreviation.lower()] = key
    return problems


def _key_problems(create_task: Callable, keys: list[str]) -> list[str]:
    """The keys that ``create_task`` does not accept, with a 'did you mean' for each."""
    problems = [f"{key!r} is not a usable argument name" for key in keys if not key]
    try:
        parameters = list(inspect.signature(create_task).parameters.values())
    except (TypeError, ValueError):  # no signature (some builtins): the call itself will tell
        return problems
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return problems
    accepted = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for key in keys:
        if key and key not in accepted:
            close = difflib.get_close_matches(key, accepted, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{_callable_name(create_task)}() does not accept {key!r}{hint}; "
                            f"it accepts: {', '.join(accepted) or 'no keyword arguments'}")
    return problems


def _size_problems(call: Mapping[str, Any], limit: int) -> list[str]:
    """The grid's size against ``limit``, from the ranges' lengths: nothing is listed or built."""
    sizes = {key: len(value) for key, value in call.items() if _is_range(value)}
    points = math.prod(sizes.values())
    if points <= limit:
        return []
    per_key = " x ".join(f"{key}: {size:,}" for key, size in sizes.items())
    return [f"the grid has {points:,} points ({per_key}), more than MAX_GRID_POINTS = {limit:,}; "
            "split it into several sweeps over smaller ranges, or sample the space with search()"]


def _is_range(value: Any) -> bool:
    return isinstance(value, (list, range)) or (
        type(value).__module__ == "numpy" and getattr(value, "ndim", 0) >= 1)


def _split(call: Mapping[str, Any]) -> tuple[dict[str, list], dict[str, Any], list[str]]:
    """Ranges and fixed values, each in keyword order, and the problems found in them."""
    grid, fixed, problems = {}, {}, []
    for key, value in call.items():
        values = _as_range(value)
        if isinstance(value, (set, frozenset)):
            problems.append(f"{key}={value!r} is a set: a set has no order, so it is neither a range "
                            f"nor a good fixed value; pass {key}={sorted(value, key=repr)!r} to sweep its "
                            "values")
        elif values is None:
            if isinstance(value, collections.abc.Iterator):
                problems.append(f"{key}={value!r} is an iterator: it is not a range, and as a fixed "
                                f"value the first task would use it up; pass {key}=list(...) to sweep "
                                "its values")
            fixed[key] = value
        elif not values:
            problems.append(f"{key}={value!r} is an empty range; a range needs at least one value "
                            f"(or leave {key!r} out to use the default of create_task)")
        else:
            grid[key] = values
            repeated = _repeated(values)
            if repeated:
                problems.append(f"the range {key}={value!r} repeats {repeated!r}; its values must "
                                "differ, or the same task would run twice")
    return grid, fixed, problems


def _as_range(value: Any) -> Optional[list]:
    """The values of a range (a list, a range object, a numpy array); None for a fixed value."""
    if isinstance(value, (list, range)):
        return list(value)
    if _is_range(value):
        return value.tolist()
    return None


def _repeated(values: list) -> list:
    """The values equal to an earlier one of the same type."""
    seen, unhashable, repeated = set(), [], []
    for value in values:
        try:
            key = (type(value), value)
            is_repeat = key in seen
            seen.add(key)
        except TypeError:  # unhashable: compare one by one
            is_repeat = any(type(u) is type(value) and _equal(u, value) for u in unhashable)
            unhashable.append(value)
        if is_repeat:
            repeated.append(value)
    return repeated


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # e.g. numpy's "truth value of an array is ambiguous"
        return False


# --- abbreviations ----------------------------------------------------------------------------

def _abbreviate(key: str, level: int) -> str:
    """Level 1: REL's initials of the words between '_'; level n: each word's first n letters;
    past the longest word: the key itself, then the key with a growing digest."""
    words = [word for word in key.split("_") if word]
    longest = max((len(word) for word in words), default=0)
    if level <= longest:
        text = "".join(word[0].upper() + word[1:level] for word in words)
    else:  # whole words still clash, or the key is only underscores
        extra = level - longest - 1
        text = key + _digest(key, length=extra)
    return _UNSAFE_IN_ABBREVIATION.sub("_", _readable(text))


def _key_abbreviations(keys: Sequence[str], overrides: Mapping[str, str]) -> dict[str, str]:
    """One abbreviation per key, distinct ignoring case: clashing derived ones grow together."""
    fixed = {key: overrides[key] for key in keys if key in overrides}
    levels = {key: 1 for key in keys if key not in fixed}
    while True:
        abbreviations = {key: fixed.get(key) or _abbreviate(key, levels[key]) for key in keys}
        owners = collections.defaultdict(list)
        for key in keys:
            owners[abbreviations[key].lower()].append(key)
        clashing = [key for group in owners.values() if len(group) > 1
                    for key in group if key in levels]
        if not clashing:
            return abbreviations
        for key in clashing:
            levels[key] += 1


# --- value labels -----------------------------------------------------------------------------

def _text(value: Any) -> str:
    """str(value) without what changes between processes (memory addresses)."""
    if inspect.isclass(value) or inspect.isroutine(value):
        name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
        if name:
            return name
    return _ADDRESS.sub("", str(value))  # also for a routine without a name (a descriptor object)


def _rel_value(value: Any) -> str:
    """REL's spelling: K/M ints (REL's '>' thresholds), floats without '.', Enum names, '-' joins;
    where REL's spelling misstates a value (1500: '1K', 1e8: '1000000000'), an exact one."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, int):
        return _int_label(value)
    if isinstance(value, float):
        text = str(value)
        if value.is_integer() and abs(value) > 1000 and "e" not in text:
            return _exponent_label(text)
        return text.replace(".", "")
    if isinstance(value, (list, tuple)):
        return "-".join(_text(item) for item in value)
    return _text(value)


def _int_label(value: int) -> str:
    """REL's K / M (its '>' thresholds) where they are exact, else every digit: 2000 -> '2K',
    1_000_000 -> '1000K' (as REL), 3_000_000 -> '3M', but 1500 -> '1500' (REL: '1K')."""
    for unit, size in (("M", 1_000_000), ("K", 1000)):
        if value > size:
            return f"{value // size}{unit}" if value % size == 0 else str(value)
    return str(value)


def _exponent_label(text: str) -> str:
    """A whole float's ``str`` ('-1500000.0') spelled with its exponent ('-1.5e6'): REL's dropped
    dot would append a '0' (1e8 -> '1000000000', read as 1e9)."""
    sign, digits = ("-", text[1:-2]) if text.startswith("-") else ("", text[:-2])
    significant = digits.rstrip("0")
    mantissa = significant[0] + ("." + significant[1:] if len(significant) > 1 else "")
    return f"{sign}{mantissa}e{len(digits) - 1}"


def _exact_value(value: Any) -> str:
    """A spelling that keeps what REL drops: the float's dot, the full int, every character."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, enum.Enum):
        return _escaped(f"{type(value).__name__}.{value.name}")
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(float(value)).replace("+", "")  # 1e+20 -> 1e20
    if isinstance(value, (list, tuple)):
        return "-".join(_exact_value(item) for item in value)
    return _escaped(_text(value))


def _readable(text: str) -> str:
    """Only safe characters: accents dropped, every other run of unsafe ones becomes '_'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return _UNSAFE.sub("_", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _escaped(text: str) -> str:
    """A safe spelling that keeps distinct texts distinct: '_' -> '__', '/' -> '_2f_'."""
    return "".join(c if c in _PLAIN else "__" if c == "_" else f"_{ord(c):x}_" for c in text)


def _labels(values: list) -> list[str]:
    """REL labels when they are distinct (ignoring case), else exact ones for the whole range."""
    rel = [_readable(_rel_value(value)) for value in values]
    return rel if _distinct(rel) else [_exact_value(value) for value in values]


def _distinct(texts: Sequence[str]) -> bool:
    return len({text.lower() for text in texts}) == len(texts)


# --- names ------------------------------------------------------------------------------------

def _names(grid: dict[str, list], points: list[tuple], abbreviations: dict[str, str],
           prefix: Optional[str]) -> list[str]:
    labels = {key: _labels(values) for key, values in grid.items()}
    head = [prefix] if prefix else []
    names = ["-".join(head + [abbreviations[k] + labels[k][i] for k, i in zip(grid, point)])
             for point in points]
    return _unique(names, _tokens(grid, points))


def _tokens(grid: dict[str, list], points: list[tuple]) -> list[str]:
    """A text per grid point, distinct across points, that depends on its values, not on order
    (except for values no text tells apart, like two NaNs)."""
    tokens, counts = [], collections.Counter()
    for point in points:
        token = "|".join(f"{k}={type(grid[k][i]).__qualname__}:{_exact_value(grid[k][i])}"
                         for k, i in zip(grid, point))
        counts[token] += 1
        tokens.append(token if counts[token] == 1 else f"{token}#{counts[token]}")
    return tokens


def _unique(names: list[str], tokens: list[str]) -> list[str]:
    """Caps every name, then suffixes each name that still clashes (ignoring case) with a
    digest of its grid point; a new clash (never seen in practice) takes the next salt."""
    base = [_capped(name) for name in names]
    names, salt = list(base), 0
    while True:
        counts = collections.Counter(name.lower() for name in names)
        clashing = [i for i, name in enumerate(names) if counts[name.lower()] > 1]
        if not clashing:
            return names
        for i in clashing:
            names[i] = _capped(base[i], "-" + _digest(f"{tokens[i]}#{salt}"))
        salt += 1


def _three_digits(value: Any) -> Any:
    """A float rounded to 3 significant digits, for names; anything else unchanged."""
    if isinstance(value, float) and math.isfinite(value):  # 0.0 and -0.0 come back as they are
        return float(f"{value:.3g}")
    return value


def _capped(name: str, suffix: str = "") -> str:
    """name + suffix in at most MAX_NAME_LENGTH characters; a cut name gets a digest of itself."""
    if len(name) + len(suffix) <= MAX_NAME_LENGTH:
        return name + suffix
    cut = "-" + _digest(name)
    return name[:MAX_NAME_LENGTH - len(cut) - len(suffix)].rstrip("-") + cut + suffix


def _digest(text: str, length: int = _DIGEST_LENGTH) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


def _set_name(task: Any, name: str) -> None:
    """Sets ``task.info['name']``, creating ``info`` when missing and keeping its other keys."""
    info = getattr(task, "info", None)
    if info is None:
        info = {}
        try:
            task.info = info
        except AttributeError as error:
            raise SweepsTypeError(f"create_task returned {task!r}, which cannot take an 'info' "
                                  "attribute; return an object with an info dict") from error
    if not isinstance(info, collections.abc.MutableMapping):
        raise SweepsTypeError(f"task.info of {task!r} is {info!r}, not a dict; Autonamer sets "
                              "task.info['name']")
    info["name"] = name
