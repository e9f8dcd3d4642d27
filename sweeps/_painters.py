"""Pictures drawn beside the sweep: ``sweeps run`` forks its painters before it starts work.

Importing matplotlib and drawing two pictures take about a second and a half of a short run
(``sweeps run iris`` trains for a third of a second). A painter is forked at once, while the
process is still small and has no threads; it imports matplotlib while the sweep imports torch
and trains, then draws one picture when the results arrive. Two painters draw the curves and the
leaderboard at the same time, on two cores. Where a painter cannot be forked (not Linux, other
threads already running) or fails, the picture is drawn in this process as before: a painter
only ever saves time.
"""
from __future__ import annotations

import logging
import os
import pickle
import sys
import threading
from typing import Any, Callable, Optional

from . import _forksafe

logger = logging.getLogger(__name__)


class Painters:
    """``count`` painter processes, forked now; ``draw`` hands each one a picture."""

    def __init__(self, count: int = 2) -> None:
        self._painters: list = []
        if not _can_fork():
            return
        import multiprocessing

        context = multiprocessing.get_context("fork")
        for _ in range(count):
            ours, theirs = context.Pipe()
            process = context.Process(target=_paint, args=(theirs, os.getpid()),
                                      name="sweeps-painter", daemon=True)
            with _forksafe.interrupts_held():
                process.start()
            theirs.close()
            self._painters.append((process, ours))

    def draw(self, jobs: list) -> list:
        """Run each ``(function, args)`` job, in a painter where one is free, else here; the
        jobs' return values (an exception from a job is raised here)."""
        sent = []
        for index, (function, args) in enumerate(jobs):
            if index < len(self._painters):
                process, conn = self._painters[index]
                try:
                    conn.send_bytes(pickle.dumps((function, args)))
                    sent.append((index, conn, process))
                    continue
                except (OSError, pickle.PicklingError, TypeError, AttributeError) as error:
                    logger.debug("painter not used: %s", error)
            sent.append((index, None, None))
        results: list = [None] * len(jobs)
        for index, conn, process in sent:
            function, args = jobs[index]
            answer = _receive(conn, process) if conn is not None else None
            if answer is not None and answer[0] == "ok":
                results[index] = answer[1]
                continue
            if answer is not None:
                logger.debug("painter failed, drawing here: %s", answer[1])
            results[index] = function(*args)  # here: a real error surfaces with its traceback
        self.close()
        return results

    def close(self) -> None:
        painters, self._painters = self._painters, []
        for process, conn in painters:
            conn.close()
            process.join(1)
            if process.is_alive():
                process.kill()
                process.join(1)

    def __enter__(self) -> "Painters":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _can_fork() -> bool:
    """Fork only a single-threaded process on Linux (a thread holding a lock at the fork would
    leave that lock held forever in the painter)."""
    return (sys.platform.startswith("linux") and threading.active_count() == 1
            and os.environ.get("SWEEPS_START_METHOD", "fork") == "fork")


def _receive(conn: Any, process: Any) -> Optional[tuple]:
    try:
        return pickle.loads(conn.recv_bytes())
    except (EOFError, OSError, pickle.UnpicklingError) as error:
        logger.debug("painter %s gone: %s", process.pid, error)
        return None


def _paint(conn: Any, parent: int) -> None:
    """A painter's life: import matplotlib, draw the one picture it is sent, answer, exit."""
    from ._executors import _watch_parent

    _forksafe.ignore_interrupts()  # Ctrl-C is the driver's: it stops this painter
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    niceness = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        os.nice(10)  # import matplotlib with the cores the sweep leaves idle
    except OSError:
        pass
    os.environ.setdefault("MPLBACKEND", "Agg")  # files only: never open a window
    try:
        import matplotlib.pyplot  # noqa: F401 - the import is the point

        from . import _plots  # noqa: F401
    except Exception:  # drawn in the driver then, with the error
        pass
    try:
        function, args = pickle.loads(conn.recv_bytes())
    except (EOFError, OSError):
        return  # nothing to draw (no complete task, or the run stopped)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)  # the run waits for the picture now
    except OSError:
        pass  # only root may raise a priority again: drawn niced
    try:
        answer: tuple = ("ok", function(*args))
    except BaseException as error:  # noqa: BLE001 - the driver draws it again and shows it
        answer = ("error", repr(error))
    try:
        conn.send_bytes(pickle.dumps(answer))
    except Exception:  # an unpicklable value: the driver draws it itself
        conn.send_bytes(pickle.dumps(("error", "unpicklable result")))


Job = tuple[Callable[..., Any], tuple]
