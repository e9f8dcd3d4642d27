"""What optuna-dashboard shows of a sweep: a note per trial with the task's name and params, the
final metrics as plain user attributes, the metric per epoch as intermediate values."""
import optuna
import pytest

from sweeps import Store, sweep
from sweeps._dashboard import annotate, display_attrs, note
from tests.sweeps import tasks_for_tests as toys

_note = pytest.importorskip("optuna_dashboard._note", reason="optuna-dashboard keeps its notes elsewhere")


@pytest.fixture
def store(tmp_path):
    store = Store(str(tmp_path / "s.log"))
    sweep(toys.create_task, dict(x=[1, 2], epochs=3), data={"offset": 10}, store=store,
          name="toy", executor="sequential", progress=False)
    return store


def notes(storage, study_id):
    attrs = storage.get_study_system_attrs(study_id)
    return {trial.user_attrs["name"]: _note.get_note_from_system_attrs(attrs, trial._trial_id)["body"]
            for trial in storage.get_all_trials(study_id)}


def test_every_trial_gets_a_note_with_its_name_and_params(store):
    storage = store.optuna_storage()
    assert annotate(storage) == 2
    written = notes(storage, store.study_id("toy"))
    assert written["X1"].startswith("## X1\n") and "- x = `1`" in written["X1"]
    assert "- epochs = `3`" in written["X2"]
    assert annotate(storage) == 0  # once per trial


def test_a_note_written_in_the_dashboard_is_left_alone(store):
    storage = store.optuna_storage()
    study_id = store.study_id("toy")
    trial = next(t for t in storage.get_all_trials(study_id) if t.user_attrs["name"] == "X1")
    _note.save_note_with_version(storage, study_id, trial._trial_id, 1, "my own words")
    assert annotate(storage) == 1
    assert notes(storage, study_id)["X1"] == "my own words"


def test_final_metrics_are_plain_user_attributes_beside_the_tagged_json(store):
    study = optuna.load_study(study_name="toy", storage=store.optuna_storage())
    trial = next(t for t in study.trials if t.user_attrs["name"] == "X2")
    assert trial.user_attrs["metric:score_display"] == 4
    assert "metric:iteration" not in trial.user_attrs and "metric:pid" in trial.user_attrs
    assert trial.user_attrs["params"] == {"x": 2, "epochs": 3}  # what records() reads back
    assert trial.params == {"x": 2, "epochs": 3}  # plain values, as the dashboard shows them
    assert sorted(trial.intermediate_values) == [0, 1, 2]  # the sweep's metric per epoch
    assert store.records("toy")[1].params == {"x": 2, "epochs": 3}


def test_plain_values():
    assert display_attrs({"a": 1, "b": float("nan"), "c": [1], "d": True}) == {"metric:a": 1,
                                                                             "metric:b": "nan"}
    assert note("N", {"size": (10, 10), "opt": "Adam", "none": None}) == (
        "## N\n\n- size = `(10, 10)`\n- opt = `'Adam'`\n- none = `None`\n")
