"""``sweeps worker``: join a sweep that a driver began, from any machine that reaches the store.

The store holds what a participant needs: the import paths of ``create_task`` and of the data
loader, the sweep seed, and for a search its space, budget, sampler and pruner. A worker imports
them, calls the loader once, and works the queue like any participant until nothing is left.
"""
from __future__ import annotations

import importlib
from typing import Any, Optional

from ._errors import SweepsValueError
from ._store import Store


def import_path(path: str, what: str) -> Any:
    """``'package.module.function'`` (or ``Class.method``) -> the object."""
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attribute in parts[cut:]:
                obj = getattr(obj, attribute)
        except AttributeError:
            break
        return obj
    raise SweepsValueError(
        f"the sweep's {what} {path!r} cannot be imported on this machine; install the project "
        "that defines it here (pip install -e .) and start the worker from a folder where it "
        "imports, as the driver did")


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
