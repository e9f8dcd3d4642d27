"""Tests of sweeps._autonamer: grid expansion, REL naming rules, clash handling, validation."""
import doctest
import enum
import hashlib
import itertools
import json
import math
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sweeps
from sweeps import _autonamer
from sweeps._autonamer import Autonamer
from sweeps._errors import SweepsTypeError, SweepsValueError
from sweeps._spec import TaskSpec

SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class Task:
    """A stand-in for a training task: keeps its params; no ``info`` until Autonamer sets one."""

    def __init__(self, **params):
        self.params = params


def create_task(epoch_count=20, network_size=(50,), learning_rate=1, algorithm="Adam",
                layer_ratio=0.5):
    return Task(epoch_count=epoch_count, network_size=network_size, learning_rate=learning_rate,
                algorithm=algorithm, layer_ratio=layer_ratio)


def accept_anything(**params):
    return Task(**params)


def names(*args, **ranges):
    return [spec.name for spec in Autonamer(*args).specs(**ranges)]


class Algorithm(enum.Enum):
    AdamW = 1
    SGD_Momentum2 = 2


WALKTHROUGH_GRID = dict(network_size=[(), (10,), (10, 10)], learning_rate=[0.1, 0.3, 1],
                        algorithm=["Adam", "SGD"])
WALKTHROUGH_NAMES = [
    "NS-LR01-AAdam", "NS-LR01-ASGD", "NS-LR03-AAdam", "NS-LR03-ASGD", "NS-LR1-AAdam",
    "NS-LR1-ASGD", "NS10-LR01-AAdam", "NS10-LR01-ASGD", "NS10-LR03-AAdam", "NS10-LR03-ASGD",
    "NS10-LR1-AAdam", "NS10-LR1-ASGD", "NS10-10-LR01-AAdam", "NS10-10-LR01-ASGD",
    "NS10-10-LR03-AAdam", "NS10-10-LR03-ASGD", "NS10-10-LR1-AAdam", "NS10-10-LR1-ASGD",
]


# --- the walkthrough and the REL rules --------------------------------------------------------

def test_walkthrough_grid_gives_18_tasks_in_rel_order():
    tasks = Autonamer(create_task).build_tasks(**WALKTHROUGH_GRID)
    assert [task.info["name"] for task in tasks] == WALKTHROUGH_NAMES
    assert tasks[-1].info["name"] == "NS10-10-LR1-ASGD"
    assert tasks[-1].params["network_size"] == (10, 10)
    assert tasks[-1].params["learning_rate"] == 1
    assert tasks[-1].params["algorithm"] == "SGD"
    expected = list(itertools.product(*WALKTHROUGH_GRID.values()))
    assert [(t.params["network_size"], t.params["learning_rate"], t.params["algorithm"])
            for t in tasks] == expected


def test_rel_value_rules_with_prefix():
    got = names(create_task, "exp", epoch_count=[1000, 1500, 1_000_000, 999], learning_rate=0.01,
                algorithm=[Algorithm.AdamW, Algorithm.SGD_Momentum2, True, None])
    assert got[:4] == ["exp-EC1000-AAdamW", "exp-EC1000-ASGD_Momentum2", "exp-EC1000-ATrue",
                       "exp-EC1000-ANone"]
    assert got[4] == "exp-EC1500-AAdamW"  # REL truncates to '1K', which misstates 1500
    assert got[8] == "exp-EC1000K-AAdamW"  # REL: 1_000_000 is not > 1_000_000
    assert got[12] == "exp-EC999-AAdamW"
    assert names(create_task, epoch_count=[2_500_000, -5000, 0]) == ["EC2500000", "EC-5000", "EC0"]


def test_readme_example_nested_lists_are_range_items():
    assert names(create_task, learning_rate=[1, 2], network_size=[[10], [10, 5]]) == [
        "LR1-NS10", "LR1-NS10-5", "LR2-NS10", "LR2-NS10-5"]


def test_floats_lose_their_dot_like_rel():
    assert names(create_task, learning_rate=[0.1, 1.0, 0.01, 1e-05]) == [
        "LR01", "LR10", "LR001", "LR1e-05"]


def test_fixed_values_are_not_named_but_recorded_after_the_swept_ones():
    specs = Autonamer(create_task).specs(epoch_count=5, learning_rate=[0.1, 0.3],
                                         network_size=(10,), algorithm=["SGD"])
    assert [spec.name for spec in specs] == ["LR01-ASGD", "LR03-ASGD"]
    assert list(specs[0].params) == ["learning_rate", "algorithm", "epoch_count", "network_size"]
    assert specs[1].params == dict(learning_rate=0.3, algorithm="SGD", epoch_count=5,
                                   network_size=(10,))
    assert all(spec.swept == ("learning_rate", "algorithm") for spec in specs)
    assert all(isinstance(spec, TaskSpec) for spec in specs)


