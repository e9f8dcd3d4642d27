"""Device slots: each worker owns one slot and its tasks run on (and record) that device."""
import os

import pytest

from sweeps import SweepsValueError, sweep
from sweeps._devices import available, slots
from tests.sweeps import tasks_for_tests as toys


@pytest.fixture
def store(tmp_path):
    return str(tmp_path / "store" / "sweeps.log")


def test_slots_repeat_the_devices_per_task():
    assert slots(["cpu"], 3) == ["cpu", "cpu", "cpu"]
    assert slots("cpu", 1) == ["cpu"]
    assert slots(None, 1) is None
    assert slots("auto", 2) == ([d for d in available() if d != "cpu"] or ["cpu"]) * 2


@pytest.mark.parametrize("executor", ["sequential", pytest.param("processes", marks=pytest.mark.slow)])
def test_tasks_get_their_slot_device_and_record_it(store, executor):
    result = sweep(toys.create_device_task, dict(x=list(range(6))), data={"offset": 0},
                   store=store, executor=executor, devices="cpu",
                   tasks_per_device=2 if executor == "processes" else 1, progress=False)
    assert [r.metrics["device"] for r in result] == ["cpu"] * 6
    assert {r.device for r in result} == {"cpu"}
    if executor == "processes":  # two slots: two workers
        assert len({r.metrics["pid"] for r in result}) >= 1


def test_a_sweeps_core_task_trains_on_its_slot(store):
    grid = dict(network_size=[(10,)], learning_rate=[0.1], algorithm=["Adam"], epoch_count=[2])
    result = sweep("iris", grid, store=store, executor="sequential", devices="auto",
                   progress=False)
    assert result.results[0].device == (slots("auto", 1)[0] if available()[1:] else "cpu")


@pytest.mark.parametrize("kwargs,message", [
    (dict(devices=["cuda:7"]), "names ['cuda:7'], which this machine does not have; it has"),
    (dict(devices="gpu"), "devices='gpu' must be 'auto', 'cpu' or a list"),
    (dict(devices=[]), "must be 'auto', 'cpu' or a list"),
    (dict(devices="cpu", tasks_per_device=0), "tasks_per_device=0 must be a positive int"),
    (dict(devices="cpu", tasks_per_device=2, n_jobs=3), "n_jobs=3 workers need 3 device slots"),
])
def test_bad_devices_are_refused_before_anything_runs(store, kwargs, message):
    with pytest.raises(SweepsValueError) as caught:
        sweep(toys.create_device_task, dict(x=[1]), data={"offset": 0}, store=store,
              progress=False, **kwargs)
    assert message in str(caught.value)
    assert not os.path.exists(store)
