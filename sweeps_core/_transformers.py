"""Frame transformers: scale float columns, one-hot encode the rest (the walkthrough's ``dft``).

All work is vectorized: a column is turned into numpy once, categorical values into codes with
``pd.Categorical``, and the output frame is built once from one float matrix.
"""
from __future__ import annotations

import copy
import logging
import numbers
from functools import partial
from typing import Any, Callable, Iterable, Optional, Sequence

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
    frame = _frame(out, df, transformer.get_columns())
    flags = transformer.boolean_columns() if hasattr(transformer, "boolean_columns") else []
    # numpy bools, where the original had objects: they convert to tensors and compare as numbers
    return frame.astype({c: bool for c in flags}) if flags else frame


def _check_fitted(obj: Any, fitted: bool) -> None:
    if not fitted:
        raise ConfigurationError(
            f"{type(obj).__name__} is not fitted yet: call fit(df) or fit_transform(df) before transform(df)"
        )


STANDARD, MEAN = "standard", "mean"  # the defaults: StandardScaler's scaling, SimpleImputer's mean


class ContinousTransformer:
    """Mean-impute, then standard-scale float columns; add boolean ``<col>_missing`` flags.

    Args:
        columns: the columns to transform.
        ignore_none_columns: drop the columns that are all-NaN at fit (True, as the original), or
            name them in an error (False).
        scaler: ``'standard'`` (StandardScaler's scaling: population std, a constant column gets
            scale 1), None (no scaling), or any object with ``fit``/``transform`` (``MinMaxScaler()``).
        imputer: ``'mean'`` (SimpleImputer's mean), None (NaN stays NaN), or any object with
            ``fit``/``transform`` (``SimpleImputer(strategy='median')``).
        preprocessor: a function applied to the frame of the columns before anything else, at fit
            and transform (``numpy.log1p``, or a module-level function for tasks that pickle).

    Flags exist only for the columns that had NaN at fit. Scaler and imputer are fitted on the
    preprocessed values, NaN included (sklearn's scalers ignore NaN when fitting), as the original.

    Example:
        >>> ContinousTransformer(['a'], scaler=None).fit_transform(pd.DataFrame({'a': [1.0, None, 3.0]}))
             a  a_missing
        0  1.0      False
        1  2.0       True
        2  3.0      False
    """

    def __init__(self, columns: Sequence[str], ignore_none_columns: bool = True, scaler: Any = STANDARD,
                 imputer: Any = MEAN, preprocessor: Optional[Callable] = None) -> None:
        self.columns = _as_column_list(columns, "columns")
        self.ignore_none_columns = ignore_none_columns
        self.scaler = _check_step(scaler, STANDARD, "scaler", "MinMaxScaler()")
        self.imputer = _check_step(imputer, MEAN, "imputer", "SimpleImputer(strategy='median')")
        if preprocessor is not None and not callable(preprocessor):
            raise ConfigurationError(f"preprocessor must be a function of a DataFrame (e.g. numpy.log1p) or None, "
                                     f"but got {preprocessor!r}")
        self.preprocessor = preprocessor
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

    def _preprocessed(self, values: np.ndarray, df: pd.DataFrame) -> np.ndarray:
        if self.preprocessor is None:
            return values
        frame = pd.DataFrame(values, index=df.index, columns=self.kept_columns_)
        result = np.asarray(self.preprocessor(frame), dtype=np.float64)
        if result.shape != values.shape:
            raise DataError(f"ContinousTransformer: preprocessor {self.preprocessor!r} returned shape {result.shape} "
                            f"for a frame of shape {values.shape}; it must keep rows and columns")
        return result

    def fit(self, df: pd.DataFrame) -> "ContinousTransformer":
        _check_frame(df, "ContinousTransformer.fit")
        values = self._matrix(df, self.columns, at_fit=True)
        keep = ~np.isnan(values).all(axis=0) if len(values) else np.ones(len(self.columns), dtype=bool)
        if not self.ignore_none_columns and not keep.all():
            empty = [c for c, k in zip(self.columns, keep) if not k]
            raise DataError(f"ContinousTransformer.fit: columns {empty!r} are all-NaN in the fit data; drop them, "
                            f"or pass ignore_none_columns=True to leave them out of the output")
        self.kept_columns_ = [c for c, k in zip(self.columns, keep) if k]
        values = self._preprocessed(values[:, keep], df)
        nan = np.isnan(values)
        has_nan = nan.any(axis=0)
        with np.errstate(all="ignore"):  # the nan-aware versions are slow: use them only where needed
            self.means_ = values.mean(axis=0)
            self.means_[has_nan] = np.nanmean(values[:, has_nan], axis=0)
            std = values.std(axis=0)
            std[has_nan] = np.nanstd(values[:, has_nan], axis=0)
        self.scales_ = np.where(std < 10 * np.finfo(np.float64).eps, 1.0, std)
        if self.imputer not in (MEAN, None):
            self.imputer_ = copy.deepcopy(self.imputer).fit(values)
        if self.scaler not in (STANDARD, None):
            self.scaler_ = copy.deepcopy(self.scaler).fit(values)
        self.missing_columns_ = [c for c, m in zip(self.kept_columns_, has_nan) if m]
        return self

    def get_columns(self) -> list:
        _check_fitted(self, self.kept_columns_ is not None)
        return list(self.kept_columns_) + [f"{c}_missing" for c in self.missing_columns_]

    def boolean_columns(self) -> list:
        """The ``<col>_missing`` flags, which the output frame holds as booleans."""
        _check_fitted(self, self.kept_columns_ is not None)
        return [f"{c}_missing" for c in self.missing_columns_]

    def transform_into(self, df: pd.DataFrame, out: np.ndarray) -> None:
        """Write the output into ``out`` (rows x ``get_columns()``), avoiding temporary matrices."""
        _check_fitted(self, self.kept_columns_ is not None)
        values = self._preprocessed(self._matrix(df, self.kept_columns_, at_fit=False), df)
        k = len(self.kept_columns_)
        scaled = out[:, :k]
        nan = np.isnan(values)
        if self.scaler == STANDARD and self.imputer == MEAN:  # the common case, in place
            np.subtract(values, self.means_, out=scaled)
            np.divide(scaled, self.scales_, out=scaled)
            scaled[nan] = 0.0  # imputing the mean, then scaling, gives exactly 0
        else:
            scaled[:] = self._scale(self._impute(values, nan))
        self._flag(nan, out[:, k:])

    def _impute(self, values: np.ndarray, nan: np.ndarray) -> np.ndarray:
        if self.imputer == MEAN:
            return np.where(nan, self.means_, values)
        if self.imputer is None:
            return values
        return np.asarray(self.imputer_.transform(values), dtype=np.float64)

    def _scale(self, values: np.ndarray) -> np.ndarray:
        if self.scaler == STANDARD:
            return (values - self.means_) / self.scales_
        if self.scaler is None:
            return values
        return self.scaler_.transform(values)

    def _flag(self, nan: np.ndarray, flags: np.ndarray) -> None:
        has_nan = nan.any(axis=0)
        flagged = [self.kept_columns_.index(c) for c in self.missing_columns_]
        flags[:] = nan[:, flagged]
        has_nan[flagged] = False
        if has_nan.any():
            names = [c for c, u in zip(self.kept_columns_, has_nan) if u]
            logger.warning("ContinousTransformer: unexpected NaN in columns %r (none at fit)%s", names,
                           "; imputed" if self.imputer is not None else "; left as NaN (imputer=None)")

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        return _transform_with(self, df)

    def fit_transform(self, df: pd.DataFrame) -> pd.DataFrame:
        return self.fit(df).transform(df)

    def __repr__(self) -> str:
        options = {"scaler": (self.scaler, STANDARD), "imputer": (self.imputer, MEAN),
                   "preprocessor": (self.preprocessor, None), "ignore_none_columns": (self.ignore_none_columns, True)}
        changed = "".join(f", {k}={v!r}" for k, (v, default) in options.items() if v is not default and v != default)
        return f"ContinousTransformer(columns={self.columns!r}{changed})"


