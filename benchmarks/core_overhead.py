"""Training through TorchTrainingTask against a hand-written torch loop over ready tensors.

Both sides do the same work per epoch: the training steps, then a forward pass over the test and
display rows and the same sklearn metric on each. The hand-written loop starts from tensors made
before the clock starts; the task's time includes everything it does (fitting the transformers,
extracting the frames, making tensors, building the history), so the ratio is its whole overhead.
A third run converts the DataFrame in every forward, as the original library's networks did.

    python benchmarks/core_overhead.py            # iris, breast cancer and 200,000 rows
    python benchmarks/core_overhead.py --quick    # fewer epochs, for a smoke run
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd
import torch
from sklearn import datasets
from sklearn.metrics import roc_auc_score

import sweeps_core as bt
from sweeps_core import dft
from sweeps_core import factories as btf


def breast_cancer():
    ds = datasets.load_breast_cancer()
    features = pd.DataFrame(ds["data"], columns=ds["feature_names"])
    index = pd.DataFrame({"label": ds["target"]})
    index["split"] = bt.train_display_test_split(index, 0.2, 0.2, "label", random_state=0)
    return bt.DataBundle(index=index, features=features)


def iris():
    """Iris with string labels (one-hot by the label extractor), as the walkthrough's multiclass task."""
    ds = datasets.load_iris()
    features = pd.DataFrame(ds["data"], columns=ds["feature_names"])
    index = pd.DataFrame({"label": ds["target_names"][ds["target"]]})
    index["split"] = bt.train_display_test_split(index, 0.2, 0.2, "label", random_state=0)
    return bt.DataBundle(index=index, features=features)


def synthetic(rows=200_000, floats=60, categoricals=4, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(rows, floats))
    features = pd.DataFrame(values, columns=[f"f{i}" for i in range(floats)])
    for i in range(categoricals):
        features[f"c{i}"] = rng.choice([f"v{k}" for k in range(8)], size=rows)
    logit = values[:, :5].sum(axis=1) + (features["c0"] == "v1").to_numpy() * 2
    index = pd.DataFrame({"label": (logit + rng.normal(size=rows) > 0).astype(int)})
    index["split"] = bt.train_display_test_split(index, 0.2, 0.2, "label", random_state=0)
    return bt.DataBundle(index=index, features=features)


class BenchTask(btf.TorchTrainingTask):
    def __init__(self, factory, epochs, batch_size, multiclass=False):
        super().__init__()
        self.factory = factory
        self.multiclass = multiclass
        self.settings.epoch_count = epochs
        self.settings.batch_size = batch_size
        self.settings.seed = 0
        self.optimizer_ctor.type = "torch.optim:Adam"
        self.optimizer_ctor.kwargs.lr = 0.01

    def initialize_task(self, data):
        features = (bt.PlainExtractor.build("features").index("features")
                    .apply(transformer=dft.DataFrameTransformerFactory.default_factory()))
        if self.multiclass:
            self.metric_pool = bt.MetricPool().add(bt.MulticlassMetrics())
            label_transformer = dft.DataFrameTransformerFactory.default_factory()
        else:
            self.metric_pool = bt.MetricPool().add_sklearn(roc_auc_score)
            label_transformer = None
        label = bt.PlainExtractor.build("label").index().apply(take_columns=["label"], transformer=label_transformer)
        self.setup_batcher(data, [features, label])
        self.setup_model(self.factory)


