"""The task contract, and the plain data that travels between participants and the store.

A task is what ``create_task(**params)`` returns: anything with ``run(data)`` returning the
walkthrough's result dict. A task may also take keywords of the contract, which sweeps passes
when ``run``'s signature names them (``sweeps._work`` reads the signature):

- ``seed``: the task's seed, derived from the sweep's seed and the task's name; the task uses it
  where its own settings give none;
- ``on_epoch``: an ``EpochHook``, called after each epoch's report with that epoch's history row;
  True stops the run after that epoch, and the result's ``output`` says ``stopped_early``;
- ``device``: the device of the worker's slot (``sweep(devices=...)``).

``sweeps_core`` tasks take all three. A task that takes none still runs, seeded through the global
generators, without pruning.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional, Protocol, runtime_checkable

# on_epoch(epoch, row) -> True to stop after this epoch
EpochHook = Callable[[int, dict], Optional[bool]]


@runtime_checkable
class Task(Protocol):
    """What ``create_task`` returns. ``run`` returns ``{'metrics': {...}, 'runs': {...},
    'output': {'history': [{...one dict per epoch...}], 'stopped_early': bool}}``; it may take
    the keyword-only arguments ``seed``, ``on_epoch`` and ``device`` (see the module's text)."""

    def run(self, data: Any) -> dict:
        ...


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """One task of a sweep: its unique name and the keyword arguments of ``create_task``.

    ``params`` holds every argument passed to ``create_task``: the swept ones and the fixed
    ones. ``swept`` names the keys that vary across the sweep (the ones in the name).
    """

    name: str
    params: dict
    swept: tuple = ()

    def __iter__(self):
        """Unpacks as the pair ``(name, params)``: ``for name, params in autonamer.specs(...)``."""
        return iter((self.name, self.params))


COMPLETE = "complete"
FAILED = "failed"
PRUNED = "pruned"  # stopped early by a pruner; the history holds the epochs it ran
TIMED_OUT = "timed_out"  # stopped after task_timeout seconds
STATUSES = (COMPLETE, FAILED, PRUNED, TIMED_OUT)


@dataclasses.dataclass
class TaskResult:
    """What one task produced. Plain data: it pickles and turns into JSON."""

    name: str
    params: dict
    seed: Optional[int]
    status: str  # COMPLETE, FAILED, PRUNED or TIMED_OUT
    history: list = dataclasses.field(default_factory=list)  # one dict per epoch
    metrics: dict = dataclasses.field(default_factory=dict)  # the last epoch's metrics
    error: Optional[str] = None  # the traceback text when FAILED
    seconds: float = 0.0
    device: Optional[str] = None
    extra: dict = dataclasses.field(default_factory=dict)  # JSON-able user info

    @property
    def ok(self) -> bool:
        return self.status == COMPLETE
