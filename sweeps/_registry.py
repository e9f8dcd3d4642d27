"""Studies by name: a ``create_task`` function with its default grid and data loader.

A study file registers itself when imported::

    @register("iris", grid=dict(learning_rate=[0.1, 0.3]), data=load_bundle)
    def create_task(learning_rate, network_size=(10,)):
        ...

``get_study(name)`` finds a registered study, else imports the built-in ``studies.<name>``, else
loads a study file given by its path. ``_STUDIES`` is the one module-level registry of sweeps.
"""
from __future__ import annotations

import dataclasses
import functools
import difflib
import hashlib
import importlib
import importlib.util
import logging
import os
import pkgutil
import shutil
import sys
import tempfile
import uuid
import warnings
from typing import Any, Callable, Optional

from ._errors import SweepsTypeError, SweepsValueError, UnknownStudyError

logger = logging.getLogger(__name__)

BUILTIN_PACKAGE = "studies"


@dataclasses.dataclass(frozen=True)
class Study:
    """A registered study: what ``sweep(name)`` runs when given only a name."""

    name: str
    create_task: Callable[..., Any]
    grid: dict = dataclasses.field(default_factory=dict)
    data: Any = None  # a zero-argument loader, or the data object itself


_STUDIES: dict[str, Study] = {}


def register(
    name: str,
    create_task: Optional[Callable[..., Any]] = None,
    *,
    grid: Optional[dict] = None,
    data: Any = None,
) -> Any:
    """Register ``create_task`` as the study ``name``; works as a decorator too.

    Registering a name again replaces the earlier study (re-running a notebook cell works).

    Example:
        >>> @register("toy", grid=dict(x=[1, 2]))
        ... def create_task(x):
        ...     ...
        >>> get_study("toy").grid
        {'x': [1, 2]}
    """
    if not isinstance(name, str) or not name:
        raise SweepsValueError(f"name={name!r} must be a non-empty str, e.g. register('iris', ...).")
    if grid is not None and not (isinstance(grid, dict) and all(isinstance(k, str) for k in grid)):
        raise SweepsValueError(
            f"grid={grid!r} must be a dict from create_task's argument names to lists of "
            "values, e.g. grid=dict(learning_rate=[0.1, 0.3])."
        )
    if create_task is None:
        return functools.partial(register, name, grid=grid, data=data)
    if not callable(create_task):
        raise SweepsTypeError(
            f"create_task={create_task!r} is not callable; register a function that builds "
            "one task from keyword arguments."
        )
    _STUDIES[name] = Study(name, create_task, dict(grid or {}), data)
    return create_task


def get_study(name: str) -> Study:
    """The study registered as ``name``, a built-in one (``studies/<name>.py``), or a study
    file given by its path (``path/to/study.py``).

    Raises:
        UnknownStudyError: none of those exists; the message suggests close names.
    """
    if not isinstance(name, str):
        raise SweepsTypeError(f"study name {name!r} must be a str, e.g. 'iris' or 'path/to/study.py'.")
    if name in _STUDIES:
        return _for_one_sweep(_STUDIES[name])
    if _is_path(name):
        return _for_one_sweep(_study_from_file(name))
    if _import_builtin(name) and name in _STUDIES:
        return _STUDIES[name]
    known = list_studies()
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else "."
    raise UnknownStudyError(
        f"unknown study {name!r}{hint} Known studies: {known}. Run `sweeps list` to see them, "
        "register one with sweeps.register(name, create_task, ...), or pass the path of a study "
        "file (.py)."
    )


def list_studies() -> list[str]:
    """Names of the registered studies and of the built-in ones (not imported yet), sorted."""
    return sorted(set(_STUDIES) | set(_builtin_names()))


def study_module_name(path: str) -> str:
    """The module name a study file is imported under: ``_sweeps_study_<stem>_<digest>``, its
    stem (non-alphanumerics as ``_``) and a digest of its absolute path."""
    path = os.path.abspath(path)
    stem = os.path.splitext(os.path.basename(path))[0]
    digest = hashlib.sha1(path.encode()).hexdigest()[:10]
    return f"_sweeps_study_{''.join(c if c.isalnum() else '_' for c in stem)}_{digest}"


