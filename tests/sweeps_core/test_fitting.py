"""Which rows the transformers are fitted on, and splits that give no batches."""
import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

import sweeps_core as bt
from sweeps_core import ConfigurationError, DataError
from tests.sweeps_core.tasks import BinaryTask, IrisTask, breast_cancer_bundle


def sorted_iris_bundle():
    """Iris as sklearn ships it: sorted by class, so the first 32 training rows are all setosa."""
    ds = datasets.load_iris()
    index = pd.DataFrame({"label": ds["target_names"][ds["target"]]})
    index["split"] = bt.train_display_test_split(index, 0.2, 0.2, "label", random_state=0)
    return bt.DataBundle(index=index, features=pd.DataFrame(ds["data"], columns=ds["feature_names"]))


def iris_task(batch_size, epochs=2):
    task = IrisTask(sizes=(5,), epochs=epochs)
    task.settings.batch_size = batch_size
    task.settings.seed = 0
    return task


@pytest.mark.parametrize("batch_size", [32, 50, 10000])
def test_a_batch_size_sweep_over_sorted_iris_has_every_class(batch_size):
    result = iris_task(batch_size).run(sorted_iris_bundle())
    true_columns = [c for c in result["output"]["result_df"].columns if c.startswith("true_label_")]
    assert true_columns == ["true_label_setosa", "true_label_versicolor", "true_label_virginica"]
    assert all(0 <= row["accuracy_test"] <= 1 for row in result["output"]["history"])


def _extracted_features(task, bundle):
    _, state = task.generate_sample_batch_and_temp_data(bundle)
    return state.train_data.frames["features"]


def test_preprocessing_does_not_depend_on_the_batch_size():
    bundle = breast_cancer_bundle()
    small = _extracted_features(BinaryTask(batch_size=50), bundle)
    whole = _extracted_features(BinaryTask(batch_size=10000), bundle)
    pd.testing.assert_frame_equal(small, whole)
    # fitted on all 455 training rows: every scaled column has mean 0 there
    assert np.allclose(whole.mean().to_numpy(), 0, atol=1e-9)


def test_preprocessing_does_not_depend_on_the_order_of_rows():
    bundle = breast_cancer_bundle()
    shuffled = bt.DataBundle(index=bundle.index.sample(frac=1, random_state=1), features=bundle.features)
    first = _extracted_features(BinaryTask(batch_size=50), bundle)
    second = _extracted_features(BinaryTask(batch_size=50), shuffled).loc[first.index]
    np.testing.assert_allclose(first.to_numpy(), second.to_numpy(), rtol=0, atol=1e-12)


def test_fit_on_first_batch_restores_the_original_fitting():
    task = BinaryTask(batch_size=50)
    task.settings.fit_on = "first_batch"
    features = _extracted_features(task, breast_cancer_bundle())
    assert np.allclose(features.iloc[:50].mean().to_numpy(), 0, atol=1e-9)
    assert not np.allclose(features.mean().to_numpy(), 0, atol=1e-3)


def test_a_one_column_label_for_multiclass_metrics_says_why_and_how_to_fix_it():
    task = iris_task(32)
    task.settings.fit_on = "first_batch"
    with pytest.raises(DataError, match=r"one column \['label_setosa'\].*single class.*fit_on='train'"):
        task.run(sorted_iris_bundle())


def test_fit_on_must_be_a_known_value():
    task = iris_task(32)
    task.settings.fit_on = "everything"
    with pytest.raises(ConfigurationError, match=r"fit_on='everything' must be one of \['train', 'first_batch'\]"):
        task.run(sorted_iris_bundle())


def test_a_sampler_that_makes_no_batches_is_named():
    task = BinaryTask(epochs=1)
    task.initialize_task = _no_batch_initialization.__get__(task)
    with pytest.raises(DataError, match=r"training split gives no batches: PriorityRandomSampler.*455 rows"):
        task.run(breast_cancer_bundle())


def _no_batch_initialization(self, data):
    BinaryTask.initialize_task(self, data)
    self.batcher.training_sampler = bt.PriorityRandomSampler(dataset_size_factor=0)


def test_an_evaluation_split_without_rows():
    bundle = breast_cancer_bundle()
    bundle.index["split"] = bundle.index["split"].replace("display", "train")
    task = BinaryTask(epochs=2)
    result = task.run(bundle)
    assert [list(row)[:2] for row in result["output"]["history"]] == [["roc_auc_score_test", "loss"]] * 2
    with pytest.raises(DataError, match=r"from_split='display' has no rows.*with rows are \['test'\]"):
        BinaryTask().generate_sample_batch_and_temp_data(bundle, from_split="display")


def sorted_iris_task(batch_size):
    """A study's create_task: the batch size is the only swept parameter."""
    return iris_task(batch_size, epochs=3)


def test_a_sweep_over_batch_size_on_sorted_iris_fails_no_task(tmp_path):
    from sweeps import sweep

    result = sweep(sorted_iris_task, {"batch_size": [32, 64, 10000]}, data=sorted_iris_bundle(),
                   store=str(tmp_path / "runs" / "sweeps.log"), executor="processes", n_jobs=2,
                   progress=False)
    assert result.failed.empty
    assert sorted(result.history["name"].unique()) == ["BS10K", "BS32", "BS64"]
    # every class reaches the metrics of every task, whatever its first batch holds
    accuracy = result.history[result.history["metric"] == "accuracy"]
    assert sorted(set(accuracy["split"])) == ["display", "test"]
    assert result.history.groupby("name")["iteration"].nunique().tolist() == [3, 3, 3]
