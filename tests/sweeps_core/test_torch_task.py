"""TorchTrainingTask: REL semantics, reproducibility, pickling, devices, errors, accuracy."""
import pickle

import numpy as np
import pandas as pd
import pytest
import torch

import sweeps_core as bt
from sweeps_core import factories as btf
from tests.sweeps_core.tasks import (
    BinaryTask, HiddenLayerNetwork, IrisTask, binary_label_extractor, breast_cancer_bundle, feature_extractor,
    history_without_timestamps, iris_bundle, lambda_factory, partial_factory,
)


def test_defaults_are_the_released_ones():
    task = BinaryTask()
    assert task.optimizer_ctor.__dict__ == {"type": "torch.optim:SGD", "args_names": ("params",), "kwargs": {"lr": 0.1}}
    assert task.loss_ctor.type == "torch.nn:MSELoss"
    assert task.settings.epoch_count == 10 and bt.TrainingSettings().epoch_count == 100
    assert bt.TrainingSettings().batch_size == 10000 and bt.TrainingSettings().mini_batch_size is None


def test_trains_on_train_and_display_and_reports_test_then_display():
    task = BinaryTask(epochs=2)
    result = task.run(breast_cancer_bundle())
    assert len(result["output"]["train_split"]) == 341 + 114
    assert list(result["output"]["test_splits"]) == ["test", "display"]
    row = result["output"]["history"][0]
    assert list(row) == ["roc_auc_score_test", "roc_auc_score_display", "loss", "iteration", "timestamp"]
    assert set(result) == {"metrics", "runs", "output"} and result["runs"] == {}
    assert "timestamp" not in result["metrics"]
    assert result["output"]["result_df"]["stage"].unique().tolist() == ["test", "display"]


def test_metric_names_are_exactly_those_produced():
    task = BinaryTask(epochs=1)
    result = task.run(breast_cancer_bundle())
    produced = [k for k in result["output"]["history"][0] if k != "timestamp"]
    assert task.get_metric_names() == produced


def _steps(task, bundle):
    """The sizes of the batches the task trains on, one per optimizer step."""
    steps = []
    original = btf.TorchModelHandler.train_step

    def counting(self, batch):
        steps.append(len(batch))
        return original(self, batch)

    btf.TorchModelHandler.train_step = counting
    try:
        task.run(bundle)
    finally:
        btf.TorchModelHandler.train_step = original
    return steps


def test_one_optimizer_step_per_epoch_without_mini_batches():
    assert _steps(BinaryTask(epochs=3), breast_cancer_bundle()) == [455, 455, 455]


def test_mini_batches_only_when_mini_batch_size_is_set():
    task = BinaryTask(epochs=1, batch_size=100, mini_batch_size=20)
    task.settings.mini_epoch_count = 3
    steps = _steps(task, breast_cancer_bundle())
    # 455 rows in batches of 100 (last 55), each cut into 20-row mini-batches, 3 mini-epochs
    assert len(steps) == 3 * (4 * 5 + 3)
    assert steps[:5] == [20] * 5 and max(steps) == 20


def test_seeded_runs_are_bit_identical():
    first, second = BinaryTask(epochs=5), BinaryTask(epochs=5)
    first.settings.seed = second.settings.seed = 7
    a = first.run(breast_cancer_bundle(random_state=3))
    b = second.run(breast_cancer_bundle(random_state=3))
    assert history_without_timestamps(a) == history_without_timestamps(b)


def test_seeded_random_sampler_is_reproducible_and_the_index_frame_untouched():
    bundle = breast_cancer_bundle()
    before = bundle.index.copy()
    histories = []
    for _ in range(2):
        task = BinaryTask(epochs=3, batch_size=100, stratify="label")
        task.settings.seed = 11
        histories.append(history_without_timestamps(task.run(bundle)))
    assert histories[0] == histories[1]
    pd.testing.assert_frame_equal(bundle.index, before)


def test_without_seed_runs_differ():
    a = BinaryTask(epochs=2).run(breast_cancer_bundle())
    b = BinaryTask(epochs=2).run(breast_cancer_bundle())
    assert history_without_timestamps(a) != history_without_timestamps(b)


