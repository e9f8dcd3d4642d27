"""The exception tree of sweeps_core.

    SweepsCoreError
    ├── ConfigurationError(ValueError)   a task, extractor, factory or setting that cannot work
    ├── DataError(ValueError)            the data do not fit: missing frames, columns, rows, nulls
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


class PicklingError(SweepsCoreError, pickle.PicklingError):
    """A piece of a task that cannot be pickled, so it cannot reach another process."""