@pytest.mark.parametrize("prefix, expected", [(None, "default"), ("exp", "exp")])
def test_a_grid_without_ranges_gives_one_spec(prefix, expected):
    for call in [{}, dict(learning_rate=0.1, network_size=(10,))]:
        (spec,) = Autonamer(create_task, prefix).specs(**call)
        assert spec == TaskSpec(expected, call, ())
        assert Autonamer(create_task, prefix).count(**call) == 1


def test_tuples_are_fixed_values_range_and_numpy_are_ranges():
    assert names(create_task, network_size=(10, 10)) == ["default"]
    specs = Autonamer(create_task).specs(epoch_count=range(1, 4), learning_rate=np.array([0.5, 2]))
    assert [spec.name for spec in specs] == ["EC1-LR05", "EC1-LR20", "EC2-LR05", "EC2-LR20",
                                             "EC3-LR05", "EC3-LR20"]
    assert type(specs[0].params["learning_rate"]) is float  # numpy scalars become Python ones
    assert names(create_task, learning_rate=np.float64(0.5)) == ["default"]  # 0-d: fixed


def test_classes_and_functions_are_named_without_memory_addresses():
    assert names(accept_anything, fn=[create_task, Task]) == ["Fcreate_task", "FTask"]


# --- build_tasks and task.info ----------------------------------------------------------------

class TaskWithInfo:
    def __init__(self, **params):
        self.info = {"name": "old", "owner": "me"}


class TaskWithBadInfo:
    info = "not a dict"


def test_build_tasks_sets_the_name_and_keeps_other_info_keys():
    tasks = Autonamer(TaskWithInfo, "exp").build_tasks(learning_rate=[1, 2])
    assert [task.info for task in tasks] == [{"name": "exp-LR1", "owner": "me"},
                                             {"name": "exp-LR2", "owner": "me"}]


def test_build_tasks_refuses_a_task_that_cannot_hold_info():
    with pytest.raises(SweepsTypeError, match="info"):
        Autonamer(lambda **params: TaskWithBadInfo()).build_tasks(x=[1])
    with pytest.raises(SweepsTypeError, match="info"):
        Autonamer(lambda **params: 3).build_tasks(x=[1])


# --- clashes ----------------------------------------------------------------------------------

def test_float_clash_keeps_the_dot():
    assert names(create_task, learning_rate=[1.5, 15]) == ["LR1.5", "LR15"]
    assert names(create_task, learning_rate=[1.0, 10]) == ["LR1.0", "LR10"]


def test_whole_floats_up_to_1000_lose_their_dot_like_rel_and_stay_unique():
    # REL spells 1.0 as '10' (str without '.'): kept, as the original names them
    assert names(accept_anything, x=[1.0, 2.0]) == ["X10", "X20"]
    assert names(accept_anything, x=[10.0, 20.0]) == ["X100", "X200"]
    # where that makes two labels of a range equal, the whole range is spelled exactly
    assert names(accept_anything, x=[1.0, 10, 10.0, 100]) == ["X1.0", "X10", "X10.0", "X100"]
    assert names(accept_anything, x=[1.0, 10.0], y=[10, 1.0]) == [
        "X10-Y10", "X10-Y1.0", "X100-Y10", "X100-Y1.0"]


@given(st.integers(-10**20, 10**20))
def test_an_int_label_states_the_value(value):
    label = names(accept_anything, x=[value])[0][1:]
    units = {"K": 1000, "M": 1_000_000}
    spelled = int(label[:-1]) * units[label[-1]] if label[-1] in units else int(label)
    assert spelled == value, label


@given(st.integers(-10**15, 10**15))
def test_a_whole_float_label_states_the_value_or_is_rels_up_to_1000(value):
    label = names(accept_anything, x=[float(value)])[0][1:]
    if abs(value) > 1000:
        assert float(label) == value, label
    else:  # REL: str() without its '.': '10' for 1.0
        assert label == str(float(value)).replace(".", "")


def test_keys_with_the_same_initials_get_longer_abbreviations():
    assert names(create_task, learning_rate=[0.1], layer_ratio=[0.5, 2]) == [
        "LeRa01-LaRa05", "LeRa01-LaRa2"]


