"""Exact types through every store: what a task or a grid gave comes back with its type.

``1 == True == 1.0`` in Python, so ``==`` hides a bool stored as an int; these tests compare
``type(x) is type(y)`` at every level. numpy scalars come back as the Python scalars they equal.
The same tests run on a journal file, SQLite and a real PostgreSQL server.
"""
import math

import numpy as np
import pytest

from sweeps import Store, TaskResult, load_sweep, sweep
from tests import postgres
from tests.sweeps import pinned_tasks


def same(got, expected, path="value"):
    """Assert got equals expected with the same type everywhere (NaN equals NaN)."""
    assert type(got) is type(expected), f"{path}: {got!r} ({type(got).__name__}) is not " \
                                        f"{expected!r} ({type(expected).__name__})"
    if isinstance(expected, dict):
        assert list(got) == list(expected), f"{path}: keys {list(got)} != {list(expected)}"
        for key in expected:
            same(got[key], expected[key], f"{path}[{key!r}]")
    elif isinstance(expected, (list, tuple)):
        assert len(got) == len(expected), f"{path}: {got!r} != {expected!r}"
        for position, (g, e) in enumerate(zip(got, expected)):
            same(g, e, f"{path}[{position}]")
    elif isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(got), f"{path}: {got!r} is not nan"
    else:
        assert got == expected, f"{path}: {got!r} != {expected!r}"


def test_same_tells_bools_ints_and_floats_apart():
    same({"a": (1, [True])}, {"a": (1, [True])})
    for got, expected in [(1, True), (True, 1), (1.0, 1), ((1,), [1]), ({"a": 0}, {"a": False}),
                          ({"b": 1, "a": 2}, {"a": 2, "b": 1})]:
        with pytest.raises(AssertionError):
            same(got, expected)


@pytest.fixture(scope="module")
def postgres_url():
    yield from postgres.database_or_skip()


@pytest.fixture(params=["journal", "sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def store(request, tmp_path):
    if request.param == "journal":
        return Store(str(tmp_path / "sweeps.log"))
    if request.param == "sqlite":
        return Store(f"sqlite:///{tmp_path}/sweeps.db")
    return Store(request.getfixturevalue("postgres_url"))


# What a user writes, and what every store must give back.
PARAMS = {"flag": True, "off": False, "one": 1, "one_float": 1.0, "zero": 0, "none": None,
          "text": "1", "shape": (1, True, 1.0), "nested": {"on": True, "items": [0, False, (2,)]},
          "np_int": np.int64(3), "np_float": np.float64(0.5), "np_float32": np.float32(0.25),
          "np_int8": np.int8(-2)}
EXPECTED_PARAMS = {**PARAMS, "np_int": 3, "np_float": 0.5, "np_float32": 0.25, "np_int8": -2}
HISTORY = [{"accuracy_test": 0.5, "passed": True, "steps": 1, "rate": 1.0, "iteration": 0},
           {"accuracy_test": float("nan"), "passed": False, "steps": np.int64(2),
            "rate": np.float32(0.5), "iteration": 1}]
EXPECTED_HISTORY = [HISTORY[0], {**HISTORY[1], "steps": 2, "rate": 0.5}]
METRICS = {"accuracy_test": 0.75, "passed": True, "count": 0, "ratio": 0.0, "seed_used": False}


def test_recorded_params_metrics_and_history_come_back_with_their_types(store, tmp_path):
    name = f"types-{tmp_path.name}"  # PostgreSQL is shared by the tests of this module
    result = TaskResult("a", PARAMS, 42, "complete", history=HISTORY, metrics=METRICS,
                        seconds=1, extra={"index": 0, "flag": True})
    store.record(name, result)
    (back,) = load_sweep(name, Store(store.url)).results  # a fresh store, as another machine
    same(back.params, EXPECTED_PARAMS, "params")
    same(back.history, EXPECTED_HISTORY, "history")
    same(back.metrics, METRICS, "metrics")
    same(back.seed, 42, "seed")
    same(back.seconds, 1.0, "seconds")
    same(back.extra["flag"], True, "extra['flag']")


def test_a_sweep_keeps_bool_and_int_grid_values_apart(store, tmp_path):
    name = f"grid-{tmp_path.name}"
    result = sweep(pinned_tasks.create_typed_task, dict(level=[1, True, 1.5, 0, False]),
                   data=None, name=name, store=store, executor="sequential", progress=False)
    assert [r.name for r in result] == ["L1", "LTrue", "L15", "L0", "LFalse"]
    again = load_sweep(name, Store(store.url))
    for r in (*result, *again):
        value = {"L1": 1, "LTrue": True, "L15": 1.5, "L0": 0, "LFalse": False}[r.name]
        same(r.params, {"level": value}, f"{r.name}.params")
        same(r.metrics["value"], value, f"{r.name}.metrics['value']")
        same(r.metrics["flag"], True, f"{r.name}.metrics['flag']")
        same(r.metrics["whole"], 1.0, f"{r.name}.metrics['whole']")
        same([row["correct"] for row in r.history], [False, True], f"{r.name} correct")
        same([row["count"] for row in r.history], [0, 1], f"{r.name} count")
        same([row["ratio"] for row in r.history], [0.25, 0.25], f"{r.name} ratio")
    board = again.leaderboard("score_test")
    same(sorted(board["level"].tolist(), key=repr), sorted([1, True, 1.5, 0, False], key=repr))


def test_a_numpy_bool_comes_back_as_a_bool(store, tmp_path):
    name = f"npbool-{tmp_path.name}"
    store.record(name, TaskResult("a", {"flag": np.bool_(True)}, 0, "complete",
                                  history=[{"accuracy_test": 1.0, "passed": np.bool_(False)}]))
    (back,) = load_sweep(name, Store(store.url)).results
    same(back.params, {"flag": True})
    same(back.history[0]["passed"], False)


def test_what_optunas_tools_read_is_plain_json_tagged_only_where_json_cannot_say_it(tmp_path):
    """The dashboard and every older store read these exact forms."""
    import optuna

    store = Store(str(tmp_path / "sweeps.log"))
    params = {"plain": {"a": 1, "b": [True, None]}, "shape": (1, 2), "nan": float("nan"),
              "inf": float("inf"), "minus_inf": -float("inf"), "zero": 0.0,
              "keys": {1: "one"}, "tag_like": {"__tuple__": 1}, "np_float32": np.float32(0.5),
              "fn": len}
    store.record("s", TaskResult("a", params, 0, "complete", history=[{"loss": 0.5}]))
    trial = optuna.load_study(study_name="s", storage=store.optuna_storage()).trials[0]
    assert trial.user_attrs["params"] == {
        "plain": {"a": 1, "b": [True, None]}, "shape": {"__tuple__": [1, 2]},
        "nan": {"__float__": "nan"}, "inf": {"__float__": "inf"},
        "minus_inf": {"__float__": "-inf"}, "zero": 0.0, "keys": {"__dict__": [[1, "one"]]},
        "tag_like": {"__dict__": [["__tuple__", 1]]}, "np_float32": 0.5,
        "fn": {"__repr__": "<built-in function len>"}}
    (back,) = load_sweep("s", Store(store.url)).results
    same(back.params, {**params, "np_float32": 0.5, "fn": "<built-in function len>"})


def test_a_dict_keyed_by_lists_from_an_older_writer_reads_with_tuple_keys():
    from sweeps._codec import decode

    same(decode({"__dict__": [[[1, 2], "x"], [{"__tuple__": [3]}, "y"]]}), {(1, 2): "x", (3,): "y"})
