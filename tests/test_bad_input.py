"""The catalogue of bad input: each case is refused with the right exception type, before anything
runs or is written, and its message names the parameter and shows the value.

"Nothing ran": the tasks of ``tests/bad_input_tasks.py`` leave a mark file when they are built or
run (in any process). "Nothing was written": the store is a file under ``tmp_path`` that must not
exist afterwards, and the CLI cases run in an empty folder that must stay empty (no
``runs/sweeps.log``).
"""
import io
import math

import pytest

import sweeps
import sweeps_core as bt
from sweeps import SweepsError, cli
from sweeps_core import ConfigurationError, DataError, TrainingSettings
from tests import bad_input_tasks as tasks


@pytest.fixture
def store(tmp_path):
    return tmp_path / "store" / "sweeps.log"


def refused(error_type, call, *shown, marks, store):
    """``call()`` raises ``error_type`` naming every string in ``shown``; nothing ran or was written."""
    with pytest.raises(error_type) as caught:
        call()
    message = str(caught.value)
    for text in shown:
        assert text in message, f"{text!r} not in the message: {message}"
    assert list(marks.iterdir()) == [], "a task was built or run"
    assert not store.exists() and not store.parent.exists(), "the store was written"
    return message


def run_sweep(path, task=tasks.create_task, grid=None, **kwargs):
    options = dict(data=None, store=str(path), executor="sequential", progress=False)
    options.update(kwargs)
    return lambda: sweeps.sweep(task, grid, **options)


# ----------------------------------------------------------------------------- grids

GRID_CASES = {
    "grid-not-a-dict": (dict(grid=[1, 2]), SweepsError, ["grid=[1, 2]"]),
    "grid-empty-missing-argument": (dict(grid={}), SweepsError, ["grid={}", "['x']"]),
    "grid-none-missing-argument": (dict(grid=None), SweepsError, ["grid=None", "['x']"]),
    "grid-unknown-argument": (dict(grid={"x": [1], "z": [2]}), SweepsError, ["'z'"]),
    "grid-empty-range": (dict(grid={"x": []}), SweepsError, ["'x'", "[]"]),
    "grid-key-not-a-str": (dict(grid={1: [1], "x": [1]}), SweepsError, ["grid keys [1]"]),
    "grid-duplicate-values": (dict(grid={"x": [1, 1]}), SweepsError, ["x=[1, 1]"]),
    "grid-nan-twice": (dict(grid={"x": [math.nan, math.nan]}), SweepsError, ["x=[nan, nan]"]),
}


@pytest.mark.parametrize("case", GRID_CASES)
def test_bad_grids(case, marks, store):
    kwargs, error, shown = GRID_CASES[case]
    refused(error, run_sweep(store, **kwargs), *shown, marks=marks, store=store)


def test_an_open_file_is_not_a_grid_value(marks, store, tmp_path):
    with open(tmp_path / "f.txt", "w") as handle:
        message = refused(SweepsError, run_sweep(store, grid={"x": [handle]}), "'x'",
                          marks=marks, store=store)
    assert "f.txt" in message


def test_a_stringio_is_not_a_grid_value(marks, store):
    refused(SweepsError, run_sweep(store, grid={"x": [io.StringIO("data")]}), "'x'", "StringIO",
            marks=marks, store=store)


# ----------------------------------------------------------------------------- names

NAMES = ["../../escaped", "/abs/x", "a/b", "", "x" * 65, ".hidden", "a\nb", "a\x1b[2Jb", "a b"]


@pytest.mark.parametrize("name", NAMES, ids=range(len(NAMES)))
def test_bad_sweep_names(name, marks, store):
    message = refused(SweepsError, run_sweep(store, grid={"x": [1]}, name=name), "name=",
                      marks=marks, store=store)
    assert repr(name)[1:-1][:40] in message or name.encode("unicode_escape").decode()[:40] in message


# ----------------------------------------------------------------------------- tasks and data


def test_a_task_that_is_not_callable(marks, store):
    refused(SweepsError, run_sweep(store, task=42), "task=42", marks=marks, store=store)


def test_an_unknown_study(marks, store):
    refused(sweeps.UnknownStudyError, run_sweep(store, task="no-such-study"), "'no-such-study'",
            marks=marks, store=store)


def test_a_lambda_for_worker_processes(marks, store):
    refused(SweepsError, run_sweep(store, task=lambda x: None, grid={"x": [1]},
                                   executor="processes", n_jobs=2),
            "create_task=", "lambda", marks=marks, store=store)


def test_data_missing(marks, store):
    refused(SweepsError, lambda: sweeps.sweep(tasks.create_task, {"x": [1]}, store=str(store),
                                              executor="sequential", progress=False),
            "data=", marks=marks, store=store)