def test_k_rounding_clash_uses_full_ints():
    assert names(create_task, epoch_count=[1500, 1600]) == ["EC1500", "EC1600"]
    assert names(create_task, epoch_count=[1000, 1500]) == ["EC1000", "EC1500"]  # REL: 'EC1K'
    assert names(create_task, epoch_count=[2_000_001, 2_500_000]) == ["EC2000001", "EC2500000"]


def test_tuples_are_joined_with_dashes_and_stay_distinct():
    assert names(create_task, network_size=[(1, 11), (11, 1)]) == ["NS1-11", "NS11-1"]
    assert names(create_task, network_size=[(1.5,), (15,)]) == ["NS1.5", "NS15"]


def test_whole_names_that_clash_through_dashes_get_a_stable_digest():
    got = names(accept_anything, a=["1-B2", "1"], b=["3", "2-B3"])
    assert got[1:3] == ["A1-B2-B2-B3", "A1-B3"]
    clashing = [got[0], got[3]]  # (a='1-B2', b='3') and (a='1', b='2-B3') both read "A1-B2-B3"
    assert all(re.fullmatch(r"A1-B2-B3-[0-9a-f]{8}", name) for name in clashing)
    assert len(set(got)) == 4
    assert names(accept_anything, a=["1-B2", "1"], b=["3", "2-B3"]) == got


def test_unsafe_characters_are_replaced_and_names_stay_unique():
    assert names(accept_anything, text=["a/b", "c d", "héllo"]) == ["Ta_b", "Tc_d", "Thello"]
    got = names(accept_anything, text=["a/b", "a b", "a_b"])
    assert got == ["Ta_2f_b", "Ta_20_b", "Ta__b"]


def test_names_differ_even_ignoring_case():
    got = names(accept_anything, algorithm=["Adam", "adam"])
    assert len({name.lower() for name in got}) == 2
    assert all(re.fullmatch(r"A[Aa]dam-[0-9a-f]{8}", name) for name in got)
    # 'lr' and 'LR' differ only in case: each abbreviation becomes the key and a digest letter
    assert names(accept_anything, lr=[1], LR=[2]) == ["lr11-LR72"]
    got = names(accept_anything, lr=[1, 3], LR=[2, 4])
    assert got == ["lr11-LR72", "lr11-LR74", "lr13-LR72", "lr13-LR74"]


def test_values_no_spelling_tells_apart_still_get_unique_names():
    got = names(accept_anything, x=[float("nan"), float("nan"), 1, "1"])
    assert len(set(got)) == 4 and all(SAFE_NAME.match(name) for name in got)


# --- abbreviations, keys, prefix, length ------------------------------------------------------

def test_abbreviations_override():
    assert names(create_task, None, {"learning_rate": "lr"}, learning_rate=[0.1],
                 algorithm=["SGD"]) == ["lr01-ASGD"]
    # an override wins; a derived abbreviation that clashes with it grows
    assert names(create_task, None, {"learning_rate": "LR"}, learning_rate=[0.1],
                 layer_ratio=[1]) == ["LR01-LaRa1"]


@pytest.mark.parametrize("abbreviations, fragment", [
    ({"learning_rate": "l/r"}, "abbreviations['learning_rate']='l/r'"),
    ({"learning_rate": ""}, "non-empty"),
    ({"learning_rate": "lr", "layer_ratio": "LR"}, "clashes with abbreviations['learning_rate']"),
])
def test_bad_abbreviations_are_refused(abbreviations, fragment):
    with pytest.raises(SweepsValueError, match=re.escape(fragment)):
        Autonamer(create_task, abbreviations=abbreviations)


def test_keys_with_empty_pieces_get_an_abbreviation_not_an_index_error():
    assert names(accept_anything, _x=[1], x__y=[2], __=[3], y_=[4]) == ["X1-XY2-__3-Y4"]
    assert names(accept_anything, _x=[1], x_=[2]) == ["_x1-x_2"]  # both 'X': the keys themselves


def test_prefix():
    assert names(create_task, "exp", **WALKTHROUGH_GRID) == [f"exp-{n}" for n in WALKTHROUGH_NAMES]
    for bad in ["a/b", "", ".hidden", "-x", "a b"]:
        with pytest.raises(SweepsValueError, match="prefix"):
            Autonamer(create_task, bad)


def test_long_names_are_cut_to_64_with_a_digest_of_the_whole_name():
    texts = ["x" * 70 + "a", "x" * 70 + "b"]
    got = names(accept_anything, "exp", text=texts)
    for name, text in zip(got, texts):
        full = f"exp-T{text}"
        assert len(name) == 64 and SAFE_NAME.match(name)
        assert name == full[:55] + "-" + hashlib.sha1(full.encode()).hexdigest()[:8]
    assert got[0] != got[1]
    (spec,) = Autonamer(create_task, "p" * 80).specs()
    assert len(spec.name) == 64


