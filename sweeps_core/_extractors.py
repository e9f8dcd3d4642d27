"""Extractors: turn an ``IndexedDataBundle`` into one model-ready frame per extractor name.

``PlainExtractor.build(name).index(frame).join(frame, on_columns).apply(...)`` selects the rows of
the index frame, follows joins through other frames, and runs an optional transformer. Rows come
out in the order of the index frame, with its index. Row lookups use ``Index.get_indexer`` (one
hash lookup per frame), so a 200,000-row frame costs milliseconds, and no input frame is modified.
"""
from __future__ import annotations

import copy
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ._bundle import DataBundle, IndexedDataBundle, missing_frame_message
from ._errors import ConfigurationError, DataError


class Extractor:
    """Base of extractors: ``fit`` on a bundle, then ``extract`` a frame (or a dict of frames)."""

    def get_name(self) -> str:
        raise NotImplementedError

    def fit(self, idb: IndexedDataBundle) -> None:
        """Fit transformers on the rows of ``idb``; nothing to do by default."""

    def extract(self, idb: IndexedDataBundle) -> pd.DataFrame | dict:
        raise NotImplementedError

    def fit_extract(self, idb: IndexedDataBundle) -> pd.DataFrame | dict:
        self.fit(idb)
        return self.extract(idb)

    @staticmethod
    def make_extraction(idb: IndexedDataBundle, extractors: Sequence["Extractor"]) -> IndexedDataBundle:
        """A batch: the same index frame, and a bundle ``{extractor name: extracted frame}``.

        An extractor that returns a dict contributes each of its keys instead.
        """
        frames: dict[str, Any] = {}
        for extractor in extractors:
            result = extractor.extract(idb)
            produced = result if isinstance(result, dict) else {extractor.get_name(): result}
            clash = [name for name in produced if name in frames]
            if clash:
                raise ConfigurationError(f"extractor {extractor.get_name()!r} produces frames {clash!r} that another "
                                         f"extractor already produced; give each extractor a unique name")
            frames.update(produced)
        return IndexedDataBundle(idb.index_frame, DataBundle(**frames))


class _Step:
    """One step of a plain extractor: the frame it reads (None: the index frame) and the columns it keeps."""

    def __init__(self, frame: str | None, is_join: bool) -> None:
        self.frame = frame
        self.is_join = is_join
        self.keep_columns: list | None = None

    def __repr__(self) -> str:
        kind = "join" if self.is_join else "index"
        return f"{kind}({self.frame!r}, keep={self.keep_columns!r})"


def _column_list(columns: str | Iterable | None) -> list | None:
    if columns is None:
        return None
    if isinstance(columns, (str, tuple)) or not isinstance(columns, Iterable):
        return [columns]
    return list(columns)


class PlainExtractorBuilder:
    """Returned by ``PlainExtractor.build(name)``; ``apply`` ends the chain."""

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"PlainExtractor.build expects a non-empty str name, but got {name!r}")
        self.name = name
        self.steps: list[_Step] = []

    def index(self, frame_name: str | None = None) -> "PlainExtractorBuilder":
        """Rows of ``bundle[frame_name]`` at the index frame's index (None: the index frame itself)."""
        if self.steps:
            raise ConfigurationError(f"extractor {self.name!r}: .index() may only come first, once, before any .join()")
        self.steps.append(_Step(frame_name, is_join=False))
        return self

    def _ensure_start(self) -> None:
        if not self.steps:
            self.steps.append(_Step(None, is_join=False))  # no .index(): start from the index frame

    def join(self, frame_name: str, on_columns: str | list[str]) -> "PlainExtractorBuilder":
        """Keep ``on_columns`` of the previous step and look them up in the index of ``frame_name``."""
        if on_columns is None or (not isinstance(on_columns, str) and not list(on_columns)):
            raise ConfigurationError(f"extractor {self.name!r}: .join({frame_name!r}, on_columns={on_columns!r}) needs the "
                                     "columns to join on, e.g. .join('features', 'feature_id')")
        self._ensure_start()
        self.steps[-1].keep_columns = _column_list(on_columns)
        self.steps.append(_Step(frame_name, is_join=True))
        return self

    def apply(self, transformer: Any = None, take_columns: str | list[str] | None = None,
              raise_if_rows_are_missing: bool = True, raise_if_nulls_detected: bool = True,
              drop_columns: str | list[str] | None = None, coalesce_nulls: Any = None) -> "PlainExtractor":
        """End the chain and return the extractor (the transformer is deep-copied)."""
        self._ensure_start()
        self.steps[-1].keep_columns = _column_list(take_columns)
        return PlainExtractor(self.name, self.steps, transformer, raise_if_rows_are_missing,
                              raise_if_nulls_detected, _column_list(drop_columns), coalesce_nulls)


