"""Autonamer, pinned: exact names (digests included) for small grids and exact error messages.

The names are what a user sees in the store and on disk, and they must not change between
versions, processes or machines; so each expected name here is a literal.
"""
import collections
import enum
import functools

import numpy as np
import pytest

from sweeps._autonamer import Autonamer
from sweeps._errors import SweepsTypeError, SweepsValueError


def create_task(epoch_count=20, network_size=(50,), learning_rate=1, algorithm="Adam",
                layer_ratio=0.5):
    return {}


def accept_anything(**params):
    return {}


def takes_no_keywords(*args):
    return {}


def names(*args, **ranges):
    return [spec.name for spec in Autonamer(*args).specs(**ranges)]


def message(call):
    with pytest.raises((SweepsValueError, SweepsTypeError)) as caught:
        call()
    return str(caught.value)


class Outer:
    class Inner:
        pass

    def method(self):
        pass


class Scaled:
    """A callable descriptor object: inspect counts it as a routine, though it has no __qualname__."""

    def __init__(self, factor, name=None):
        self.factor = factor
        if name:
            self.__name__ = name

    def __get__(self, instance, owner=None):
        return self

    def __call__(self, x):
        return self.factor * x

    def __repr__(self):
        return f"<Scaled by {self.factor} at {hex(id(self))}>"


# --- exact names --------------------------------------------------------------------------------

def test_int_labels_at_the_k_and_m_thresholds():
    # REL's '>' thresholds; its truncated 'EC1M' and 'EC1K' misstated 1_000_001 and 1001
    assert names(create_task, epoch_count=[1_000_001, 1001, 1000]) == ["EC1000001", "EC1001", "EC1000"]
    assert names(create_task, epoch_count=[3_000_000, 1_000_000, 2000]) == ["EC3M", "EC1000K", "EC2K"]


def test_whole_floats_above_1000_are_spelled_with_their_exponent():
    assert names(accept_anything, x=[1e8]) == ["X1e8"]  # REL: 'X1000000000', read as 1e9
    assert names(accept_anything, x=[1e8, 1e9]) == ["X1e8", "X1e9"]
    assert names(accept_anything, x=[1500.0, -2e6, 1234567.0, 1001.0]) == [
        "X1.5e3", "X-2e6", "X1.234567e6", "X1.001e3"]
    # REL below: the dot is dropped; beyond 1e16 str() already has an exponent ('+' -> '_')
    assert names(accept_anything, x=[1000.0, 999.5, 1e16]) == ["X10000", "X9995", "X1e_16"]
    assert Autonamer(accept_anything).name({"x": 123456789.0}) == "X1.23e8"


def test_exact_labels_keep_bools_none_and_tuples_apart():
    # 1.5 and 15 both read '15' the REL way, so the whole range is spelled exactly
    assert names(accept_anything, x=[1.5, 15, True, None]) == ["X1.5", "X15", "XTrue", "XNone"]
    assert names(accept_anything, x=[(1.5, 2), (15, 2)]) == ["X1.5-2", "X15-2"]  # REL: distinct
    # both read 'a_b-1' the REL way: each item of the tuple is spelled exactly
    assert names(accept_anything, x=[("a/b", 1), ("a b", 1)]) == ["Xa_2f_b-1", "Xa_20_b-1"]


def test_exact_labels_of_enum_members_name_their_class():
    color = enum.Enum("Color", "RED GREEN")
    paint = enum.Enum("Paint", "RED")
    assert names(accept_anything, x=[color.RED, paint.RED]) == ["XColor.RED", "XPaint.RED"]


def test_exact_label_of_a_large_float_drops_the_plus_sign():
    assert names(accept_anything, x=[1e20, "1e+20"]) == ["X1e20", "X1e_2b_20"]


def test_nested_classes_and_methods_are_named_by_their_qualified_name():
    assert names(accept_anything, fn=[Outer.Inner, Outer.method, len]) == [
        "FOuter.Inner", "FOuter.method", "Flen"]


