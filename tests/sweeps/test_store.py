"""The store against real Optuna storages (a journal file and SQLite) in a temporary folder."""
import math
import sys
import pathlib

import optuna
import pytest

from sweeps._errors import SweepsValueError, UnknownSweepError
from sweeps._spec import COMPLETE, FAILED, TaskResult
from sweeps._store import Store, decode, encode, load_sweep

optuna.logging.set_verbosity(optuna.logging.WARNING)


def history(accuracies, losses=None):
    losses = losses or [1.0 / (i + 1) for i in range(len(accuracies))]
    return [
        {"accuracy_test": a, "accuracy_display": a, "loss": l, "iteration": i,
         "timestamp": f"2025-01-01 00:00:0{i}"}
        for i, (a, l) in enumerate(zip(accuracies, losses))
    ]


def done(name, params, accuracies, index=0, **kwargs):
    rows = history(accuracies)
    metrics = {k: v for k, v in rows[-1].items() if k != "timestamp"}
    return TaskResult(name, params, 7, COMPLETE, history=rows, metrics=metrics, seconds=1.5,
                      device="cpu", extra={"index": index}, **kwargs)


def failed(name, params, index=0):
    return TaskResult(name, params, 7, FAILED, error="Traceback ...\nValueError: boom",
                      seconds=0.25, device="cpu", extra={"index": index})


PARAMS_A = {"learning_rate": 0.1, "network_size": (10, 5), "optimizer": "adam", "hidden": None,
            "nested": {"layers": [1, (2, 3)], "flag": True}}
PARAMS_B = {"learning_rate": 0.3, "network_size": (20,), "optimizer": "sgd", "hidden": 3,
            "nested": {"layers": [], "flag": False}}
GRID = {"learning_rate": [0.1, 0.3], "network_size": [(10, 5), (20,)],
        "optimizer": ["adam", "sgd"], "hidden": [None, 3]}


@pytest.fixture(params=["journal", "sqlite"])
def url(request, tmp_path):
    if request.param == "journal":
        return str(tmp_path / "store" / "sweeps.log")
    return f"sqlite:///{tmp_path}/store/sweeps.db"


def optuna_storage(url):
    if url.startswith("sqlite"):
        return url
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(url))


def test_record_and_records_round_trip_exactly(url):
    store = Store(url)
    store.begin("iris", meta={"grid": GRID, "study": "iris"})
    a = done("a", PARAMS_A, [0.5, math.nan, 0.7], index=1)
    a.history[0]["loss"] = math.inf
    a.extra["note"] = (1, "x")
    b = done("b", PARAMS_B, [0.6, 0.8], index=0)
    store.record("iris", a)
    store.record("iris", b)

    records = Store(url).records("iris")  # a fresh Store: what another process sees

    assert [r.name for r in records] == ["b", "a"]  # ordered by extra['index']
    got = records[1]
    assert got.params == PARAMS_A
    assert type(got.params["network_size"]) is tuple
    assert type(got.params["nested"]["layers"][1]) is tuple
    assert math.isnan(got.history[1]["accuracy_test"])
    assert got.history[0]["loss"] == math.inf
    assert got.history[0]["timestamp"] == "2025-01-01 00:00:00"
    assert got.extra == {"index": 1, "note": (1, "x")}
    assert (got.seed, got.status, got.seconds, got.device) == (7, COMPLETE, 1.5, "cpu")
    assert got.metrics == {k: v for k, v in a.history[-1].items() if k != "timestamp"}
    assert Store(url).meta("iris") == {"grid": GRID, "study": "iris"}


def test_encode_round_trips_awkward_values():
    value = {"t": (1, (2.5, None)), "l": [True, "s"], "nan": math.nan, "inf": -math.inf,
             "keys": {1: "int key", (1, 2): "tuple key"}, "__tuple__": "looks like a tag"}
    back = decode(encode(value))
    assert back["t"] == (1, (2.5, None)) and back["l"] == [True, "s"]
    assert math.isnan(back["nan"]) and back["inf"] == -math.inf
    assert back["keys"] == {1: "int key", (1, 2): "tuple key"}
    assert back["__tuple__"] == "looks like a tag"
    assert decode(encode({"__tuple__": [1]})) == {"__tuple__": [1]}
    assert decode(encode(object)) == repr(object)  # not JSON: kept as its repr