def test_an_unpicklable_data_loader_for_worker_processes(marks, store):
    refused(SweepsError, run_sweep(store, grid={"x": [1]}, data=lambda: {"a": 1},
                                   executor="processes", n_jobs=2),
            "data=", "lambda", marks=marks, store=store)


# ----------------------------------------------------------------------------- executors


@pytest.mark.parametrize("kwargs, shown", [
    (dict(executor="threads"), ["executor=", "'threads'", "sequential"]),
    (dict(executor=3), ["executor=", "3"]),
    (dict(executor="processes", n_jobs=0), ["n_jobs=0"]),
    (dict(executor="processes", n_jobs="2"), ["n_jobs='2'"]),
    (dict(on_error="ignore"), ["on_error='ignore'", "'record'"]),
    (dict(seed="0"), ["seed='0'"]),
    (dict(seed=1.5), ["seed=1.5"]),
], ids=["unknown-executor", "executor-not-a-name", "n_jobs-0", "n_jobs-str", "on_error",
        "seed-str", "seed-float"])
def test_bad_executor_arguments(kwargs, shown, marks, store):
    refused(SweepsError, run_sweep(store, grid={"x": [1]}, **kwargs), *shown, marks=marks,
            store=store)


# ----------------------------------------------------------------------------- metrics, timeouts


@pytest.mark.parametrize("kwargs, shown", [
    (dict(metric=""), ["metric=''"]),
    (dict(metric=3), ["metric=3"]),
    (dict(mode="up"), ["mode='up'", "'max'"]),
    (dict(mode="max", direction="minimize"), ["mode='max'", "direction='minimize'"]),
    (dict(task_timeout=-1), ["task_timeout=-1"]),
    (dict(task_timeout="10"), ["task_timeout='10'"]),
    (dict(task_timeout=math.nan), ["task_timeout=nan"]),
    (dict(task_timeout=5, executor="fused"), ["task_timeout=5", "executor='fused'"]),
], ids=["metric-empty", "metric-int", "mode", "mode-and-direction", "timeout-negative",
        "timeout-str", "timeout-nan", "timeout-fused"])
def test_bad_metrics_and_timeouts(kwargs, shown, marks, store):
    refused(SweepsError, run_sweep(store, grid={"x": [1]}, **kwargs), *shown, marks=marks,
            store=store)


def test_a_metric_that_is_not_in_the_history_stops_at_once_listing_the_ones_that_are(tmp_path):
    store = tmp_path / "s.log"
    with pytest.raises(SweepsError) as caught:
        sweeps.sweep(tasks.create_task, {"x": [1, 2, 3]}, data=None, store=str(store),
                     executor="sequential", progress=False, metric="acc")
    assert "'acc'" in str(caught.value) and "'score'" in str(caught.value)
    # and it was not locked in: the right metric works on the same sweep
    result = sweeps.sweep(tasks.create_task, {"x": [1, 2, 3]}, data=None, store=str(store),
                          executor="sequential", progress=False, metric="score")
    assert result.metric == "score" and all(r.ok for r in result)


# ----------------------------------------------------------------------------- store URLs


def test_an_unknown_store_scheme(marks, store):
    refused(SweepsError, run_sweep(store, grid={"x": [1]}, store="ftp://host/x"), "ftp://host/x",
            marks=marks, store=store)


def test_a_store_that_is_not_a_url(marks, store):
    refused(SweepsError, run_sweep(store, grid={"x": [1]}, store=123), "123", marks=marks,
            store=store)


def test_an_unreachable_server_never_shows_the_password(marks, store):
    url = "postgresql://u:s3cretpw@127.0.0.1:1/db"
    message = refused(SweepsError, run_sweep(store, grid={"x": [1]}, store=url),
                      "127.0.0.1:1", marks=marks, store=store)
    assert "s3cretpw" not in message


def test_a_bad_argument_with_a_store_opens_nothing(marks, store):
    """A store that could be opened is not created when another argument is wrong."""
    refused(SweepsError, run_sweep(store, grid={"x": [1]}, n_jobs=-5, executor="processes"),
            "n_jobs=-5", marks=marks, store=store)


# ----------------------------------------------------------------------------- search spaces


def run_search(store, space, **kwargs):
    options = dict(data=None, store=str(store), executor="sequential", progress=False,
                   n_trials=2, metric="score")
    options.update(kwargs)
    return lambda: sweeps.search(tasks.create_task, space, **options)


