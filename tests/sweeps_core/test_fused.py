"""Fused training: the same histories as one task at a time, group metrics, grouping, refusals."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

import sweeps_core as bt
from sweeps_core import factories as btf
from sweeps_core._evaluation import StageResult, StageTruth
from sweeps_core._fused import NotATorchTask, NotFusible, group, prepare, run_fused, train
from sweeps_core._fused_metrics import group_metrics
from tests.sweeps_core.tasks import BinaryTask, IrisTask, breast_cancer_bundle, iris_bundle

# fused steps are batched matrix products: float32 rounding differs from F.linear's, no more
TOLERANCE = 1e-5

OPTIMIZERS = [
    ("SGD", 0.1, dict(momentum=0.9, nesterov=True)),
    ("SGD", 0.05, dict(momentum=0.5, dampening=0.1, weight_decay=0.01)),
    ("Adam", 0.01, dict(betas=(0.8, 0.99), weight_decay=0.01)),
    ("AdamW", 0.02, dict(weight_decay=0.1)),
]


@pytest.fixture(scope="module")
def bundle():
    return breast_cancer_bundle()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def binary_task(algorithm="Adam", lr=0.01, options=None, sizes=(8,), epochs=20, batch_size=64,
                mini_batch_size=None, stratify=None):
    task = BinaryTask(btf.Factories.FullyConnected(list(sizes), "features", "label"), epochs=epochs,
                      batch_size=batch_size, mini_batch_size=mini_batch_size, stratify=stratify)
    task.optimizer_ctor.type = "torch.optim:" + algorithm
    task.optimizer_ctor.kwargs.lr = lr
    task.optimizer_ctor.kwargs.update(options or {})
    return task


def assert_same_histories(expected, got):
    assert not isinstance(got, Exception), got
    rows, fused_rows = expected["output"]["history"], got["output"]["history"]
    assert len(rows) == len(fused_rows)
    for row, fused_row in zip(rows, fused_rows):
        assert list(row) == list(fused_row)  # the same keys in the same order
        for key, value in row.items():
            if key == "timestamp":
                continue
            assert fused_row[key] == pytest.approx(value, rel=TOLERANCE, abs=1e-7), (key, row["iteration"])
    assert got["metrics"].keys() == expected["metrics"].keys()
    assert got["output"]["stopped_early"] == expected["output"]["stopped_early"]


@pytest.mark.parametrize("mini_batch_size", [None, 16], ids=["batches", "mini-batches"])
def test_fused_histories_equal_the_unfused_ones_for_each_optimizer(bundle, mini_batch_size):
    specs = [(algorithm, lr, options, seed) for seed, (algorithm, lr, options) in enumerate(OPTIMIZERS)]
    expected = [binary_task(a, lr, o, mini_batch_size=mini_batch_size).run(bundle, seed=s)
                for a, lr, o, s in specs]
    got = run_fused([binary_task(a, lr, o, mini_batch_size=mini_batch_size) for a, lr, o, _ in specs],
                    bundle, seeds=[s for *_, s in specs])
    for one, fused in zip(expected, got):
        assert_same_histories(one, fused)


def test_initial_weights_are_drawn_as_the_unfused_path_draws_them(bundle):
    seeds = [3, 4, 3]
    alone = []
    for seed in seeds:
        task = binary_task(sizes=(8, 4))
        task.prepare(bundle, seed=seed)
        alone.append([p.detach().clone() for p in task.model_handler.network.parameters()])
        task.finish()
    cache = {}
    members = [prepare(binary_task(sizes=(8, 4)), bundle, seed=seed, cache=cache) for seed in seeds]
    for member, weights in zip(members, alone):
        fused = [p.detach() for p in member.task.model_handler.network.parameters()]
        assert all(torch.equal(a, b) for a, b in zip(weights, fused))
    assert not torch.equal(alone[0][0], alone[1][0])  # the seed matters
    assert len(group(members)) == 1


def test_per_task_batch_orders_fuse_and_follow_each_tasks_seed(bundle):
    # a stratified random sampler: each task draws its own batches (of varying size) from its seed
    tasks = lambda: [binary_task("Adam", lr, epochs=6, stratify="label") for lr in (0.01, 0.03, 0.1)]  # noqa: E731
    expected = [task.run(bundle, seed=seed) for seed, task in enumerate(tasks())]
    cache = {}
    members = [prepare(task, bundle, seed=seed, cache=cache) for seed, task in enumerate(tasks())]
    assert len(group(members)) == 1
    for one, fused in zip(expected, train(members)):
        assert_same_histories(one, fused)


def test_multiclass_tasks_fuse_with_multiclass_metrics():
    data = iris_bundle()

    def task(algorithm, lr):
        t = IrisTask(sizes=(6,), epochs=8)
        t.settings.batch_size = 32
        t.optimizer_ctor.type = "torch.optim:" + algorithm
        t.optimizer_ctor.kwargs.lr = lr
        return t

    specs = [("SGD", 0.5), ("Adam", 0.02), ("AdamW", 0.05)]
    expected = [task(a, lr).run(data, seed=i) for i, (a, lr) in enumerate(specs)]
    got = run_fused([task(a, lr) for a, lr in specs], data, seeds=[0, 1, 2])
    for one, fused in zip(expected, got):
        assert_same_histories(one, fused)
    assert "accuracy_test" in got[0]["metrics"]


def test_a_group_splits_into_chunks_of_group_size(bundle):
    lrs = [0.01, 0.02, 0.05, 0.1, 0.2]
    expected = [binary_task("SGD", lr, epochs=5).run(bundle, seed=i) for i, lr in enumerate(lrs)]
    cache = {}
    members = [prepare(binary_task("SGD", lr, epochs=5), bundle, seed=i, cache=cache) for i, lr in enumerate(lrs)]
    for one, fused in zip(expected, train(members, group_size=2)):
        assert_same_histories(one, fused)


def test_groups_form_by_structure_optimizer_and_settings(bundle):
    cache = {}
    members = [prepare(task, bundle, seed=0, cache=cache) for task in [
        binary_task("Adam"), binary_task("AdamW", 0.1), binary_task("SGD"), binary_task("Adam", sizes=(4,)),
        binary_task("Adam", epochs=3), binary_task("Adam", 0.5)]]
    sizes = sorted(len(g) for g in group(members))
    assert sizes == [1, 1, 1, 3]  # Adam and AdamW share the update rule; SGD, shapes and epochs do not


def test_on_epoch_stops_one_task_and_the_others_go_on(bundle):
    seen = []

    def stop_at_two(epoch, row):
        seen.append(epoch)
        return epoch == 2

    expected = binary_task(epochs=6).run(bundle, seed=0, on_epoch=stop_at_two)
    got = run_fused([binary_task(epochs=6), binary_task(epochs=6)], bundle, seeds=[0, 1],
                    on_epoch=[stop_at_two, None])
    assert_same_histories(expected, got[0])
    assert got[0]["output"]["stopped_early"] and len(got[0]["output"]["history"]) == 3
    assert len(got[1]["output"]["history"]) == 6 and not got[1]["output"]["stopped_early"]
    assert seen == [0, 1, 2, 0, 1, 2]


def test_trained_weights_are_written_back_to_each_tasks_network(bundle):
    task = binary_task(epochs=4)
    expected = binary_task(epochs=4)
    expected.run(bundle, seed=5)
    run_fused([task, binary_task(epochs=4)], bundle, seeds=[5, 6])
    for a, b in zip(expected.model_handler.network.parameters(), task.model_handler.network.parameters()):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)


def test_an_unsupported_optimizer_is_named_and_the_task_runs_unfused(bundle, caplog):
    with pytest.raises(NotFusible, match="RMSprop"):
        prepare(binary_task("RMSprop"), bundle, seed=0)
    expected = binary_task("RMSprop", epochs=3).run(bundle, seed=0)
    with caplog.at_level("INFO", logger="sweeps_core"):
        got = run_fused([binary_task("RMSprop", epochs=3), binary_task(epochs=3)], bundle, seeds=[0, 0])
    assert "RMSprop" in caplog.text
    without_time = [[{k: v for k, v in row.items() if k != "timestamp"} for row in r["output"]["history"]]
                    for r in (expected, got[0])]
    assert without_time[0] == without_time[1]  # the unfused path itself


def test_what_cannot_fuse_says_why(bundle):
    class Plain:
        def run(self, data):
            return {}

    with pytest.raises(NotATorchTask, match="Plain"):
        prepare(Plain(), bundle)
    network = btf.FeedForwardNetwork.Factory(btf.InputConversionNetwork("features"),
                                             torch.nn.Dropout(0.1), torch.nn.Linear(30, 1))
    with pytest.raises(NotFusible, match="Dropout"):
        prepare(binary_task().__class__(network, epochs=1), bundle)
    task = binary_task()
    task.settings.training_time_limit = 5
    with pytest.raises(NotFusible, match="training_time_limit"):
        prepare(task, bundle)
    task = binary_task()
    task.loss_ctor.type = "torch.nn:HuberLoss"
    with pytest.raises(NotFusible, match="HuberLoss"):
        prepare(task, bundle)


# ----------------------------------------------------------------------------- group metrics


def _truth(stage, labels):
    frame = pd.DataFrame(labels)
    return StageTruth(stage, pd.DataFrame({"row": np.arange(len(frame))}), frame)


def test_group_roc_auc_equals_sklearns_per_task_with_ties_and_nan():
    rng = np.random.default_rng(0)
    truth = _truth("test", {"label": rng.integers(0, 2, 40)})
    outputs = rng.random((6, 40, 1)).astype(np.float32)
    outputs[1] = np.round(outputs[1], 1)  # many ties
    outputs[2, 3, 0] = np.nan  # sklearn raises for this task: so does the fused report
    pool = bt.MetricPool().add_sklearn(roc_auc_score)
    rows = group_metrics(pool, [truth], [outputs])
    for task in (0, 1, 3, 4, 5):
        expected = pool.run(bt_evaluation(truth, outputs[task]))
        assert rows[task].keys() == expected.keys()
        assert rows[task]["roc_auc_score_test"] == pytest.approx(expected["roc_auc_score_test"], abs=1e-9)
    assert isinstance(rows[2], str) and "NaN" in rows[2]


def test_group_multiclass_metrics_equal_the_per_task_values():
    rng = np.random.default_rng(1)
    classes = rng.integers(0, 4, 50)
    truth = _truth("display", {f"label_{c}": (classes == c).astype(float) for c in range(4)})
    outputs = rng.random((5, 50, 4)).astype(np.float32)
    outputs[0, :, 1] = outputs[0, :, 2]  # ties keep column order
    for metric in (bt.MulticlassMetrics(), bt.MulticlassMetrics(add_rating=True, recall_at=[1, 2])):
        pool = bt.MetricPool().add(metric)
        rows = group_metrics(pool, [truth], [outputs])
        for task in range(5):
            expected = pool.run(bt_evaluation(truth, outputs[task]))
            assert list(rows[task]) == list(expected)
            for key, value in expected.items():
                assert rows[task][key] == pytest.approx(value, abs=1e-9), key


def test_other_metrics_are_measured_task_by_task():
    class Mean(bt.Metric):
        def get_names(self):
            return ["mean"]

        def measure(self, df):
            return [df["predicted"].mean()]

    truth = _truth("test", {"label": [0, 1, 1, 0]})
    outputs = np.array([[[0.1], [0.2], [0.3], [0.4]], [[1.0], [1.0], [0.0], [0.0]]], dtype=np.float32)
    rows = group_metrics(bt.MetricPool().add(Mean()), [truth], [outputs])
    assert [r["mean_test"] for r in rows] == pytest.approx([0.25, 0.5])


def bt_evaluation(truth, predicted):
    from sweeps_core._evaluation import Evaluation

    return Evaluation([StageResult(truth, predicted)])


def test_a_diverged_task_stops_with_its_own_error_and_the_others_go_on(bundle):
    # an infinite learning rate makes the loss NaN: the run ends with TrainingDivergedError
    with pytest.raises(bt.TrainingDivergedError) as alone:
        binary_task("SGD", math.inf, epochs=3).run(bundle, seed=0)
    got = run_fused([binary_task("SGD", math.inf, epochs=3), binary_task("SGD", 0.1, epochs=3)],
                    bundle, seeds=[0, 1])
    assert isinstance(got[0], bt.TrainingDivergedError)
    assert str(got[0]) == str(alone.value) and got[0].epoch == alone.value.epoch
    assert [list(row) for row in got[0].history] == [list(row) for row in alone.value.history]
    assert [row["loss"] for row in got[0].history] == pytest.approx(
        [row["loss"] for row in alone.value.history], nan_ok=True)
    assert_same_histories(binary_task("SGD", 0.1, epochs=3).run(bundle, seed=1), got[1])


def test_a_task_whose_report_fails_fails_alone_as_it_would_unfused(bundle):
    # with on_nan='continue' the NaN outputs reach roc_auc_score, which refuses them
    def task(lr):
        t = binary_task("SGD", lr, epochs=2)
        t.settings.on_nan = "continue"
        return t

    with pytest.raises(ValueError, match="NaN"):
        task(math.inf).run(bundle, seed=0)
    got = run_fused([task(math.inf), task(0.1)], bundle, seeds=[0, 1])
    assert isinstance(got[0], Exception) and "NaN" in str(got[0])
    assert_same_histories(task(0.1).run(bundle, seed=1), got[1])
