"""The trial lifecycle: the store is the queue, in Optuna's own terms.

    WAITING --claim (compare-and-set)--> RUNNING --finish--> COMPLETE | FAIL | PRUNED
       ^                                    |
       +---- put back: its participant died or was cancelled

- A grid point the store does not hold yet is *enqueued* as a WAITING trial that already carries
  its name, params and key (a digest of the params) in one storage write.
- Any participant *claims* the next WAITING trial with Optuna's compare-and-set
  (``set_trial_state_values(RUNNING)`` returns False to every participant but one) and writes a
  *lease* naming itself (host, pid, process start time) and until when it holds the trial; a
  heartbeat renews the lease while the task runs.
- A RUNNING trial whose participant is gone (a dead process on this host, or a lease that expired
  for one on another host) is *put back* to WAITING for the next participant, at most
  ``MAX_ATTEMPTS`` times; a trial whose participant is alive is never taken.

Functions here talk to an Optuna storage and a study id; they hold no state. Whoever calls
``enqueue`` or ``release_stale`` holds the sweep's lock (``Store.lock``), so two participants
never enqueue the same point or put back the same trial twice.
"""
from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import socket
import time
import uuid
from typing import Any, Optional

from ._codec import encode

KEY = "sweeps:key"
LEASE = "sweeps:lease"
MAX_ATTEMPTS = 3
LEASE_SECONDS = 60.0


