"""Module-level tasks for tests/test_bad_input.py: each leaves a mark when it is built or run."""
import os

MARKER = "SWEEPS_BAD_INPUT_MARKER"


def _mark(what):
    folder = os.environ.get(MARKER)
    if folder:
        with open(os.path.join(folder, f"{what}-{os.getpid()}"), "a") as mark:
            mark.write(what + "\n")


class MarkedTask:
    def __init__(self, result):
        self.info = {}
        self.result = result

    def run(self, data):
        _mark("run")
        return self.result


def _good(x):
    history = [{"score": float(x), "loss": 1.0, "iteration": 0}]
    return {"metrics": dict(history[-1]), "runs": {}, "output": {"history": history}}


def create_task(x, y=1):
    """x is required: a grid without it cannot build a task."""
    _mark("create")
    return MarkedTask(_good(x))


def returns_none(x=1):
    _mark("create")
    return None


def malformed_history(x=1):
    return MarkedTask({"metrics": {}, "output": {"history": [1, 2, 3]}})


def string_history(x=1):
    return MarkedTask({"metrics": {}, "output": {"history": "abc"}})


def huge_metric(x=1):
    history = [{"score": 10 ** 400, "iteration": 0}]
    return MarkedTask({"metrics": {"score": 10 ** 400}, "output": {"history": history}})
