"""Seeds users rely on: a task's seed is a fixed function of the sweep seed and the task's name,
every task of a sweep gets its own, and ``run_task`` reproduces what a task drew from ``random``,
numpy's global generator and torch, whatever ran before it."""
import random
import sys
import types

import numpy
import pytest
import torch

from sweeps import Store, run_task, sweep
from sweeps._sweep import derive_seed, seed_everything
from tests.sweeps import pinned_tasks

# Golden values: sha256("<sweep seed>/<task name>"), first 4 bytes big-endian. Changing them
# changes every recorded sweep's seeds, so resumed sweeps would no longer reproduce.
GOLDEN = {
    (0, "X1"): 2727141649,
    (0, "X2"): 4176243286,
    (0, "X3"): 1013170669,
    (1, "X1"): 453649090,
    (7, "X2"): 427177780,
    (123, "NS10-10-LR1-ASGD"): 1937039627,
    (0, "default"): 725118847,
    (2**40, "X1"): 1416262537,
    (-1, "X1"): 2157630527,
}


@pytest.mark.parametrize("sweep_seed, name", list(GOLDEN))
def test_derived_seeds_are_the_golden_values(sweep_seed, name):
    seed = derive_seed(sweep_seed, name)
    assert type(seed) is int and seed == GOLDEN[sweep_seed, name]


def test_no_sweep_seed_means_no_task_seed():
    assert derive_seed(None, "X1") is None


def test_distinct_names_and_distinct_sweep_seeds_give_distinct_seeds():
    names = [f"LR{i}-A{a}" for i in range(50) for a in ("Adam", "SGD")]
    assert len({derive_seed(0, name) for name in names}) == len(names)
    assert len({derive_seed(seed, "X1") for seed in range(100)}) == 100


@pytest.fixture
def store(tmp_path):
    return Store(str(tmp_path / "store.log"))


def _draws(result):
    return [(row["python"], row["numpy"], row["torch"]) for row in result.history]


def test_every_task_of_a_sweep_gets_its_golden_seed_and_draws_differently(store):
    result = sweep(pinned_tasks.create_drawing_task, dict(x=[1, 2, 3]), data=None, store=store,
                   executor="sequential", progress=False)
    assert {r.name: r.seed for r in result} == {name: GOLDEN[0, name] for name in ["X1", "X2", "X3"]}
    first_draws = [_draws(r)[0] for r in result]
    for generator in range(3):  # python, numpy, torch: no two tasks draw the same numbers
        assert len({draws[generator] for draws in first_draws}) == 3


def _disturb_every_generator():
    random.seed(999)
    numpy.random.seed(999)
    torch.manual_seed(999)
    random.random(), numpy.random.random(10), torch.rand(10)


@pytest.mark.parametrize("sweep_seed", [0, 7])
def test_run_task_reproduces_every_generator_whatever_ran_before(store, sweep_seed):
    grid = dict(x=[1, 2])
    result = sweep(pinned_tasks.create_drawing_task, grid, data=None, store=store,
                   executor="sequential", seed=sweep_seed, progress=False)
    for recorded in result:
        _disturb_every_generator()
        again = run_task(pinned_tasks.create_drawing_task, recorded.name, grid=grid, data=None,
                         sweep_seed=sweep_seed)
        assert again.seed == recorded.seed == GOLDEN.get((sweep_seed, recorded.name),
                                                         derive_seed(sweep_seed, recorded.name))
        assert _draws(again) == _draws(recorded)


def test_a_task_seeded_twice_draws_the_same_and_the_generators_follow_the_seed():
    grid = dict(x=[1])
    _disturb_every_generator()
    first = run_task(pinned_tasks.create_drawing_task, "X1", grid=grid, data=None, sweep_seed=0)
    random.random(), numpy.random.random(5), torch.rand(5)
    second = run_task(pinned_tasks.create_drawing_task, "X1", grid=grid, data=None, sweep_seed=0)
    assert _draws(first) == _draws(second)
    # the seed reaches each generator as is, so a user can reproduce a draw by hand
    seed = GOLDEN[0, "X1"]
    assert first.history[0]["python"] == random.Random(seed).random()
    assert first.history[0]["numpy"] == numpy.random.RandomState(seed).random_sample()
    assert first.history[0]["torch"] == float(torch.rand(1, generator=torch.Generator().manual_seed(seed)))


