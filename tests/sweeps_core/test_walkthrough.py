"""The walkthrough's cells, up to the iris task, run with only their imports changed."""
import math
import random
import re
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from tests.walkthrough import cells, run_cell

LAST_ISSUE_CELL = 17  # the iris task with bt.MulticlassMetrics


@pytest.fixture(scope="module")
def outputs():
    namespace = {"__name__": "__walkthrough__"}
    results = []
    # the walkthrough seeds nothing: fix every generator so that the learning floors below hold
    # for the same networks in every run, whatever ran before in this process
    np.random.seed(0)
    torch.manual_seed(0)
    random.seed(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for index, code in enumerate(cells()[: LAST_ISSUE_CELL + 1]):
            results.append(run_cell(code, namespace))
            namespace[f"_cell_{index}"] = dict(namespace)  # a snapshot of the names after each cell
    return results, namespace, caught


def _history_checks(result, epochs, metric, floor, loss_ratio=0.95):
    """The history's shape, and that the task learned: the training loss fell to at most
    ``loss_ratio`` of the first epoch's, and the test and display metrics rose above ``floor``."""
    history = pd.DataFrame(result["output"]["history"])
    assert len(history) == epochs
    assert list(history["iteration"]) == list(range(epochs))
    assert {"loss", f"{metric}_test", f"{metric}_display", "timestamp"} <= set(history.columns)
    assert history[f"{metric}_test"].notna().all()
    losses = history["loss"].tolist()
    assert all(math.isfinite(loss) for loss in losses)
    assert losses[-1] < loss_ratio * losses[0], losses
    for split in ("test", "display"):
        values = history[f"{metric}_{split}"].tolist()
        assert values[-1] > floor and values[-1] > values[0], (split, values)
    # the history is what users plot: one line per metric over the iterations
    ax = history.set_index("iteration")[[f"{metric}_test", "loss"]].plot()
    assert [line.get_ydata().tolist() for line in ax.get_lines()] == [
        history[f"{metric}_test"].tolist(), losses]
    plt.close(ax.figure)


def test_breast_cancer_bundle_split_sizes(outputs):
    results, namespace, _ = outputs
    index = namespace["get_binary_classification_bundle"]().index
    assert index["split"].value_counts().to_dict() == {"train": 341, "display": 114, "test": 114}
    assert results[0].shape == (5, 30)


def test_scaled_mean_radius_fitted_on_all_rows(outputs):
    results, _, _ = outputs
    assert results[2].shape[1] == 30
    assert round(float(results[2]["mean radius"].iloc[0]), 6) == 1.097064


def test_binary_label_frame_is_one_int_column(outputs):
    frame = outputs[0][3]
    assert list(frame.columns) == ["label"]
    assert pd.api.types.is_integer_dtype(frame["label"])


def test_first_tasks_train_with_dataframe_networks_and_lambda_factory(outputs):
    _, namespace, _ = outputs
    # cell 4 used create_factory's lambda, cell 5 the nested Factory class: both trained 10 epochs
    _history_checks(namespace["_cell_4"]["result"], 10, "roc_auc_score", floor=0.9)
    _history_checks(namespace["_cell_5"]["result"], 10, "roc_auc_score", floor=0.9)


def test_optimizer_ctor_dict(outputs):
    assert outputs[0][6] == {"type": "torch.optim:SGD", "args_names": ("params",), "kwargs": {"lr": 0.1}}


def test_optimizer_changed_to_adam(outputs):
    _, namespace, _ = outputs
    text = str(namespace["_cell_7"]["task"].model_handler.optimizer)
    assert text.startswith("Adam (")
    assert re.search(r"lr: 0\.01\b", text)
    # Adam learns much faster than the SGD of the cells before
    _history_checks(namespace["_cell_7"]["result"], 10, "roc_auc_score", floor=0.95, loss_ratio=0.4)


def test_mini_match_size_typo_warns_with_suggestion(outputs):
    messages = [str(w.message) for w in outputs[2]]
    assert any("mini_match_size" in m and "did you mean 'mini_batch_size'" in m for m in messages)


def test_sample_batch_holds_dataframes(outputs):
    frame = outputs[0][8]
    assert isinstance(frame, pd.DataFrame)
    assert frame.shape == (455, 30)
    # fitted on the 455-row first training batch (the walkthrough shows 1.0913 for its split), not on all rows
    _, namespace, _ = outputs
    raw = namespace["_cell_8"]["task"]  # the task that made the batch
    bundle = namespace["get_binary_classification_bundle"]
    with torch.no_grad():  # the network built for the batch gives one output per row
        output = raw.model_handler.network(namespace["_cell_8"]["batch"])
    assert tuple(output.shape) == (455, 1) and torch.isfinite(output).all()
    rows = frame.index
    source = bundle().features  # the raw features; same rows for every split
    column = source.loc[rows, "mean radius"]
    expected = (source.loc[rows[0], "mean radius"] - column.mean()) / column.std(ddof=0)
    assert frame["mean radius"].iloc[0] == pytest.approx(expected, rel=1e-9)
    assert round(float(frame["mean radius"].iloc[0]), 6) != 1.097064


def test_input_conversion_gives_float_tensor(outputs):
    features = outputs[0][9]
    assert isinstance(features, torch.Tensor)
    assert features.dtype == torch.float32
    assert tuple(features.shape) == (455, 30)


def test_perceptron_repr(outputs):
    expected = "Perceptron(\n  (linear_layer): Linear(in_features=30, out_features=10, bias=True)\n)"
    assert repr(outputs[0][10]) == expected
    assert repr(outputs[0][11]) == expected


def test_feed_forward_repr(outputs):
    expected = """FeedForwardNetwork(
  (networks): ModuleList(
    (0): InputConversionNetwork()
    (1): Perceptron(
      (linear_layer): Linear(in_features=30, out_features=10, bias=True)
    )
    (2): Perceptron(
      (linear_layer): Linear(in_features=10, out_features=1, bias=True)
    )
  )
)"""
    assert repr(outputs[0][12]) == expected


def test_fully_connected_repr(outputs):
    expected = """FeedForwardNetwork(
  (networks): ModuleList(
    (0): FeedForwardNetwork(
      (networks): ModuleList(
        (0): InputConversionNetwork()
        (1): Perceptron(
          (linear_layer): Linear(in_features=30, out_features=10, bias=True)
        )
      )
    )
    (1): Perceptron(
      (linear_layer): Linear(in_features=10, out_features=1, bias=True)
    )
  )
)"""
    assert repr(outputs[0][13]) == expected


def test_fully_connected_task_history(outputs):
    _, namespace, _ = outputs
    _history_checks(namespace["_cell_14"]["result"], 10, "roc_auc_score", floor=0.75)


def test_iris_label_frame_columns(outputs):
    assert list(outputs[0][16].columns) == ["label_setosa", "label_versicolor", "label_virginica"]
    assert outputs[0][15]["label"].iloc[0] == "setosa"


def test_iris_task_history(outputs):
    _, namespace, _ = outputs
    result = namespace["_cell_17"]["result"]
    _history_checks(result, 20, "accuracy", floor=0.75, loss_ratio=0.6)  # chance is 1/3
    assert list(result["metrics"]) == ["accuracy_test", "accuracy_display", "loss", "iteration"]