def test_a_routine_without_a_qualified_name_uses_its_name_or_its_text_without_the_address():
    assert names(accept_anything, fn=[Scaled(2, "double"), Scaled(3)]) == [
        "Fdouble", "F_Scaled_by_3_"]


def test_a_numpy_function_is_a_fixed_value():
    specs = Autonamer(accept_anything).specs(activation=np.tanh, x=[1, 2])
    assert [spec.name for spec in specs] == ["X1", "X2"]
    assert specs[0].params == {"x": 1, "activation": np.tanh}


def test_an_abbreviation_never_holds_a_dot():
    # 'x.y' and 'x' both start 'X'; the longer abbreviation of 'x.y' is 'X.', written 'X_'
    assert names(accept_anything, **{"x.y": [1], "x": [2]}) == ["X_1-x2"]


def test_clashing_names_get_pinned_digests():
    assert names(accept_anything, algorithm=["Adam", "adam"]) == ["AAdam-9e5d01f8", "Aadam-e9f52b18"]
    assert names(accept_anything, a=["1-B2", "1"], b=["3", "2-B3"]) == [
        "A1-B2-B3-ba148711", "A1-B2-B2-B3", "A1-B3", "A1-B2-B3-75064bf6"]


def test_a_name_suffixed_into_another_value_clashes_again_and_takes_the_next_salt():
    # 'Xa-2fb6dd4f' is the first suffix of 'Xa', 'Xa-a403e2e8' its second: a value spelled like
    # a suffixed name makes the clash go another round (twice with all four values)
    assert names(accept_anything, x=["a", "A", "a-2fb6dd4f"]) == [
        "Xa-a403e2e8", "XA-5a91d735", "Xa-2fb6dd4f-bd458749"]
    assert names(accept_anything, x=["a", "A", "a-2fb6dd4f", "a-a403e2e8"]) == [
        "Xa-91be7895", "XA-5a91d735", "Xa-2fb6dd4f-bd458749", "Xa-a403e2e8-26e6813c"]


def test_a_name_of_exactly_64_characters_is_kept_whole():
    assert names(accept_anything, "p" * 58, t=["Adam", "B"]) == ["p" * 58 + "-TAdam", "p" * 58 + "-TB"]
    assert names(accept_anything, "p" * 58, t=["Adamm"]) == ["p" * 55 + "-a1dc6a40"]


def test_a_long_clashing_name_is_cut_so_that_its_suffix_fits_in_64():
    assert names(accept_anything, "p" * 54, t=["Adam", "adam"]) == [
        "p" * 46 + "-58e138ab-b2e982bb", "p" * 46 + "-664d025e-62d4103c"]


def test_a_cut_name_loses_its_trailing_dash_but_keeps_its_letters():
    assert names(accept_anything, "exp", t=["X" * 49 + "-" + "b" * 20]) == [
        "exp-T" + "X" * 49 + "-6f36dc5e"]


# --- name() -------------------------------------------------------------------------------------

def test_name_of_one_point():
    assert Autonamer(create_task, "exp").name({"learning_rate": 0.1}) == "exp-LR01"
    assert Autonamer(create_task).name({}) == "default"
    assert Autonamer(create_task, "exp").name({}) == "exp"
    assert Autonamer(create_task).name({"learning_rate": 0.0, "layer_ratio": -0.0}) == "LeRa00-LaRa-00"


def test_name_refuses_what_is_not_a_dict_and_unknown_keys():
    assert message(lambda: Autonamer(create_task).name([1])) == (
        "params=[1] must be a dict of create_task's arguments")
    assert message(lambda: Autonamer(create_task).name({"lerning_rate": 0.1})) == (
        "Autonamer: create_task() does not accept 'lerning_rate' (did you mean 'learning_rate'?); "
        "it accepts: epoch_count, network_size, learning_rate, algorithm, layer_ratio")


# --- exact messages -----------------------------------------------------------------------------

