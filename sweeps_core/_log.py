"""The walkthrough's ``Logger``: a thin facade over the standard ``logging`` logger 'sweeps_core'.

``Logger.disable()`` silences every logger under 'sweeps_core' (the transformers' warnings too),
because they all inherit its level. Handlers are only added by ``initialize_default``; without it
the records go wherever the application's logging configuration sends them.
"""
from __future__ import annotations

import logging
import sys
import threading
from typing import Any

LOGGER_NAME = "sweeps_core"
_SILENT = logging.CRITICAL + 10


class _KeyFormatter(logging.Formatter):
    """Appends the record's keys as ``\\tk v | k2 v2`` when there are any."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        keys = getattr(record, "sweeps_keys", None)
        if keys:
            text += "\t" + " | ".join(f"{k} {v}" for k, v in keys.items())
        return text


class _Logger:
    """Module-level singleton; see ``Logger`` below."""

    def __init__(self) -> None:
        self._local = threading.local()  # keys are per thread, as in the original
        self._handler: logging.Handler | None = None
        self._level_before_disable: int | None = None

    @property
    def logger(self) -> logging.Logger:
        return logging.getLogger(LOGGER_NAME)

    def _keys(self) -> dict:
        if not hasattr(self._local, "keys"):
            self._local.keys = {}
        return self._local.keys

    def _log(self, level: int, obj: Any, keys: dict) -> None:
        logger = self.logger
        if not logger.isEnabledFor(level):
            return
        merged = {**self._keys(), **keys}
        logger.log(level, "%s", obj, extra={"sweeps_keys": merged})

    def debug(self, obj: Any, **keys: Any) -> None:
        self._log(logging.DEBUG, obj, keys)

    def info(self, obj: Any, **keys: Any) -> None:
        self._log(logging.INFO, obj, keys)

    def warning(self, obj: Any, **keys: Any) -> None:
        self._log(logging.WARNING, obj, keys)

    def error(self, obj: Any, **keys: Any) -> None:
        self._log(logging.ERROR, obj, keys)

    def push_keys(self, **keys: Any) -> None:
        """Attach keys to every later message of this thread."""
        self._keys().update(keys)

    def clear_keys(self) -> None:
        self._keys().clear()

    def initialize_default(self, add_keys: bool = False) -> None:
        """Log DEBUG and above to stdout as ``<time> <LEVEL>: <message>`` (keys appended if asked)."""
        logger = self.logger
        if self._handler is not None:
            logger.removeHandler(self._handler)
        fmt = "%(asctime)s %(levelname)s: %(message)s"
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(_KeyFormatter(fmt) if add_keys else logging.Formatter(fmt))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        self._handler = handler
        self._level_before_disable = None

    def disable(self) -> None:
        """Drop all output of 'sweeps_core' and its child loggers until ``enable()``."""
        logger = self.logger
        if self._level_before_disable is None:
            self._level_before_disable = logger.level
        logger.setLevel(_SILENT)

    def enable(self) -> None:
        """Undo ``disable()``."""
        if self._level_before_disable is not None:
            self.logger.setLevel(self._level_before_disable)
            self._level_before_disable = None

    @property
    def is_enabled(self) -> bool:
        return self._level_before_disable is None

    def __reduce__(self) -> str:
        # Pickles as a reference to the module singleton, so tasks that hold it still pickle.
        return "Logger"

    def __repr__(self) -> str:
        state = "enabled" if self.is_enabled else "disabled"
        return f"Logger({LOGGER_NAME!r}, {state})"


Logger = _Logger()
"""``from sweeps_core import Logger; Logger.disable()`` as in the walkthrough."""
