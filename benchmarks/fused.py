"""Fused execution against one task after another: a learning-rate x optimizer grid of the
breast-cancer task (30-32-1, batch 64), in one process.

    python benchmarks/fused.py                       # 256 tasks, 50 epochs, CPU
    python benchmarks/fused.py --tasks 4096 --device cuda --sizes 4096,65536
    python benchmarks/fused.py --quick               # a smoke run

Two comparisons, each printing tasks per second one after another and fused, the ratio and the
peak memory:

- training alone: ``task.run`` for each task against ``sweeps_core``'s ``run_fused`` over all of
  them (preparation included on both sides, no store);
- end to end: ``sweep(executor='sequential')`` against ``sweep(executor='fused')``, per-epoch
  roc_auc on test and display, every result recorded in a journal-file store (the default kind).

The one-after-another rate is measured on a sample of the grid (``--sample`` tasks: they take the
same time each), the fused rate on the whole grid. Peak memory is the GPU's peak allocation on
cuda, and the process's peak resident set (all runs so far) on the CPU.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from sklearn import datasets  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

import sweeps_core as bt  # noqa: E402
from sweeps import sweep  # noqa: E402
from sweeps_core import dft  # noqa: E402
from sweeps_core import factories as btf  # noqa: E402
from sweeps_core._fused import group, prepare, run_fused, train  # noqa: E402

OPTIMIZERS = {"Adam": ("Adam", {}), "AdamW": ("AdamW", {"weight_decay": 0.01}), "SGD": ("SGD", {}),
              "Nesterov": ("SGD", {"momentum": 0.9, "nesterov": True})}
DEVICE = "cpu"


def load_bundle() -> bt.DataBundle:
    ds = datasets.load_breast_cancer()
    features = pd.DataFrame(ds["data"], columns=ds["feature_names"])
    index = pd.DataFrame({"label": ds["target"]})
    index["split"] = bt.train_display_test_split(index, 0.2, 0.2, "label", random_state=0)
    return bt.DataBundle(index=index, features=features)


class BreastCancerTask(btf.TorchTrainingTask):
    def initialize_task(self, data):
        self.metric_pool = bt.MetricPool().add_sklearn(roc_auc_score)
        features = (bt.PlainExtractor.build("features").index("features")
                    .apply(transformer=dft.DataFrameTransformerFactory.default_factory()))
        label = bt.PlainExtractor.build("label").index().apply(take_columns=["label"], transformer=None)
        self.setup_batcher(data, [features, label])
        self.setup_model(btf.Factories.FullyConnected([32], "features", "label"))


def create_task(learning_rate=0.01, optimizer="Adam", epoch_count=50, device="cpu"):
    task = BreastCancerTask()
    task.settings.epoch_count = epoch_count
    task.settings.batch_size = 64
    task.settings.device = device
    name, options = OPTIMIZERS[optimizer]
    task.optimizer_ctor.type = "torch.optim:" + name
    task.optimizer_ctor.kwargs.lr = learning_rate
    task.optimizer_ctor.kwargs.update(options)
    return task


def grid(tasks: int, epochs: int, device: str) -> dict:
    rates = np.geomspace(1e-4, 1.0, max(1, tasks // len(OPTIMIZERS))).round(8).tolist()
    return dict(learning_rate=rates, optimizer=list(OPTIMIZERS), epoch_count=epochs, device=device)


def params_of(g: dict) -> list:
    return [dict(learning_rate=lr, optimizer=o, epoch_count=g["epoch_count"], device=g["device"])
            for lr in g["learning_rate"] for o in g["optimizer"]]


def reset_peak() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def peak(device: str) -> str:
    if device.startswith("cuda"):
        return f"{torch.cuda.max_memory_allocated() / 2 ** 30:.2f} GiB GPU"
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20:.2f} GiB RSS"


def line(label: str, count: int, seconds: float, device: str) -> float:
    rate = count / seconds
    print(f"  {label:<34} {count:6d} tasks {seconds:8.2f} s {rate:10.1f} tasks/s   peak {peak(device)}")
    return rate


def training_alone(data, all_params: list, sample: int, device: str) -> None:
    """The epoch loops alone: each task's ``timings['epochs']`` against the fused groups' training;
    preparation (fitting, extracting, building each network) is printed on its own line."""
    print(f"training alone, {len(all_params)} tasks (epoch loops; preparation on its own line)")
    seconds = 0.0
    for seed, params in enumerate(all_params[:sample]):
        seconds += create_task(**params).run(data, seed=seed)["output"]["timings"]["epochs"]
    one = line("one after another", min(sample, len(all_params)), seconds, device)
    reset_peak()
    start, cache = time.perf_counter(), {}
    members = [prepare(create_task(**p), data, seed=seed, cache=cache) for seed, p in enumerate(all_params)]
    line("fused: preparation", len(members), time.perf_counter() - start, device)
    reset_peak()
    start = time.perf_counter()
    results = [r for g in group(members) for r in train(g, result_frames=False)]
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    fused = line("fused: training", len(members), time.perf_counter() - start, device)
    failed = [r for r in results if isinstance(r, str)]
    assert not failed, failed[:1]
    print(f"  ratio {fused / one:.1f}x")


def check(data, all_params: list) -> None:
    """How far fused histories are from unfused ones on this device: the largest relative
    difference of the loss, and the largest difference of a metric (an AUC moves in steps of
    one pair of rows, about 3e-4 here, when two outputs within rounding swap places)."""
    loss = metric = 0.0
    fused = run_fused([create_task(**p) for p in all_params], data, seeds=range(len(all_params)))
    for seed, (params, got) in enumerate(zip(all_params, fused)):
        expected = create_task(**params).run(data, seed=seed)["output"]["history"]
        for row, fused_row in zip(expected, got["output"]["history"]):
            loss = max(loss, abs(fused_row["loss"] - row["loss"]) / max(abs(row["loss"]), 1e-12))
            metric = max([metric] + [abs(fused_row[k] - v) for k, v in row.items()
                                     if k not in ("loss", "iteration", "timestamp")])
    print(f"check: {len(all_params)} tasks fused vs unfused: loss within {loss:.1e} relative, "
          f"metrics within {metric:.1e}")


def end_to_end(data, g: dict, sample: int, device: str, folder: str) -> None:
    print("end to end: sweep(), roc_auc on test and display per epoch, journal-file store")
    sample_grid = dict(g, learning_rate=g["learning_rate"][:max(1, sample // len(OPTIMIZERS))])
    count = len(params_of(sample_grid))
    reset_peak()
    start = time.perf_counter()
    sweep(create_task, sample_grid, data=data, name="sequential", store=os.path.join(folder, "seq.log"),
          executor="sequential", progress=False)
    one = line("executor='sequential'", count, time.perf_counter() - start, device)
    reset_peak()
    start = time.perf_counter()
    result = sweep(create_task, g, data=data, name="fused", store=os.path.join(folder, "fused.log"),
                   executor="fused", progress=False)
    fused = line("executor='fused'", len(params_of(g)), time.perf_counter() - start, device)
    assert len(result.failed) == 0, result.failed[:1]
    print(f"  ratio {fused / one:.1f}x")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=256)
    parser.add_argument("--sizes", default=None, help="comma-separated task counts for training alone")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--sample", type=int, default=16, help="tasks run one after another")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: a network this small gains nothing from more)")
    parser.add_argument("--check", type=int, default=8,
                        help="tasks whose fused histories are compared with unfused runs on the device")
    parser.add_argument("--skip-end-to-end", action="store_true")
    parser.add_argument("--end-to-end-tasks", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks, args.epochs, args.sample = 16, 5, 4
    torch.set_num_threads(args.threads)
    data = load_bundle()
    print(f"breast cancer 30-32-1, batch 64, {args.epochs} epochs, device {args.device}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if args.device.startswith("cuda"):
        print(f"GPU: {torch.cuda.get_device_name()}")
    create_task(**params_of(grid(4, 1, args.device))[0]).run(data, seed=0)  # imports and first calls
    if args.check:
        # learning rates where training is stable: where outputs saturate (ties in the AUC) or
        # training is chaotic (Adam at 1.0), rounding differences grow as between two BLAS builds
        rates = np.geomspace(1e-3, 3e-2, max(1, args.check // 4)).tolist()
        stable = dict(grid(4, args.epochs, args.device), learning_rate=rates)
        check(data, params_of(stable)[:args.check])
    sizes = [int(s) for s in (args.sizes or str(args.tasks)).split(",")]
    training_alone(data, params_of(grid(sizes[0], args.epochs, args.device)), args.sample, args.device)
    if not args.skip_end_to_end:
        with tempfile.TemporaryDirectory() as folder:
            end_to_end(data, grid(args.end_to_end_tasks or args.tasks, args.epochs, args.device),
                       args.sample, args.device, folder)
    for size in sizes[1:]:
        training_alone(data, params_of(grid(size, args.epochs, args.device)), args.sample, args.device)


if __name__ == "__main__":
    main()