@pytest.mark.parametrize("factory", [
    btf.Factories.FullyConnected([10], "features", "label"),
    partial_factory(10),
    HiddenLayerNetwork.Factory(10),
], ids=["Factories", "partial", "Factory-class"])
def test_tasks_pickle_before_and_after_run(factory):
    task = BinaryTask(factory=factory, epochs=2)
    task.settings.seed = 1
    clone = pickle.loads(pickle.dumps(task))
    assert history_without_timestamps(clone.run(breast_cancer_bundle())) == history_without_timestamps(task.run(breast_cancer_bundle()))
    trained = pickle.loads(pickle.dumps(task))
    for p, q in zip(task.model_handler.network.parameters(), trained.model_handler.network.parameters()):
        assert torch.equal(p, q)
    pd.testing.assert_frame_equal(trained.predict(breast_cancer_bundle()), task.predict(breast_cancer_bundle()))


def test_lambda_factory_runs_in_process_but_refuses_to_pickle_with_a_fix():
    task = BinaryTask(factory=lambda_factory(10), epochs=1)
    task.run(breast_cancer_bundle())
    with pytest.raises(pickle.PicklingError) as error:
        pickle.dumps(task)
    message = str(error.value)
    assert "lambda" in message and "network factory" in message and "Factory class" in message


def test_predict_runs_without_gradients():
    task = BinaryTask(epochs=1)
    task.run(breast_cancer_bundle())
    seen = []
    handle = task.model_handler.network.register_forward_hook(lambda m, i, o: seen.append(o.requires_grad))
    task.predict(breast_cancer_bundle())
    handle.remove()
    assert seen == [False]


def test_continue_training_goes_on_from_the_last_iteration():
    task = BinaryTask(epochs=3)
    task.settings.seed = 2
    bundle = breast_cancer_bundle()
    task.run(bundle)
    network = task.model_handler.network
    task.settings.continue_training = True
    result = task.run(bundle)
    assert [row["iteration"] for row in result["output"]["history"]] == list(range(6))
    assert task.model_handler.network is network


def test_input_conversion_of_none_takes_every_frame():
    task = BinaryTask(epochs=1)
    batch, _ = task.generate_sample_batch_and_temp_data(breast_cancer_bundle())
    with pytest.warns(UserWarning, match="label frame 'label' too"):
        tensor = btf.InputConversionNetwork(None)(batch)
    assert tuple(tensor.shape) == (455, 31)
    assert torch.equal(tensor[:, 30], torch.tensor(batch["label"]["label"].to_numpy(), dtype=torch.float32))
    with pytest.warns(UserWarning):
        plain = btf.InputConversionNetwork(None)(batch.to_bundle())  # a plain IndexedDataBundle works too
    assert torch.allclose(tensor, plain)
    features_only = btf.InputConversionNetwork(None)({"features": batch["features"]})
    assert tuple(features_only.shape) == (455, 30)


def test_perceptron_activation():
    x = torch.randn(5, 3)
    layer = btf.Perceptron(3, 2)
    assert torch.equal(layer(x), torch.sigmoid(layer.linear_layer(x)))
    linear = btf.Perceptron(3, 2, activation=None)
    assert torch.equal(linear(x), linear.linear_layer(x))
    relu = btf.Perceptron(3, 2, activation="relu")
    assert torch.equal(relu(x), torch.relu(relu.linear_layer(x)))
    assert pickle.loads(pickle.dumps(relu)).activation == "relu"
    with pytest.raises(bt.ConfigurationError, match="activation 'sigmoidd'"):
        btf.Perceptron(3, 2, activation="sigmoidd")


def test_unknown_setting_warns_and_does_not_fail():
    settings = bt.TrainingSettings()
    with pytest.warns(UserWarning, match="did you mean 'mini_batch_size'"):
        settings.mini_match_size = None


def test_device_setting():
    task = BinaryTask(epochs=1)
    task.settings.device = "auto"
    task.run(breast_cancer_bundle())
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(task.model_handler.network.parameters()).device.type == expected
    if not torch.cuda.is_available():
        task = BinaryTask(epochs=1)
        task.settings.device = "cuda"
        with pytest.raises(bt.ConfigurationError, match="GPU"):
            task.run(breast_cancer_bundle())


# ---- bad input ----------------------------------------------------------------------------

