"""Torch training: ``TorchModelHandler`` trains and predicts, ``TorchTrainingTask`` wires it up."""
from __future__ import annotations

import pickle
from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd

from ._batcher import Batcher, PriorityRandomSampler, make_priorities_for_even_representation
from ._ctor import CtorAdapter
from ._errors import ConfigurationError, DataError, PicklingError
from ._evaluation import Evaluation, StageResult, StageTruth
from ._networks import call_factory, factory_name
from ._task import BatchedTrainingTask, PredefinedSplitter, TrainingSettings


class Conventions:
    """Names the tasks agree on."""

    LabelFrame = "label"
    SplitColumnName = "split"
    PriorityColumnName = "priority"
    TrainName = "train"
    DisplayName = "display"
    TestName = "test"


class TorchModelHandler:
    """Builds the network from a sample batch, then trains and predicts.

    ``network_factory(sample) -> nn.Module``; ``optimizer_factory(parameters)`` and ``loss_factory()``
    are usually ``CtorAdapter``s, shared with the task so that changing ``task.optimizer_ctor``
    before ``run`` takes effect.
    """

    def __init__(self, network_factory: Any, optimizer_factory: Any, loss_factory: Any,
                 label_frame: str = Conventions.LabelFrame):
        self.network_factory = network_factory
        self.optimizer_factory = optimizer_factory
        self.loss_factory = loss_factory
        self.label_frame = label_frame
        self.network = None
        self.optimizer = None
        self.loss = None
        self.device = None
        self.label_columns: Optional[list] = None

    def instantiate(self, task: Any, batch: Any, device: Any = "cpu") -> None:
        import torch

        if self.label_frame not in batch:
            raise DataError(
                f"the batch has no label frame {self.label_frame!r}; its frames are {batch.frame_names}: "
                f"add an extractor named {self.label_frame!r} (bt.PlainExtractor.build(btf.Conventions.LabelFrame)...)"
            )
        labels = batch[self.label_frame]
        self.label_columns = list(labels.columns)
        self._check_labels(batch)
        network = call_factory(self.network_factory, batch)
        self._check_output_width(network, batch)
        self.device = torch.device(device)
        self.network = network.to(self.device)
        self.optimizer = self.optimizer_factory(self.network.parameters())
        self.loss = self.loss_factory()

    def _check_labels(self, batch: Any) -> None:
        labels = batch[self.label_frame]
        nan_columns = [c for c in labels.columns if labels[c].isna().any()]
        if nan_columns:
            raise DataError(f"label frame {self.label_frame!r} has NaN in column(s) {nan_columns}: drop or fill those rows")

    def _check_output_width(self, network: Any, batch: Any) -> None:
        import torch

        with torch.no_grad():
            output = network(batch)
        if not isinstance(output, torch.Tensor):
            raise ConfigurationError(f"the network returned {type(output).__name__}, not a tensor")
        width = 1 if output.dim() == 1 else output.shape[-1]
        expected = len(self.label_columns)
        if width != expected or (output.dim() > 1 and output.shape[0] != len(batch)):
            raise ConfigurationError(
                f"the network's output has shape {tuple(output.shape)} but the label frame {self.label_frame!r} has "
                f"{expected} column(s) {self.label_columns} for {len(batch)} rows: make the last layer "
                f"{expected} wide (Factories.FullyConnected(sizes, 'features', '{self.label_frame}') does this)"
            )

    def _outputs_and_target(self, batch: Any):
        output = self.network(batch)
        target = batch.tensor(self.label_frame)
        if len(self.label_columns) == 1:
            output, target = output.reshape(-1), target.reshape(-1)
        return output, target

    def train_step(self, batch: Any):
        """One optimizer step; returns the loss as a detached tensor (no device sync here)."""
        if not self.network.training:  # train() walks every submodule: not once per step
            self.network.train()
        self.optimizer.zero_grad()
        output, target = self._outputs_and_target(batch)
        loss = self.loss(output, target)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def train(self, batch: Any) -> float:
        """One optimizer step; returns the loss."""
        return float(self.train_step(batch))

    @staticmethod
    def mean_loss(losses: Sequence[Any]) -> float:
        import torch

        if len(losses) == 1:  # the mean of one value is the value: skip stacking
            return float(losses[0])
        return float(torch.stack(list(losses)).float().mean())  # one device sync per report, not per step

    def predict_values(self, batch: Any) -> np.ndarray:
        """The network's outputs for the batch, without gradients, as an (rows, label width) array."""
        import torch

        if self.network.training:
            self.network.eval()
        with torch.no_grad():
            output = self.network(batch)
        return output.detach().float().cpu().numpy().reshape(len(batch), -1)

    def _truth_frame(self, batch: Any) -> pd.DataFrame:
        """The batch's index frame rows with the ``true`` label column(s)."""
        labels = batch[self.label_frame]
        if len(self.label_columns) == 1:
            truth = {"true": labels.iloc[:, 0].to_numpy()}
        else:
            truth = {f"true_{column}": labels[column].to_numpy() for column in self.label_columns}
        return pd.concat([batch.index_frame, pd.DataFrame(truth, index=batch.index_frame.index)], axis=1)

    def _with_predictions(self, truth: pd.DataFrame, values: np.ndarray) -> pd.DataFrame:
        if len(self.label_columns) == 1:
            predicted = {"predicted": values.reshape(-1)}
        else:
            predicted = {f"predicted_{column}": values[:, i] for i, column in enumerate(self.label_columns)}
        # every true_<c> column is followed by its predicted_<c>, as the original library's frames were
        columns = {}
        for column in truth.columns:
            columns[column] = truth[column]
            if column.startswith("true"):
                key = "predicted" + column[len("true"):]
                if key in predicted:
                    columns[key] = predicted[key]
        return pd.DataFrame(columns, index=truth.index)

    def clear_cache(self) -> None:
        """Forget the evaluation rows kept between reports (the task calls this after a run)."""
        self.__dict__.pop("_evaluation_truth", None)

    def predict(self, batch: Any) -> pd.DataFrame:
        """The index frame rows with ``true``/``predicted`` (or ``true_<col>``/``predicted_<col>``)."""
        return self._with_predictions(self._truth_frame(batch), self.predict_values(batch))

    def evaluate(self, stage_batches: list) -> pd.DataFrame:
        """``predict`` of every (stage, batch) with a ``stage`` column, in one frame."""
        return self.evaluate_arrays(stage_batches).frame()

    def evaluate_arrays(self, stage_batches: list) -> Evaluation:
        """The outputs for every (stage, batch), per stage, beside the true labels.

        The rows and true labels of the evaluation batches do not change between epochs, so they
        are gathered once and only the predictions are new in each report.
        """
        key = [(stage, batch.source_key) for stage, batch in stage_batches]
        cached = self.__dict__.get("_evaluation_truth")
        if cached is None or not _same_key(cached[0], key):
            cached = (key, _stage_truths(stage_batches, self.label_frame))
            self._evaluation_truth = cached
        import torch

        if self.network.training:
            self.network.eval()
        stages, start = [], 0
        with torch.no_grad():
            for truth, count in cached[1]:
                outputs = [self.network(batch) for _, batch in stage_batches[start:start + count]]
                start += count
                output = outputs[0] if len(outputs) == 1 else torch.cat([o.reshape(len(o), -1) for o in outputs])
                # one transfer per stage: on a GPU each .cpu() waits for the device
                stages.append(StageResult(truth, output.float().cpu().numpy().reshape(len(truth), -1)))
        return Evaluation(stages)

    def __getstate__(self) -> dict:
        try:
            pickle.dumps(self.network_factory)
        except Exception as error:
            raise PicklingError(
                f"the task's network factory {factory_name(self.network_factory)} cannot be pickled ({error}), "
                f"so the task cannot go to another process. Use a module-level Factory class with __call__ "
                f"(like ClassificationNetwork.Factory), functools.partial of a module-level function, or "
                f"btf.Factories.FullyConnected instead of a lambda or a nested function"
            ) from None
        state = dict(self.__dict__)
        state.pop("_evaluation_truth", None)  # a cache of data rows, rebuilt when needed
        return state