def test_complete_beats_a_later_failure_and_a_rerun_after_failure_completes(url):
    store = Store(url)
    store.begin("s", metric="accuracy_test")
    store.record("s", done("a", PARAMS_A, [0.5]))
    store.record("s", failed("a", PARAMS_A))
    store.record("s", failed("b", PARAMS_B, index=1))
    assert {r.name: r.status for r in store.records("s")} == {"a": COMPLETE, "b": FAILED}
    assert store.completed("s") == {"a": PARAMS_A}

    rerun = Store(url)
    rerun.begin("s")
    rerun.record("s", done("b", PARAMS_B, [0.9], index=1))
    assert rerun.completed("s") == {"a": PARAMS_A, "b": PARAMS_B}
    assert [r.status for r in rerun.records("s")] == [COMPLETE, COMPLETE]


def test_a_rerun_with_a_new_choice_keeps_the_study_consistent(url):
    store = Store(url)
    store.begin("s", meta={"grid": {"optimizer": ["adam", "sgd"]}})
    store.record("s", done("a", {"optimizer": "adam", "lr": 1}, [0.5]))
    rerun = Store(url)
    rerun.begin("s", meta={"grid": {"optimizer": ["adam", "sgd", "rmsprop"]}})
    rerun.record("s", done("b", {"optimizer": "rmsprop", "lr": 0.5}, [0.6], index=1))
    # Optuna cannot widen a categorical param inside a study: the Optuna param is left out,
    # the exact params stay in the record.
    trials = optuna.load_study(study_name="s", storage=optuna_storage(url)).trials
    assert trials[0].params == {"optimizer": "adam", "lr": 1}
    assert trials[1].params == {}
    assert [r.params for r in rerun.records("s")] == [
        {"optimizer": "adam", "lr": 1}, {"optimizer": "rmsprop", "lr": 0.5}]
    assert rerun.meta("s")["grid"]["optimizer"] == ["adam", "sgd", "rmsprop"]


def test_study_holds_one_standard_trial_per_record(url):
    store = Store(url)
    store.begin("s", meta={"grid": GRID})
    store.record("s", failed("a", PARAMS_A))
    store.record("s", done("a", PARAMS_A, [0.5, 0.75]))
    store.record("s", done("b", PARAMS_B, [0.6, math.nan], index=1))

    study = optuna.load_study(study_name="s", storage=optuna_storage(url))
    trials = study.trials
    assert len(trials) == 3
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert study.user_attrs["metric"] == "accuracy_test"
    assert study.user_attrs["direction"] == "maximize"
    assert study.metric_names == ["accuracy_test"]  # the dashboard's name for the objective

    fail, a, b = trials
    assert fail.state == optuna.trial.TrialState.FAIL and fail.value is None
    assert "ValueError: boom" in fail.user_attrs["error"]
    assert a.state == optuna.trial.TrialState.COMPLETE and a.value == 0.75
    assert a.intermediate_values == {0: 0.5, 1: 0.75}
    assert a.params == {"learning_rate": 0.1, "network_size": "(10, 5)", "optimizer": "adam",
                        "hidden": None, "nested": repr(PARAMS_A["nested"])}
    assert b.params["optimizer"] == "sgd" and b.params["network_size"] == "(20,)"
    assert set(a.user_attrs) >= {"name", "params", "seed", "status", "seconds", "device",
                                 "error", "metrics", "history", "extra"}
    assert a.user_attrs["name"] == "a" and a.user_attrs["status"] == COMPLETE
    # A NaN final metric: the worst value for the direction, the NaN kept in the history.
    assert b.value == -sys.float_info.max  # finite: JSON has no -Infinity
    assert b.intermediate_values == {0: 0.6}  # the NaN stays in the history only
    assert study.best_trial.number == a.number


def test_metric_and_direction_are_chosen_from_the_first_complete_result(tmp_path):
    store = Store(tmp_path / "s.log")
    store.begin("s")
    store.record("s", failed("f", PARAMS_A))  # no metric yet: the study waits for one
    rows = [{"error_rate_valid": 0.3, "loss": 0.5, "iteration": 0}]
    store.record("s", TaskResult("a", PARAMS_B, 0, COMPLETE, history=rows, metrics=rows[0]))
    study = optuna.load_study(study_name="s", storage=optuna_storage(str(tmp_path / "s.log")))
    assert (study.user_attrs["metric"], study.user_attrs["mode"]) == ("error_rate_valid", "min")
    assert [t.state.name for t in study.trials] == ["FAIL", "COMPLETE"]

    result = load_sweep("s", tmp_path / "s.log")
    assert (result.metric, result.direction) == ("error_rate_valid", "minimize")


