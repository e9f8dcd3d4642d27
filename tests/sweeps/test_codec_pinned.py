"""The stored JSON, pinned: exact tagged forms, exact types back, and the tags a record may not hold."""
import json
import math

import numpy as np
import pytest

from sweeps import Store, TaskResult, load_sweep
from sweeps._codec import decode, encode, unknown_tag


def _through_json(value):
    return decode(json.loads(json.dumps(encode(value))))


@pytest.mark.parametrize("value, stored", [
    (float("nan"), {"__float__": "nan"}),
    (float("inf"), {"__float__": "inf"}),
    (-float("inf"), {"__float__": "-inf"}),
    (np.float32("nan"), {"__float__": "nan"}),
    (np.float16(-np.inf), {"__float__": "-inf"}),
    (np.float32(0.25), 0.25),
    (np.int8(-2), -2),
    (np.bool_(True), True),
    ({"a": 1, "b": (2,)}, {"a": 1, "b": {"__tuple__": [2]}}),
    ({"__dict__": 1}, {"__dict__": [["__dict__", 1]]}),
    ({"__version__": 1}, {"__dict__": [["__version__", 1]]}),
    ({"__x": 1}, {"__x": 1}),
    ({"x__": 1}, {"x__": 1}),
    ({"__a__": 1, "b": 2}, {"__a__": 1, "b": 2}),
])
def test_encode_writes_the_documented_json(value, stored):
    assert encode(value) == stored
    assert type(encode(value)) is type(stored)


@pytest.mark.parametrize("value, expected_type", [
    (np.float32(0.25), float), (np.float16(1.5), float), (np.int64(3), int),
    (np.bool_(False), bool), (True, bool), (1, int), (1.0, float), ((1, True), tuple),
])
def test_numpy_and_python_scalars_come_back_as_exact_python_types(value, expected_type):
    back = _through_json(value)
    assert type(back) is expected_type
    assert back == value


def test_nested_values_keep_every_type_through_json():
    value = {"t": (True, [1, (1.0, None)]), "k": {(1, "a"): [False], 0: {"x": (0,)}}}
    back = _through_json(value)
    assert back == value
    assert type(back["t"][0]) is bool and type(back["t"][1][1][0]) is float
    assert list(back["k"]) == [(1, "a"), 0]
    assert type(back["k"][(1, "a")][0]) is bool and type(back["k"][0]["x"]) is tuple


def test_infinities_keep_their_sign_through_json():
    back = _through_json([float("inf"), -float("inf"), np.float32("-inf")])
    assert back == [math.inf, -math.inf, -math.inf]


@pytest.mark.parametrize("raw", [
    {"x": {"__pickle__": "gASV"}},
    [1, {"__pickle__": "gASV"}],
    {"x": {"__tuple__": [1, {"__pickle__": "gASV"}]}},
    {"__dict__": [["k", {"__pickle__": "gASV"}]]},
    {"x": {"__repr__": {"__pickle__": "gASV"}}},  # decode would hand the inner dict on
    {"__float__": [{"__pickle__": "gASV"}]},
])
def test_unknown_tag_finds_a_tag_encode_never_writes_at_any_depth(raw):
    assert unknown_tag(raw) == "__pickle__"


@pytest.mark.parametrize("raw", [
    encode({"t": (1, {"u": [float("nan")]}), "k": {1: len}, "__tuple__": 1}),
    {"x__": 1}, {"__x": 1}, {"a": "__pickle__"}, 5, "__pickle__", None,
    {"a": 1, "__pickle__": 2},  # two keys: a plain dict, decode does not read it as a tag
])
def test_unknown_tag_passes_what_encode_writes_and_plain_keys(raw):
    assert unknown_tag(raw) is None


def test_a_dict_with_one_dunder_key_is_stored_and_read_back(tmp_path):
    # stored plain, {'__version__': '1.0'} would read back as an unknown tag and be refused
    params = {"meta": {"__version__": "1.0"}, "kw": {"__tuple__": (1,)}, "both": {"__a__": 1, "b": 2}}
    store = Store(str(tmp_path / "sweeps.log"))
    store.record("s", TaskResult("a", params, 0, "complete", metrics={"__x__": {"__y__": 1.0}}))
    (back,) = load_sweep("s", Store(store.url)).results
    assert back.params == params and type(back.params["kw"]["__tuple__"]) is tuple
    assert back.metrics == {"__x__": {"__y__": 1.0}}
