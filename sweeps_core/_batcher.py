"""Batches of the index, with extraction and tensor conversion done once per run.

The extractors of a task are fitted on the whole training split (``settings.fit_on='train'``; the
original library fitted them on the first training batch, which ``fit_on='first_batch'`` restores),
then applied to each split *once*; a batch is a window on that extracted split. Frames become
tensors once, on the task's device, and every later batch of every epoch slices them, so no
training step converts a DataFrame. User networks that read ``batch['features']`` still get a
DataFrame: it is cut from the extracted frame on first access.
"""
from __future__ import annotations

import math
from typing import Any, Iterator, Optional, Sequence

import numpy as np
import pandas as pd

from ._bundle import DataBundle, IndexedDataBundle
from ._errors import ConfigurationError, DataError
from ._extractors import Extractor

Positions = Any  # a slice or an int ndarray of row positions inside a split


class SequentialSampler:
    """Batch ``i`` is rows ``[i*batch_size, (i+1)*batch_size)`` in index order; the same every epoch."""

    deterministic = True

    def batch_count(self, n_rows: int, batch_size: int) -> int:
        return math.ceil(n_rows / batch_size)

    def batches(self, index_frame: pd.DataFrame, batch_size: int, rng=None) -> Iterator[Positions]:
        n_rows = len(index_frame)
        for start in range(0, n_rows, batch_size):
            yield slice(start, min(start + batch_size, n_rows))

    def __repr__(self) -> str:
        return "SequentialSampler()"


class PriorityRandomSampler:
    """Draws ``batch_size`` rows with replacement, with probability proportional to a priority.

    ``priority_column=None`` samples uniformly. Rows drawn twice in a batch are kept once
    (``deduplicate``). ``random_state`` seeds the draws; without it the task's seed does.
    """

    deterministic = False

    def __init__(self, priority_column: Optional[str] = None, dataset_size_factor: float = 1.0,
                 random_state: Optional[int] = None, deduplicate: bool = True, priorities=None):
        self.priority_column = priority_column
        self.dataset_size_factor = dataset_size_factor
        self.random_state = random_state
        self.deduplicate = deduplicate
        self.priorities = priorities  # a Series on the index, so the user's frame is never written to

    def batch_count(self, n_rows: int, batch_size: int) -> int:
        return math.ceil(self.dataset_size_factor * n_rows / batch_size)

    def _probabilities(self, index_frame: pd.DataFrame) -> Optional[np.ndarray]:
        if self.priorities is not None:
            weights = self.priorities.reindex(index_frame.index).to_numpy(dtype=float)
        elif self.priority_column is not None:
            if self.priority_column not in index_frame.columns:
                raise DataError(
                    f"PriorityRandomSampler: priority column {self.priority_column!r} is not in the index "
                    f"frame; its columns are {list(index_frame.columns)}"
                )
            weights = index_frame[self.priority_column].to_numpy(dtype=float)
        else:
            return None
        return weights / weights.sum()

    def batches(self, index_frame: pd.DataFrame, batch_size: int, rng=None) -> Iterator[Positions]:
        if rng is None:
            rng = np.random.default_rng(self.random_state)
        n_rows = len(index_frame)
        p = self._probabilities(index_frame)
        for _ in range(self.batch_count(n_rows, batch_size)):
            positions = rng.choice(n_rows, size=batch_size, replace=True, p=p)
            if self.deduplicate:
                positions = np.unique(positions)
            yield positions

    def __repr__(self) -> str:
        return (f"PriorityRandomSampler(priority_column={self.priority_column!r}, "
                f"dataset_size_factor={self.dataset_size_factor!r}, random_state={self.random_state!r})")


def make_priorities_for_even_representation(df: pd.DataFrame, column: str, magnitude: float = 1) -> pd.Series:
    """Priority of a row = (1 / size of its class) ** magnitude: every class is drawn equally often."""
    sizes = df.groupby(column)[column].transform("size")
    return (1.0 / sizes) ** magnitude


# The original library's names for the same samplers.
SimpleBatcherStrategy = SequencialSampler = SequentialSampler
PriorityRandomBatcherStrategy = PriorityRandomSampler


class SplitData:
    """The extracted frames of one split, with their tensors made once per device."""

    def __init__(self, index_frame: pd.DataFrame, frames: dict):
        self.index_frame = index_frame
        self.frames = frames
        self._tensors: dict = {}

    def __len__(self) -> int:
        return len(self.index_frame)

    def tensor(self, name: str, device: Any = "cpu", strict: bool = True):
        """The frame as a float32 tensor on ``device``, made once; ``strict=False`` returns None
        for a frame that is not numeric (a network that reads the DataFrame itself may use it)."""
        key = (name, str(device))
        if key not in self._tensors:
            try:
                self._tensors[key] = frame_to_tensor(self.frames[name], name).to(device)
            except ConfigurationError:
                if strict:
                    raise
                return None
        return self._tensors[key]


def frame_to_tensor(frame: Any, name: str = "frame"):
    """A DataFrame of numbers as one float32 tensor; a tensor passes through."""
    import torch

    if isinstance(frame, torch.Tensor):
        return frame
    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    try:
        values = np.require(frame.to_numpy(dtype=np.float32), requirements=["C", "W"])
    except (TypeError, ValueError):
        bad = [c for c in frame.columns if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))]
        raise ConfigurationError(
            f"frame {name!r} has non-numeric columns {bad}: give its extractor a transformer, "
            f"for example dft.DataFrameTransformerFactory.default_factory()"
        ) from None
    return torch.from_numpy(values)


