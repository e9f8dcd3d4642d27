"""One report's predictions as arrays, per stage; a DataFrame is made only for whoever asks.

The rows evaluated and their true labels do not change between epochs, so a ``StageTruth`` is made
once per run; each report adds only the network's outputs. The shipped metrics read the arrays
(``Metric.measure_arrays``); a user's metric that reads a frame gets one, with only the columns it
names in ``columns`` when it names them.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np
import pandas as pd


class StageTruth:
    """The rows of one evaluation stage: their index-frame rows and their label-frame values."""

    def __init__(self, stage: str, index_frame: pd.DataFrame, labels: pd.DataFrame):
        self.stage = stage
        self.index_frame = index_frame
        self.labels = labels
        self.label_columns = list(labels.columns)
        self._true_matrix: Optional[np.ndarray] = None
        self._derived: dict = {}

    def derived(self, name: str, compute: Callable[[list], Any]) -> Any:
        """``compute(label_columns)``, computed once per run (the labels do not change between reports)."""
        if name not in self._derived:
            self._derived[name] = compute(self.label_columns)
        return self._derived[name]

    def __len__(self) -> int:
        return len(self.index_frame)

    @property
    def true_matrix(self) -> np.ndarray:
        """The label values as one float64 (rows, label columns) matrix, made once."""
        if self._true_matrix is None:
            self._true_matrix = self.labels.to_numpy(dtype=np.float64)
        return self._true_matrix

    def true_column(self, position: int) -> np.ndarray:
        """One label column with its own dtype (ints stay ints, as the original's frames had them)."""
        return self.labels.iloc[:, position].to_numpy()

    def frame_columns(self) -> dict:
        """``true`` (one label column) or ``true_<col>`` (several): name -> label column position."""
        if len(self.label_columns) == 1:
            return {"true": 0}
        return {f"true_{column}": i for i, column in enumerate(self.label_columns)}


class StageResult:
    """One stage of one report: the truth held since preparation and this report's outputs."""

    def __init__(self, truth: StageTruth, predicted: np.ndarray):
        self.truth = truth
        self.predicted = predicted  # (rows, label columns), the network's outputs

    @property
    def stage(self) -> str:
        return self.truth.stage

    @property
    def label_columns(self) -> list:
        return self.truth.label_columns

    def __len__(self) -> int:
        return len(self.truth)

    def column_names(self) -> list:
        """The columns ``frame()`` has, in order, without making it."""
        names = list(self.truth.index_frame.columns)
        for true_name in self.truth.frame_columns():
            names += [true_name, "predicted" + true_name[len("true"):]]
        return names + ["stage"]

    def frame(self, columns: Optional[Sequence[str]] = None) -> pd.DataFrame:
        """The rows as the original library's result frame: index-frame columns, every ``true_<c>``
        followed by its ``predicted_<c>``, and ``stage``; only ``columns`` when given."""
        # .array keeps each column's dtype (categories too) and needs no alignment on the index
        data = {column: self.truth.index_frame[column].array for column in self.truth.index_frame.columns}
        for true_name, position in self.truth.frame_columns().items():
            data[true_name] = self.truth.labels.iloc[:, position].array
            data["predicted" + true_name[len("true"):]] = self.predicted[:, position]
        data["stage"] = np.full(len(self), self.stage, dtype=object)
        if columns is not None:
            missing = [c for c in columns if c not in data]
            if missing:
                from ._errors import DataError
                raise DataError(f"the result frame has no columns {missing!r}; its columns are {list(data)}")
            data = {c: data[c] for c in columns}
        return pd.DataFrame(data, index=self.truth.index_frame.index)


class Evaluation:
    """Every stage of one report, in order (test, then display)."""

    def __init__(self, stages: Sequence[StageResult]):
        self.stages = list(stages)
        self._frame: Optional[pd.DataFrame] = None

    def __len__(self) -> int:
        return sum(len(stage) for stage in self.stages)

    def frame(self) -> pd.DataFrame:
        """All stages as one result frame (made once), as the original's ``result_df``."""
        if self._frame is None:
            frames = [stage.frame() for stage in self.stages]
            self._frame = pd.concat(frames) if frames else pd.DataFrame()
        return self._frame
