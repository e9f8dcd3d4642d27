"""The public steps of the epoch loop and run's keywords: seed and the per-epoch hook."""
import pickle

import pytest

from sweeps_core import ConfigurationError
from tests.sweeps_core.tasks import BinaryTask, breast_cancer_bundle, history_without_timestamps


class StopAt:
    """A per-epoch hook that records its calls and asks to stop at one epoch."""

    def __init__(self, epoch):
        self.epoch = epoch
        self.calls = []

    def __call__(self, epoch, row):
        self.calls.append((epoch, row))
        return epoch == self.epoch


class Boom(Exception):
    pass


def raise_at_first_epoch(epoch, row):
    raise Boom(f"epoch {epoch}")


def test_hook_stops_after_the_epoch_it_asks_for():
    hook = StopAt(2)
    task = BinaryTask(epochs=10)
    result = task.run(breast_cancer_bundle(), on_epoch=hook)
    history = result["output"]["history"]
    assert [row["iteration"] for row in history] == [0, 1, 2]
    assert len(task.history) == 3 and result["output"]["stopped_early"] is True
    assert [epoch for epoch, _ in hook.calls] == [0, 1, 2]
    # the hook gets the very row appended to the task's history
    assert all(row is task.history[epoch] for epoch, row in hook.calls)
    assert result["metrics"] == {k: v for k, v in history[-1].items() if k != "timestamp"}


def test_hook_that_never_stops_and_no_hook_run_every_epoch():
    hook = StopAt(None)
    with_hook = BinaryTask(epochs=4).run(breast_cancer_bundle(), on_epoch=hook)
    without = BinaryTask(epochs=4).run(breast_cancer_bundle())
    assert len(hook.calls) == 4
    for result in (with_hook, without):
        assert len(result["output"]["history"]) == 4 and result["output"]["stopped_early"] is False


def test_an_error_in_the_hook_propagates():
    with pytest.raises(Boom, match="epoch 0"):
        BinaryTask(epochs=3).run(breast_cancer_bundle(), on_epoch=raise_at_first_epoch)


def test_hook_with_mini_reports_sees_every_report():
    task = BinaryTask(epochs=3, batch_size=200, mini_batch_size=100)
    task.settings.mini_reporting_conventional = False
    hook = StopAt(1)
    result = task.run(breast_cancer_bundle(), on_epoch=hook)
    # 3 batches per epoch, one report after each: stopping at report 1 ends the first epoch
    assert [epoch for epoch, _ in hook.calls] == [0, 1, 2]
    assert len(result["output"]["history"]) == 3 and result["output"]["stopped_early"] is True


def test_seed_given_to_run_reproduces_and_leaves_the_settings_alone():
    runs = []
    for _ in range(2):
        task = BinaryTask(epochs=3)
        runs.append(history_without_timestamps(task.run(breast_cancer_bundle(), seed=5)))
        assert task.settings.seed is None
    other = history_without_timestamps(BinaryTask(epochs=3).run(breast_cancer_bundle(), seed=6))
    assert runs[0] == runs[1] and runs[0] != other


def test_seed_given_to_run_equals_the_same_seed_in_settings():
    by_run = BinaryTask(epochs=3).run(breast_cancer_bundle(), seed=5)
    task = BinaryTask(epochs=3)
    task.settings.seed = 5
    assert history_without_timestamps(by_run) == history_without_timestamps(task.run(breast_cancer_bundle()))


def test_settings_seed_wins_over_the_seed_given_to_run():
    task = BinaryTask(epochs=3)
    task.settings.seed = 5
    winner = history_without_timestamps(task.run(breast_cancer_bundle(), seed=99))
    plain = BinaryTask(epochs=3)
    plain.settings.seed = 5
    assert winner == history_without_timestamps(plain.run(breast_cancer_bundle()))
    assert task.settings.seed == 5


def test_the_steps_make_the_same_history_as_run():
    stepped = BinaryTask(epochs=3)
    stepped.prepare(breast_cancer_bundle(), seed=1)
    rows = []
    for _ in range(3):
        assert stepped.train_epoch() == []
        rows.append(stepped.report())
    result = stepped.finish()
    whole = BinaryTask(epochs=3).run(breast_cancer_bundle(), seed=1)
    assert history_without_timestamps(result) == history_without_timestamps(whole)
    assert rows == stepped.history and result["output"]["stopped_early"] is False


def test_steps_before_prepare_say_what_to_call():
    task = BinaryTask()
    for step in (task.train_epoch, task.report, task.finish):
        with pytest.raises(ConfigurationError, match=r"prepare\(data\)"):
            step()


def test_a_prepared_task_pickles_without_its_run_state():
    task = BinaryTask(epochs=2)
    task.prepare(breast_cancer_bundle(), seed=0)
    copy = pickle.loads(pickle.dumps(task))
    assert copy.__dict__.get("_state") is None