def load_study_file(path: str) -> list[Study]:
    """Import a study file by its path and return the studies it registered.

    The module gets a stable name derived from the absolute path (importing it twice runs it
    once) and pickles by value, so loky workers, which cannot import a file from an arbitrary
    path, still receive its ``create_task`` and data loader.
    """
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise SweepsValueError(f"study file {path!r} does not exist; give the path of a .py file.")
    module_name = study_module_name(path)
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise SweepsValueError(f"study file {path!r} cannot be imported; is it a .py file?")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        before = dict(_STUDIES)
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
        _pickle_by_value(module)
        # Remembered on the module: its create_task may come from another module.
        module.__sweeps_studies__ = [n for n, s in _STUDIES.items() if before.get(n) is not s]
        for n in module.__sweeps_studies__:
            study = _STUDIES[n]
            if getattr(study.create_task, "__module__", None) == module_name:
                _STUDIES[n] = dataclasses.replace(
                    study, create_task=FileTask(path, study.create_task))
    studies = [_STUDIES[n] for n in getattr(module, "__sweeps_studies__", ()) if n in _STUDIES]
    if not studies:
        raise SweepsValueError(
            f"study file {path!r} registers no study; call sweeps.register(name, create_task, "
            "grid=..., data=...) at its top level."
        )
    return studies


def _study_from_file(path: str) -> Study:
    studies = load_study_file(path)
    if len(studies) == 1:
        return studies[0]
    stem = os.path.splitext(os.path.basename(path))[0]
    for study in studies:
        if study.name == stem:
            return study
    raise SweepsValueError(
        f"study file {path!r} registers several studies {[s.name for s in studies]} and none is "
        f"named {stem!r} after the file; run one of them by its name."
    )


def _pickle_by_value(module: Any) -> None:
    import cloudpickle

    cloudpickle.register_pickle_by_value(module)
    # Older joblib versions ship their own copy of cloudpickle for loky.
    vendored = sys.modules.get("joblib.externals.cloudpickle")
    if vendored is not None and vendored is not cloudpickle:
        vendored.register_pickle_by_value(module)


def _is_path(name: str) -> bool:
    return name.endswith(".py") or os.sep in name or (os.altsep or os.sep) in name


