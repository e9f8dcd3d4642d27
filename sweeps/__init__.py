"""sweeps: hyperparameter sweeps for training tasks, with readable names, resume and one results table.

    >>> from sweeps import sweep, load_sweep, register                      # doctest: +SKIP
    >>> result = sweep(create_task, grid=dict(learning_rate=[0.1, 0.3]),    # doctest: +SKIP
    ...                data=load_bundle, name="iris", n_jobs=2)
    >>> result.leaderboard("accuracy_test")                                 # doctest: +SKIP
"""
from ._autonamer import Autonamer
from ._errors import (
    SweepsError,
    SweepsTypeError,
    SweepsValueError,
    TaskFailedError,
    UnknownMetricError,
    UnknownStudyError,
    UnknownSweepError,
)
from ._executors import EXECUTORS, Executor, register_executor
from ._dask import DaskExecutor  # registers executor='dask'; imports Dask only when used
from ._fused import FusedExecutor  # registers executor='fused'
from ._registry import get_study, list_studies, load_study_file, register
from ._results import SweepResult
from ._spec import TaskResult, TaskSpec
from ._store import Store, load_sweep
from ._sweep import run_task, search, sweep

__all__ = [
    "sweep",
    "search",
    "run_task",
    "load_sweep",
    "register",
    "get_study",
    "list_studies",
    "load_study_file",
    "Autonamer",
    "Store",
    "SweepResult",
    "TaskSpec",
    "TaskResult",
    "Executor",
    "DaskExecutor",
    "EXECUTORS",
    "register_executor",
    "SweepsError",
    "SweepsValueError",
    "SweepsTypeError",
    "UnknownStudyError",
    "UnknownSweepError",
    "UnknownMetricError",
    "TaskFailedError",
]
