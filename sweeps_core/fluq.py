"""The few ``yo_fluq_ds`` names the original walkthrough uses: ``Query``, ``fluq`` (and ``Obj``).

An old notebook's ``from yo_fluq_ds import *`` becomes ``from sweeps_core.fluq import Query, fluq``,
and its loop runs unchanged::

    for task in Query.en(tasks).feed(fluq.with_progress_bar()):
        ...

This is not a port of yo_fluq_ds: only ``Query.en(...).feed(...)``, ``fluq.with_progress_bar()``
and ``Query.combinatorics.grid(**ranges)`` are here, with the original's behaviour.

Example:
    >>> [point.lr for point in Query.combinatorics.grid(size=[1, 2], lr=[0.1, 1])]
    [0.1, 1, 0.1, 1]
    >>> Query.en([1, 2, 3]).feed(fluq.with_progress_bar(disable=True)).to_list()
    [1, 2, 3]
"""
from __future__ import annotations

import importlib.util
import itertools
import math
from typing import Any, Callable, Iterable, Iterator, Optional

from ._ctor import Obj  # a dict whose keys are also attributes, as yo_fluq_ds's Obj

__all__ = ["Obj", "Query", "Queryable", "fluq"]


class Queryable:
    """An iterable that a function can be fed: ``queryable.feed(f)`` returns ``f(queryable)``.

    It iterates over what it wraps (once, if that is an iterator) and knows its ``len`` when the
    wrapped iterable does.
    """

    def __init__(self, items: Iterable, length: Optional[int] = None):
        self._items = items
        self._length = length if length is not None else _length_of(items)

    def __iter__(self) -> Iterator:
        return iter(self._items)

    def __len__(self) -> int:
        if self._length is None:
            raise TypeError(f"the length of {self._items!r} is not known before iterating it")
        return self._length

    def __repr__(self) -> str:
        return f"Queryable({self._items!r})"

    def feed(self, function: Callable[[Queryable], Any]) -> Any:
        """``function(self)``: lets a chain end in a helper such as ``fluq.with_progress_bar()``."""
        return function(self)

    def to_list(self) -> list:
        return list(self)


class _Grid:
    """The cartesian product of ranges in key order (the last key fastest), as ``Obj`` points;
    re-iterable, and its ``len`` is known without expanding it."""

    def __init__(self, ranges: dict[str, list]):
        self.ranges = ranges

    def __iter__(self) -> Iterator[Obj]:
        keys = list(self.ranges)
        for values in itertools.product(*self.ranges.values()):
            yield Obj(zip(keys, values))

    def __len__(self) -> int:
        return math.prod(len(values) for values in self.ranges.values())

    def __repr__(self) -> str:
        return f"grid({', '.join(f'{key}={values!r}' for key, values in self.ranges.items())})"


class _Combinatorics:
    @staticmethod
    def grid(**ranges: Iterable) -> Queryable:
        """Every combination of the ranges' values, as ``Obj``s, the first key slowest.

        Example:
            >>> Query.combinatorics.grid(a=[1, 2], b=['x']).to_list()
            [{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'x'}]
        """
        return Queryable(_Grid({key: list(values) for key, values in ranges.items()}))


class Query:
    """Where queryables start: ``Query.en(iterable)`` and ``Query.combinatorics.grid(**ranges)``."""

    combinatorics = _Combinatorics()

    @staticmethod
    def en(items: Iterable) -> Queryable:
        """Wraps ``items`` (any iterable) so that it can be ``feed``-ed."""
        return Queryable(items)


class _ProgressBar:
    """Feeds a queryable through a tqdm bar: the same items, in the same order."""

    def __init__(self, **tqdm_arguments: Any):
        self.tqdm_arguments = tqdm_arguments

    def __repr__(self) -> str:
        return f"fluq.with_progress_bar({', '.join(f'{k}={v!r}' for k, v in self.tqdm_arguments.items())})"

    def __call__(self, items: Iterable) -> Queryable:
        total = _length_of(items)
        return Queryable(_progress_bar_class()(items, total=total, **self.tqdm_arguments), total)


class fluq:  # noqa: N801 - the original's spelling, as `fluq.with_progress_bar()`
    """The helpers fed to ``Queryable.feed``."""

    @staticmethod
    def with_progress_bar(**tqdm_arguments: Any) -> _ProgressBar:
        """A function that wraps a queryable in a tqdm progress bar (its total is the queryable's
        ``len`` where known); the keyword arguments go to tqdm (``desc=``, ``disable=``, ...)."""
        return _ProgressBar(**tqdm_arguments)


def _length_of(items: Any) -> Optional[int]:
    try:
        return len(items)
    except TypeError:
        return None


def _progress_bar_class() -> Any:
    """tqdm's notebook bar where Jupyter widgets are installed, else the text bar (tqdm.auto
    would warn in a notebook without ipywidgets)."""
    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm
