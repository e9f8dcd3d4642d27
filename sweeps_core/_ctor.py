"""Constructors that travel: ``CtorAdapter`` builds an optimizer or a loss from plain data."""
from __future__ import annotations

import difflib
import importlib
from typing import Any

from ._errors import ConfigurationError


class Obj(dict):
    """A dict whose keys are also attributes: ``kwargs.lr = 0.01`` sets ``kwargs['lr']``."""

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):  # pickle and copy probe dunders; never invent them
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"no key {key!r}; keys are {sorted(self, key=str)}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __delattr__(self, key: str) -> None:
        try:
            del self[key]
        except KeyError:
            raise AttributeError(key) from None


def load_type(spec: Any, what: str = "type") -> Any:
    """Resolve ``'module.path:Attr'`` to the object; anything else is returned as it is."""
    if not isinstance(spec, str):
        return spec
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigurationError(
            f"{what} {spec!r} is not of the form 'module.path:Name', for example 'torch.optim:Adam'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigurationError(f"{what} {spec!r}: module {module_name!r} cannot be imported ({error})") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        names = [n for n in dir(module) if not n.startswith("_")]
        close = difflib.get_close_matches(attr, names, n=3)
        hint = f"; did you mean {', '.join(repr(f'{module_name}:{c}') for c in close)}?" if close else ""
        raise ConfigurationError(
            f"{what} {spec!r} cannot be imported: module {module_name!r} has no {attr!r}{hint}"
        ) from None


class CtorAdapter:
    """Turns a constructor into a function of positional arguments.

    >>> ctor = CtorAdapter('torch.optim:SGD', ('params',), lr=0.1)
    >>> ctor.kwargs.lr = 0.01        # change an argument before the task runs
    >>> # ctor(network.parameters()) == torch.optim.SGD(params=network.parameters(), lr=0.01)

    ``type`` is a class or a string ``'module.path:Name'``; ``args_names`` names the positional
    arguments; the remaining keyword arguments are stored in ``kwargs``.
    """

    def __init__(self, type: Any, args_names: tuple = (), **kwargs: Any):
        self.type = type
        self.args_names = tuple(args_names)
        self.kwargs = Obj(kwargs)

    def __call__(self, *args: Any, **call_kwargs: Any) -> Any:
        if len(args) != len(self.args_names):
            raise ConfigurationError(
                f"CtorAdapter({self.type!r}) takes {len(self.args_names)} positional argument(s) "
                f"{self.args_names!r}, got {len(args)}"
            )
        arguments = dict(zip(self.args_names, args))
        arguments.update(self.kwargs)
        arguments.update(call_kwargs)
        constructor = load_type(self.type)
        return constructor(**arguments)

    def __repr__(self) -> str:
        kwargs = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        return f"CtorAdapter({self.type!r}, {self.args_names!r}{kwargs})"
