"""The store as optuna-dashboard shows it: task names where a user scans, plain values.

optuna-dashboard lists trials by number ("Trial 7") and shows params and user attributes as
stored. So that a user finds the task ``sweeps leaderboard`` printed without decoding anything:

- every trial of a sweep gets a note (the Markdown the dashboard shows under the trial's header)
  that starts with the task's name and its params, written by ``annotate`` when
  ``sweeps dashboard`` starts and then every few seconds for trials enqueued since;
- its user attributes hold ``metric:<key>``, the final metrics as plain numbers, beside the
  tagged JSON the store reads back (``display_attrs``, called by the store when it writes a
  trial); its Optuna params already have plain values;
- its intermediate values are the sweep's metric per epoch (written by the store), which the
  dashboard draws as learning curves.
"""
from __future__ import annotations

import logging
import math
import numbers
import sys
import threading
from typing import Any, Optional

logger = logging.getLogger(__name__)

METRIC = "metric:"
REFRESH_SECONDS = 5.0


def plain(value: Any) -> Any:
    """A value as the dashboard should show it: numbers and strings as they are, anything else
    (tuples, lists, None) as its Python text, e.g. ``(10, 10)``."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value) if math.isfinite(value) else repr(float(value))
    if isinstance(value, str):
        return value
    return repr(value)


def display_attrs(metrics: dict) -> dict:
    """``{'metric:<key>': value, ...}``: a task's final metrics as plain numbers.

    The params need no copy: the store gives every trial Optuna params with plain values
    (``network_size = (10, 10)``), which the dashboard shows and filters on.

    Example:
        >>> display_attrs({"accuracy_test": 0.9, "loss": float("nan")})
        {'metric:accuracy_test': 0.9, 'metric:loss': 'nan'}
    """
    from ._objective import NON_METRIC_KEYS

    return {f"{METRIC}{key}": plain(value) for key, value in (metrics or {}).items()
            if isinstance(value, numbers.Real) and not isinstance(value, bool)
            and key not in NON_METRIC_KEYS}


def note(name: str, params: dict) -> str:
    """The trial's note: the task's name as a heading, then its params."""
    lines = [f"## {name}", ""]
    lines += [f"- {key} = `{value!r}`" for key, value in params.items()]
    return "\n".join(lines) + "\n"


def annotate(storage: Any) -> int:
    """Give every sweeps trial without a note its note (the task's name and params); a note that
    a user wrote in the dashboard is left alone. Returns how many notes were written."""
    from ._codec import decode

    try:
        from optuna_dashboard._note import note_ver_key, save_note_with_version
    except ImportError:  # another optuna-dashboard: the user attributes still name the task
        logger.info("this optuna-dashboard keeps notes elsewhere; trials get no note")
        return 0
    written = 0
    for study in storage.get_all_studies():
        study_id = study._study_id
        system_attrs = storage.get_study_system_attrs(study_id)
        for trial in storage.get_all_trials(study_id, deepcopy=False):
            name = trial.user_attrs.get("name")
            if not name or note_ver_key(trial._trial_id) in system_attrs:
                continue
            params = decode(trial.user_attrs["params"]) if "params" in trial.user_attrs else {}
            save_note_with_version(storage, study_id, trial._trial_id, 1, note(name, params))
            written += 1
    return written


def serve(store: Any, host: str, port: int) -> None:
    """Serve ``store`` in optuna-dashboard until interrupted, notes kept up to date."""
    import optuna_dashboard

    storage = store.optuna_storage()
    annotate(storage)
    stop = threading.Event()
    thread = threading.Thread(target=_keep_annotating, args=(storage, stop), daemon=True,
                              name="sweeps-dashboard-notes")
    thread.start()
    print(f"serving {store.display_url} on http://{host}:{port}/ (Ctrl-C stops)", file=sys.stderr)
    try:
        optuna_dashboard.run_server(storage, host=host, port=port)
    finally:
        stop.set()


def _keep_annotating(storage: Any, stop: threading.Event) -> None:
    # A sweep may still be enqueueing trials while the dashboard is open.
    while not stop.wait(REFRESH_SECONDS):
        try:
            annotate(storage)
        except Exception:  # a store busy or briefly unreachable: the next round tries again
            logger.warning("could not write the dashboard's notes; trying again", exc_info=True)