@pytest.mark.parametrize("space, kwargs, shown", [
    ({"x": [1, 2]}, dict(n_trials=0), ["n_trials=0"]),
    ({"x": "abc"}, {}, ["'x'", "'abc'"]),
    ({"x": [1, 2]}, dict(sampler="annealing"), ["sampler=", "'annealing'"]),
    ({"x": [1, 2]}, dict(pruner="sometimes"), ["pruner=", "'sometimes'"]),
    ([1, 2], {}, ["space=", "[1, 2]"]),
], ids=["n_trials-0", "space-value", "sampler", "pruner", "space-not-a-dict"])
def test_bad_searches(space, kwargs, shown, marks, store):
    refused(SweepsError, run_search(store, space, **kwargs), *shown, marks=marks, store=store)


# ----------------------------------------------------------------------------- task results


@pytest.mark.parametrize("create_task, shown", [
    (tasks.returns_none, ["create_task(**{'x': ", "returned None", "forget `return`"]),
    (tasks.malformed_history, ["history", "row 0 is 1 (int), not a dict"]),
    (tasks.string_history, ["history", "'abc'"]),
    (tasks.huge_metric, ["score=1000", "does not fit a float"]),
], ids=["create_task-returns-none", "history-of-ints", "history-a-str", "metric-too-large"])
def test_malformed_task_results_fail_that_task_with_its_name(create_task, shown, tmp_path, marks):
    result = sweeps.sweep(create_task, {"x": [1, 2]}, data=None, store=str(tmp_path / "s.log"),
                          executor="sequential", progress=False)
    assert len(result) == 2 and not any(r.ok for r in result)
    for failed in result:
        assert "sweeps._errors.SweepsTypeError: " in failed.error, failed.error
        for text in shown:
            assert text in failed.error, failed.error
        assert "AttributeError: 'NoneType'" not in failed.error


# ----------------------------------------------------------------------------- the command line


@pytest.fixture
def empty_cwd(tmp_path, monkeypatch):
    folder = tmp_path / "cwd"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.mark.parametrize("argv, shown", [
    (["run", "iris", "--grid", "x=(1,2"], ["--grid", "x=(1,2"]),
    (["run", "iris", "--grid", "learning_rate"], ["--grid", "'learning_rate'"]),
    (["run", "iris", "--grid", "=1"], ["--grid", "'=1'"]),
    (["run", "iris", "--grid", "learning_rate=0.1,"], ["--grid", "learning_rate=0.1,"]),
    (["run", "iris", "--n-jobs", "many"], ["--n-jobs", "'many'"]),
    (["run", "iris", "--executor", "threads"], ["'threads'"]),
    (["run", "no-such-study"], ["'no-such-study'"]),
    (["run", "iris", "--name", "../../escaped"], ["'../../escaped'"]),
    (["run", "iris", "--seed", "x"], ["--seed", "'x'"]),
    (["run", "iris", "--task-timeout", "-3"], ["-3"]),
    (["leaderboard", "nope"], ["'nope'"]),
    (["plot", "nope"], ["'nope'"]),
    (["verify", "nope"], ["'nope'"]),
    (["worker", "nope"], ["'nope'"]),
    (["run", "iris", "--store", "ftp://x/y"], ["ftp://x/y"]),
], ids=["grid-unclosed", "grid-no-values", "grid-no-key", "grid-empty-value", "n-jobs",
        "executor", "study", "name", "seed", "task-timeout", "leaderboard-unknown",
        "plot-unknown", "verify-unknown", "worker-unknown", "store-scheme"])
def test_command_line_errors_write_nothing(argv, shown, empty_cwd, marks, capsys):
    assert cli.main(argv) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("sweeps: error: ") and err.count("\n") == 1
    for text in shown:
        assert text in err, err
    assert list(empty_cwd.iterdir()) == [], "the command wrote files (runs/sweeps.log?)"


def test_a_grid_literal_that_does_not_parse_is_refused_not_taken_as_a_string():
    with pytest.raises(SweepsError, match=r"--grid 'x=\(1,2'"):
        cli.parse_grid(["x=(1,2"])
    assert cli.parse_grid(["algorithm=Adam,SGD"]) == {"algorithm": ["Adam", "SGD"]}  # bare words stay


# ----------------------------------------------------------------------------- sweeps_core


@pytest.fixture
def quiet(empty_cwd, marks, tmp_path):
    """quiet(error, call, *shown): ``call()`` raises ``error`` naming every ``shown`` text, run in
    an empty working folder that stays empty (nothing written), and no marked task ran."""
    before = sorted(p.name for p in tmp_path.iterdir())

    def check(error, call, *shown):
        with pytest.raises(error) as caught:
            call()
        for text in shown:
            assert text in str(caught.value), str(caught.value)
        assert list(empty_cwd.iterdir()) == [], "something was written"
        assert sorted(p.name for p in tmp_path.iterdir()) == before, "something was written"
        assert list(marks.iterdir()) == [], "a task was built or run"
        return str(caught.value)

    return check


