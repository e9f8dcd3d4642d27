"""Resuming a grid sweep on a real store: what runs again, under which name, and what is refused.

A resumed sweep runs only what is missing: a task still waiting in the queue, one whose driver
died while running it, a pruned one and a complete one are not enqueued again; a failed one is,
under the name it was first recorded with, even when the grown grid names it otherwise. A new
task whose name the store gives to other params gets a suffix of its own.
"""
import subprocess
import sys

import pytest

from sweeps import Store, SweepsValueError, TaskFailedError, TaskResult, sweep
from tests.sweeps import tasks_for_tests as toys


@pytest.fixture
def store(tmp_path):
    return Store(str(tmp_path / "store.log"))


def run(store, grid, **kwargs):
    kwargs.setdefault("data", {"offset": 100})
    return sweep(toys.create_task, grid, store=store, executor="sequential", progress=False,
                 **kwargs)


def states(store):
    return [(entry.name, entry.state) for entry in store.entries("create_task")]


def test_tasks_left_waiting_by_a_stopped_sweep_are_not_enqueued_twice(store):
    with pytest.raises(TaskFailedError):
        run(store, dict(x=[1, 2, 3]), data={"offset": 100, "fail_x": [1]}, on_error="raise")
    assert states(store) == [("X1", "FAIL"), ("X2", "WAITING"), ("X3", "WAITING")]
    result = run(store, dict(x=[1, 2, 3]))
    assert states(store) == [("X1", "FAIL"), ("X2", "COMPLETE"), ("X3", "COMPLETE"),
                             ("X1", "COMPLETE")]
    assert [r.name for r in result] == ["X1", "X2", "X3"] and all(r.ok for r in result)


# The first run's driver dies (as under kill -9) while it runs X2, leaving X2 RUNNING under a
# dead process's lease and X3 waiting. It runs the create_task the resumed sweep runs (a sweep
# name begun by another create_task is refused), its tasks made to die in that process alone.
_DYING_DRIVER = """
import os, sys
from sweeps import sweep
from tests.sweeps import tasks_for_tests as toys

def dying_run(self, data, run=toys.ToyTask.run):
    if self.x == 2:
        os._exit(3)
    return run(self, data)

toys.ToyTask.run = dying_run
sweep(toys.create_task, dict(x=[1, 2, 3]), data={"offset": 100}, store=sys.argv[1],
      executor="sequential", progress=False)
"""


def test_a_task_whose_driver_died_running_it_is_run_once_when_resumed(store):
    died = subprocess.run([sys.executable, "-c", _DYING_DRIVER, store.url], capture_output=True,
                          text=True, timeout=120)
    assert died.returncode == 3, died.stderr
    assert states(store) == [("X1", "COMPLETE"), ("X2", "RUNNING"), ("X3", "WAITING")]
    result = run(store, dict(x=[1, 2, 3]))
    assert states(store) == [("X1", "COMPLETE"), ("X2", "COMPLETE"), ("X3", "COMPLETE")]
    assert all(r.ok for r in result) and len(result) == 3


def test_a_pruned_task_is_not_run_again(store):
    store.record("create_task", TaskResult("X1", {"x": 1}, 0, "pruned",
                                           history=[{"score_test": 0.5, "iteration": 0}]))
    result = run(store, dict(x=[1, 2]))
    assert states(store) == [("X1", "PRUNED"), ("X2", "COMPLETE")]
    assert {r.name: r.status for r in result} == {"X1": "pruned", "X2": "complete"}


def test_a_failed_task_runs_again_under_its_recorded_name_in_a_grown_grid(store):
    # 1.05 alone is named X105; beside 10.5 (also '105' the REL way) the grid names it X1.05
    run(store, dict(x=[1.05]), data={"offset": 100, "fail_x": [1.05]})
    result = run(store, dict(x=[1.05, 10.5]))
    assert states(store) == [("X105", "FAIL"), ("X105", "COMPLETE"), ("X10.5", "COMPLETE")]
    assert {r.name: r.params for r in result} == {"X105": {"x": 1.05}, "X10.5": {"x": 10.5}}


def test_a_task_failed_under_several_names_runs_again_under_the_first(store):
    for name in ("first", "second"):
        store.record("create_task", TaskResult(name, {"x": 1}, 0, "failed", error="imported"))
    run(store, dict(x=[1]))
    assert states(store) == [("first", "FAIL"), ("second", "FAIL"), ("first", "COMPLETE")]


def test_new_tasks_that_meet_a_taken_name_get_suffixes_of_their_own(store):
    # 'X1' belongs to other params (x=5), failed; two later grids each name a new task X1
    store.record("create_task", TaskResult("X1", {"x": 5}, 0, "failed", error="imported"))
    run(store, dict(x=[1], epochs=2))
    run(store, dict(x=[1], epochs=3))
    records = store.records("create_task")
    names = [r.name for r in records]
    assert len(set(names)) == 3 and names.count("X1") == 1
    renamed = {r.params["epochs"]: r.name for r in records if r.name != "X1"}
    assert sorted(renamed) == [2, 3]
    assert all(name.startswith("X1-") for name in renamed.values())


def test_changed_fixed_values_are_refused_naming_at_most_five_tasks(store):
    grid = dict(x=[1, 2, 3, 4, 5, 6])
    run(store, {**grid, "epochs": 2})
    with pytest.raises(SweepsValueError) as caught:
        run(store, {**grid, "epochs": 3})
    lines = [f"  - task 'X{x}': recorded params {{'x': {x}, 'epochs': 2}}, now "
             f"{{'x': {x}, 'epochs': 3}}" for x in range(1, 6)]
    assert str(caught.value) == (
        "sweep 'create_task' already holds complete tasks with the same names but other params "
        "(6 of them):\n" + "\n".join(lines) + "\nA task's name must keep its meaning in a sweep: "
        "use another sweep name= (e.g. name='create_task-2') or another store")
    assert len(store.entries("create_task")) == 6  # nothing was enqueued


def test_a_task_is_known_by_the_name_of_its_first_complete_record(store):
    # records imported without a name sit beside the named complete one; 'X1', the grid's name
    # for x=1, belongs to other params that completed
    for name, status in (("", "failed"), ("a", "complete"), ("", "complete")):
        store.record("create_task", TaskResult(name, {"x": 1}, 0, status, error="imported",
                                               history=[{"score_test": 0.5}]))
    store.record("create_task", TaskResult("X1", {"x": 5}, 0, "complete",
                                           history=[{"score_test": 0.5}]))
    result = run(store, dict(x=[1]))
    assert len(store.entries("create_task")) == 4  # x=1 completed: nothing ran
    assert "a" in [r.name for r in result]