def _builtin_names() -> list[str]:
    try:
        package = importlib.import_module(BUILTIN_PACKAGE)
    except ImportError:
        return []
    return [m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")]


def _import_builtin(name: str) -> bool:
    """Import ``studies.<name>`` if it exists; a study file registers itself on import."""
    if not name.isidentifier() or name not in _builtin_names():
        return False
    importlib.import_module(f"{BUILTIN_PACKAGE}.{name}")
    return True


def _for_one_sweep(study: Study) -> Study:
    """The study with a ``FileTask`` of its own, so that its warnings show once in this sweep."""
    if isinstance(study.create_task, FileTask):
        return dataclasses.replace(study, create_task=study.create_task.renewed())
    return study


class FileTask:
    """The ``create_task`` of a study file, as it travels to worker processes.

    Pickled by value, a function's code forgets its file (warnings would say
    ``<dynamic-code>:61``), and unpickling it again overwrites the methods of the study file's
    classes with such copies. So the function travels as cloudpickle bytes that are opened only
    where the study file is missing; where the file exists, the wrapper imports it and uses its
    own function, so tracebacks and warnings name the user's file and line. A warning that
    points at the study file (raised while a task is built or while it runs) is shown once per
    sweep, whichever process meets it first.
    """

    def __init__(self, path: str, function: Callable[..., Any], token: Optional[str] = None):
        self.path = path
        self._travelled: Optional[Callable[..., Any]] = function
        self._payload: Optional[bytes] = None
        if token is None:  # made here, in the driver: its marker folder goes when it exits
            token = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
            import atexit

            atexit.register(shutil.rmtree, _marker_folder(token), True)
        self.token = token
        self._name(function.__module__, function.__qualname__, function.__name__,
                   function.__doc__)
        self._resolved: Optional[Callable[..., Any]] = None

    def _name(self, module: str, qualname: str, name: str, doc: Optional[str]) -> None:
        self.__module__, self.__qualname__, self.__name__, self.__doc__ = (module, qualname,
                                                                           name, doc)

    @classmethod
    def _arrived(cls, path: str, payload: bytes, token: str, names: tuple) -> "FileTask":
        task = cls.__new__(cls)
        task.path, task._travelled, task._payload, task.token = path, None, payload, token
        task._name(*names)
        task._resolved = None
        return task

    @property
    def function(self) -> Callable[..., Any]:
        """The function that travelled by value (opened here only if asked for)."""
        if self._travelled is None:
            import cloudpickle

            self._travelled = cloudpickle.loads(self._payload)
        return self._travelled

    @property
    def __wrapped__(self) -> Callable[..., Any]:  # what inspect.signature reads
        return self._function()

    def renewed(self) -> "FileTask":
        return FileTask(self.path, self.function)

    def __reduce__(self) -> tuple:
        if self._payload is None:
            import cloudpickle

            self._payload = cloudpickle.dumps(self._travelled)
        names = (self.__module__, self.__qualname__, self.__name__, self.__doc__)
        return (FileTask._arrived, (self.path, self._payload, self.token, names))

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, FileTask) and (other.path, other.__module__, other.__qualname__) \
            == (self.path, self.__module__, self.__qualname__)

    def __hash__(self) -> int:
        return hash((self.path, self.__qualname__))

    def __repr__(self) -> str:
        return f"<create_task {self.__qualname__} of the study file {self.path}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _OncePerSweep.route(self.path, self.token)  # for the warnings of task.run() too
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            task = self._function()(*args, **kwargs)
        for warning in caught:
            if _first_time(self.token, warning):
                with warnings.catch_warnings():  # shown here: not counted again on its way out
                    warnings.showwarning = _OncePerSweep.unwrapped(warnings.showwarning)
                    warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                           warning.lineno, source=warning.source)
        return task

    def _function(self) -> Callable[..., Any]:
        if self._resolved is None:
            if os.path.isfile(self.path):
                module = sys.modules.get(self.__module__)
                if module is None or getattr(module, "__file__", None) != self.path:
                    load_study_file(self.path)
                    module = sys.modules[self.__module__]
                found = functools.reduce(getattr, self.__qualname__.split("."), module)
                self._resolved = getattr(found, "function", found)
            else:
                self._resolved = self.function
        return self._resolved


class _OncePerSweep:
    """``warnings.showwarning`` that shows a warning pointing at a study file once per sweep
    (across its processes); every other warning passes through unchanged."""

    def __init__(self, show: Callable[..., Any]):
        self.show = show
        self.tokens: dict = {}  # study file -> the token of its current sweep in this process

    def __call__(self, message: Any, category: Any, filename: str, lineno: int,
                 file: Any = None, line: Any = None) -> None:
        token = self.tokens.get(filename)
        seen = warnings.WarningMessage(message, category, filename, lineno)
        if token is None or _first_time(token, seen):
            self.show(message, category, filename, lineno, file, line)

    @classmethod
    def route(cls, path: str, token: str) -> None:
        if not isinstance(warnings.showwarning, cls):
            warnings.showwarning = cls(warnings.showwarning)
        warnings.showwarning.tokens[path] = token

    @staticmethod
    def unwrapped(show: Callable[..., Any]) -> Callable[..., Any]:
        return show.show if isinstance(show, _OncePerSweep) else show


def _first_time(token: str, warning: Any) -> bool:
    """True in the first process of this sweep to see ``warning`` (a marker file decides)."""
    key = f"{warning.category.__name__}|{warning.message}|{warning.filename}|{warning.lineno}"
    folder = _marker_folder(token)
    marker = os.path.join(folder, hashlib.sha1(key.encode()).hexdigest()[:20])
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:  # a full or read-only temp folder: show it (perhaps again) rather than fail
        return True
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    except OSError:
        return True
    return True


def _marker_folder(token: str) -> str:
    return os.path.join(tempfile.gettempdir(), f"sweeps-warnings-{token}")
