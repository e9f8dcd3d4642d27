"""``sweeps verify``: what a sweep's store holds, task by task, and whether it holds together.

A task (one key, a digest of its params) may have several trials: a failed run and a later
complete one, a trial put back after its worker died. ``verify`` sorts every task into one
state by its trials:

- complete (any trial complete), else waiting, running (a live lease), stale (RUNNING, but its
  participant is gone: the next participant puts it back), else its latest finished trial:
  failed, timed out or pruned.

and lists every record that does not hold together: user attrs that do not decode or have the
wrong shape, a status that is not one of sweeps' or that contradicts the trial's state, a
complete trial without a history or whose value is not the history's last value of the metric,
two complete trials for one task, a name used by two tasks, a key that is not its params' digest.

Stale trials are reported but are not inconsistent: they are the queue's normal way to recover
from a dead worker, and running the sweep again (or ``sweeps worker``) puts them back.
"""
from __future__ import annotations

import collections
import dataclasses
import math
import numbers
import os
from typing import Any, Optional, Union

from ._codec import decode, unknown_tag
from ._objective import final_value
from ._spec import COMPLETE, FAILED, PRUNED, TaskResult
from ._store import Store
from ._trials import KEY, lease_alive, params_key
from ._urls import redacted

TIMED_OUT = "timed_out"
STATES = ("complete", "failed", "timed out", "pruned", "waiting", "running", "stale")
_FINISHED_STATUS = {COMPLETE: "complete", FAILED: "failed", TIMED_OUT: "timed out",
                    PRUNED: "pruned"}
# The statuses each finished Optuna state may carry in its user attrs.
_STATUS_FOR_STATE = {"COMPLETE": (COMPLETE,), "FAIL": (FAILED, TIMED_OUT), "PRUNED": (PRUNED,)}
_ENCODED = ("params", "seed", "seconds", "metrics", "history", "extra")


@dataclasses.dataclass
class Verification:
    """What ``verify`` found: tasks per state, and the inconsistent records.

    ``tasks`` maps each state in ``STATES`` to the names of its tasks; ``problems`` holds one
    line per inconsistent record. ``consistent`` is True when there is none.
    """

    sweep: str
    store: str
    tasks: dict
    problems: list

    @property
    def consistent(self) -> bool:
        return not self.problems

    def counts(self) -> dict:
        return {state: len(self.tasks[state]) for state in STATES}

    def report(self) -> str:
        """The lines ``sweeps verify`` prints (names from the store printed safely)."""
        total = sum(self.counts().values())
        lines = [f"sweep {safe(self.sweep)!r} in {self.store}: {total} task"
                 + ("" if total == 1 else "s")]
        width = max(len(state) for state in STATES)
        for state in STATES:
            names = self.tasks[state]
            shown = ", ".join(safe(name) for name in names[:5]) + (", ..." if len(names) > 5 else "")
            lines.append(f"  {state:<{width}}  {len(names):>5}" + (f"  {shown}" if names and
                                                                     state != "complete" else ""))
        if self.tasks["stale"]:
            lines.append("stale tasks lost their worker: run the sweep again (or `sweeps worker "
                         f"{safe(self.sweep)}`) to put them back in the queue")
        if self.consistent:
            lines.append("consistent: every record holds together")
        else:
            lines.append(f"INCONSISTENT: {len(self.problems)} problem"
                         + ("" if len(self.problems) == 1 else "s"))
            lines.extend(f"  - {safe(problem)}" for problem in self.problems)
        return "\n".join(lines)


def safe(text: Any) -> str:
    """``text`` with control characters escaped, so a name from a store cannot fake output."""
    text = str(text)
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def verify(sweep: str, store: Union[Store, str, os.PathLike, None] = None) -> Verification:
    """Check the sweep ``sweep`` in ``store`` (default ./runs/sweeps.log); creates nothing.

    Raises ``UnknownSweepError`` when the store does not hold the sweep.

    Example:
        >>> verification = verify("iris")                           # doctest: +SKIP
        >>> verification.consistent, verification.counts()["failed"]  # doctest: +SKIP
        (True, 0)
    """
    if not isinstance(store, Store):
        store = Store(store)
    study_id = store.study_id(sweep)
    if study_id is None:
        raise store.unknown(sweep)
    metric, _ = store.objective(sweep)
    trials = store.optuna_storage().get_all_trials(study_id, deepcopy=False)
    entries = {entry.trial_id: entry for entry in store.entries(sweep)}
    problems: list = []
    by_key: dict = collections.defaultdict(list)
    for trial in sorted(trials, key=lambda t: t.number):
        entry = entries.get(trial._trial_id)
        key = entry.key if entry is not None else trial.system_attrs.get(KEY)
        state = _trial_state(trial, entry)
        record = _check_trial(trial, metric, problems)
        if key is None:
            problems.append(f"{_who(trial)}: no key and no params, so it belongs to no task "
                            "(a trial sweeps did not write)")
            key = f"<trial {trial.number}>"
        by_key[key].append((trial, state, record))
    tasks: dict = {state: [] for state in STATES}
    names: dict = collections.defaultdict(set)
    for key, items in by_key.items():
        _check_task(key, items, problems)
        name = next((t.user_attrs.get("name") for t, _, _ in items if t.user_attrs.get("name")),
                    key)
        names[name].add(key)
        tasks[_task_state([state for _, state, _ in items])].append(name)
    for name, keys in names.items():
        if len(keys) > 1:
            problems.append(f"the name {name!r} is used by {len(keys)} tasks with different "
                            f"params (keys {sorted(keys)}); names must be unique in a sweep")
    return Verification(sweep, redacted(store.url), tasks, problems)


