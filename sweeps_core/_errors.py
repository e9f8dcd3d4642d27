"""The exception tree of sweeps_core.

    SweepsCoreError
    ├── ConfigurationError(ValueError)   a task, extractor, factory or setting that cannot work
    ├── DataError(ValueError)            the data do not fit: missing frames, columns, rows, nulls
    ├── TrainingDivergedError(FloatingPointError)  the training loss became NaN or infinite
    └── PicklingError(pickle.PicklingError)  a piece that cannot cross a process boundary

Messages name the thing, show the value with ``!r`` and say how to fix it.
"""
import pickle


class SweepsCoreError(Exception):
    """Base class of every error sweeps_core raises on purpose."""


class ConfigurationError(SweepsCoreError, ValueError):
    """A task, extractor, factory or setting that cannot work as configured."""


class DataError(SweepsCoreError, ValueError):
    """The data do not fit what the task asks of them."""


class TrainingDivergedError(SweepsCoreError, FloatingPointError):
    """The mean training loss of an epoch became NaN or infinite (``settings.on_nan='stop'``).

    ``history`` holds the rows up to and including that epoch, ``epoch`` its ``iteration``, so
    whoever records the failed run can keep what it learned before it diverged.
    """

    def __init__(self, message: str, *, history: list, epoch: int):
        super().__init__(message)
        self.history = history
        self.epoch = epoch

    def __reduce__(self):  # keyword-only arguments: pickle (to and from worker processes) needs help
        return _diverged, (str(self), self.history, self.epoch)


def _diverged(message: str, history: list, epoch: int) -> "TrainingDivergedError":
    return TrainingDivergedError(message, history=history, epoch=epoch)


class PicklingError(SweepsCoreError, pickle.PicklingError):
    """A piece of a task that cannot be pickled, so it cannot reach another process."""