ACCEPTS = "it accepts: epoch_count, network_size, learning_rate, algorithm, layer_ratio"
EMPTY = ("learning_rate=[] is an empty range; a range needs at least one value (or leave "
         "'learning_rate' out to use the default of create_task)")


def test_one_problem_and_several_problems_messages():
    namer = Autonamer(create_task)
    assert message(lambda: namer.specs(learning_rate=[])) == f"Autonamer: {EMPTY}"
    assert message(lambda: namer.specs(learning_rate=[], qqq=1)) == (
        f"Autonamer found problems:\n- create_task() does not accept 'qqq'; {ACCEPTS}\n- {EMPTY}")


def test_unknown_key_messages_name_the_callable_and_what_it_accepts():
    assert message(lambda: Autonamer(takes_no_keywords).specs(x=[1])) == (
        "Autonamer: takes_no_keywords() does not accept 'x'; it accepts: no keyword arguments")
    partial = functools.partial(create_task)
    assert message(lambda: Autonamer(partial).specs(lerning_rate=[1])) == (
        "Autonamer: partial() does not accept 'lerning_rate' (did you mean 'learning_rate'?); "
        f"{ACCEPTS}")
    assert repr(Autonamer(partial)) == "Autonamer(partial, prefix=None, abbreviations={})"


def test_prefix_and_abbreviation_messages():
    assert message(lambda: Autonamer(create_task, "a/b")) == (
        "Autonamer: prefix='a/b' is not filesystem-safe: use letters, digits, '.', '_' and '-' "
        "(not first: '.' and '-')")
    bad = {"learning_rate": "l/r", "layer_ratio": "x", "epoch_count": "X"}
    assert message(lambda: Autonamer(create_task, abbreviations=bad)) == (
        "Autonamer found problems:\n"
        "- abbreviations['learning_rate']='l/r' must be a non-empty string of letters, digits and '_'\n"
        "- abbreviations['epoch_count']='X' clashes with abbreviations['layer_ratio'] (names must "
        "differ even on case-insensitive file systems)")


def test_set_iterator_and_repeat_messages():
    namer = Autonamer(accept_anything)
    mixed = {1, "a"}  # its repr's order changes with the string hash seed; the advice's does not
    assert message(lambda: namer.specs(x=mixed)) == (
        f"Autonamer: x={mixed!r} is a set: a set has no order, so it is neither a range nor a "
        "good fixed value; pass x=['a', 1] to sweep its values")
    assert message(lambda: namer.specs(x=iter(()))).endswith(
        "is an iterator: it is not a range, and as a fixed value the first task would use it up; "
        "pass x=list(...) to sweep its values")
    assert message(lambda: namer.specs(x=[[1], [1], (1,), (1,)])) == (
        "Autonamer: the range x=[[1], [1], (1,), (1,)] repeats [[1], (1,)]; its values must "
        "differ, or the same task would run twice")


def test_unhashable_values_repeat_only_when_equal_and_of_the_same_type():
    assert message(lambda: Autonamer(accept_anything).specs(x=[{"a": 1}, [2], {"a": 1}])) == (
        "Autonamer: the range x=[{'a': 1}, [2], {'a': 1}] repeats [{'a': 1}]; its values must "
        "differ, or the same task would run twice")
    assert names(accept_anything, x=[{"a": 1}, collections.OrderedDict(a=1)]) == [
        "X_a_1_", "XOrderedDict_a_1_"]
    assert names(accept_anything, x=[np.array([1, 2]), np.array([1, 3])]) == ["X_1_2_", "X_1_3_"]


class NoInfo:
    __slots__ = ()


class TextInfo:
    info = "text"


def test_task_info_messages():
    assert message(lambda: Autonamer(lambda **params: NoInfo()).build_tasks(x=[1])).endswith(
        "which cannot take an 'info' attribute; return an object with an info dict")
    assert message(lambda: Autonamer(lambda **params: TextInfo()).build_tasks(x=[1])).endswith(
        "is 'text', not a dict; Autonamer sets task.info['name']")