# --- validation -------------------------------------------------------------------------------

def test_unknown_key_names_it_suggests_and_lists_the_accepted_ones():
    with pytest.raises(SweepsValueError) as caught:
        Autonamer(create_task).specs(lerning_rate=[0.1])
    message = str(caught.value)
    assert "'lerning_rate'" in message and "did you mean 'learning_rate'?" in message
    assert "epoch_count, network_size, learning_rate, algorithm, layer_ratio" in message


def test_all_problems_are_gathered_before_anything_is_built():
    calls = []
    namer = Autonamer(lambda epoch_count=1, learning_rate=1, algorithm="A": calls.append(1))
    with pytest.raises(SweepsValueError) as caught:
        namer.build_tasks(zzz=1, learning_rate=[], algorithm=iter(["A"]), epoch_count=[1, 1])
    message = str(caught.value)
    assert "'zzz'" in message and "it accepts: epoch_count, learning_rate, algorithm" in message
    assert "learning_rate=[] is an empty range" in message and "at least one value" in message
    assert "algorithm=" in message and "iterator" in message and "list(...)" in message
    assert "epoch_count=[1, 1] repeats [1]" in message
    assert calls == []
    with pytest.raises(ValueError):  # the builtin still catches it
        namer.count(learning_rate=[])


def test_kwargs_accept_any_key_and_a_key_named_self():
    assert names(accept_anything, self=[1], anything=[2]) == ["S1-A2"]


def test_create_task_must_be_callable():
    with pytest.raises(SweepsTypeError, match="callable"):
        Autonamer("create_task")


# --- count, pickling, repr, doctest -----------------------------------------------------------

def test_a_grid_above_the_limit_is_refused_before_anything_is_listed_or_built():
    calls = []
    namer = Autonamer(lambda x=0, y=0, z=0: calls.append(1))
    huge = dict(x=list(range(100_000)), y=range(100_000), z=0)
    for call in (namer.specs, namer.build_tasks):
        with pytest.raises(SweepsValueError) as caught:
            call(**huge)
        assert str(caught.value) == (
            "Autonamer: the grid has 10,000,000,000 points (x: 100,000 x y: 100,000), more than "
            "MAX_GRID_POINTS = 1,000,000; split it into several sweeps over smaller ranges, or "
            "sample the space with search()")
    with pytest.raises(ValueError, match="1,000,000,000,000,000,000 points"):
        namer.specs(x=range(10**9), y=range(10**9))  # a list of either would not fit in memory
    assert calls == []
    assert _autonamer.MAX_GRID_POINTS == 1_000_000
    assert namer.count(**huge) == 10**10  # count() only counts


def test_a_grid_at_the_limit_is_named(monkeypatch):
    monkeypatch.setattr(_autonamer, "MAX_GRID_POINTS", 6)
    namer = Autonamer(accept_anything)
    assert len(namer.specs(a=[1, 2, 3], b=np.array([1, 2]))) == 6
    with pytest.raises(SweepsValueError, match=r"7 points \(a: 7\), more than MAX_GRID_POINTS = 6"):
        namer.specs(a=list(range(7)), b=(1, 2))  # a tuple is a fixed value: not counted


def test_too_big_a_grid_is_reported_with_unknown_keys():
    with pytest.raises(SweepsValueError) as caught:
        Autonamer(create_task).specs(lerning_rate=range(2000), epoch_count=range(1000))
    assert "did you mean 'learning_rate'?" in str(caught.value)
    assert "2,000,000 points (lerning_rate: 2,000 x epoch_count: 1,000)" in str(caught.value)


def test_count_does_not_expand_or_build():
    namer = Autonamer(accept_anything)
    assert namer.count(a=range(1000), b=range(1000), c=range(1000), d=0) == 10**9
    assert namer.count(**WALKTHROUGH_GRID) == len(namer.specs(**WALKTHROUGH_GRID)) == 18


def test_an_autonamer_over_a_module_level_function_pickles():
    namer = Autonamer(create_task, "exp", {"learning_rate": "lr"})
    clone = pickle.loads(pickle.dumps(namer))
    assert clone.specs(**WALKTHROUGH_GRID) == namer.specs(**WALKTHROUGH_GRID)
    assert repr(clone) == ("Autonamer(create_task, prefix='exp', "
                           "abbreviations={'learning_rate': 'lr'})")


def test_docstring_examples_run():
    assert doctest.testmod(_autonamer).failed == 0


