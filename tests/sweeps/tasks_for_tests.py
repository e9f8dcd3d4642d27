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
