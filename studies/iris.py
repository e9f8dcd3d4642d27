"""The walkthrough's iris study: a fully connected network, grid over size, learning rate, optimizer.

    sweeps run iris
"""
import pandas as pd

import sweeps_core as bt
from sweeps import register
from sweeps_core import dft
from sweeps_core import factories as btf

GRID = dict(
    network_size=[(), (10,), (10, 10)],
    learning_rate=[0.1, 0.3, 1],
    algorithm=["Adam", "SGD"],
)


def load_bundle() -> bt.DataBundle:
    """Iris as a bundle; the split is fixed (random_state=0) so every task sees the same rows."""
    from sklearn import datasets  # here, not at import: workers build tasks and never load data

    ds = datasets.load_iris()
    features = pd.DataFrame(ds["data"], columns=ds["feature_names"])
    df = pd.DataFrame(ds["target_names"][ds["target"]], columns=["label"])
    df["split"] = bt.train_display_test_split(df, 0.2, 0.2, "label", random_state=0)
    return bt.DataBundle(index=df, features=features)


def get_feature_extractor():
    return (bt.PlainExtractor.build("features").index("features")
            .apply(transformer=dft.DataFrameTransformerFactory.default_factory()))


def get_multilabel_extractor():
    return (bt.PlainExtractor.build(btf.Conventions.LabelFrame).index()
            .apply(take_columns=["label"], transformer=dft.DataFrameTransformerFactory.default_factory()))


class ClassificationTask(btf.TorchTrainingTask):
    def __init__(self):
        super().__init__()
        self.hidden_size = (50,)

    def initialize_task(self, data):
        self.metric_pool = bt.MetricPool().add(bt.MulticlassMetrics())
        self.setup_batcher(data, [get_feature_extractor(), get_multilabel_extractor()])
        self.setup_model(btf.Factories.FullyConnected(self.hidden_size, "features", btf.Conventions.LabelFrame))


@register("iris", grid=GRID, data=load_bundle)
def create_task(epoch_count=20, network_size=(50,), learning_rate=1, algorithm="Adam"):
    task = ClassificationTask()
    task.settings.epoch_count = epoch_count
    task.hidden_size = network_size
    task.optimizer_ctor.kwargs.lr = learning_rate
    task.optimizer_ctor.type = "torch.optim:" + algorithm
    return task