def test_seed_none_leaves_the_generators_alone(store):
    random.seed(5), numpy.random.seed(5), torch.manual_seed(5)
    expected = (random.random(), float(numpy.random.random()), float(torch.rand(1)))
    random.seed(5), numpy.random.seed(5), torch.manual_seed(5)
    result = sweep(pinned_tasks.create_drawing_task, dict(x=[1], epochs=1), data=None,
                   store=store, executor="sequential", seed=None, progress=False)
    assert result.results[0].seed is None
    assert _draws(result.results[0]) == [expected]


@pytest.mark.slow
def test_worker_processes_draw_what_run_task_draws(store):
    grid = dict(x=[1, 2, 3, 4])
    result = sweep(pinned_tasks.create_drawing_task, grid, data=None, store=store, n_jobs=2,
                   seed=3, progress=False)
    for recorded in result:
        again = run_task(pinned_tasks.create_drawing_task, recorded.name, grid=grid, data=None,
                         sweep_seed=3)
        assert _draws(again) == _draws(recorded)


LAZY_SCRIPT = """
import json, sys
from sweeps import run_task
from tests.sweeps.lazy_torch_tasks import create_lazy_torch_task
assert "torch" not in sys.modules
print(json.dumps(run_task(create_lazy_torch_task, "X1", grid=dict(x=[1]), data=None).history))
"""


def test_a_task_that_imports_torch_late_is_seeded_too():
    import json
    import os
    import subprocess
    import sys

    from tests.sweeps.lazy_torch_tasks import create_lazy_torch_task

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    fresh = subprocess.run([sys.executable, "-c", LAZY_SCRIPT], cwd=root, check=True,
                           capture_output=True, text=True).stdout
    here = run_task(create_lazy_torch_task, "X1", grid=dict(x=[1]), data=None)
    assert json.loads(fresh) == here.history


class _RecordingGenerator:
    def __init__(self, calls, name):
        self.calls, self.name = calls, name

    def manual_seed(self, seed):
        self.calls.append((self.name, seed))


def _stand_in_torch(calls, cuda):
    """A module imported under the name torch, without an import spec (as a test stub is):
    seed_everything must seed the torch the process already holds, not look for another."""
    torch_stub = types.ModuleType("torch")
    torch_stub.manual_seed = _RecordingGenerator(calls, "every device").manual_seed
    torch_stub.random = types.SimpleNamespace(default_generator=_RecordingGenerator(calls, "cpu"))
    torch_stub.cuda = types.SimpleNamespace(is_available=lambda: cuda)
    return torch_stub


@pytest.mark.parametrize("cuda, generator", [(False, "cpu"), (True, "every device")])
def test_the_torch_already_imported_is_seeded_with_the_seed_itself(monkeypatch, cuda, generator):
    calls = []
    monkeypatch.setitem(sys.modules, "torch", _stand_in_torch(calls, cuda))
    seed_everything(GOLDEN[0, "X2"])
    # with CUDA, torch.manual_seed seeds every device's generator; without, the CPU's alone
    assert calls == [(generator, GOLDEN[0, "X2"])]
    assert random.random() == random.Random(GOLDEN[0, "X2"]).random()
    assert numpy.random.random() == numpy.random.RandomState(GOLDEN[0, "X2"]).random_sample()


def test_seed_everything_seeds_torch_with_the_seed_itself():
    seed_everything(GOLDEN[7, "X2"])
    assert torch.initial_seed() == GOLDEN[7, "X2"]
    expected = torch.rand(3, generator=torch.Generator().manual_seed(GOLDEN[7, "X2"]))
    assert torch.rand(3).tolist() == expected.tolist()
