"""A NaN or infinite training loss stops the run at that epoch (settings.on_nan)."""
import math
import pickle

import pytest
import torch

import sweeps_core as bt

from sweeps_core import ConfigurationError, SweepsCoreError, TrainingDivergedError, TrainingSettings
from tests.sweeps_core.tasks import BinaryTask, breast_cancer_bundle


class DivergesAt(torch.nn.Module):
    """A small network whose outputs become ``poison`` from training step ``step`` on."""

    def __init__(self, inputs, outputs, step, poison):
        super().__init__()
        self.linear = torch.nn.Linear(inputs, outputs)
        self.step, self.poison, self.steps = step, poison, 0

    def forward(self, batch):
        features = batch["features"]
        if not isinstance(features, torch.Tensor):  # the frames themselves, as in the walkthrough
            features = torch.tensor(features.astype(float).values).float()
        out = torch.sigmoid(self.linear(features))
        if self.training and torch.is_grad_enabled():  # training steps, not the output-width check
            self.steps += 1
            if self.steps > self.step:
                return out * self.poison
        return out


class DivergesAtFactory:
    def __init__(self, step, poison=math.nan):
        self.step, self.poison = step, poison

    def __call__(self, sample):
        return DivergesAt(sample["features"].shape[1], sample["label"].shape[1], self.step, self.poison)

    def __repr__(self):
        return f"DivergesAtFactory({self.step}, {self.poison})"


class WithoutMetrics(BinaryTask):
    """roc_auc refuses NaN predictions: a task that trains on after NaN reports the loss alone."""

    def initialize_task(self, data):
        super().initialize_task(data)
        self.metric_pool = bt.MetricPool()


def diverging_task(step, poison=math.nan, epochs=6, on_nan=None, cls=BinaryTask):
    task = cls(factory=DivergesAtFactory(step, poison), epochs=epochs)
    if on_nan is not None:
        task.settings.on_nan = on_nan
    return task


def test_nan_loss_stops_the_run_at_that_epoch_with_the_history_up_to_it():
    with pytest.raises(TrainingDivergedError, match=r"^loss became NaN at epoch 2;") as caught:
        diverging_task(2).run(breast_cancer_bundle(), seed=0)
    error = caught.value
    assert error.epoch == 2
    assert [row["iteration"] for row in error.history] == [0, 1, 2]
    assert all(math.isfinite(row["loss"]) for row in error.history[:2])
    assert math.isnan(error.history[2]["loss"])
    assert "on_nan='continue'" in str(error)
    assert isinstance(error, SweepsCoreError) and isinstance(error, FloatingPointError)


def test_infinite_loss_stops_too():
    with pytest.raises(TrainingDivergedError, match=r"^loss became infinite at epoch 0;") as caught:
        diverging_task(0, poison=math.inf).run(breast_cancer_bundle(), seed=0)
    assert [row["iteration"] for row in caught.value.history] == [0]


def test_the_hook_is_not_called_for_the_diverged_epoch_and_the_run_is_finished():
    calls = []
    task = diverging_task(1)
    with pytest.raises(TrainingDivergedError):
        task.run(breast_cancer_bundle(), seed=0, on_epoch=lambda epoch, row: calls.append(epoch))
    assert calls == [0]
    with pytest.raises(ConfigurationError, match="call task.prepare"):
        task.report()  # finish() ended the run


def test_on_nan_continue_keeps_training_to_the_last_epoch():
    result = diverging_task(2, on_nan="continue", cls=WithoutMetrics).run(breast_cancer_bundle(), seed=0)
    history = result["output"]["history"]
    assert [row["iteration"] for row in history] == list(range(6))
    assert all(math.isnan(row["loss"]) for row in history[2:])


def test_an_epoch_without_training_batches_is_not_divergence():
    task = BinaryTask(epochs=3)
    task.settings.training_batch_limit = 0
    history = task.run(breast_cancer_bundle(), seed=0)["output"]["history"]
    assert len(history) == 3 and all(math.isnan(row["loss"]) for row in history)


def test_the_error_pickles_with_its_history():
    with pytest.raises(TrainingDivergedError) as caught:
        diverging_task(1).run(breast_cancer_bundle(), seed=0)
    again = pickle.loads(pickle.dumps(caught.value))
    assert str(again) == str(caught.value) and again.epoch == 1
    assert [row["iteration"] for row in again.history] == [0, 1]


def test_on_nan_must_be_stop_or_continue():
    settings = TrainingSettings(on_nan="ignore")
    with pytest.raises(ConfigurationError, match=r"settings.on_nan='ignore' must be one of \['stop', 'continue'\]"):
        settings.check()
