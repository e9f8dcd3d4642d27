"""Module-level tasks and functions for the pinned-behaviour tests (worker processes import them).

``DrawingTask`` draws from every generator a task may use; ``MeetingTask`` and ``block`` make a
test's schedule certain without timing: a task that waits until another worker has started one,
and an item that runs until its worker is killed.
"""
import os
import pathlib
import random
import time

import numpy
import torch  # at module level, as most task modules do: a worker has it before the task runs

from tests.sweeps.tasks_for_tests import ToyTask

# How long a rendezvous waits before it gives up: far beyond any real schedule, it only keeps a
# broken executor from hanging the test run (the test then fails on the task's error).
PATIENCE = 120.0


class DrawingTask:
    """Each epoch records draws from ``random``, numpy's global generator and torch's."""

    def __init__(self, x, epochs=2):
        self.info = {}
        self.x, self.epochs = x, epochs

    def run(self, data):
        history = []
        for iteration in range(self.epochs):
            history.append({"python": random.random(), "numpy": float(numpy.random.random()),
                            "torch": float(torch.rand(1)), "iteration": iteration})
        return {"metrics": dict(history[-1]), "runs": {}, "output": {"history": history}}


def create_drawing_task(x, epochs=2):
    return DrawingTask(x, epochs)


def _wait_for(condition, what):
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.01)


def _pids(folder):
    return {path.name.split("-")[0] for path in pathlib.Path(folder).glob("*-started")}


class MeetingTask(ToyTask):
    """A ToyTask that first waits until tasks have started in two processes (``folder`` holds
    one file per started task): with two workers, each one's first task waits for the other."""

    def __init__(self, x, folder):
        super().__init__(x)
        self.folder = folder

    def run(self, data):
        (pathlib.Path(self.folder) / f"{os.getpid()}-{self.x}-started").touch()
        _wait_for(lambda: len(_pids(self.folder)) >= 2, "a second worker process")
        return super().run(data)


def create_meeting_task(x, folder):
    return MeetingTask(x, folder)


def block(item):
    """``(folder, 0)`` returns 0 once item 1 has started; ``(folder, i)`` for i > 0 records that
    it started (``<pid>-<i>-started``) and then runs until its process is killed."""
    folder, number = item
    folder = pathlib.Path(folder)
    if number == 0:
        _wait_for(lambda: list(folder.glob("*-1-started")), "item 1 to start")
        return 0
    (folder / f"{os.getpid()}-{number}-started").touch()
    _wait_for(lambda: False, "a kill")


class TypedTask:
    """Reports values whose types ``1 == True`` would hide: bools, ints, floats, numpy scalars."""

    def __init__(self, level, flag=True):
        self.info = {}
        self.level, self.flag = level, flag

    def run(self, data):
        rows = [{"score_test": 0.5 + i, "correct": bool(i % 2), "count": numpy.int64(i),
                 "ratio": numpy.float32(0.25), "iteration": i} for i in range(2)]
        metrics = {**rows[-1], "value": self.level, "flag": self.flag, "whole": 1.0}
        return {"metrics": metrics, "runs": {}, "output": {"history": rows}}


def create_typed_task(level, flag=True):
    return TypedTask(level, flag)