class PlainExtractor(Extractor):
    """Rows of the index frame, joined through bundle frames, optionally transformed.

    Example:
        >>> bundle = DataBundle(index=pd.DataFrame({'label': [0, 1]}), features=pd.DataFrame({'x': [1.0, 2.0]}))
        >>> extractor = PlainExtractor.build('features').index('features').apply()
        >>> extractor.fit_extract(IndexedDataBundle(bundle.index, bundle))['x'].tolist()
        [1.0, 2.0]
    """

    def __init__(self, name: str, steps: Sequence[_Step], transformer: Any = None,
                 raise_if_rows_are_missing: bool = True, raise_if_nulls_detected: bool = True,
                 drop_columns: list | None = None, coalesce_nulls: Any = None) -> None:
        self.name = name
        self.steps = copy.deepcopy(list(steps))
        self.transformer = copy.deepcopy(transformer)  # each extractor fits its own transformer
        self.raise_if_rows_are_missing = raise_if_rows_are_missing
        self.raise_if_nulls_detected = raise_if_nulls_detected
        self.drop_columns = drop_columns
        self.coalesce_nulls = coalesce_nulls

    @staticmethod
    def build(name: str) -> PlainExtractorBuilder:
        return PlainExtractorBuilder(name)

    def get_name(self) -> str:
        return self.name

    # --- building the frame -------------------------------------------------------------------
    def _error(self, text: str) -> DataError:
        return DataError(f"extractor {self.name!r}: {text}")

    def _frame(self, idb: IndexedDataBundle, name: str) -> pd.DataFrame:
        frames = idb.bundle.data_frames
        if name not in frames:
            raise self._error(missing_frame_message(name, list(frames)) +
                              f" (fix the frame name in PlainExtractor.build({self.name!r}) or add the frame to the bundle)")
        return frames[name]

    def _keep(self, df: pd.DataFrame, columns: list | None, what: str) -> pd.DataFrame:
        if columns is None:
            return df
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise self._error(f"{what} {missing!r} are not columns of the frame; available columns: {list(df.columns)}")
        return df[columns]

    def _lookup(self, frame: pd.DataFrame, keys: pd.Index, frame_name: str, target: pd.Index) -> pd.DataFrame:
        """Rows of ``frame`` whose index equals ``keys``, one per key, re-indexed as ``target``."""
        if frame.index.has_duplicates:
            raise self._error(f"frame {frame_name!r} has a duplicated index, so its rows cannot be looked up unambiguously")
        if frame.index.equals(keys):
            return frame.set_axis(target, axis=0)
        positions = frame.index.get_indexer(keys)
        missing = positions < 0
        if missing.any():
            if self.raise_if_rows_are_missing:
                raise self._error(f"{int(missing.sum())} of {len(keys)} rows are missing in frame {frame_name!r} "
                                  f"(e.g. keys {list(keys[missing][:5])!r}); add them, or pass "
                                  f"raise_if_rows_are_missing=False to .apply() to get null rows (a left join)")
            return frame.reindex(keys).set_axis(target, axis=0)
        return frame.take(positions).set_axis(target, axis=0)

    def _first(self, idb: IndexedDataBundle) -> pd.DataFrame:
        step, index = self.steps[0], idb.index_frame.index
        if step.frame is None:
            return idb.index_frame
        return self._lookup(self._frame(idb, step.frame), index, step.frame, index)

    def _join(self, current: pd.DataFrame, on_columns: list, step: _Step, idb: IndexedDataBundle) -> pd.DataFrame:
        frame = self._frame(idb, step.frame)
        keys = pd.Index(current[on_columns[0]]) if len(on_columns) == 1 else pd.MultiIndex.from_frame(current[on_columns])
        if frame.index.nlevels != keys.nlevels:
            raise self._error(f"joining frame {step.frame!r} on {on_columns!r} needs an index with {keys.nlevels} "
                              f"level(s), but it has {frame.index.nlevels}")
        return self._lookup(frame, keys, step.frame, current.index)

    def build_frame(self, idb: IndexedDataBundle) -> pd.DataFrame:
        """The untransformed frame: rows in the order of ``idb.index_frame``, with its index."""
        if idb.index_frame.index.has_duplicates:
            raise self._error("the index frame has a duplicated index; each row must be unique to be extracted")
        current = self._first(idb)
        for previous, step in zip(self.steps, self.steps[1:]):
            on_columns = previous.keep_columns
            current = self._keep(current, on_columns, f"join columns for {step.frame!r}")
            current = self._join(current, on_columns, step, idb)
        current = self._keep(current, self.steps[-1].keep_columns, "take_columns")
        if self.drop_columns:
            self._keep(current, self.drop_columns, "drop_columns")  # raises on a column that is not there
            current = current.drop(columns=self.drop_columns)
        return current

    # --- the extractor protocol ----------------------------------------------------------------
    def fit(self, idb: IndexedDataBundle) -> None:
        """Fit the transformer on the built frame (nothing to do without one)."""
        if self.transformer is not None:
            self.transformer.fit(self.build_frame(idb))

    def extract(self, idb: IndexedDataBundle) -> pd.DataFrame:
        frame = self.build_frame(idb)
        if self.transformer is not None:
            frame = self._transform(frame)
        else:
            frame = frame.copy(deep=False)  # never hand out the caller's own frame object
        if self.coalesce_nulls is not None:
            frame = frame.fillna(self.coalesce_nulls)
        if self.raise_if_nulls_detected:
            self._check_nulls(frame)
        return frame

    def _transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        result = self.transformer.transform(frame)
        if not isinstance(result, pd.DataFrame):
            result = pd.DataFrame(np.asarray(result), index=frame.index)
        return result

    def _check_nulls(self, frame: pd.DataFrame) -> None:
        null_columns = frame.columns[frame.isna().any(axis=0).to_numpy()]
        if len(null_columns):
            raise self._error(f"nulls in the output in columns {list(null_columns)!r}; fill them with a transformer "
                              f"(e.g. DataFrameTransformerFactory.default_factory()), pass coalesce_nulls=<value> "
                              f"to .apply(), or pass raise_if_nulls_detected=False to keep them")

    def __repr__(self) -> str:
        return f"PlainExtractor({self.name!r}, steps={self.steps!r}, transformer={self.transformer!r})"
