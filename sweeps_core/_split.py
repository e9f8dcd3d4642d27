"""``train_display_test_split``: the walkthrough's stratified train/display/test labelling."""
from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from ._errors import ConfigurationError, DataError

TRAIN, DISPLAY, TEST = "train", "display", "test"


def _check_sizes(test_size: float, display_size: float) -> None:
    problems = []
    for name, value in (("test_size", test_size), ("display_size", display_size)):
        is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not is_number or not 0 < value < 1:
            problems.append(f"{name} must be a fraction strictly between 0 and 1, but got {value!r}")
    if not problems and test_size + display_size >= 1:
        problems.append(
            f"test_size + display_size must be below 1 so that train rows remain, but got "
            f"{test_size!r} + {display_size!r} = {test_size + display_size!r}"
        )
    if problems:
        raise ConfigurationError("train_display_test_split: " + "; ".join(problems))


def _check_column(df: pd.DataFrame, argument: str, column: str | None) -> None:
    if column is not None and column not in df.columns:
        raise DataError(
            f"train_display_test_split: {argument}={column!r} is not a column of the frame; "
            f"available columns: {list(df.columns)}"
        )


def _random_state(random_state: int | None) -> np.random.RandomState | None:
    if random_state is None:
        return None  # sklearn then draws from numpy's global RNG, as the original did
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
        raise ConfigurationError(
            f"train_display_test_split: random_state must be an int or None, but got {random_state!r}"
        )
    # One generator shared by both calls, so the two splits draw different permutations.
    return np.random.RandomState(int(random_state))


def _split(items: np.ndarray, size: float, stratify, rng, what: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.model_selection import train_test_split  # not at import: workers rarely split

        return train_test_split(items, test_size=size, stratify=stratify, random_state=rng)
    except ValueError as error:
        raise DataError(f"train_display_test_split: cannot split off the {what} rows: {error}") from error


def _label_items(items: np.ndarray, test_size: float, display_size: float,
                 stratify: np.ndarray | None, rng) -> np.ndarray:
    """Label each item of ``items`` as train/display/test: test first, then display out of the rest."""
    positions = np.arange(len(items))
    rest, test = _split(positions, test_size, stratify, rng, TEST)
    rest_stratify = None if stratify is None else stratify[rest]
    _, display = _split(rest, display_size / (1 - test_size), rest_stratify, rng, DISPLAY)
    labels = np.full(len(items), TRAIN, dtype=object)
    labels[display] = DISPLAY
    labels[test] = TEST
    return labels


def train_display_test_split(
    df: pd.DataFrame,
    test_size: float = 0.3,
    display_size: float = 0.3,
    stratify_column: str | None = None,
    group_column: str | None = None,
    random_state: int | None = None,
) -> pd.Series:
    """Label the rows of ``df`` 'train', 'display' or 'test' (note the order: test size, then display size).

    Two sklearn ``train_test_split`` calls, stratified by ``stratify_column`` when given. With
    ``group_column`` the groups are split (unstratified) and each row takes its group's label.
    ``random_state`` (our addition) makes the result reproducible; None keeps numpy's global RNG.

    Example:
        >>> df = pd.DataFrame({'label': [0, 1] * 50})
        >>> split = train_display_test_split(df, 0.2, 0.2, 'label', random_state=0)
        >>> sorted(split.value_counts().to_dict().items())
        [('display', 20), ('test', 20), ('train', 60)]
    """
    _check_sizes(test_size, display_size)
    _check_column(df, "stratify_column", stratify_column)
    _check_column(df, "group_column", group_column)
    rng = _random_state(random_state)
    if group_column is not None:
        groups = pd.unique(df[group_column])
        group_labels = _label_items(np.asarray(groups), test_size, display_size, None, rng)
        codes = pd.Index(groups).get_indexer(df[group_column])
        labels = group_labels[codes]
    else:
        stratify = None if stratify_column is None else df[stratify_column].to_numpy()
        labels = _label_items(df.index.to_numpy(), test_size, display_size, stratify, rng)
    return pd.Series(labels, index=df.index).astype(str)
