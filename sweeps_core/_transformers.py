"""Frame transformers: scale float columns, one-hot encode the rest (the walkthrough's ``dft``).

All work is vectorized: a column is turned into numpy once, categorical values into codes with
``pd.Categorical``, and the output frame is built once from one float matrix.
"""
from __future__ import annotations

import copy
import logging
import numbers
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ._errors import ConfigurationError, DataError

logger = logging.getLogger(__name__)

OTHER, NULL = "OTHER", "NULL"


def _check_frame(df: Any, who: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{who} expects a pandas DataFrame, but got {type(df).__name__}")


def _as_column_list(columns: str | Iterable[str] | None, argument: str) -> list:
    if columns is None:
        return []
    if isinstance(columns, str):
        return [columns]
    try:
        return list(columns)
    except TypeError:
        raise ConfigurationError(f"{argument} must be a column name or a list of them, but got {columns!r}") from None


def _empty_output(n_rows: int, n_columns: int) -> np.ndarray:
    # Column-major, so that pandas can adopt it as one block without copying (its blocks are columns x rows).
    return np.zeros((n_rows, n_columns), order="F")


def _frame(values: np.ndarray, df: pd.DataFrame, columns: list) -> pd.DataFrame:
    return pd.DataFrame(values, index=df.index, columns=columns, copy=False)


def _transform_with(transformer: Any, df: pd.DataFrame) -> pd.DataFrame:
    _check_frame(df, f"{type(transformer).__name__}.transform")
    out = _empty_output(len(df), len(transformer.get_columns()))
    transformer.transform_into(df, out)
    return _frame(out, df, transformer.get_columns())


def _check_fitted(obj: Any, fitted: bool) -> None:
    if not fitted:
        raise ConfigurationError(
            f"{type(obj).__name__} is not fitted yet: call fit(df) or fit_transform(df) before transform(df)"
        )


class ContinousTransformer:
    """Mean-impute, then standard-scale float columns; add ``<col>_missing`` flags (0.0/1.0).

    Columns that are all-NaN at fit are dropped. Flags exist only for the columns that had NaN at
    fit. The std is the population std (as sklearn's StandardScaler); a constant column gets scale 1.
    ``scaler`` may be any sklearn-style scaler (e.g. ``MinMaxScaler()``) to use instead.
    """

    def __init__(self, columns: Sequence[str], scaler: Any = None) -> None:
        self.columns = _as_column_list(columns, "columns")
        self.scaler = scaler
        self.kept_columns_: list | None = None

    def _matrix(self, df: pd.DataFrame, columns: list, at_fit: bool) -> np.ndarray:
        missing = [c for c in columns if c not in df.columns]
        if missing and at_fit:
            raise DataError(f"ContinousTransformer.fit: columns {missing!r} are not in the frame; available columns: {list(df.columns)}")
        if missing:
            logger.warning("ContinousTransformer: columns %r are missing at transform; they are treated as all-NaN", missing)
        present = [c for c in columns if c in df.columns]
        try:
            values = df[present].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as error:
            raise DataError(f"ContinousTransformer: columns {present!r} cannot be read as floats: {error}") from error
        if not missing:
            return values
        result = np.full((len(df), len(columns)), np.nan)
        result[:, [columns.index(c) for c in present]] = values
        return result

    def fit(self, df: pd.DataFrame) -> "ContinousTransformer":
        _check_frame(df, "ContinousTransformer.fit")
        values = self._matrix(df, self.columns, at_fit=True)
        nan = np.isnan(values)
        keep = ~nan.all(axis=0)
        self.kept_columns_ = [c for c, k in zip(self.columns, keep) if k]
        values, nan = values[:, keep], nan[:, keep]
        has_nan = nan.any(axis=0)
        with np.errstate(all="ignore"):  # the nan-aware versions are slow: use them only where needed
            self.means_ = values.mean(axis=0)
            self.means_[has_nan] = np.nanmean(values[:, has_nan], axis=0)
        if self.scaler is None:
            std = values.std(axis=0)
            std[has_nan] = np.nanstd(values[:, has_nan], axis=0)
            self.scales_ = np.where(std < 10 * np.finfo(np.float64).eps, 1.0, std)
        else:
            self.scaler_ = copy.deepcopy(self.scaler).fit(values)
        self.missing_columns_ = [c for c, m in zip(self.kept_columns_, has_nan) if m]
        return self

    def get_columns(self) -> list:
        _check_fitted(self, self.kept_columns_ is not None)
        return list(self.kept_columns_) + [f"{c}_missing" for c in self.missing_columns_]

    def transform_into(self, df: pd.DataFrame, out: np.ndarray) -> None:
        """Write the output into ``out`` (rows x ``get_columns()``), avoiding temporary matrices."""
        _check_fitted(self, self.kept_columns_ is not None)
        values = self._matrix(df, self.kept_columns_, at_fit=False)
        k = len(self.kept_columns_)
        scaled = out[:, :k]
        nan = np.isnan(values)
        if self.scaler is None:
            np.subtract(values, self.means_, out=scaled)
            np.divide(scaled, self.scales_, out=scaled)
            scaled[nan] = 0.0  # imputing the mean, then scaling, gives exactly 0
        else:
            scaled[:] = self.scaler_.transform(np.where(nan, self.means_, values))
        has_nan = nan.any(axis=0)
        flagged = [self.kept_columns_.index(c) for c in self.missing_columns_]
        out[:, k:] = nan[:, flagged]
        has_nan[flagged] = False
        if has_nan.any():
            names = [c for c, u in zip(self.kept_columns_, has_nan) if u]
            logger.warning("ContinousTransformer: unexpected NaN in columns %r (none at fit); imputed with the fit mean", names)

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        return _transform_with(self, df)

    def fit_transform(self, df: pd.DataFrame) -> pd.DataFrame:
        return self.fit(df).transform(df)

    def __repr__(self) -> str:
        return f"ContinousTransformer(columns={self.columns!r})"


ContinuousTransformer = ContinousTransformer  # the correct spelling, for new code


def _ordered_values(series: pd.Series) -> tuple[list, bool]:
    """Distinct non-null values by frequency, descending, ties by ascending value; and whether nulls occur."""
    raw, uniques = pd.factorize(series)  # one hash pass; nulls get -1 (value_counts + isna take two)
    observed = raw >= 0
    counts = np.bincount(raw[observed], minlength=len(uniques))
    uniques = pd.Index(uniques)
    try:
        by_value = uniques.argsort(kind="stable")
    except TypeError:  # values of mixed types: order ties by their text
        by_value = uniques.map(str).argsort(kind="stable")
    by_count = by_value[np.argsort(-counts[by_value], kind="stable")]
    return list(uniques[by_count]), bool(len(raw)) and not observed.all()


class _OneHotColumn:
    """The fitted encoding of one source column: value slots, then OTHER, then NULL."""

    def __init__(self, name: Any, series: pd.Series, max_values: int) -> None:
        self.name = name
        values, self.has_null = _ordered_values(series)
        slots = max_values - int(self.has_null)
        self.has_other = len(values) > slots
        if self.has_other:
            slots -= 1
        self.values = values[:max(slots, 0)]

    @property
    def columns(self) -> list[str]:
        extra = ([OTHER] if self.has_other else []) + ([NULL] if self.has_null else [])
        return [f"{self.name}_{v}" for v in self.values] + [f"{self.name}_{e}" for e in extra]

    def _fallback(self, for_null: bool) -> int | None:
        """Slot for a value not seen at fit: NULL (nulls only), else OTHER, else the most frequent value."""
        k = len(self.values)
        null_pos, other_pos = k + int(self.has_other), k
        order = ([null_pos] if self.has_null and for_null else []) + ([other_pos] if self.has_other else [])
        order += [0] if k else []
        order += [null_pos] if self.has_null else []  # only left for a column that was all-null at fit
        return order[0] if order else None

    def _codes(self, series: pd.Series | None, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Slot per row (-1: unseen value, -2: null) and the unseen distinct values."""
        if series is None:
            return np.full(n, -2, dtype=np.intp), np.array([], dtype=object)
        # One hash pass: factorize marks nulls with -1; only the few distinct values are looked up.
        raw, uniques = pd.factorize(series)
        slots = pd.Index(self.values, dtype=object).get_indexer(pd.Index(uniques, dtype=object))
        lookup = np.append(slots, -2).astype(np.intp)  # raw == -1 (null) picks the last entry
        return lookup[raw], np.asarray(uniques, dtype=object)[slots < 0]

    def encode(self, series: pd.Series | None, n: int, out: np.ndarray) -> None:
        """Write the one-hot block of ``series`` (None: column missing, all null) into ``out``."""
        if out.shape[1] == 0:
            return
        codes, unseen = self._codes(series, n)
        null, new = codes == -2, codes == -1
        if null.any():
            self._map(codes, null, self._fallback(for_null=True), "nulls")
        if new.any():
            self._map(codes, new, self._fallback(for_null=False), f"values not seen at fit (e.g. {list(unseen[:5])!r})")
        out[np.arange(n), codes] = 1.0

    def _map(self, codes: np.ndarray, mask: np.ndarray, target: int, what: str) -> None:
        codes[mask] = target
        designed = {len(self.values) + int(self.has_other)} if self.has_null and what == "nulls" else set()
        designed |= {len(self.values)} if self.has_other else set()
        if target not in designed:  # NULL for nulls and OTHER for anything are by design; the rest is a guess
            logger.warning("CategoricalTransformer2: column %r: %d %s mapped to %r",
                           self.name, int(mask.sum()), what, self.columns[target])


class CategoricalTransformer2:
    """One-hot encoding per column: the most frequent values, then ``<col>_OTHER``, ``<col>_NULL``.

    ``max_values_per_category`` counts every slot, OTHER and NULL included. A value not seen at fit
    goes to OTHER if it exists, else to the most frequent value (with a warning); a null not seen at
    fit goes to NULL, else OTHER, else the most frequent value. A column missing at transform is all-null.
    """

    def __init__(self, columns: Sequence[str], max_values_per_category: int = 25) -> None:
        self.columns = _as_column_list(columns, "columns")
        is_int = isinstance(max_values_per_category, numbers.Integral) and not isinstance(max_values_per_category, bool)
        if not is_int or max_values_per_category < 1:
            raise ConfigurationError(f"max_values_per_category must be a positive int, but got {max_values_per_category!r}")
        self.max_values_per_category = int(max_values_per_category)
        self.encodings_: list[_OneHotColumn] | None = None

    def fit(self, df: pd.DataFrame) -> "CategoricalTransformer2":
        _check_frame(df, "CategoricalTransformer2.fit")
        missing = [c for c in self.columns if c not in df.columns]
        if missing:
            raise DataError(f"CategoricalTransformer2.fit: columns {missing!r} are not in the frame; available columns: {list(df.columns)}")
        self.encodings_ = [_OneHotColumn(c, df[c], self.max_values_per_category) for c in self.columns]
        return self

    def get_columns(self) -> list[str]:
        _check_fitted(self, self.encodings_ is not None)
        return [name for enc in self.encodings_ for name in enc.columns]

    def transform_into(self, df: pd.DataFrame, out: np.ndarray) -> None:
        """Write the 0/1 output into ``out`` (rows x ``get_columns()``, zero-filled)."""
        _check_fitted(self, self.encodings_ is not None)
        missing = [c for c in self.columns if c not in df.columns]
        if missing:
            logger.warning("CategoricalTransformer2: columns %r are missing at transform; they are treated as all-null", missing)
        start = 0
        for enc in self.encodings_:
            width = len(enc.columns)
            series = df[enc.name] if enc.name in df.columns else None
            enc.encode(series, len(df), out[:, start:start + width])
            start += width

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        return _transform_with(self, df)

    def fit_transform(self, df: pd.DataFrame) -> pd.DataFrame:
        return self.fit(df).transform(df)

    def __repr__(self) -> str:
        return f"CategoricalTransformer2(columns={self.columns!r}, max_values_per_category={self.max_values_per_category})"


class DataFrameTransformer:
    """Runs column transformers side by side and joins their outputs in their order."""

    def __init__(self, transformers: Sequence[Any]) -> None:
        self.transformers = list(transformers)
        self.fitted_ = False

    def fit(self, df: pd.DataFrame) -> "DataFrameTransformer":
        _check_frame(df, "DataFrameTransformer.fit")
        for transformer in self.transformers:
            transformer.fit(df)
        self.fitted_ = True
        return self

    def get_columns(self) -> list:
        _check_fitted(self, self.fitted_)
        return [c for t in self.transformers for c in _columns_of(t)]

    def transform_into(self, df: pd.DataFrame, out: np.ndarray) -> None:
        _check_fitted(self, self.fitted_)
        start = 0
        for transformer in self.transformers:
            width = len(transformer.get_columns())
            block = out[:, start:start + width]
            if hasattr(transformer, "transform_into"):
                transformer.transform_into(df, block)
            else:  # a foreign transformer: copy its output in
                block[:] = np.asarray(transformer.transform(df), dtype=np.float64)
            start += width

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        _check_fitted(self, self.fitted_)
        return _transform_with(self, df)

    def fit_transform(self, df: pd.DataFrame) -> pd.DataFrame:
        return self.fit(df).transform(df)

    def __repr__(self) -> str:
        return f"DataFrameTransformer({self.transformers!r})"


def _columns_of(transformer: Any) -> list:
    return transformer.get_columns()


def _is_continuous(dtype: Any) -> bool:
    # float32/float64 (and their nullable pandas twins) are continuous; ints, bools, strings are not.
    return pd.api.types.is_float_dtype(dtype)


class DataFrameTransformerFactory:
    """An unfitted transformer that picks its column transformers from the dtypes seen at fit.

    Example:
        >>> tf = DataFrameTransformerFactory.default_factory()
        >>> tf.fit_transform(pd.DataFrame({'x': [1.0, 3.0], 'c': ['a', 'b']})).columns.tolist()
        ['x', 'c_a', 'c_b']
    """

    def __init__(self, features: str | Iterable[str] | None = None, max_values_per_category: int = 25) -> None:
        self.features = None if features is None else _as_column_list(features, "features")
        CategoricalTransformer2([], max_values_per_category)  # validates the argument now, not at fit
        self.max_values_per_category = max_values_per_category
        self.transformer_: DataFrameTransformer | None = None

    @staticmethod
    def default_factory(features: str | Iterable[str] | None = None,
                        max_values_per_category: int = 25) -> "DataFrameTransformerFactory":
        """Float columns are scaled (``ContinousTransformer``), all others one-hot encoded (``CategoricalTransformer2``)."""
        return DataFrameTransformerFactory(features, max_values_per_category)

    def _feature_columns(self, df: pd.DataFrame) -> list:
        if self.features is None:
            return list(df.columns)
        missing = [c for c in self.features if c not in df.columns]
        if missing:
            raise DataError(f"DataFrameTransformerFactory: features {missing!r} are not in the frame; available columns: {list(df.columns)}")
        return list(self.features)

    def fit(self, df: pd.DataFrame) -> "DataFrameTransformerFactory":
        _check_frame(df, "DataFrameTransformerFactory.fit")
        columns = self._feature_columns(df)
        continuous = [c for c in columns if _is_continuous(df[c].dtype)]
        categorical = [c for c in columns if not _is_continuous(df[c].dtype)]
        self.transformer_ = DataFrameTransformer([
            ContinousTransformer(continuous),
            CategoricalTransformer2(categorical, self.max_values_per_category),
        ]).fit(df)
        return self

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        _check_fitted(self, self.transformer_ is not None)
        return self.transformer_.transform(df)

    def fit_transform(self, df: pd.DataFrame) -> pd.DataFrame:
        return self.fit(df).transform(df)

    def get_columns(self) -> list:
        _check_fitted(self, self.transformer_ is not None)
        return self.transformer_.get_columns()

    def __repr__(self) -> str:
        return f"DataFrameTransformerFactory(features={self.features!r}, max_values_per_category={self.max_values_per_category!r})"