def _check_step(step: Any, default: str, argument: str, example: str) -> Any:
    if step is None or (isinstance(step, str) and step == default):
        return step
    if isinstance(step, str) or not (hasattr(step, "fit") and hasattr(step, "transform")):
        raise ConfigurationError(f"{argument} must be {default!r} (the default), None, or an object with fit and "
                                 f"transform such as {example}, but got {step!r}")
    return step


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

    def _fallback(self, for_null: bool) -> int:
        """Slot for a value not seen at fit: NULL (nulls only), else OTHER, else the most frequent value.

        Only called for a column with at least one slot (``encode`` returns early otherwise).
        """
        k = len(self.values)
        null_pos, other_pos = k + int(self.has_other), k
        order = ([null_pos] if self.has_null and for_null else []) + ([other_pos] if self.has_other else [])
        order += [0] if k else []
        order += [null_pos] if self.has_null else []  # only left for a column that was all-null at fit
        return order[0]

    def _codes(self, series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """Slot per row (-1: unseen value, -2: null) and the unseen distinct values."""
        # One hash pass: factorize marks nulls with -1; only the few distinct values are looked up.
        raw, uniques = pd.factorize(series)
        slots = pd.Index(self.values, dtype=object).get_indexer(pd.Index(uniques, dtype=object))
        lookup = np.append(slots, -2).astype(np.intp)  # raw == -1 (null) picks the last entry
        return lookup[raw], np.asarray(uniques, dtype=object)[slots < 0]

    def encode(self, series: pd.Series, out: np.ndarray) -> None:
        """Write the one-hot block of ``series`` into ``out`` (rows x ``columns``, zero-filled)."""
        if out.shape[1] == 0:
            return
        codes, unseen = self._codes(series)
        null, new = codes == -2, codes == -1
        if null.any():
            self._map(codes, null, self._fallback(for_null=True), "nulls")
        if new.any():
            self._map(codes, new, self._fallback(for_null=False), f"values not seen at fit (e.g. {list(unseen[:5])!r})")
        out[np.arange(len(codes)), codes] = 1.0

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
            series = df[enc.name] if enc.name in df.columns else pd.Series(np.nan, index=df.index)
            enc.encode(series, out[:, start:start + width])
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

    def boolean_columns(self) -> list:
        """The output columns that its transformers give as booleans (the missing flags)."""
        return [c for t in self.transformers if hasattr(t, "boolean_columns") for c in t.boolean_columns()]

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

    Float columns go to the continuous factory, columns with at least ``threshold`` distinct values
    (when ``on_rich_category`` is set) to the rich-category factory, all others to the categorical
    factory; the output is in that order. A factory is ``factory(columns) -> transformer``.
    By default, continuous columns get ``ContinousTransformer`` and the others
    ``CategoricalTransformer2(columns, max_values_per_category)``.

    Example:
        >>> tf = DataFrameTransformerFactory.default_factory()
        >>> tf.fit_transform(pd.DataFrame({'x': [1.0, 3.0], 'c': ['a', 'b']})).columns.tolist()
        ['x', 'c_a', 'c_b']
        >>> tf = DataFrameTransformerFactory.default_factory().on_continuous(partial(ContinousTransformer, scaler=None))
    """

    def __init__(self, features: str | Iterable[str] | None = None, max_values_per_category: int = 25) -> None:
        self.features = None if features is None else _as_column_list(features, "features")
        CategoricalTransformer2([], max_values_per_category)  # validates the argument now, not at fit
        self.max_values_per_category = max_values_per_category
        self.feature_filter: Optional[Callable] = None
        self.feature_block_list: Optional[list] = None
        self.continuous_factory: Optional[Callable] = ContinousTransformer
        self.categorical_factory: Optional[Callable] = partial(CategoricalTransformer2,
                                                               max_values_per_category=max_values_per_category)
        self.categorical_rich_threshold: Optional[int] = None
        self.categorical_rich_factory: Optional[Callable] = None
        self.transformer_: DataFrameTransformer | None = None

    @staticmethod
    def default_factory(features: str | Iterable[str] | None = None,
                        max_values_per_category: int = 25) -> "DataFrameTransformerFactory":
        """Float columns are scaled (``ContinousTransformer``), all others one-hot encoded (``CategoricalTransformer2``)."""
        return DataFrameTransformerFactory(features, max_values_per_category)

    # -- the original's builder methods: each returns the factory --------------------------------
    def with_filter(self, filter: Callable[[Any], bool]) -> "DataFrameTransformerFactory":
        """Only columns for which ``filter(column_name)`` is true are features."""
        self.feature_filter = _callable_or_none(filter, "with_filter", "a function of a column name")
        return self

    def with_feature_allow_list(self, allow_list: Iterable[str]) -> "DataFrameTransformerFactory":
        """Only these columns are features (as ``features=``; a missing one is an error at fit)."""
        self.features = _as_column_list(allow_list, "allow_list")
        return self

    def with_feature_block_list(self, block_list: Iterable[str]) -> "DataFrameTransformerFactory":
        """These columns are never features."""
        self.feature_block_list = _as_column_list(block_list, "block_list")
        return self

    def on_continuous(self, factory: Callable[[list], Any]) -> "DataFrameTransformerFactory":
        """``factory(columns)`` makes the transformer of the float columns."""
        self.continuous_factory = _callable_or_none(factory, "on_continuous", "factory(columns) -> transformer")
        return self

    def on_categorical(self, factory: Callable[[list], Any]) -> "DataFrameTransformerFactory":
        """``factory(columns)`` makes the transformer of the other (non-float) columns."""
        self.categorical_factory = _callable_or_none(factory, "on_categorical", "factory(columns) -> transformer")
        return self

    def on_rich_category(self, threshold: int, factory: Callable[[list], Any]) -> "DataFrameTransformerFactory":
        """Non-float columns with at least ``threshold`` distinct values (a null counts) go to ``factory``."""
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Integral) or threshold < 1:
            raise ConfigurationError(f"on_rich_category: threshold must be a positive int, but got {threshold!r}")
        self.categorical_rich_threshold = int(threshold)
        self.categorical_rich_factory = _callable_or_none(factory, "on_rich_category", "factory(columns) -> transformer")
        return self

    # -- fitting ---------------------------------------------------------------------------------
    def _feature_columns(self, df: pd.DataFrame) -> list:
        columns = list(df.columns)
        if self.feature_filter is not None:
            columns = [c for c in columns if self.feature_filter(c)]
        if self.features is not None:
            missing = [c for c in self.features if c not in df.columns]
            if missing:
                raise DataError(f"DataFrameTransformerFactory: features {missing!r} are not in the frame; available columns: {list(df.columns)}")
            columns = [c for c in self.features if c in columns]
        if self.feature_block_list is not None:
            columns = [c for c in columns if c not in self.feature_block_list]
        return columns

    def _groups(self, df: pd.DataFrame) -> list:
        """(what, factory, columns) for each non-empty group, in output order."""
        columns = self._feature_columns(df)
        continuous = [c for c in columns if _is_continuous(df[c].dtype)]
        categorical = [c for c in columns if not _is_continuous(df[c].dtype)]
        threshold = self.categorical_rich_threshold
        rich = [c for c in categorical if threshold is not None and df[c].nunique(dropna=False) >= threshold]
        categorical = [c for c in categorical if c not in rich]
        groups = [("continuous", self.continuous_factory, continuous, "on_continuous"),
                  ("rich categorical", self.categorical_rich_factory, rich, "on_rich_category"),
                  ("categorical", self.categorical_factory, categorical, "on_categorical")]
        for what, factory, group, method in groups:
            if group and factory is None:
                raise ConfigurationError(f"DataFrameTransformerFactory: {what} columns {group!r} are present, but no "
                                         f"factory is set for them: call .{method}(...) or drop them with .with_filter(...)")
        return [(factory, group) for _, factory, group, _ in groups if group]

    def fit(self, df: pd.DataFrame) -> "DataFrameTransformerFactory":
        _check_frame(df, "DataFrameTransformerFactory.fit")
        self.transformer_ = DataFrameTransformer([factory(group) for factory, group in self._groups(df)]).fit(df)
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


def _callable_or_none(value: Any, method: str, expected: str) -> Optional[Callable]:
    if value is not None and not callable(value):
        raise ConfigurationError(f"{method} expects {expected} or None, but got {value!r}")
    return value
