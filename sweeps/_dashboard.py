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
    """Serve ``store`` in optuna-dashboard until interrupted, notes kept up to date.

    The port is bound before anything is printed: a port in use is one clear error that names
    ``--port``, not a "Listening on" line followed by ``OSError``.
    """
    import optuna_dashboard

    storage = store.optuna_storage()
    server = _listen(host, port, optuna_dashboard.wsgi(storage))
    try:
        annotate(storage)
        stop = threading.Event()
        thread = threading.Thread(target=_keep_annotating, args=(storage, stop), daemon=True,
                                  name="sweeps-dashboard-notes")
        thread.start()
        print(f"serving {store.display_url} on http://{_url_host(host)}:{server.server_port}/ "
              "(Ctrl-C stops)", file=sys.stderr)
        try:
            server.serve_forever()
        except KeyboardInterrupt:  # Ctrl-C is how a dashboard ends: nothing to report
            pass
        finally:
            stop.set()
    finally:
        server.server_close()


def _listen(host: str, port: int, app: Any) -> Any:
    """A WSGI server bound to ``host:port`` (what optuna-dashboard's run_server makes, bound
    before it says it listens)."""
    import errno
    import socket
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from ._errors import SweepsValueError

    class Handler(WSGIRequestHandler):
        def address_string(self) -> str:  # no reverse DNS lookup per request
            return self.client_address[0]

    class Server(WSGIServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    try:
        return make_server(host, port, app, Server, Handler)
    except OverflowError:  # the socket module's word for a port out of range
        raise SweepsValueError(f"--port {port} is not a port number; pass one from 1 to "
                               "65535, e.g. --port 8080") from None
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise SweepsValueError(
                f"port {port} on {host} is in use (another dashboard or server listens there); "
                f"pass another port, e.g. --port {port + 1 if port < 65535 else 8080}") from None
        raise SweepsValueError(
            f"cannot listen on {host}:{port} ({error.strerror or error}); check --host (an "
            "address of this machine, e.g. 127.0.0.1 or 0.0.0.0) and --port") from None


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _keep_annotating(storage: Any, stop: threading.Event) -> None:
    # A sweep may still be enqueueing trials while the dashboard is open.
    while not stop.wait(REFRESH_SECONDS):
        try:
            annotate(storage)
        except Exception:  # a store busy or briefly unreachable: the next round tries again
            logger.warning("could not write the dashboard's notes; trying again", exc_info=True)