def params_key(params: dict) -> str:
    """A digest of ``params`` that is the same in every process and Python run.

    Values JSON cannot hold are known by their repr without memory addresses, which change from
    run to run (``<function f at 0x7f...>``).
    """
    from ._autonamer import _ADDRESS

    text = json.dumps(encode(params), sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(_ADDRESS.sub("", text).encode()).hexdigest()[:20]


# ----------------------------------------------------------------------------- participants


def proc_stat(pid: Any) -> Optional[list]:
    """The fields of ``/proc/<pid>/stat`` after the command name (Linux), as bytes: [0] the
    state, [1] the parent pid, [19] the start time in clock ticks since boot. None when the
    process is gone or this is not Linux."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return fields if len(fields) > 19 else None


def parent_of(pid: int) -> Optional[int]:
    """The parent pid of a live process (None when gone or unreadable)."""
    fields = proc_stat(pid)
    return int(fields[1]) if fields else None


def _process_start(pid: int) -> Optional[str]:
    """The start time of process ``pid`` in clock ticks since boot (Linux), to tell a reused pid."""
    fields = proc_stat(pid)
    return fields[19].decode() if fields else None


# The ids of the participants working in this process: a lease held by this process but by a
# participant that ended (an interrupted run, a journal line lost with the machine) is not alive.
_WORKING: set = set()


def this_participant() -> dict:
    """Who holds a lease: host, pid, process start and a random id (unique per participant).

    The participant counts as working in this process until ``ended(participant)``.
    """
    pid = os.getpid()
    # the driver: this process, or the one that started this worker process
    driver = os.getppid() if _is_worker_process() else pid
    participant = {"host": socket.gethostname(), "pid": pid, "start": _process_start(pid),
                   "driver": driver, "id": uuid.uuid4().hex[:12]}
    _WORKING.add(participant["id"])
    return participant


def _is_worker_process() -> bool:
    import multiprocessing

    return multiprocessing.current_process().name == "sweeps-worker"


def ended(participant: dict) -> None:
    """The participant stopped working: its leases are no longer alive."""
    _WORKING.discard(participant.get("id"))


def _pid_alive(pid: int, start: Optional[str]) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a process of another user holds the pid
    now = _process_start(pid)
    if now is None:
        return True
    if start is not None and now != start:
        return False  # the pid was reused by a new process
    fields = proc_stat(pid)
    return fields is not None and fields[0] not in (b"Z", b"X")  # not a zombie


def lease_alive(lease: Optional[dict], started: Optional[datetime.datetime]) -> bool:
    """Whether the participant holding a RUNNING trial may still be working on it."""
    now = time.time()
    if not isinstance(lease, dict):
        # claimed a moment ago, lease not written yet (or a trial some other tool runs)
        if started is None:
            return True
        # Optuna's storages give local times without a zone; timestamp() reads them so
        return now - started.timestamp() < LEASE_SECONDS
    if lease.get("host") == socket.gethostname() and isinstance(lease.get("pid"), int):
        if lease["pid"] == os.getpid() and lease.get("start") == _process_start(os.getpid()):
            return lease.get("id") in _WORKING
        return _pid_alive(lease["pid"], lease.get("start"))
    return float(lease.get("until", 0)) > now


# ----------------------------------------------------------------------------- the index


@dataclasses.dataclass
class Entry:
    """What the queue needs to know of one trial, read without decoding its history."""

    trial_id: int
    number: int
    state: str  # Optuna's state name: WAITING, RUNNING, COMPLETE, FAIL, PRUNED
    key: Optional[str]
    name: Optional[str]
    lease: Optional[dict]
    attempts: int
    started: Optional[datetime.datetime]


def index(storage: Any, study_id: int) -> list[Entry]:
    """Every trial of the study as an ``Entry``, in trial order."""
    entries = []
    for trial in storage.get_all_trials(study_id, deepcopy=False):
        key = trial.system_attrs.get(KEY)
        if key is None and "params" in trial.user_attrs:  # recorded before the queue existed
            from ._codec import decode

            key = params_key(decode(trial.user_attrs["params"]))
        entries.append(Entry(
            trial._trial_id, trial.number, trial.state.name, key, trial.user_attrs.get("name"),
            trial.system_attrs.get(LEASE), _attempts(trial.system_attrs),
            trial.datetime_start,
        ))
    return entries


def _attempts(system_attrs: dict) -> int:
    """How many times the trial was claimed (kept in its lease, which a put back keeps too)."""
    lease = system_attrs.get(LEASE)
    return int(lease.get("attempts", 0)) if isinstance(lease, dict) else 0


# ----------------------------------------------------------------------------- transitions


def enqueue(storage: Any, study_id: int, trials: list) -> None:
    """Add each ``FrozenTrial`` template as a WAITING trial (hold the sweep's lock)."""
    for trial in trials:
        storage.create_new_trial(study_id, template_trial=trial)


def waiting_template(name: str, params: dict, key: str, optuna_params: dict,
                     distributions: dict, position: Optional[int]) -> Any:
    """A WAITING trial that carries everything a participant needs to run it."""
    import optuna

    user_attrs = {"name": name, "params": encode(params)}
    if position is not None:
        user_attrs["extra"] = encode({"index": position})
    return optuna.trial.FrozenTrial(
        number=-1, trial_id=-1, state=optuna.trial.TrialState.WAITING, value=None,
        datetime_start=None, datetime_complete=None, params=optuna_params,
        distributions=distributions, user_attrs=user_attrs, system_attrs={KEY: key},
        intermediate_values={},
    )


def claim(storage: Any, study_id: int, participant: dict) -> Optional[Any]:
    """Take the next WAITING trial for ``participant``; None when none is waiting.

    Optuna's compare-and-set makes this safe between any number of participants on every
    storage: exactly one of them gets each trial. Two writes: the state, then the lease (which
    also counts the attempts).
    """
    import optuna
    from optuna.trial import TrialState

    for trial in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,)):
        try:
            if not storage.set_trial_state_values(trial._trial_id, state=TrialState.RUNNING):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        attempts = _attempts(trial.system_attrs) + 1
        renew(storage, trial._trial_id, participant, attempts)
        return storage.get_trial(trial._trial_id)
    return None


def renew(storage: Any, trial_id: int, participant: dict, attempts: int) -> None:
    """Write (or extend) the lease of ``participant`` on a RUNNING trial."""
    storage.set_trial_system_attr(trial_id, LEASE, {**participant, "attempts": attempts,
                                                    "until": time.time() + LEASE_SECONDS})