class _Configurable(btf.TorchTrainingTask):
    def __init__(self, extractors, factory, **settings):
        super().__init__()
        self.extractors, self.factory = extractors, factory
        for key, value in settings.items():
            setattr(self.settings, key, value)

    def initialize_task(self, data):
        self.metric_pool = bt.MetricPool().add(bt.MulticlassMetrics())
        self.setup_batcher(data, self.extractors)
        self.setup_model(self.factory)


def _not_a_module(sample):
    return "a network"


def test_factory_that_returns_no_module():
    task = _Configurable([feature_extractor(), binary_label_extractor()], _not_a_module, epoch_count=1)
    with pytest.raises(bt.ConfigurationError, match="_not_a_module returned str, not a torch.nn.Module"):
        task.run(breast_cancer_bundle())


def test_optimizer_type_that_cannot_be_imported_suggests():
    task = BinaryTask(epochs=1)
    task.optimizer_ctor.type = "torch.optim:Adamm"
    with pytest.raises(bt.ConfigurationError, match="did you mean 'torch.optim:Adam'"):
        task.run(breast_cancer_bundle())


def test_network_output_width_must_match_the_label():
    factory = btf.Factories.FullyConnected([10, 3], "features")
    task = _Configurable([feature_extractor(), binary_label_extractor()], factory, epoch_count=1)
    with pytest.raises(bt.ConfigurationError, match=r"label frame 'label' has 1 column"):
        task.run(breast_cancer_bundle())


def test_empty_training_split():
    bundle = breast_cancer_bundle()
    bundle.index["split"] = "test"
    with pytest.raises(bt.DataError, match="training split is empty"):
        BinaryTask(epochs=1).run(bundle)


def test_missing_split_column():
    bundle = breast_cancer_bundle()
    bundle["index"] = bundle.index.drop(columns=["split"])
    with pytest.raises(bt.DataError, match="no split column 'split'"):
        BinaryTask(epochs=1).run(bundle)


def test_nan_in_the_label():
    bundle = breast_cancer_bundle()
    index = bundle.index.copy()
    index["label"] = index["label"].astype(float)
    index.loc[0, "label"] = np.nan
    bundle["index"] = index
    task = _Configurable([feature_extractor(), bt.PlainExtractor.build("label").index().apply(
        take_columns=["label"], raise_if_nulls_detected=False)], btf.Factories.FullyConnected([5], "features", "label"),
        epoch_count=1)
    with pytest.raises(bt.DataError, match="NaN"):
        task.run(bundle)


# ---- accuracy, as a user checks it ----------------------------------------------------------

@pytest.mark.slow
def test_breast_cancer_accuracy():
    task = BinaryTask(epochs=100)
    task.optimizer_ctor.type = "torch.optim:Adam"
    task.optimizer_ctor.kwargs.lr = 0.01
    task.settings.seed = 0
    result = task.run(breast_cancer_bundle())
    assert result["metrics"]["roc_auc_score_test"] >= 0.97


@pytest.mark.slow
def test_iris_accuracy():
    task = IrisTask(sizes=(50,), epochs=50)
    task.optimizer_ctor.type = "torch.optim:Adam"
    task.optimizer_ctor.kwargs.lr = 0.1
    task.settings.seed = 0
    result = task.run(iris_bundle())
    assert result["metrics"]["accuracy_test"] >= 0.9


def test_settings_that_cannot_work_are_named():
    task = BinaryTask(epochs=1, batch_size=0)
    task.settings.mini_batch_size = 2.5
    with pytest.raises(bt.ConfigurationError, match=r"settings.batch_size=0 must be a positive int; "
                                                    r"settings.mini_batch_size=2.5 must be a positive int or None"):
        task.run(breast_cancer_bundle())


class _SeededInInitialize(BinaryTask):
    def initialize_task(self, data):
        self.settings.seed = 3  # set late, as the walkthrough sets its settings
        super().initialize_task(data)


def test_a_seed_set_in_initialize_task_still_seeds_the_weights():
    a = _SeededInInitialize(epochs=2).run(breast_cancer_bundle())
    b = _SeededInInitialize(epochs=2).run(breast_cancer_bundle())
    assert history_without_timestamps(a) == history_without_timestamps(b)