def test_a_metric_given_at_begin_sets_optunas_direction(url):
    store = Store(url)
    store.begin("s", metric="error_rate_valid")
    study = optuna.load_study(study_name="s", storage=optuna_storage(url))
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert study.user_attrs["mode"] == "min"


def test_failed_first_then_maximized_metric_keeps_every_trial(url):
    store = Store(url)
    store.record("s", failed("f", PARAMS_A))
    store.record("s", done("a", PARAMS_A, [0.5]))
    study = optuna.load_study(study_name="s", storage=optuna_storage(url))
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert [t.user_attrs["name"] for t in study.trials] == ["f", "a"]


def test_a_different_metric_for_a_recorded_sweep_is_refused(url):
    store = Store(url)
    store.begin("s", metric="accuracy_test")
    store.record("s", done("a", PARAMS_A, [0.5]))
    with pytest.raises(SweepsValueError, match="accuracy_test"):
        Store(url).begin("s", metric="loss")
    with pytest.raises(SweepsValueError, match="mode='min'"):
        Store(url).begin("s", direction="minimize")
    with pytest.raises(SweepsValueError, match="mode='min'"):
        Store(url).begin("s", mode="min")
    Store(url).begin("s")  # None: go on with the stored metric


def test_load_sweep_rebuilds_the_result_from_a_fresh_store(url):
    store = Store(url)
    store.begin("iris", metric="accuracy_test", direction="maximize")
    store.record("iris", done("a", PARAMS_A, [0.5, 0.6]))
    store.record("iris", done("b", PARAMS_B, [0.7, 0.9], index=1))
    store.record("iris", failed("c", {"learning_rate": 1.0}, index=2))

    result = load_sweep("iris", url)
    assert result.name == "iris" and len(result) == 3
    assert (result.metric, result.direction) == ("accuracy_test", "maximize")
    assert result.best.name == "b"
    assert result.failed["name"].tolist() == ["c"]
    assert isinstance(result.store, Store)


def test_list_sweeps_and_unknown_sweep(url):
    store = Store(url)
    assert store.list_sweeps() == []
    assert store.records("nope") == [] and store.completed("nope") == {}
    store.record("iris", done("a", PARAMS_A, [0.5]))
    store.record("wine", done("a", PARAMS_A, [0.5]))
    assert Store(url).list_sweeps() == ["iris", "wine"]
    with pytest.raises(UnknownSweepError) as error:
        Store(url).load("irsi")
    message = str(error.value)
    assert "'irsi'" in message and "Did you mean 'iris'?" in message and "'wine'" in message
    assert isinstance(error.value, KeyError)


