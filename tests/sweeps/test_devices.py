"""Device slots: each worker owns one slot and its tasks run on (and record) that device."""
import os
import pathlib
import time

import pytest

from sweeps import SweepsValueError, sweep
from sweeps._devices import available, slots, worker_limit
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
])
def test_bad_devices_are_refused_before_anything_runs(store, kwargs, message):
    with pytest.raises(SweepsValueError) as caught:
        sweep(toys.create_device_task, dict(x=[1]), data={"offset": 0}, store=store,
              progress=False, **kwargs)
    assert message in str(caught.value)
    assert not os.path.exists(store)


class MeetingTask:
    """Runs until the other task of the sweep has started too (or 30 s): alone, it fails."""

    def __init__(self, x):
        self.x = x

    def run(self, data, *, device=None):
        folder = pathlib.Path(data["folder"])
        (folder / str(self.x)).touch()
        deadline = time.monotonic() + 30
        while len(list(folder.iterdir())) < 2:
            if time.monotonic() > deadline:
                raise TimeoutError(f"task x={self.x} ran alone: the other task never started")
            time.sleep(0.05)
        history = [{"score": float(self.x), "iteration": 0}]
        return {"metrics": {**history[-1], "device": device, "pid": os.getpid()}, "runs": {},
                "output": {"history": history}}


def create_meeting_task(x):
    return MeetingTask(x)


@pytest.mark.parametrize("devices", ["cpu", "auto"])
def test_the_cpu_takes_as_many_workers_as_n_jobs(store, tmp_path, devices):
    """Before, devices='cpu' (and 'auto' without a GPU) gave one slot, so n_jobs=2 was refused:
    'n_jobs=2 workers need 2 device slots, but devices='cpu' ... gives 1'."""
    if devices == "auto" and available()[1:]:
        pytest.skip("'auto' means the GPUs on this machine")
    folder = tmp_path / "started"
    folder.mkdir()
    result = sweep(create_meeting_task, dict(x=[1, 2]), data={"folder": str(folder)},
                   store=store, executor="processes", n_jobs=2, devices=devices,
                   progress=False)
    assert [r.status for r in result] == ["complete", "complete"], result.failed
    assert [r.metrics["device"] for r in result] == ["cpu", "cpu"]
    assert len({r.metrics["pid"] for r in result}) == 2  # two workers ran at once


def test_only_gpus_limit_the_workers_to_their_slots():
    assert worker_limit(slots("cpu", 1)) is None and worker_limit(None) is None
    assert worker_limit(["cuda:0", "cuda:1"]) == 2
    assert worker_limit(["cuda:0", "cuda:0", "cpu"]) == 3