class Batch(IndexedDataBundle):
    """A window of rows on a ``SplitData``: an ``IndexedDataBundle`` whose frames appear on access.

    ``batch['features']`` is a DataFrame (cut on first access); ``batch.tensor('features')`` is
    the float32 tensor of the same rows on the task's device, sliced from the split's tensor.
    """

    def __init__(self, data: SplitData, positions: Positions, device: Any = "cpu"):
        # IndexedDataBundle's fields are computed lazily here, so its __init__ is not called.
        self._data = data
        self._positions = positions
        self._device = device
        self._index_frame = None
        self._bundle = None
        self._position_tensor = None

    @property
    def device(self):
        return self._device

    @property
    def index_frame(self) -> pd.DataFrame:
        if self._index_frame is None:
            self._index_frame = self._data.index_frame.iloc[self._positions]
        return self._index_frame

    @property
    def bundle(self) -> DataBundle:
        if self._bundle is None:
            frames = {name: frame.iloc[self._positions] for name, frame in self._data.frames.items()}
            self._bundle = DataBundle(**frames)
        return self._bundle

    def __getitem__(self, key: str):
        if key == "index":
            return self.index_frame
        if key not in self._data.frames:
            raise KeyError(f"batch has no frame {key!r}; its frames are {self.frame_names}")
        return self.bundle[key]

    def __contains__(self, key: str) -> bool:
        return key == "index" or key in self._data.frames

    @property
    def frame_names(self) -> list:
        return list(self._data.frames)

    def __len__(self) -> int:
        if isinstance(self._positions, slice):
            return len(range(*self._positions.indices(len(self._data))))
        return len(self._positions)

    def tensor(self, name: str):
        """The rows of frame ``name`` as a float32 tensor on the batch's device."""
        if name not in self._data.frames:
            raise KeyError(f"batch has no frame {name!r}; its frames are {self.frame_names}")
        full = self._data.tensor(name, self._device)
        if isinstance(self._positions, slice):
            return full[self._positions]
        if self._position_tensor is None:
            import torch
            self._position_tensor = torch.as_tensor(self._positions, device=full.device)
        return full.index_select(0, self._position_tensor)

    @property
    def source_key(self) -> tuple:
        """(the split data object, the rows): equal keys mean the same rows of the same data."""
        positions = self._positions
        rows = (positions.start, positions.stop) if isinstance(positions, slice) else tuple(np.asarray(positions).tolist())
        return self._data, rows

    def sub_batch(self, positions: Positions) -> "Batch":
        """A batch of some of this batch's rows (positions relative to this batch)."""
        if isinstance(self._positions, slice) and isinstance(positions, slice):
            start = self._positions.start + positions.start
            return Batch(self._data, slice(start, self._positions.start + positions.stop), self._device)
        own = np.arange(len(self._data))[self._positions]
        return Batch(self._data, own[positions], self._device)

    def to_bundle(self) -> IndexedDataBundle:
        """A plain ``IndexedDataBundle`` copy, as the original library's batches were."""
        return IndexedDataBundle(self.index_frame, self.bundle)

    def __repr__(self) -> str:
        return f"Batch({len(self)} rows, frames={self.frame_names}, device={str(self._device)!r})"

    def __reduce__(self):
        return (IndexedDataBundle, (self.index_frame, self.bundle))


class Batcher:
    """Fits the extractors, extracts each split once, and cuts batches out of it.

    ``training_sampler`` chooses the training batches (sequential by default); evaluation is always
    sequential. ``mini_batching_sampler`` cuts a batch into mini-batches (sequential by default).
    An extractor whose output for a row depends on the other rows of its batch sets
    ``rowwise = False``; the batcher then extracts batch by batch instead of the whole split.
    """

    def __init__(self, extractors: Sequence[Extractor], training_sampler=None, mini_batching_sampler=None,
                 batching_strategy=None, mini_batching_strategy=None):
        if isinstance(extractors, int) or isinstance(training_sampler, int):
            raise ConfigurationError(
                "Batcher takes extractors and samplers, not a batch size: set task.settings.batch_size instead"
            )
        self.extractors = list(extractors)
        self.training_sampler = training_sampler or batching_strategy or SequentialSampler()
        self.mini_batching_sampler = mini_batching_sampler or mini_batching_strategy or SequentialSampler()

    @property
    def rowwise(self) -> bool:
        return all(getattr(e, "rowwise", True) for e in self.extractors)

    def fit(self, idb: IndexedDataBundle) -> None:
        for extractor in self.extractors:
            extractor.fit(idb)

    def extract(self, idb: IndexedDataBundle) -> SplitData:
        extraction = Extractor.make_extraction(idb, self.extractors)
        return SplitData(idb.index_frame, dict(extraction.bundle.data_frames))

    def first_training_rows(self, train_idb: IndexedDataBundle, batch_size: int, rng=None) -> pd.DataFrame:
        positions = next(iter(self.training_sampler.batches(train_idb.index_frame, batch_size, rng)))
        return train_idb.index_frame.iloc[positions]

    def batches(self, data: SplitData, sampler, batch_size: int, device, rng=None, source=None) -> Iterator[Batch]:
        """Batches of a split; ``source`` (the split's IndexedDataBundle) is needed when not rowwise."""
        for positions in sampler.batches(data.index_frame, batch_size, rng):
            if self.rowwise or source is None:
                yield Batch(data, positions, device)
            else:
                rows = source.change_index(data.index_frame.iloc[positions])
                part = self.extract(rows)
                yield Batch(part, slice(0, len(part)), device)

    def mini_batches(self, batch: Batch, mini_batch_size: int, rng=None) -> Iterator[Batch]:
        for positions in self.mini_batching_sampler.batches(batch.index_frame, mini_batch_size, rng):
            yield batch.sub_batch(positions)

    def __repr__(self) -> str:
        return f"Batcher({[e.get_name() for e in self.extractors]}, {self.training_sampler!r})"