def test_default_store_is_a_journal_file_under_runs_created_lazily(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = Store()
    assert store.folder == tmp_path / "runs"
    assert store.url == str(tmp_path / "runs" / "sweeps.log")
    assert store.list_sweeps() == [] and not (tmp_path / "runs").exists()
    with pytest.raises(UnknownSweepError):
        load_sweep("iris")
    assert not (tmp_path / "runs").exists()  # reading never creates the store
    store.record("iris", done("a", PARAMS_A, [0.5]))
    assert (tmp_path / "runs" / "sweeps.log").exists()
    assert load_sweep("iris").results[0].params == PARAMS_A


@pytest.mark.parametrize(
    "url, kind, suffix",
    [
        ("runs/x.db", "rdb", "x.db"),
        ("x.sqlite", "rdb", "x.sqlite"),
        ("runs/x.jsonl", "journal", "x.jsonl"),
        ("x.journal", "journal", "x.journal"),
        (pathlib.Path("x.log"), "journal", "x.log"),
        ("journal:///tmp/x.log", "journal", "/tmp/x.log"),
        ("sqlite:///rel/x.db", "rdb", "rel/x.db"),
        ("postgresql+psycopg2://user:pw@host/db", "rdb", "host/db"),
        ("mysql://user@host/db", "rdb", "host/db"),
    ],
)
def test_accepted_urls_resolve_without_connecting(url, kind, suffix, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = Store(url)
    assert store.kind == kind and store.url.endswith(suffix)
    if "://" in str(url) and not str(url).startswith(("sqlite", "journal")):
        assert store.folder is None
    else:
        assert store.folder is not None and store.folder.is_absolute()
    assert not list(tmp_path.iterdir())  # nothing created


@pytest.mark.parametrize(
    "url", ["sqlit:/x", "postgres//host", "", 42, "sqlit:/x.db", "sqlite://x.db",
            "postgres://host/db", "results.csv", "journal://"]
)
def test_malformed_urls_are_named_in_the_message(url):
    with pytest.raises(SweepsValueError) as error:
        Store(url)
    message = str(error.value)
    assert repr(url) in message
    assert "sqlite:///" in message and "postgresql://" in message and ".log" in message


def test_postgres_gets_a_did_you_mean():
    with pytest.raises(SweepsValueError, match="Did you mean 'postgresql://...'"):
        Store("postgres://host/db")


def test_the_real_optuna_dashboard_serves_the_study(url):
    import optuna_dashboard  # a dev dependency: this test always runs
    import json
    from wsgiref.util import setup_testing_defaults

    store = Store(url)
    store.begin("iris", meta={"grid": GRID})
    store.record("iris", failed("a", PARAMS_A))
    store.record("iris", done("a", PARAMS_A, [0.5, math.nan]))
    store.record("iris", done("b", PARAMS_B, [0.6, 0.7], index=1))
    storage = optuna_storage(url)
    app = optuna_dashboard.wsgi(storage if not isinstance(storage, str)
                                else optuna.storages.RDBStorage(storage))

    def get(path):
        environ, status = {"PATH_INFO": path, "QUERY_STRING": "after=0"}, []
        setup_testing_defaults(environ)
        body = b"".join(app(environ, lambda s, headers, *exc: status.append(s)))
        return status[0], json.loads(body)

    status, studies = get("/api/studies")
    assert status == "200 OK"
    (summary,) = studies["study_summaries"]
    assert summary["study_name"] == "iris" and summary["directions"] == ["maximize"]
    status, study = get(f"/api/studies/{summary['study_id']}")
    assert status == "200 OK"
    assert [t["state"] for t in study["trials"]] == ["Fail", "Complete", "Complete"]
    assert study["trials"][2]["intermediate_values"] == [{"step": 0, "value": 0.6},
                                                         {"step": 1, "value": 0.7}]
    assert {p["name"] for p in study["intersection_search_space"]} >= {"learning_rate",
                                                                        "optimizer"}


# ------------------------------------------------------------ the README's resume, on every storage


@pytest.fixture(scope="module")
def pg_server():
    from tests import postgres

    yield from postgres.database_or_skip()


@pytest.fixture(params=["journal", "sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def any_url(request, tmp_path):
    """A store on each storage; on the module's PostgreSQL server, sweeps get unique names."""
    if request.param == "journal":
        return str(tmp_path / "store" / "sweeps.log")
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store/sweeps.db"
    return request.getfixturevalue("pg_server")


def _counted(url, name, log, grid, **kwargs):
    from sweeps import sweep
    from tests.sweeps import tasks_for_tests as toys

    kwargs.setdefault("data", {"offset": 0})
    return sweep(toys.create_counted_task, dict(grid, log=log), store=url, name=name,
                 executor="sequential", progress=False, **kwargs)


def _runs(log):
    """x -> how many times a task with that x completed its run (the side file, not the store)."""
    import collections

    text = pathlib.Path(log).read_text() if pathlib.Path(log).exists() else ""
    return collections.Counter(float(x) for x in text.split()[0::2])


def test_the_readme_resume_paragraph_holds_on_every_storage(any_url, tmp_path):
    name, log = f"resume-{tmp_path.name[-24:]}", str(tmp_path / "runs.txt")
    first = _counted(any_url, name, log, dict(x=[1, 2, 3]), data={"offset": 0, "fail_x": [2]})
    assert {r.name: r.ok for r in first} == {"X1": True, "X2": False, "X3": True}
    # run again: complete tasks are skipped, the failed one runs again
    again = _counted(any_url, name, log, dict(x=[1, 2, 3]))
    assert all(r.ok for r in again) and _runs(log) == {1: 1, 2: 1, 3: 1}
    # a grid that grows renames nothing recorded and never re-runs it (1.05 alone is X105)
    _counted(any_url, name + "g", log, dict(x=[1.05]))
    grown = _counted(any_url, name + "g", log, dict(x=[1.05, 10.5]))
    assert {r.name: r.params["x"] for r in grown} == {"X105": 1.05, "X10.5": 10.5}
    assert _runs(log) == {1: 1, 2: 1, 3: 1, 1.05: 1, 10.5: 1}
    # changing a fixed value is refused, before anything runs
    with pytest.raises(SweepsValueError, match="same names but other params"):
        _counted(any_url, name, log, dict(x=[1, 2, 3], delay=0.001))
    assert sum(_runs(log).values()) == 5
    trials = Store(any_url).optuna_storage().get_all_trials(Store(any_url).study_id(name))
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]


def test_a_sweep_name_begun_by_another_create_task_is_refused_on_every_storage(any_url, tmp_path):
    """Two functions called create_task share the default sweep name; tasks are matched by
    params alone, so the second was handed the first one's results. Refused before anything is
    written; the same function resumes; a moved function goes on once its new place is recorded."""
    from sweeps import sweep
    from tests import bad_input_tasks as other
    from tests.sweeps import tasks_for_tests as toys

    name = f"create_task-{tmp_path.name[-24:]}"
    run = dict(data={"offset": 0}, store=any_url, name=name, executor="sequential",
               progress=False)
    first = sweep(toys.create_task, dict(x=[1, 2]), **run)
    store = Store(any_url)
    trials = len(store.optuna_storage().get_all_trials(store.study_id(name)))
    with pytest.raises(SweepsValueError) as caught:
        sweep(other.create_task, dict(x=[1, 2]), **run)
    message = str(caught.value)
    assert ("was begun by create_task tests.sweeps.tasks_for_tests.create_task, not by "
            "tests.bad_input_tasks.create_task") in message
    assert "name='bad_input_tasks-create_task'" in message and ".set_create_task(" in message
    assert len(store.optuna_storage().get_all_trials(store.study_id(name))) == trials
    assert store.meta(name)["create_task"] == "tests.sweeps.tasks_for_tests.create_task"
    again = sweep(toys.create_task, dict(x=[1, 2]), **run)  # the same function resumes
    assert [r.metrics for r in again] == [r.metrics for r in first]
    assert len(store.optuna_storage().get_all_trials(store.study_id(name))) == trials
    Store(any_url).set_create_task(name, "tests.bad_input_tasks.create_task")
    moved = sweep(other.create_task, dict(x=[1, 2]), **run)
    assert [r.metrics for r in moved] == [r.metrics for r in first]  # recorded, not run again


def _held_trial(url, name, log, x, lease):
    """A sweep whose one trial is RUNNING under ``lease``, as a killed driver leaves it."""
    from sweeps import Autonamer, _trials
    from tests.sweeps import tasks_for_tests as toys

    store = Store(url)
    store.begin(name)
    [spec] = Autonamer(toys.create_counted_task).specs(x=[x], log=log)
    storage, study_id = store.optuna_storage(), store.study_id(name)
    _trials.enqueue(storage, study_id, store.templates(name, [(spec.name, spec.params, 0)]))
    trial = _trials.claim(storage, study_id, lease)
    assert trial is not None and trial.state.name == "RUNNING"
    return store, storage, study_id, trial._trial_id


def test_the_trial_of_a_killed_driver_goes_back_to_the_queue_on_every_storage(any_url, tmp_path):
    import socket
    import subprocess

    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout)
    name, log = f"killed-{tmp_path.name[-24:]}", str(tmp_path / "runs.txt")
    lease = {"host": socket.gethostname(), "pid": dead, "start": None, "driver": dead,
             "id": "gone"}
    store, storage, study_id, trial_id = _held_trial(any_url, name, log, 9, lease)
    result = _counted(any_url, name, log, dict(x=[9]))
    assert [r.name for r in result] == ["X9"] and result.results[0].ok
    assert _runs(log) == {9: 1}
    trials = storage.get_all_trials(study_id)
    assert len(trials) == 1 and trials[0].state.name == "COMPLETE"


@pytest.mark.parametrize("until,taken", [(0.0, True), (4102444800.0, False)],
                         ids=["expired", "renewed"])
def test_a_lease_from_another_host_is_taken_only_once_it_expired(any_url, tmp_path, until,
                                                                  taken):
    from sweeps import _trials

    name, log = f"lease-{tmp_path.name[-24:]}", str(tmp_path / "runs.txt")
    lease = {"host": "another-host", "pid": 1, "start": None, "driver": 1, "id": "far"}
    store, storage, study_id, trial_id = _held_trial(any_url, name, log, 9, lease)
    _trials.renew(storage, trial_id, lease, 1)
    storage.set_trial_system_attr(trial_id, _trials.LEASE, {**lease, "attempts": 1,
                                                            "until": until})
    with store.lock(name):
        assert _trials.release_stale(storage, study_id) == []
    me = _trials.this_participant()
    try:
        claimed = _trials.claim(storage, study_id, me)
    finally:
        _trials.ended(me)
    assert (claimed is not None) == taken
    assert storage.get_trial(trial_id).state.name == "RUNNING"
