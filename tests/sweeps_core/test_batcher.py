"""Batching: sequential slices, uneven last batch, frames keep the index, priority sampling."""
import numpy as np
import pandas as pd
import pytest
import torch

import sweeps_core as bt
from sweeps_core._batcher import Batch, SplitData


def _data(n):
    index = pd.DataFrame({"label": np.arange(n) % 2}, index=[f"r{i}" for i in range(n)])
    features = pd.DataFrame({"a": np.arange(n, dtype=float), "b": np.arange(n, dtype=float) * 10}, index=index.index)
    return SplitData(index, {"features": features, "label": index[["label"]]})


@pytest.mark.parametrize("rows,batch_size,expected", [(4, 2, [2, 2]), (5, 2, [2, 2, 1]), (3, 10, [3])])
def test_sequential_batches_and_uneven_last_batch(rows, batch_size, expected):
    data = _data(rows)
    sampler = bt.SequentialSampler()
    batcher = bt.Batcher([])
    batches = list(batcher.batches(data, sampler, batch_size, "cpu"))
    assert [len(b) for b in batches] == expected
    assert sampler.batch_count(rows, batch_size) == len(expected)
    assert list(batches[0]["features"].index) == [f"r{i}" for i in range(expected[0])]


def test_batch_frames_keep_the_index_and_match_their_tensors():
    data = _data(7)
    batch = Batch(data, slice(2, 5))
    assert list(batch["index"].index) == ["r2", "r3", "r4"]
    assert list(batch["features"].index) == ["r2", "r3", "r4"]
    assert torch.equal(batch.tensor("features"), torch.tensor(batch["features"].to_numpy(), dtype=torch.float32))
    picked = Batch(data, np.array([6, 0, 3]))
    assert list(picked["features"].index) == ["r6", "r0", "r3"]
    assert picked.tensor("features")[:, 0].tolist() == [6.0, 0.0, 3.0]


def test_mini_batches_cut_the_batch_in_order():
    data = _data(10)
    batch = Batch(data, slice(2, 9))
    minis = list(bt.Batcher([]).mini_batches(batch, 3))
    assert [list(m["features"].index) for m in minis] == [["r2", "r3", "r4"], ["r5", "r6", "r7"], ["r8"]]
    assert minis[1].tensor("features")[:, 0].tolist() == [5.0, 6.0, 7.0]


def test_batch_pickles_as_a_plain_indexed_bundle():
    import pickle
    batch = Batch(_data(4), slice(0, 2))
    clone = pickle.loads(pickle.dumps(batch))
    assert isinstance(clone, bt.IndexedDataBundle)
    pd.testing.assert_frame_equal(clone["features"], batch["features"])


def test_priority_sampler_frequencies_follow_priorities():
    index = pd.DataFrame({"priority": [1.0, 2.0, 3.0, 4.0]})
    sampler = bt.PriorityRandomSampler("priority", dataset_size_factor=2000, deduplicate=False, random_state=0)
    counts = np.zeros(4)
    for positions in sampler.batches(index, 4):
        np.add.at(counts, positions, 1)
    assert np.allclose(counts / counts.sum(), [0.1, 0.2, 0.3, 0.4], atol=0.02)


def test_even_representation_priorities():
    labels = pd.DataFrame({"c": ["a"] * 700 + ["b"] * 200 + ["c"] * 80 + ["d"] * 20})
    priorities = bt.make_priorities_for_even_representation(labels, "c")
    sampler = bt.PriorityRandomSampler(priorities=priorities, dataset_size_factor=20, random_state=1, deduplicate=False)
    drawn = np.concatenate(list(sampler.batches(labels, 100)))
    shares = labels["c"].iloc[drawn].value_counts(normalize=True)
    assert np.allclose(shares.sort_index().to_numpy(), [0.25] * 4, atol=0.03)
    assert "priority" not in labels.columns


def test_seeded_sampler_repeats_itself():
    index = pd.DataFrame({"x": range(50)})
    first = list(bt.PriorityRandomSampler(random_state=5).batches(index, 10))
    second = list(bt.PriorityRandomSampler(random_state=5).batches(index, 10))
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


def test_batcher_refuses_a_batch_size():
    with pytest.raises(bt.ConfigurationError, match="settings.batch_size"):
        bt.Batcher(100)


def test_non_numeric_frame_names_the_columns():
    index = pd.DataFrame({"label": [0, 1]})
    data = SplitData(index, {"features": pd.DataFrame({"s": ["x", "y"], "n": [1.0, 2.0]}), "label": index})
    with pytest.raises(bt.ConfigurationError, match=r"non-numeric columns \['s'\]"):
        Batch(data, slice(0, 2)).tensor("features")


def test_a_seeded_sampler_decides_the_batches_of_an_unseeded_task():
    from tests.sweeps_core.tasks import BinaryTask, breast_cancer_bundle

    drawn = []
    for _ in range(2):
        task = BinaryTask(epochs=1, batch_size=100)
        task.initialize_task = _with_sampler(task.initialize_task, task)
        task.run(breast_cancer_bundle())
        drawn.append(task.drawn)
    assert all(np.array_equal(a, b) for a, b in zip(*drawn))


def _with_sampler(initialize, task):
    def initialize_with_sampler(data):
        initialize(data)
        sampler = _RecordingSampler(random_state=5)
        task.batcher.training_sampler = sampler
        task.drawn = sampler.drawn
    return initialize_with_sampler


class _RecordingSampler(bt.PriorityRandomSampler):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.drawn = []

    def batches(self, index_frame, batch_size, rng=None):
        for positions in super().batches(index_frame, batch_size, rng):
            self.drawn.append(positions)
            yield positions
