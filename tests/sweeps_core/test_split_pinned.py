"""train_display_test_split, pinned: which of the two splits failed, and exact per-class counts."""
import pandas as pd
import pytest

from sweeps_core._errors import DataError
from sweeps_core._split import train_display_test_split


def _per_class(split, labels):
    table = pd.crosstab(split, labels)
    return {part: {label: int(count) for label, count in row.items()}
            for part, row in table.to_dict("index").items()}


def test_a_class_too_small_for_the_test_split_names_the_test_rows():
    df = pd.DataFrame({"label": [0] * 19 + [1]})
    with pytest.raises(DataError) as caught:
        train_display_test_split(df, 0.2, 0.2, "label", random_state=0)
    assert str(caught.value).startswith(
        "train_display_test_split: cannot split off the test rows: The least populated")


def test_a_class_left_too_small_for_the_display_split_names_the_display_rows():
    # the test split takes one of the two '1' rows; the one left cannot be stratified again
    df = pd.DataFrame({"label": [0] * 4 + [1] * 2})
    with pytest.raises(DataError) as caught:
        train_display_test_split(df, 0.5, 0.2, "label", random_state=0)
    assert str(caught.value).startswith(
        "train_display_test_split: cannot split off the display rows: The least populated")


def test_small_stratified_frame_per_class_counts():
    labels = pd.Series(["a"] * 12 + ["b"] * 8)
    split = train_display_test_split(pd.DataFrame({"y": labels}), 0.25, 0.25, "y", random_state=2)
    assert _per_class(split, labels) == {
        "train": {"a": 6, "b": 4}, "display": {"a": 3, "b": 2}, "test": {"a": 3, "b": 2}}