def check_settings(**values):
    return lambda: TrainingSettings(**values).check()


@pytest.mark.parametrize("call, error, shown", [
    (check_settings(epoch_count=-1), ConfigurationError, ["settings.epoch_count=-1"]),
    (check_settings(batch_size=0), ConfigurationError, ["settings.batch_size=0"]),
    (check_settings(batch_size=2.5), ConfigurationError, ["settings.batch_size=2.5"]),
    (check_settings(mini_batch_size="8"), ConfigurationError, ["settings.mini_batch_size='8'"]),
    (check_settings(fit_on="all"), ConfigurationError, ["settings.fit_on='all'", "'train'"]),
    (check_settings(on_nan="ignore"), ConfigurationError, ["settings.on_nan='ignore'", "'stop'"]),
], ids=["epoch_count", "batch_size-0", "batch_size-float", "mini_batch_size", "fit_on", "on_nan"])
def test_bad_training_settings(call, error, shown, quiet):
    quiet(error, call, *shown)


def _device(device):
    from sweeps_core._task import resolve_device

    return lambda: resolve_device(device)


@pytest.mark.parametrize("device, shown", [("tpu", ["'tpu'", "'cpu'"]), ("cuda:99", ["'cuda:99'"])])
def test_bad_devices(device, shown, quiet):
    import torch

    if device.startswith("cuda") and torch.cuda.device_count() > 99:
        pytest.skip("a machine with 100 GPUs")
    quiet(ConfigurationError, _device(device), *shown)


def _split(**kwargs):
    import pandas as pd

    frame = pd.DataFrame({"label": ["a", "b"] * 10})
    options = dict(test_size=0.2, display_size=0.2, stratify_by="label")
    options.update(kwargs)
    return lambda: bt.train_display_test_split(frame, options.pop("test_size"),
                                               options.pop("display_size"), options.pop("stratify_by"),
                                               **options)


@pytest.mark.parametrize("call, error, shown", [
    (_split(test_size=1.5), ConfigurationError, ["test_size", "1.5"]),
    (_split(test_size=0.6, display_size=0.5), ConfigurationError, ["0.6 + 0.5"]),
    (_split(stratify_by="colour"), DataError, ["'colour'", "'label'"]),
    (_split(random_state="seed"), ConfigurationError, ["random_state", "'seed'"]),
    (lambda: bt.PlainExtractor.build(""), ConfigurationError, ["name", "''"]),
    (lambda: bt.PlainExtractor.build("f").index().index(), ConfigurationError, ["'f'", ".index()"]),
    (lambda: bt.PlainExtractor.build("f").join("other", []), ConfigurationError, ["'other'"]),
], ids=["split-size", "split-sum", "split-column", "split-seed", "extractor-name",
        "extractor-index-twice", "extractor-join-columns"])
def test_bad_data_and_extractors(call, error, shown, quiet):
    quiet(error, call, *shown)


def _ctor(spec):
    from sweeps_core._ctor import load_type

    return lambda: load_type(spec, "loss")


def _factory(factory):
    from sweeps_core._networks import call_factory

    return lambda: call_factory(factory, {"features": None})


def _not_a_network(sample):
    return "a string"


@pytest.mark.parametrize("call, shown", [
    (_ctor("torch.nn:MSELos"), ["'torch.nn:MSELos'", "'torch.nn:MSELoss'"]),
    (_ctor("torch.nn.MSELoss"), ["'torch.nn.MSELoss'", "'module.path:Name'"]),
    (_ctor("no_such_module:X"), ["'no_such_module'"]),
    (_factory(42), ["42"]),
    (_factory(_not_a_network), ["_not_a_network", "str"]),
], ids=["ctor-typo", "ctor-form", "ctor-module", "factory-not-callable", "factory-returns-str"])
def test_bad_factories(call, shown, quiet):
    quiet(ConfigurationError, call, *shown)


def test_a_bundle_frame_that_cannot_be_saved(quiet, empty_cwd):
    import pandas as pd

    bundle = bt.DataBundle(index=pd.DataFrame({"a": [1]}), **{"../up": pd.DataFrame({"b": [1]})})
    quiet(DataError, lambda: bundle.save("bundle"), "frames named ['../up']")
    assert not (empty_cwd.parent / "up.pkl").exists()  # the frame did not walk out either


def test_a_bundle_that_is_not_there(quiet):
    quiet(DataError, lambda: bt.DataBundle.load("no-bundle"), "'", "no-bundle")
