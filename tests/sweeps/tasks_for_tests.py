"""Toy tasks for the sweeps tests: module-level, so loky workers can import them.

A task is anything with an ``info`` dict and ``run(data)`` returning the walkthrough's result
dict; these ones are deterministic from their params, the data and the seed sweep sets.
"""
import os
import random
import time

LOADS = []  # one entry per call of load_offset in this process


class Settings:
    def __init__(self):
        self.seed = None
        self.device = "cpu"


class ToyTask:
    """value = offset + x * iteration + noise; noise comes from the seeded ``random``."""

    def __init__(self, x, epochs=3, fail_on=None, delay=0.0):
        self.info = {}
        self.settings = Settings()
        self.x, self.epochs, self.fail_on, self.delay = x, epochs, fail_on, delay

    def run(self, data):
        if self.x == self.fail_on or self.x in data.get("fail_x", ()):
            raise ValueError(f"x={self.x} is the combination that fails")
        time.sleep(self.delay)
        history = []
        for iteration in range(self.epochs):
            history.append({
                "score_test": data["offset"] + self.x * iteration + random.random(),
                "score_display": self.x * iteration,
                "loss": 1.0 / (1 + iteration),
                "iteration": iteration,
                "timestamp": "2024-01-01 00:00:00",
            })
        metrics = {k: v for k, v in history[-1].items() if k != "timestamp"}
        metrics.update(pid=os.getpid(), loads=len(LOADS), data_id=id(data), offset=data["offset"],
                       task_seed=self.settings.seed)
        return {"metrics": metrics, "runs": {}, "output": {"history": history}}


def create_task(x, epochs=3, fail_on=None, delay=0.0):
    return ToyTask(x, epochs=epochs, fail_on=fail_on, delay=delay)


def create_task_two(x, y):
    return ToyTask(x * 10 + y)


def load_offset():
    LOADS.append(os.getpid())
    return {"offset": 100}


def load_random_offset():
    LOADS.append(os.getpid())
    return {"offset": random.SystemRandom().random()}


class NoRun:
    info = {}

    def run(self, data):
        return {"nothing": 1}


def create_task_bad_result(x):
    return NoRun()


def square(value):
    return value * value


def omp_threads(_):
    return os.environ.get("OMP_NUM_THREADS")


def torch_threads(_):
    import torch

    return torch.get_num_threads()


def sleep_then(seconds):
    time.sleep(seconds)
    return seconds


class CrashingTask(ToyTask):
    """Kills its own process (as a segmentation fault or the OOM killer would) for some x."""

    def __init__(self, x, crash_on=()):
        super().__init__(x)
        self.crash_on = crash_on

    def run(self, data):
        if self.x in self.crash_on:
            os._exit(3)
        return super().run(data)


def create_crashing_task(x, crash_on=()):
    return CrashingTask(x, crash_on)


class ExitingTask(ToyTask):
    def run(self, data):
        if self.x == 1:
            raise SystemExit("task 1 called sys.exit")
        return super().run(data)


def create_exiting_task(x):
    return ExitingTask(x)


class CountedTask(ToyTask):
    """Appends 'x pid' to a side file when its run completes: counts runs, not store rows."""

    def __init__(self, x, log, delay=0.0):
        super().__init__(x, delay=delay)
        self.log = log

    def run(self, data):
        result = super().run(data)
        with open(self.log, "a") as side:  # one short append: whole lines between processes
            side.write(f"{self.x} {os.getpid()}\n")
        return result


def create_counted_task(x, log, delay=0.0):
    return CountedTask(x, log, delay)


def create_searched_task(x, y=0.0, log=None):
    """For searches: x may be a float; the score peaks at x=0.3."""
    task = CountedTask(x, log, 0.0) if log else ToyTask(x)
    task.score = -abs(x - 0.3) - abs(y)
    return task


class HookedTask:
    """A task of the contract: run(data, *, seed=None, on_epoch=None); score_test grows as
    x * epoch, so a small x is a bad trial a pruner should stop."""

    def __init__(self, x, epochs=10):
        self.info = {}
        self.x, self.epochs = x, epochs

    def run(self, data, *, seed=None, on_epoch=None):
        history, stopped = [], False
        for epoch in range(self.epochs):
            row = {"score_test": self.x * (epoch + 1), "loss": 1.0 / (epoch + 1), "iteration": epoch}
            history.append(row)
            if on_epoch is not None and on_epoch(epoch, row):
                stopped = True
                break
        return {"metrics": dict(history[-1]), "runs": {},
                "output": {"history": history, "stopped_early": stopped}}


def create_hooked_task(x, epochs=10):
    return HookedTask(x, epochs)


class HangingTask(ToyTask):
    """Sleeps for an hour when x is in hang_on: a task that hangs."""

    def __init__(self, x, hang_on=()):
        super().__init__(x)
        self.hang_on = hang_on

    def run(self, data):
        if self.x in self.hang_on:
            self.stall(3600)
        return super().run(data)

    @staticmethod
    def stall(seconds):
        time.sleep(seconds)  # inside one C call


def create_hanging_task(x, hang_on=()):
    return HangingTask(x, hang_on)


def create_nothing(x):
    """Forgets to return the task."""
    ToyTask(x)


class BadResultTask(ToyTask):
    def run(self, data):
        shapes = {0: {"metrics": {}, "output": {"history": [1, 2, 3]}},
                  1: {"metrics": {}, "output": {"history": "abc"}},
                  2: {"metrics": {"score_test": 10 ** 400}, "output": {"history": []}}}
        return shapes.get(self.x) or super().run(data)


def create_bad_result_task(x):
    return BadResultTask(x)


def create_labelled_task(label, x=1):
    """A task with a string param that does not change the work."""
    return ToyTask(x)


class DivergingTask(ToyTask):
    """Fails at epoch 2 the way a sweeps_core task whose loss became NaN does."""

    def run(self, data):
        from sweeps_core import TrainingDivergedError

        history = [{"score_test": 0.5, "loss": 1.0, "iteration": 0},
                   {"score_test": 0.6, "loss": 0.9, "iteration": 1},
                   {"loss": float("nan"), "iteration": 2}]
        raise TrainingDivergedError("loss became NaN at epoch 2", history=history, epoch=2)


def create_diverging_task(x):
    return DivergingTask(x)


class NanTask(ToyTask):
    """x=1 ends with a NaN score."""

    def run(self, data):
        result = super().run(data)
        if self.x == 1:
            result["output"]["history"][-1]["score_test"] = float("nan")
        return result


def create_nan_task(x):
    return NanTask(x)


class DeviceTask(ToyTask):
    """A task of the contract that reports the device it was handed."""

    def run(self, data, *, seed=None, on_epoch=None, device=None):
        result = super().run(data)
        result["metrics"]["device"] = device
        return result


def create_device_task(x):
    return DeviceTask(x)


def create_slow_zero(x, log):
    """x=0 takes 3 s, the others no time: a counted task."""
    return CountedTask(x, log, 3.0 if x == 0 else 0.0)


class SpinningTask(HangingTask):
    """Loops in Python for an hour when x is in hang_on: a task that never ends, but steps."""

    @staticmethod
    def stall(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass


def create_spinning_task(x, spin_on=()):
    return SpinningTask(x, spin_on)
