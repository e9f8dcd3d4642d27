"""Device slots: which device each participant's tasks run on.

``devices=['cuda:0', 'cuda:1']`` with ``tasks_per_device=2`` gives four slots, one per worker:
``cuda:0, cuda:1, cuda:0, cuda:1``. Each task gets its slot's device (``run(data, device=...)``
for tasks of the contract) and records it. ``'auto'`` is every GPU torch sees, else the CPU.
The CPU is not a device that runs one task at a time: with ``'cpu'`` (named, or what ``'auto'``
falls back to) every worker gets the cpu slot, however many ``n_jobs`` asks for.
"""
from __future__ import annotations

from typing import Any, Optional

from ._errors import SweepsValueError


def available() -> list[str]:
    """The devices of this machine, as torch names them (without initialising CUDA)."""
    try:
        import torch
    except ImportError:
        return ["cpu"]
    return ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]


def slots(devices: Any, tasks_per_device: Any) -> Optional[list]:
    """The device of each worker slot; None when the sweep leaves devices to its tasks."""
    if isinstance(tasks_per_device, bool) or not isinstance(tasks_per_device, int) or (
            tasks_per_device < 1):
        raise SweepsValueError(
            f"tasks_per_device={tasks_per_device!r} must be a positive int: how many tasks run "
            "at once on each device")
    if devices is None:
        return None
    here = available()
    if devices == "auto":
        chosen = [d for d in here if d != "cpu"] or ["cpu"]
    elif devices == "cpu":
        chosen = ["cpu"]
    elif isinstance(devices, (list, tuple)) and devices and all(isinstance(d, str) for d in devices):
        chosen = [_canonical(d) for d in devices]
        missing = [d for d in chosen if d not in here]
        if missing:
            raise SweepsValueError(
                f"devices={list(devices)!r} names {missing!r}, which this machine does not have; "
                f"it has {here!r} (or pass devices='auto')")
    else:
        raise SweepsValueError(
            f"devices={devices!r} must be 'auto', 'cpu' or a list of device names such as "
            "['cuda:0', 'cuda:1']")
    return [device for _ in range(tasks_per_device) for device in chosen]


def worker_limit(slot_list: Optional[list]) -> Optional[int]:
    """How many workers the slots hold: one per slot where a GPU is among them (each runs
    ``tasks_per_device`` tasks at once); None (no limit) for no slots or the CPU alone."""
    if not slot_list or all(device == "cpu" for device in slot_list):
        return None
    return len(slot_list)


def _canonical(device: str) -> str:
    return "cuda:0" if device == "cuda" else device