def _stage_truths(stage_batches: list, label_frame: str) -> list:
    """(StageTruth, number of batches) per stage, in order; a stage's batches are contiguous."""
    groups: list = []
    for stage, batch in stage_batches:
        if groups and groups[-1][0] == stage:
            groups[-1][1].append(batch)
        else:
            groups.append((stage, [batch]))
    truths = []
    for stage, batches in groups:
        index_frame = _concat([batch.index_frame for batch in batches])
        labels = _concat([batch[label_frame] for batch in batches])
        truths.append((StageTruth(stage, index_frame, labels), len(batches)))
    return truths


def _concat(frames: list) -> pd.DataFrame:
    return frames[0] if len(frames) == 1 else pd.concat(frames)


def _same_key(left: list, right: list) -> bool:
    """Same stages over the same split objects (compared by identity) and the same rows."""
    return len(left) == len(right) and all(
        a[0] == b[0] and a[1][0] is b[1][0] and a[1][1] == b[1][1] for a, b in zip(left, right))


class TorchTrainingTask(BatchedTrainingTask):
    """A batched task for torch networks; subclasses write ``initialize_task(self, data)``.

    Trains on the ``train`` and ``display`` rows of the index frame's ``split`` column and reports
    on ``test`` then ``display`` after every epoch. Defaults: SGD with lr 0.1, MSELoss.
    """

    def __init__(self):
        super().__init__(
            splitter=PredefinedSplitter(Conventions.SplitColumnName, [Conventions.TestName, Conventions.DisplayName],
                                        [Conventions.TrainName, Conventions.DisplayName]),
            settings=TrainingSettings(),
        )
        self.optimizer_ctor = CtorAdapter("torch.optim:SGD", ("params",), lr=0.1)
        self.loss_ctor = CtorAdapter("torch.nn:MSELoss")

    def initialize_task(self, data: Any) -> None:
        raise NotImplementedError(
            f"{type(self).__name__} must define initialize_task(self, data): set self.metric_pool and call "
            f"self.setup_batcher(data, extractors) and self.setup_model(network_factory)"
        )

    def late_initialization(self, ibundle: Any) -> None:
        self.initialize_task(ibundle)

    def setup_batcher(self, data: Any, extractors: Sequence[Any], index_frame_name: str = "index",
                      stratify_by_column: Optional[str] = None) -> None:
        sampler = None
        if stratify_by_column is not None:
            index_frame = data.index_frame if hasattr(data, "index_frame") else data[index_frame_name]
            if stratify_by_column not in index_frame.columns:
                raise DataError(
                    f"stratify_by_column {stratify_by_column!r} is not in the index frame; its columns are "
                    f"{list(index_frame.columns)}"
                )
            priorities = make_priorities_for_even_representation(index_frame, stratify_by_column)
            sampler = PriorityRandomSampler(priorities=priorities)
        self.batcher = Batcher(extractors, sampler)

    def setup_model(self, network_factory: Any) -> None:
        self.model_handler = TorchModelHandler(network_factory, self.optimizer_ctor, self.loss_ctor)


class AssemblyPoint:
    """A place that builds a part of a network and its extractor (subclass and implement)."""

    def create_network_factory(self):
        raise NotImplementedError

    def create_extractor(self):
        raise NotImplementedError
