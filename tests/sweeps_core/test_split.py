"""train_display_test_split: sizes, stratification, groups, reproducibility, validation."""
import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

from sweeps_core._errors import ConfigurationError, DataError
from sweeps_core._split import train_display_test_split


def _counts(split):
    return split.value_counts().to_dict()


@pytest.fixture(scope="module")
def ab_frame():
    return pd.DataFrame({"a": ["A"] * 10000 + ["B"] * 100})


def _per_class(split, labels):
    """{split: {class: rows}} for every split and class, zeros included."""
    table = pd.crosstab(split, labels)
    return {part: {label: int(count) for label, count in row.items()}
            for part, row in table.to_dict("index").items()}


def test_fractions_and_stratification(ab_frame):
    # The original library's test: (0.3 test, 0.2 display) on 10000 'A' + 100 'B'; every split
    # keeps the 1% of B rows, the display split too.
    split = train_display_test_split(ab_frame, 0.3, 0.2, "a", random_state=1)
    assert _per_class(split, ab_frame["a"]) == {
        "train": {"A": 4999, "B": 50}, "display": {"A": 2001, "B": 20}, "test": {"A": 3000, "B": 30}}


def test_breast_cancer_sizes_of_the_walkthrough():
    df = pd.DataFrame({"label": datasets.load_breast_cancer()["target"]})
    expected = {"train": {0: 127, 1: 214}, "display": {0: 43, 1: 71}, "test": {0: 42, 1: 72}}
    for random_state in (None, 0, 1):  # the counts of a stratified split do not depend on the seed
        split = train_display_test_split(df, 0.2, 0.2, "label", random_state=random_state)
        assert _per_class(split, df["label"]) == expected
        assert _counts(split) == {"train": 341, "display": 114, "test": 114}


@pytest.mark.parametrize("random_state", [None, 0, 3])
def test_iris_every_split_holds_each_class_equally(random_state):
    ds = datasets.load_iris()
    df = pd.DataFrame({"label": ds["target_names"][ds["target"]]})
    split = train_display_test_split(df, 0.2, 0.2, "label", random_state=random_state)
    assert _per_class(split, df["label"]) == {
        "train": {"setosa": 30, "versicolor": 30, "virginica": 30},
        "display": {"setosa": 10, "versicolor": 10, "virginica": 10},
        "test": {"setosa": 10, "versicolor": 10, "virginica": 10},
    }


def test_without_stratify_column_the_classes_are_not_balanced():
    # the same iris rows, unstratified: the classes spread by chance (this seed shows it)
    ds = datasets.load_iris()
    df = pd.DataFrame({"label": ds["target_names"][ds["target"]]})
    split = train_display_test_split(df, 0.2, 0.2, random_state=0)
    assert _counts(split) == {"train": 90, "display": 30, "test": 30}
    assert _per_class(split, df["label"])["display"] == {"setosa": 8, "versicolor": 9, "virginica": 13}


def test_result_is_a_series_on_the_frame_index():
    df = pd.DataFrame({"x": range(20)}, index=[f"r{i}" for i in range(20)])
    split = train_display_test_split(df, random_state=0)
    assert isinstance(split, pd.Series)
    assert split.index.equals(df.index)
    assert set(split) == {"train", "display", "test"}


def test_random_state_reproduces_and_none_stays_random(ab_frame):
    first = train_display_test_split(ab_frame, 0.3, 0.2, "a", random_state=7)
    second = train_display_test_split(ab_frame, 0.3, 0.2, "a", random_state=7)
    other = train_display_test_split(ab_frame, 0.3, 0.2, "a", random_state=8)
    pd.testing.assert_series_equal(first, second)
    assert not first.equals(other)
    unseeded = [train_display_test_split(ab_frame, 0.3, 0.2, "a") for _ in range(2)]
    assert not unseeded[0].equals(unseeded[1])


def test_none_uses_numpy_global_rng_like_the_original(ab_frame):
    np.random.seed(5)
    first = train_display_test_split(ab_frame, 0.3, 0.2)
    np.random.seed(5)
    assert first.equals(train_display_test_split(ab_frame, 0.3, 0.2))


def test_group_mode_keeps_groups_together_and_ignores_stratify():
    df = pd.DataFrame({"g": np.repeat(np.arange(50), 3), "label": [0, 1, 1] * 50})
    split = train_display_test_split(df, 0.2, 0.2, stratify_column="label", group_column="g", random_state=0)
    assert (split.groupby(df["g"]).nunique() == 1).all()
    groups_per_label = split.groupby(df["g"]).first().value_counts().to_dict()
    assert groups_per_label == {"train": 30, "display": 10, "test": 10}


def test_input_frame_is_not_mutated(ab_frame):
    before = ab_frame.copy()
    train_display_test_split(ab_frame, 0.3, 0.2, "a", random_state=0)
    pd.testing.assert_frame_equal(ab_frame, before)


@pytest.mark.parametrize("argument", ["stratify_column", "group_column"])
def test_missing_column_names_it_and_lists_available(argument):
    df = pd.DataFrame({"label": [0, 1] * 10, "x": range(20)})
    with pytest.raises(DataError, match=rf"{argument}='lable'.*\['label', 'x'\]"):
        train_display_test_split(df, **{argument: "lable"})


@pytest.mark.parametrize("test_size, display_size, fragment", [
    (0.0, 0.2, "test_size"), (1.0, 0.2, "test_size"), (0.2, -0.1, "display_size"),
    (0.2, "0.2", "display_size"), (0.5, 0.5, "below 1"), (0.7, 0.4, "below 1"),
])
def test_bad_sizes_raise_configuration_error(test_size, display_size, fragment):
    df = pd.DataFrame({"x": range(20)})
    with pytest.raises(ConfigurationError, match=fragment):
        train_display_test_split(df, test_size, display_size)


def test_bad_random_state_is_rejected():
    with pytest.raises(ConfigurationError, match="random_state"):
        train_display_test_split(pd.DataFrame({"x": range(20)}), random_state="seed")


def test_unsplittable_stratification_is_a_data_error():
    df = pd.DataFrame({"label": [0] * 19 + [1]})
    with pytest.raises(DataError, match="test"):
        train_display_test_split(df, 0.2, 0.2, "label")


def test_every_size_problem_is_named_with_its_value_in_one_message():
    df = pd.DataFrame({"x": range(20)})
    with pytest.raises(ConfigurationError) as caught:
        train_display_test_split(df, 1.0, True)
    assert str(caught.value) == (
        "train_display_test_split: test_size must be a fraction strictly between 0 and 1, but "
        "got 1.0; display_size must be a fraction strictly between 0 and 1, but got True")
    with pytest.raises(ConfigurationError) as caught:
        train_display_test_split(df, 0.75, 0.5)
    assert str(caught.value) == (
        "train_display_test_split: test_size + display_size must be below 1 so that train rows "
        "remain, but got 0.75 + 0.5 = 1.25")


def test_group_mode_reproduces_with_random_state_and_varies_without():
    df = pd.DataFrame({"g": np.repeat(np.arange(40), 2)})
    first = train_display_test_split(df, 0.25, 0.25, group_column="g", random_state=4)
    assert first.equals(train_display_test_split(df, 0.25, 0.25, group_column="g", random_state=4))
    others = [train_display_test_split(df, 0.25, 0.25, group_column="g", random_state=seed)
              for seed in (5, 6)]
    assert not any(first.equals(other) for other in others)