def put_back(storage: Any, trial_id: int) -> bool:
    """Return a RUNNING trial to the queue (its participant was cancelled or died).

    False when the trial has finished meanwhile: a finished trial stays as it is.
    """
    import optuna
    from optuna.trial import TrialState

    trial = storage.get_trial(trial_id)
    if trial.state != TrialState.RUNNING:
        return False
    try:
        storage.set_trial_system_attr(trial_id, LEASE, {"attempts": _attempts(trial.system_attrs)})
        storage.set_trial_state_values(trial_id, state=TrialState.WAITING)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    return True


def release_stale(storage: Any, study_id: int) -> list[Entry]:
    """Put back every RUNNING sweeps trial whose participant is gone; fail one that has been put
    back ``MAX_ATTEMPTS`` times (its task keeps killing whoever runs it). Hold the sweep's lock.

    Returns the entries it failed.
    """
    failed = []
    for entry in index(storage, study_id):
        if entry.state != "RUNNING" or entry.key is None:
            continue
        if lease_alive(entry.lease, entry.started):
            continue
        if not _unchanged(storage, entry):
            continue  # finished (or claimed again) since the index was read: its holder is done
        if entry.attempts >= MAX_ATTEMPTS and not _died_with_its_driver(entry.lease):
            if fail_lost(storage, entry):
                failed.append(entry)
        else:
            put_back(storage, entry.trial_id)
    return failed


def _unchanged(storage: Any, entry: Entry) -> bool:
    """Whether the trial is still RUNNING under the lease the index showed."""
    trial = storage.get_trial(entry.trial_id)
    return trial.state.name == "RUNNING" and trial.system_attrs.get(LEASE) == entry.lease


def _died_with_its_driver(lease: Optional[dict]) -> bool:
    """Whether the whole driver is gone (Ctrl-C, kill -9), or is this process, which stopped its
    own worker (Ctrl-C; a worker that crashed is recorded by its driver as it crashes): then
    the task is not to blame."""
    if not isinstance(lease, dict) or lease.get("host") != socket.gethostname():
        return False
    driver = lease.get("driver")
    if not isinstance(driver, int):
        return False
    if driver in (lease.get("pid"), os.getpid()):
        return True
    try:
        os.kill(driver, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return not _pid_alive(driver, None)


def fail_lost(storage: Any, entry: Entry, message: Optional[str] = None,
              status: str = "failed") -> bool:
    """Finish a trial whose participant died as FAIL, with a message saying so.

    False when the trial has finished meanwhile (its record stands).
    """
    import optuna
    from optuna.trial import TrialState

    owner = entry.lease or {}
    text = message or (
        f"the participant running this task ({owner.get('host')}, pid {owner.get('pid')}) "
        f"died {entry.attempts} times while running it; the task is recorded as failed so that "
        "it does not take down more workers. Run the sweep again to retry it."
    )
    try:
        storage.set_trial_user_attr(entry.trial_id, "status", status)
        storage.set_trial_user_attr(entry.trial_id, "error", text)
        storage.set_trial_state_values(entry.trial_id, state=TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    return True


def finish(storage: Any, trial_id: int, attrs: dict, state: str, value: Optional[float],
           intermediate: dict) -> None:
    """Write a task's outcome and close its trial: COMPLETE, FAIL or PRUNED.

    The caller gathers these writes into one (``Store.batched``) where the storage allows.
    """
    from optuna.trial import TrialState

    state_obj = TrialState[state]
    values = [value] if state_obj == TrialState.COMPLETE else None
    for key, item in attrs.items():
        storage.set_trial_user_attr(trial_id, key, item)
    for step, item in intermediate.items():
        storage.set_trial_intermediate_value(trial_id, step, item)
    storage.set_trial_state_values(trial_id, state=state_obj, values=values)
