"""Plain data that travels between the driver, the workers and the store."""
from __future__ import annotations

import dataclasses
from typing import Optional


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
