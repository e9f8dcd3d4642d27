"""The exception tree of sweeps.

Every error the library raises on purpose derives from ``SweepsError`` and from
the builtin that describes it best, so ``except ValueError`` keeps working::

    SweepsError
    ├── SweepsValueError(ValueError)      bad argument: a grid, n_jobs, a store URL ...
    ├── SweepsTypeError(TypeError)        wrong kind of object: a lambda for a process backend ...
    ├── UnknownStudyError(KeyError)       ``sweeps run`` of a study that is not registered
    ├── UnknownSweepError(KeyError)       ``load_sweep`` of a sweep that is not in the store
    ├── UnknownMetricError(KeyError)      a leaderboard metric that is not in the history
    └── TaskFailedError(RuntimeError)     on_error='raise': one task raised; names the task
"""


class SweepsError(Exception):
    """Base class of every error sweeps raises on purpose."""


class SweepsValueError(SweepsError, ValueError):
    """An argument has a value that cannot work."""


class SweepsTypeError(SweepsError, TypeError):
    """An argument is the wrong kind of object."""


class _KeyErrorMessage(SweepsError, KeyError):
    # KeyError.__str__ shows the repr of its argument; a message reads better plain.
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownStudyError(_KeyErrorMessage):
    """A study name that is not registered."""


class UnknownSweepError(_KeyErrorMessage):
    """A sweep name that the store does not hold."""


class UnknownMetricError(_KeyErrorMessage):
    """A metric that the history does not hold."""


class TaskFailedError(SweepsError, RuntimeError):
    """A task raised and the sweep was asked to stop (``on_error='raise'``)."""

    def __init__(self, name: str, message: str):
        super().__init__(f"task {name!r} failed: {message}")
        self.name = name
