"""``sweeps worker``: join a sweep that a driver began, from any machine that reaches the store.

The store holds what a participant needs: the import paths of ``create_task`` and of the data
loader, the sweep seed, and for a search its space, budget, sampler and pruner. A worker imports
them, calls the loader once, and works the queue like any participant until nothing is left.
"""
from __future__ import annotations

import importlib
import os
import re
import sys
from typing import Any, Optional

from ._errors import SweepsValueError
from ._store import Store


def import_path(path: str, what: str) -> Any:
    """``'package.module.function'`` (or ``Class.method``) -> the object.

    A driver that ran a study file (``sweeps run my_study.py``) imported it under a name of its
    own (``_sweeps_study_my_study_<digest>``), which no import finds: that module is the study
    file of the same name in the current folder, imported as the driver did.
    """
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(module_name)
        except ImportError:
            obj = _study_file(module_name, parts[cut:])
            if obj is None:
                continue
            return obj
        try:
            for attribute in parts[cut:]:
                obj = getattr(obj, attribute)
        except AttributeError:
            break
        return obj
    study = _STUDY_MODULE.match(parts[0])
    if study:
        raise SweepsValueError(
            f"the sweep's {what} {path!r} comes from the study file {study.group(1)}.py that "
            f"the driver ran (sweeps run {study.group(1)}.py), and {os.getcwd()!r} holds no "
            "such file that defines it; start the worker in the folder that holds the study "
            "file (a copy of it on another machine)")
    raise SweepsValueError(
        f"the sweep's {what} {path!r} cannot be imported on this machine; install the project "
        "that defines it here (pip install -e .) and start the worker from a folder where it "
        "imports, as the driver did")


# the module name load_study_file gives a study file: its stem (non-alphanumerics as '_') and
# a digest of its absolute path
_STUDY_MODULE = re.compile(r"^_sweeps_study_(\w+)_([0-9a-f]{10})$")


def _study_file(module_name: str, attributes: list) -> Any:
    """The object ``attributes`` of the study file that the driver imported as ``module_name``,
    found in the current folder (the same path first, then a file of the same stem); None when
    there is none. A study's ``create_task`` comes back as the registry holds it (``FileTask``),
    so that tracebacks name the user's file."""
    from ._registry import load_study_file, study_module_name

    match = _STUDY_MODULE.match(module_name)
    if not match:
        return None
    same_stem = module_name.rsplit("_", 1)[0]  # without the digest of the driver's path
    here = {os.path.abspath(entry): study_module_name(entry)
            for entry in sorted(os.listdir(os.getcwd())) if entry.endswith(".py")}
    candidates = ([path for path, name in here.items() if name == module_name]  # the same path
                  + [path for path, name in here.items()
                     if name != module_name and name.rsplit("_", 1)[0] == same_stem])
    for path in candidates:
        studies = load_study_file(path)
        try:
            obj = sys.modules[here[path]]
            for attribute in attributes:
                obj = getattr(obj, attribute)
        except AttributeError:
            continue
        for study in studies:  # the wrapper the registry made for the file's own create_task
            wrapped = study.create_task
            if getattr(wrapped, "function", None) is obj or (
                    getattr(wrapped, "__qualname__", None) == ".".join(attributes)
                    and getattr(wrapped, "path", None) == path):
                return wrapped
        return obj
    return None


def work(sweep: str, *, store: Any = None, executor: Any = "processes", n_jobs: Optional[int] = None,
         progress: bool = True) -> Any:
    """Work on the stored sweep ``sweep`` until nothing is left; return its ``SweepResult``."""
    from ._autonamer import Autonamer
    from ._space import Space
    from ._sweep import _check_store, _common, _execute_plan_as_worker, _Plan

    store_obj = store if isinstance(store, Store) else Store(store)
    if store_obj.study_id(sweep) is None:
        raise store_obj.unknown(sweep)
    meta = store_obj.meta(sweep)
    if not meta.get("create_task"):
        raise SweepsValueError(
            f"sweep {sweep!r} in {store_obj!r} was not begun by sweeps (no create_task in its "
            "meta), so a worker does not know what to run")
    create_task = import_path(meta["create_task"], "create_task")
    if not meta.get("data"):
        raise SweepsValueError(
            f"sweep {sweep!r} was begun with a data object, which stays in the driver; a worker "
            "needs a loader it can call: pass data=<a module-level loader function> to sweep() "
            "or search()")
    data = import_path(meta["data"], "data loader")
    problems: list = []
    plan: _Plan = _common(problems, create_task, data, sweep, store_obj, executor, n_jobs,
                          meta.get("seed"), "record", progress, None, None, None)
    _check_store(problems, plan)
    plan.meta = meta
    if meta.get("kind") == "search":
        from ._work import SearchPlan

        namer = Autonamer(create_task, prefix=meta.get("prefix"),
                          abbreviations=meta.get("abbreviations"))
        plan.search = SearchPlan(Space.from_json(meta["space"]), int(meta["n_trials"]),
                                 meta.get("sampler") or "tpe", meta.get("pruner"), namer)
    return _execute_plan_as_worker(plan)
