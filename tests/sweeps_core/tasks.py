"""Module-level tasks and bundles for the tests: everything here pickles."""
from functools import lru_cache, partial

import pandas as pd
import torch
from sklearn import datasets
from sklearn.metrics import roc_auc_score

import sweeps_core as bt
from sweeps_core import dft
from sweeps_core import factories as btf


@lru_cache(maxsize=None)
def _breast_cancer():
    ds = datasets.load_breast_cancer()
    return pd.DataFrame(ds["data"], columns=ds["feature_names"]), ds["target"]


def breast_cancer_bundle(random_state=0):
    features, target = _breast_cancer()
    df = pd.DataFrame(target, columns=["label"])
    df["split"] = bt.train_display_test_split(df, 0.2, 0.2, "label", random_state=random_state)
    return bt.DataBundle(index=df, features=features.copy())


def iris_bundle(random_state=0):
    ds = datasets.load_iris()
    features = pd.DataFrame(ds["data"], columns=ds["feature_names"])
    df = pd.DataFrame(ds["target_names"][ds["target"]], columns=["label"])
    df["split"] = bt.train_display_test_split(df, 0.2, 0.2, "label", random_state=random_state)
    return bt.DataBundle(index=df, features=features)


def feature_extractor():
    return (bt.PlainExtractor.build("features").index("features")
            .apply(transformer=dft.DataFrameTransformerFactory.default_factory()))


def binary_label_extractor():
    return bt.PlainExtractor.build(btf.Conventions.LabelFrame).index().apply(take_columns=["label"], transformer=None)


def multiclass_label_extractor():
    return (bt.PlainExtractor.build(btf.Conventions.LabelFrame).index()
            .apply(take_columns=["label"], transformer=dft.DataFrameTransformerFactory.default_factory()))


class BinaryTask(btf.TorchTrainingTask):
    """Breast cancer with a configurable network factory."""

    def __init__(self, factory=None, epochs=10, batch_size=1000, mini_batch_size=None, stratify=None):
        super().__init__()
        self.factory = factory if factory is not None else btf.Factories.FullyConnected([10], "features", "label")
        self.settings.epoch_count = epochs
        self.settings.batch_size = batch_size
        self.settings.mini_batch_size = mini_batch_size
        self.stratify = stratify

    def initialize_task(self, data):
        self.metric_pool = bt.MetricPool().add_sklearn(roc_auc_score)
        self.setup_batcher(data, [feature_extractor(), binary_label_extractor()], stratify_by_column=self.stratify)
        self.setup_model(self.factory)


class IrisTask(btf.TorchTrainingTask):
    def __init__(self, sizes=(50,), epochs=20):
        super().__init__()
        self.sizes = sizes
        self.settings.epoch_count = epochs

    def initialize_task(self, data):
        self.metric_pool = bt.MetricPool().add(bt.MulticlassMetrics())
        self.setup_batcher(data, [feature_extractor(), multiclass_label_extractor()])
        self.setup_model(btf.Factories.FullyConnected(list(self.sizes), "features", "label"))


class HiddenLayerNetwork(torch.nn.Module):
    """A user network that converts the DataFrame itself, as the walkthrough's does."""

    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.hidden = torch.nn.Linear(input_size, hidden_size)
        self.output = torch.nn.Linear(hidden_size, output_size)

    def forward(self, input):
        x = torch.tensor(input["features"].astype(float).values).float()
        return torch.sigmoid(self.output(torch.sigmoid(self.hidden(x))))

    class Factory:
        def __init__(self, hidden_size):
            self.hidden_size = hidden_size

        def __call__(self, sample):
            return HiddenLayerNetwork(sample["features"].shape[1], self.hidden_size, sample["label"].shape[1])


def build_hidden_layer_network(sample, hidden_size):
    return HiddenLayerNetwork(sample["features"].shape[1], hidden_size, sample["label"].shape[1])


def partial_factory(hidden_size=10):
    return partial(build_hidden_layer_network, hidden_size=hidden_size)


def lambda_factory(hidden_size=10):
    return lambda sample: HiddenLayerNetwork(sample["features"].shape[1], hidden_size, sample["label"].shape[1])


def history_without_timestamps(result):
    return [{k: v for k, v in row.items() if k != "timestamp"} for row in result["output"]["history"]]
