"""The history's ``loss``: each epoch's row holds the mean of that epoch's step losses, not a
running mean over the epochs so far; with mini-batch reports, the steps since the last report."""
import math

import pytest
import torch

from tests.sweeps_core.tasks import BinaryTask, breast_cancer_bundle


class StepLosses:
    """Wraps a model handler's ``train_step`` and keeps each step's loss, grouped per report."""

    def __init__(self, handler):
        self.train_step = handler.train_step
        self.groups = [[]]
        handler.train_step = self

    def __call__(self, batch):
        loss = self.train_step(batch)
        self.groups[-1].append(float(loss))
        return loss

    def close_group(self):
        self.groups.append([])


def _mean(values):
    return float(torch.tensor(values, dtype=torch.float32).mean())


@pytest.mark.parametrize("batch_size, mini_batch_size, steps", [(100, None, 5), (200, 50, 10)])
def test_each_epochs_loss_is_the_mean_of_its_own_steps(batch_size, mini_batch_size, steps):
    task = BinaryTask(epochs=4, batch_size=batch_size, mini_batch_size=mini_batch_size)
    task.prepare(breast_cancer_bundle(), seed=0)
    recorder = StepLosses(task.model_handler)
    rows = []
    for _ in range(4):
        task.train_epoch()
        rows.append(task.report())
        recorder.close_group()
    groups = recorder.groups[:-1]
    assert [len(group) for group in groups] == [steps] * 4  # several steps in every epoch
    assert len({round(_mean(g), 6) for g in groups}) == 4  # the epochs' means differ
    for row, group in zip(rows, groups):
        assert row["loss"] == pytest.approx(_mean(group), rel=1e-6)
    # ... and not the mean of every step so far
    everything = [loss for group in groups for loss in group]
    assert rows[-1]["loss"] != pytest.approx(_mean(everything), rel=1e-4)


def test_run_reports_the_same_per_epoch_losses_as_the_steps():
    stepped = BinaryTask(epochs=3, batch_size=100)
    stepped.prepare(breast_cancer_bundle(), seed=4)
    recorder = StepLosses(stepped.model_handler)
    for _ in range(3):
        stepped.train_epoch()
        stepped.report()
        recorder.close_group()
    result = BinaryTask(epochs=3, batch_size=100).run(breast_cancer_bundle(), seed=4)
    losses = [row["loss"] for row in result["output"]["history"]]
    assert losses == pytest.approx([_mean(g) for g in recorder.groups[:-1]], rel=1e-6)


def test_mini_reports_each_hold_the_steps_since_the_last_report():
    task = BinaryTask(epochs=2, batch_size=200, mini_batch_size=50)
    task.settings.mini_reporting_conventional = False  # a report after every batch
    task.prepare(breast_cancer_bundle(), seed=0)
    recorder = StepLosses(task.model_handler)
    steps_per_batch = []
    original_report = task.report

    def report_and_group():
        row = original_report()
        steps_per_batch.append(len(recorder.groups[-1]))
        recorder.close_group()
        return row

    task.report = report_and_group
    rows = task.train_epoch()
    assert len(rows) == len(steps_per_batch) >= 2
    for row, group in zip(rows, recorder.groups):
        assert row["loss"] == pytest.approx(_mean(group), rel=1e-6)


def test_an_epoch_without_steps_reports_nan_loss():
    task = BinaryTask(epochs=1, batch_size=100)
    task.prepare(breast_cancer_bundle(), seed=0)
    task.settings.training_batch_limit = 0  # no step this epoch
    task.train_epoch()
    assert math.isnan(task.report()["loss"])