class ConvertingNetwork(torch.nn.Module):
    """The original library's way: a DataFrame becomes a tensor in every forward."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, batch):
        x = torch.tensor(batch["features"].astype(float).values).float()
        return self.inner(x)

    class Factory:
        def __init__(self, hidden):
            self.hidden = hidden

        def __call__(self, sample):
            width, out = sample["features"].shape[1], sample["label"].shape[1]
            return ConvertingNetwork(torch.nn.Sequential(
                torch.nn.Linear(width, self.hidden), torch.nn.Sigmoid(), torch.nn.Linear(self.hidden, out), torch.nn.Sigmoid()))


def run_task(bundle, factory, epochs, batch_size, multiclass=False):
    """(whole run seconds, epoch-loop seconds): the epoch loop excludes the one-time preparation."""
    task = BenchTask(factory, epochs, batch_size, multiclass)
    started = time.perf_counter()
    result = task.run(bundle)
    return time.perf_counter() - started, result["output"]["timings"]["epochs"]


def ready_tensors(task, bundle):
    """The same rows and values the task trained on, as tensors made before the clock starts."""
    batch, state = task.generate_sample_batch_and_temp_data(bundle)
    def pack(data):
        labels = data.tensor("label")
        target = labels.reshape(-1) if labels.shape[1] == 1 else labels
        return data.tensor("features"), target, data.frames["label"].to_numpy()
    return pack(state.train_data), {k: pack(v) for k, v in state.test_data.items()}


def roc_auc(y, predicted):
    return {"roc_auc_score": roc_auc_score(y.reshape(-1), predicted.reshape(-1))}


def top1_accuracy(y, predicted):
    return {"accuracy": float(np.mean(y[np.arange(len(y)), predicted.argmax(axis=1)] > 0.5))}


def hand_loop(network, train, tests, epochs, batch_size, measure=roc_auc):
    features, target, _ = train
    optimizer = torch.optim.Adam(network.parameters(), lr=0.01)
    loss_fn = torch.nn.MSELoss()
    history = []
    started = time.perf_counter()
    for iteration in range(epochs):
        losses = []
        network.train()
        for start in range(0, len(features), batch_size):
            optimizer.zero_grad()
            out = network(features[start:start + batch_size]).reshape(target[start:start + batch_size].shape)
            loss = loss_fn(out, target[start:start + batch_size])
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
        network.eval()
        row = {}
        with torch.no_grad():
            for stage, (x, _, y) in tests.items():
                predicted = torch.cat([network(x[s:s + batch_size]) for s in range(0, len(x), batch_size)])
                row.update({f"{k}_{stage}": v for k, v in measure(y, predicted.numpy()).items()})
        row["loss"] = float(torch.stack(losses).mean())
        row["iteration"] = iteration
        history.append(row)
    return time.perf_counter() - started, history


def plain_network(width, hidden, out=1):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(width, hidden), torch.nn.Sigmoid(), torch.nn.Linear(hidden, out), torch.nn.Sigmoid())


def compare(title, bundle, epochs, batch_size, hidden, repeats, multiclass=False):
    probe = BenchTask(btf.Factories.FullyConnected([hidden], "features", "label"), 1, batch_size, multiclass)
    train, tests = ready_tensors(probe, bundle)
    width, out = train[0].shape[1], train[2].shape[1]
    measure = top1_accuracy if multiclass else roc_auc
    run_task(bundle, btf.Factories.FullyConnected([hidden], "features", "label"), 1, batch_size, multiclass)  # warm-up
    ours, hand, converting = [], [], []
    for _ in range(repeats):
        ours.append(run_task(bundle, btf.Factories.FullyConnected([hidden], "features", "label"), epochs, batch_size, multiclass))
        hand.append(hand_loop(plain_network(width, hidden, out), train, tests, epochs, batch_size, measure)[0])
        converting.append(run_task(bundle, ConvertingNetwork.Factory(hidden), epochs, batch_size, multiclass))
    (a_total, a_loop), b = min(ours, key=lambda t: t[1]), min(hand)
    (c_total, c_loop) = min(converting, key=lambda t: t[1])
    print(f"{title}: {len(train[0])} training rows x {width} columns, batch {batch_size}, {epochs} epochs "
          f"(best of {repeats}, torch threads {torch.get_num_threads()})")
    print(f"  hand-written loop over ready tensors        {b:8.3f} s")
    print(f"  TorchTrainingTask: epoch loop / whole run   {a_loop:8.3f} s / {a_total:.3f} s")
    print(f"  convert in every forward: loop / whole run  {c_loop:8.3f} s / {c_total:.3f} s")
    print(f"  training-time ratio task / hand loop         {a_loop / b:6.3f}   (whole run incl. fitting and extraction: {a_total / b:.3f})")
    print(f"  training-time ratio converting / hand loop   {c_loop / b:6.3f}   (whole run: {c_total / b:.3f})")
    return a_loop / b, c_loop / b


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else 3
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny network: as a sweep worker runs it, one thread per task
    compare("iris (MulticlassMetrics)", iris(), 20 if args.quick else 200, 10000, 10, repeats, multiclass=True)
    torch.set_num_threads(threads)
    compare("breast cancer", breast_cancer(), 20 if args.quick else 200, 1000, 10, repeats)
    compare("synthetic 200,000 x 64", synthetic(), 1 if args.quick else 5, 2048, 64, repeats)


if __name__ == "__main__":
    main()