# --- determinism across processes -------------------------------------------------------------

NAMES_SCRIPT = '''
import enum
from sweeps._autonamer import Autonamer

def create_task(**params):
    return params

Color = enum.Enum("Color", "RED GREEN")
GRIDS = [
    dict(network_size=[(), (10,), (10, 10)], learning_rate=[0.1, 0.3, 1], algorithm=["Adam", "SGD"]),
    dict(learning_rate=[1.5, 15], layer_ratio=[1000, 1500, 1600, 10**7], tags=("b", "a", "c")),
    dict(text=["a/b", "a b", "Adam", "adam", "h\\u00e9llo", "\\u65e5\\u672c"], flag=[True, None],
         color=[Color.RED, Color.GREEN], fn=[create_task, Autonamer]),
    dict(a=["1-B2", "1"], b=["3", "2-B3"], c=[float("nan"), float("inf"), -0.5, 1e20]),
    dict(long_text=["x" * 80, "x" * 81], shape=[(1, 11), (11, 1), (1, 1, 1)], lr=[1], LR=[2]),
]

def all_names():
    return [[s.name for s in Autonamer(create_task, prefix="p").specs(**g)] for g in GRIDS]
'''


def test_names_are_the_same_in_other_processes_and_hash_seeds():
    namespace = {}
    exec(NAMES_SCRIPT, namespace)
    here = namespace["all_names"]()
    root = str(Path(sweeps.__file__).resolve().parents[1])
    code = NAMES_SCRIPT + "\nimport json, sys\njson.dump(all_names(), sys.stdout)\n"
    for seed in ["0", "4242"]:
        env = {**os.environ, "PYTHONHASHSEED": seed,
               "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
        out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                             capture_output=True, text=True).stdout
        assert json.loads(out) == here
    assert all(len(set(grid_names)) == len(grid_names) for grid_names in here)


# --- properties over arbitrary grids ----------------------------------------------------------

IDENTIFIERS = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True),
    st.sampled_from(["learning_rate", "layer_ratio", "lr", "LR", "l_r", "_x", "x__y", "x_", "_",
                     "__", "self"]),
    st.text(min_size=1, max_size=6).filter(str.isidentifier),
)
VALUES = st.one_of(
    st.integers(),
    st.sampled_from([999, 1000, 1001, 1500, 1600, 10**6, 10**6 + 1, 2 * 10**6, 10**12]),
    st.floats(),
    st.sampled_from([1.0, 10.0, 100.0, 1000.0, 1500.0, 1e8, 1e9, -2e6, 1e15, 1e16]),
    st.text(max_size=8),
    st.sampled_from(["a/b", "a b", "a_b", "a-b", "Adam", "adam", "1-B2", "2-B3", "../.."]),
    st.booleans(),
    st.none(),
    st.lists(st.integers(-20, 2000), max_size=3).map(tuple),
)
RANGES = st.lists(VALUES, min_size=1, max_size=5, unique_by=lambda value: (type(value), value))
GRIDS = st.dictionaries(IDENTIFIERS, RANGES, min_size=1, max_size=4)


@settings(deadline=None, max_examples=150)
@given(grid=GRIDS, prefix=st.sampled_from([None, "exp", "a" * 70]))
def test_names_are_unique_safe_deterministic_and_complete(grid, prefix):
    namer = Autonamer(accept_anything, prefix)
    specs = namer.specs(**grid)
    got = [spec.name for spec in specs]
    assert len(specs) == math.prod(len(values) for values in grid.values()) == namer.count(**grid)
    assert len({name.lower() for name in got}) == len(got)
    assert all(SAFE_NAME.match(name) for name in got), got
    assert [spec.name for spec in namer.specs(**grid)] == got
    points = list(itertools.product(*grid.values()))
    assert len(points) == len(specs) >= 1  # so that the zip below compares every spec
    for spec, point in zip(specs, points):
        assert spec.swept == tuple(grid) and list(spec.params) == list(grid)
        assert len(point) == len(grid) >= 1
        assert all(spec.params[key] is value for key, value in zip(grid, point))


def test_a_set_is_refused_with_the_list_to_use():
    with pytest.raises(SweepsValueError, match=r"learning_rate=\{1, 2\} is a set.*learning_rate=\[1, 2\]"):
        Autonamer(create_task).specs(learning_rate={1, 2})


def test_specs_unpack_as_name_params_pairs():
    pairs = dict(Autonamer(create_task).specs(learning_rate=[0.1, 1]))
    assert pairs == {"LR01": {"learning_rate": 0.1}, "LR1": {"learning_rate": 1}}