def _who(trial: Any) -> str:
    name = trial.user_attrs.get("name")
    return f"trial {trial.number}" + (f" (task {name!r})" if isinstance(name, str) else "")


def _trial_state(trial: Any, entry: Any) -> str:
    """One of STATES for a single trial."""
    state = trial.state.name
    if state == "WAITING":
        return "waiting"
    if state == "RUNNING":
        alive = lease_alive(entry.lease, entry.started) if entry is not None else True
        return "running" if alive else "stale"
    status = trial.user_attrs.get("status")
    if state == "PRUNED":
        return "pruned"
    if state == "COMPLETE":
        return "complete"
    return "timed out" if status == TIMED_OUT else "failed"


def _task_state(states: list) -> str:
    """The state of a task from its trials' states, in trial order."""
    for state in ("complete", "running", "waiting", "stale"):
        if state in states:
            return state
    return states[-1]


def _check_trial(trial: Any, metric: Optional[str], problems: list) -> Optional[TaskResult]:
    """Add the problems of one trial's record; the decoded record of a finished trial, or None."""
    attrs = trial.user_attrs
    who = _who(trial)
    decoded: dict = {}
    for attr in _ENCODED:
        if attr not in attrs:
            continue
        tag = unknown_tag(attrs[attr])
        if tag is not None:  # crafted, or written by another tool: never decoded, never run
            problems.append(f"{who}: user attr {attr!r} holds the unknown tag {tag!r}, which "
                            f"sweeps never writes: {attrs[attr]!r:.120}")
            continue
        try:
            decoded[attr] = decode(attrs[attr])
        except Exception as error:  # a damaged or crafted value: any failure means the same
            problems.append(f"{who}: user attr {attr!r} does not decode "
                            f"({type(error).__name__}: {error}): {attrs[attr]!r:.120}")
    for attr, kind in (("params", dict), ("metrics", dict), ("extra", dict), ("history", list)):
        if attr in decoded and not isinstance(decoded[attr], kind):
            problems.append(f"{who}: {attr} is {decoded[attr]!r:.80} (a {type(decoded[attr]).__name__}), "
                            f"not a {kind.__name__}")
            decoded.pop(attr)
    history = decoded.get("history")
    if isinstance(history, list) and not all(isinstance(row, dict) for row in history):
        problems.append(f"{who}: the history holds rows that are not dicts: {history!r:.80}")
        decoded.pop("history")
    if "name" in attrs and not isinstance(attrs["name"], str):
        problems.append(f"{who}: name is {attrs['name']!r}, not a str")
    state = trial.state.name
    if state not in _STATUS_FOR_STATE:
        return None
    status = attrs.get("status")
    if status is not None and status not in _FINISHED_STATUS:
        problems.append(f"{who}: unknown status {status!r} (expected one of "
                        f"{list(_FINISHED_STATUS)})")
    elif status is not None and status not in _STATUS_FOR_STATE[state]:
        problems.append(f"{who}: status {status!r} contradicts the trial's state {state}")
    if state == "COMPLETE":
        _check_complete(trial, who, decoded, metric, problems)
    return TaskResult(name=str(attrs.get("name")), params=decoded.get("params"), seed=None,
                      status=status or "", history=decoded.get("history") or [],
                      metrics=decoded.get("metrics") or {})


def _check_complete(trial: Any, who: str, decoded: dict, metric: Optional[str],
                    problems: list) -> None:
    """A complete trial has a history, and its value is the history's last value of the metric."""
    if "history" not in trial.user_attrs:
        if "name" in trial.user_attrs:  # a trial sweeps wrote: a complete one always has one
            problems.append(f"{who}: complete without a history")
        return
    if not decoded.get("history") and "history" in decoded:
        problems.append(f"{who}: complete with an empty history")
        return
    if metric is None or "history" not in decoded:
        return
    result = TaskResult("", {}, None, COMPLETE, history=decoded["history"],
                        metrics=decoded.get("metrics") or {})
    final = _number(final_value(result, metric))
    value = trial.value
    if final is None or not math.isfinite(final):
        return  # recorded as the mode's worst value, on purpose
    if value is None or not math.isfinite(value):
        problems.append(f"{who}: value {value!r} is not finite, but the history's last "
                        f"{metric!r} is {final!r}")
    elif value != final:
        problems.append(f"{who}: value {value!r} is not the history's last {metric!r} ({final!r})")


def _number(value: Any) -> Optional[float]:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            return None
    return None


def _check_task(key: str, items: list, problems: list) -> None:
    """The problems of one task across its trials: duplicates, a key that is not its params'."""
    complete = [trial for trial, state, _ in items if state == "complete"]
    if len(complete) > 1:
        numbers_ = [trial.number for trial in complete]
        problems.append(f"{_who(complete[0])}: {len(complete)} complete trials for one task "
                        f"(trials {numbers_}); a task completes once")
    for trial, _, record in items:
        if key.startswith("<trial") or record is None or "params" not in trial.user_attrs:
            continue
        if KEY in trial.system_attrs and record.params is not None:
            try:
                digest = params_key(record.params)
            except Exception:  # params already reported as not decoding
                continue
            if digest != key:
                problems.append(f"{_who(trial)}: its key {key!r} is not the digest of its params "
                                f"{record.params!r:.80} ({digest!r}): params changed after it "
                                "was enqueued")
