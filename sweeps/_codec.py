"""Tagged JSON: what the store writes for params, metrics and histories, read back exactly.

JSON has no tuples, NaN or non-string keys; ``encode`` tags them (``{"__tuple__": [...]}``,
``{"__float__": "nan"}``, ``{"__dict__": [[k, v], ...]}``) and ``decode`` undoes the tags. A value
JSON cannot hold at all (a class, a function) is kept as ``{"__repr__": "..."}`` and comes back as
that string. ``plain`` gives the same values without tags, for people reading the dashboard.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Optional

_TAGS = ("__tuple__", "__float__", "__dict__", "__repr__")


def encode(value: Any) -> Any:
    """A JSON-able form of ``value`` that ``decode`` turns back into it (tuples, NaN, ...)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if getattr(getattr(value, "dtype", None), "kind", None) == "b":  # numpy's bool scalar
        return bool(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {"__float__": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, numbers.Integral):
        return int(value)  # numpy integers too
    if isinstance(value, numbers.Real):
        return encode(float(value))  # numpy floats that are not float subclasses
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        # a lone '__name__' key would read back as a tag (known or refused as unknown)
        plain = all(isinstance(k, str) for k in value) and not (
            len(value) == 1 and _is_tag(next(iter(value)))
        )
        if plain:
            return {k: encode(v) for k, v in value.items()}
        return {"__dict__": [[encode(k), encode(v)] for k, v in value.items()]}
    return {"__repr__": repr(value)}


def decode(value: Any) -> Any:
    """The inverse of ``encode``; a ``repr``-encoded value comes back as its repr string."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (tag, inner), = value.items()
        if tag == "__tuple__":
            return tuple(decode(v) for v in inner)
        if tag == "__float__":
            return float(inner)
        if tag == "__dict__":
            return {_hashable(decode(k)): decode(v) for k, v in inner}
        if tag == "__repr__":
            return inner
    return {k: decode(v) for k, v in value.items()}


def _is_tag(key: Any) -> bool:
    return isinstance(key, str) and key.startswith("__") and key.endswith("__")


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def unknown_tag(raw: Any) -> Optional[str]:
    """The first ``{"__name__": ...}`` in stored JSON that ``encode`` never writes (a record
    crafted or written by another tool), or None. ``decode`` would pass it on as a dict."""
    if isinstance(raw, list):
        return next((tag for tag in map(unknown_tag, raw) if tag), None)
    if not isinstance(raw, dict):
        return None
    if len(raw) == 1:
        (key, inner), = raw.items()
        if key in _TAGS:  # decode hands on what a tag holds, so look inside every one
            return unknown_tag(inner)
        if _is_tag(key):
            return key
    return next((tag for tag in map(unknown_tag, raw.values()) if tag), None)
