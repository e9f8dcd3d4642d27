"""The ``sweeps`` command: run a study, list studies and sweeps, show a leaderboard, plot.

    sweeps run iris --grid learning_rate=0.1,0.3 "network_size=(),(10,)" --n-jobs 2
    sweeps run path/to/my_study.py --no-progress
    sweeps list
    sweeps leaderboard iris --metric accuracy_test
    sweeps plot iris --out figures/
    sweeps dashboard --port 8080          # optuna-dashboard on the store
    sweeps verify iris                    # tasks by state; exit 1 on an inconsistent record
    sweeps failed iris                    # each failed task's params and traceback

Errors print one line, ``sweeps: error: ...``, and exit with status 2. ``sweeps run`` exits
with 1 when some task failed (the leaderboard of the others is still printed).
"""
from __future__ import annotations

import argparse
import ast
import os
import sys
import time
from typing import Any, Optional, Sequence

from ._errors import SweepsError, SweepsValueError
from ._urls import printable, redacted

EXIT_FAILED_TASKS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # as a shell reports a command stopped by SIGPIPE


class _UsageError(Exception):
    """argparse's complaint, turned into an exception so that main prints one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print the usage and exit
        raise _UsageError(f"{message} (see `{self.prog} --help`)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    _STARTED["at"] = time.monotonic()
    try:
        args = _parser().parse_args(argv)
        _quiet_optuna()
        return args.command(args)
    except (_UsageError, SweepsError) as error:
        if os.environ.get("SWEEPS_DEBUG") and isinstance(error, SweepsError):
            raise  # the traceback asked for (a misspelt option has none worth showing)
        message = printable(redacted(" ".join(str(error).split())))  # one safe line
        print(f"sweeps: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader has gone (sweeps leaderboard NAME | head): stop quietly
        _drop_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as error:  # not ours (a file that cannot be written, ...): still one line
        if os.environ.get("SWEEPS_DEBUG"):
            raise
        message = printable(redacted(" ".join(str(error).split())))
        print(f"sweeps: error: {type(error).__name__}: {message} (set SWEEPS_DEBUG=1 for the "
              "traceback)", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as done:  # --help
        return done.code if isinstance(done.code, int) else 0
    except KeyboardInterrupt:
        print("sweeps: interrupted; the finished tasks are recorded: run the same command "
              "again to run the rest", file=sys.stderr)
        return EXIT_INTERRUPTED


def entry() -> None:
    """The ``sweeps`` command (and ``python -m sweeps``): ``main()``, then a quick exit.

    When the command is done, every result is in the store and every picture written: the exit
    handlers run (worker pools, logging), and the process ends without tearing down each module
    one by one, which takes most of a second once torch is imported.
    """
    _STARTED["process"] = True
    _import_from_here()
    code = main()
    import atexit

    _flush()
    atexit._run_exitfuncs()
    _flush()
    os._exit(code)


def _import_from_here() -> None:
    """Put the current folder first on ``sys.path``, as ``python -m sweeps`` does, so that the
    installed ``sweeps`` command imports the user's modules (a study's ``create_task``, the data
    loader a ``sweeps worker`` reads from the store) from the folder it was started in."""
    try:
        here = os.getcwd()
    except OSError:  # the folder was removed: nothing to import from it
        return
    if sys.path[:1] not in ([""], [here]):
        sys.path.insert(0, here)


def _drop_stdout() -> None:
    # What is still buffered cannot reach the closed pipe; without this, the flush at exit
    # raises BrokenPipeError again and Python prints "Exception ignored ...".
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (sweeps list | head)
            pass


def _quiet_optuna() -> None:
    # The store is an Optuna storage; its INFO lines ("A new study created ...") would mix
    # with the progress bar and the tables this command prints.
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sweeps", description="Hyperparameter sweeps for training tasks.")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run a study's grid and print its leaderboard")
    run.add_argument("study", metavar="STUDY", help="a registered study name or a study file (.py)")
    run.add_argument("--grid", nargs="+", action="extend", default=[], metavar="KEY=VALUES",
                     help="override one grid key: comma-separated Python literals, e.g. "
                          "learning_rate=0.1,0.3 algorithm=Adam,SGD 'network_size=(),(10,)'")
    run.add_argument("--n-jobs", type=int, default=None,
                     help="worker processes (default: all cores)")
    run.add_argument("--executor", default="processes",
                     help="processes (default: worker processes), sequential (in this process), "
                          "fused (tasks of one network shape trained together) or dask (a local "
                          "Dask cluster)")
    _store_option(run)
    run.add_argument("--name", default=None,
                     help="sweep name in the store (default: the study's name)")
    run.add_argument("--seed", type=int, default=0,
                     help="sweep seed; each task's seed derives from it and the task's name "
                          "(default: 0)")
    run.add_argument("--devices", default=None, metavar="DEVICES",
                     help="device slots: auto (every GPU, else the CPU), cpu, or a comma-separated "
                          "list such as cuda:0,cuda:1; each worker runs its tasks on its slot "
                          "(default: the tasks choose)")
    run.add_argument("--tasks-per-device", type=int, default=1, metavar="K",
                     help="slots per device, so K tasks share each device (default: 1)")
    run.add_argument("--task-timeout", type=float, default=None, metavar="SECONDS",
                     help="stop a task that runs longer and record it as timed out; the sweep "
                          "goes on (default: no limit)")
    _metric_option(run)
    run.add_argument("--no-progress", dest="progress", action="store_false",
                     help="no progress bar")
    _plot_options(run)
    run.set_defaults(command=_run)

    listing = commands.add_parser("list", help="list studies, and the sweeps in the store")
    _store_option(listing)
    listing.set_defaults(command=_list)

    board = commands.add_parser("leaderboard", help="print the leaderboard of a stored sweep")
    board.add_argument("sweep", metavar="SWEEP", help="the sweep's name in the store")
    _metric_option(board)
    _store_option(board)
    board.set_defaults(command=_leaderboard)

    plot = commands.add_parser("plot", help="write the learning curves and leaderboard plots")
    plot.add_argument("sweep", metavar="SWEEP", help="the sweep's name in the store")
    _metric_option(plot)
    _store_option(plot)
    plot.add_argument("--out", default=None, metavar="DIR",
                      help="folder of the PNG files (default: the store's folder, or the "
                           "current folder for a database)")
    _plot_options(plot)
    plot.set_defaults(command=_plot)

    worker = commands.add_parser(
        "worker", help="join a sweep begun elsewhere and run its tasks until none is left",
        description="Join the sweep SWEEP in the store URL (any machine that reaches the store "
                    "and can import the study's code) and run its waiting tasks, or, for a "
                    "search, new trials until it holds n_trials. Start as many as you like, "
                    "at any time: each task runs once.")
    worker.add_argument("sweep", metavar="SWEEP", help="the sweep's name in the store")
    _store_option(worker)
    worker.add_argument("--n-jobs", type=int, default=None,
                        help="worker processes on this machine (default: all cores)")
    worker.add_argument("--executor", default="processes",
                        help="processes (default), sequential (in this process), fused (tasks of one "
                             "network shape trained together) or dask (a local Dask cluster)")
    worker.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bar")
    worker.set_defaults(command=_worker)

    check = commands.add_parser(
        "verify", help="count a sweep's tasks by state and check that its records hold together",
        description="Count the tasks of SWEEP by state (complete, failed, timed out, pruned, "
                    "waiting, running, stale) and list every inconsistent record. Exit status: "
                    "0 when the sweep is consistent, 1 when it is not, 2 on a usage error.")
    check.add_argument("sweep", metavar="SWEEP", help="the sweep's name in the store")
    _store_option(check)
    check.set_defaults(command=_verify)

    failures = commands.add_parser(
        "failed", help="print the params and traceback of each failed or timed-out task",
        description="Print every task of SWEEP that failed or timed out: its name, params and "
                    "the whole traceback (the reason a task stopped). Exit status: 0.")
    failures.add_argument("sweep", metavar="SWEEP", help="the sweep's name in the store")
    _store_option(failures)
    failures.set_defaults(command=_failed)

    dashboard = commands.add_parser(
        "dashboard", help="serve the store in optuna-dashboard",
        description="Serve the store in optuna-dashboard: one study per sweep, one trial per "
                    "task. Each trial's note is the task's name and params, its user attributes "
                    "hold the params and final metrics as plain values, and its intermediate "
                    "values are the sweep's metric per epoch.")
    _store_option(dashboard)
    dashboard.add_argument("--host", default="127.0.0.1",
                           help="address to listen on (default: 127.0.0.1, this machine only; "
                                "0.0.0.0 for every interface)")
    dashboard.add_argument("--port", type=int, default=8080,
                           help="port to listen on (default: 8080)")
    dashboard.set_defaults(command=_dashboard)
    return parser


def _store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", default=None, metavar="URL",
                        help="a journal file, sqlite:///file.db or another Optuna storage URL "
                             "(default: ./runs/sweeps.log)")


def _metric_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--metric", default=None,
                        help="the history key to rank and plot by, e.g. accuracy_test "
                             "(default: the sweep's metric)")


def _plot_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "plots", "default: panels by the swept param with the fewest values, colours by the "
                 "next, dashes by the third; the leaderboard coloured like the panels")
    group.add_argument("--by", default=None, metavar="PARAM",
                       help="one panel of learning curves per value of this param")
    group.add_argument("--hue", default=None, metavar="PARAM",
                       help="colour curves and bars by this param")
    group.add_argument("--style", default=None, metavar="PARAM",
                       help="dash the curves by this param")
    group.add_argument("--baseline", type=float, default=None, metavar="VALUE",
                       help="draw a known reference level, e.g. 0.333 for chance accuracy on "
                            "three classes")


def _run(args: argparse.Namespace) -> int:
    from ._painters import Painters

    with Painters() as painters:  # forked first, while this process is small
        return _run_with(args, painters)


def _run_with(args: argparse.Namespace, painters: Any) -> int:
    from ._registry import get_study
    from ._sweep import sweep

    study = get_study(args.study)
    grid = parse_grid(args.grid)
    _check_roles(args, {**study.grid, **grid})
    store = _open_store(args.store, writes=True)
    done_before = _complete_keys(store, args.name or study.name, args.metric)
    result = sweep(study.name, grid, name=args.name, store=store,
                   executor=args.executor, n_jobs=args.n_jobs, seed=args.seed,
                   progress=args.progress, metric=args.metric, task_timeout=args.task_timeout,
                   devices=_devices(args.devices), tasks_per_device=args.tasks_per_device)
    asked = _asked(result, study, grid)
    if len(asked) < len(result):
        print(f"showing the {_tasks(len(asked))} of this --grid; sweep {result.name!r} holds "
              f"{len(result)} (`sweeps leaderboard {result.name}` shows them all)")
    _print_board(asked, args.metric)
    _write_plots(asked, args.metric, _folder(store, None), _roles(args), _stem(store), painters)
    timing = _timing(asked, done_before, store)
    if timing:
        print(timing, file=sys.stderr)
    print(_summary(asked, done_before, store), file=sys.stderr)
    failed = [r for r in asked if not r.ok]
    if failed:
        print(_failures(failed, len(asked), asked.name, args.store, store), file=sys.stderr)
        return EXIT_FAILED_TASKS
    return 0


SHOWN_FAILURES = 5


def _failures(failed: list, total: int, name: str, url: Optional[str], store: Any) -> str:
    """Why tasks did not complete: each one's name and the last line of its traceback (the
    exception), at most ``SHOWN_FAILURES`` of them, and the command that prints them all."""
    counts = _status_counts(failed)
    if counts == {"failed": len(failed)}:
        head = f"sweeps: {len(failed)} of {total} tasks failed:"
    else:
        head = (f"sweeps: {len(failed)} of {total} tasks did not complete ("
                + ", ".join(f"{n} {status}" for status, n in counts.items()) + "):")
    lines = [head]
    for result in failed[:SHOWN_FAILURES]:
        last = (result.error or "").strip().splitlines()[-1:] or [_STATUS_WORDS.get(
            result.status, result.status)]
        lines.append(f"  {printable(result.name)}: {printable(last[0])[:300]}")
    if len(failed) > SHOWN_FAILURES:
        lines.append(f"  and {len(failed) - SHOWN_FAILURES} more")
    lines.append(f"the whole tracebacks: sweeps failed {_command_words(name, url, store)}")
    return "\n".join(lines)


_STATUS_WORDS = {"complete": "complete", "failed": "failed", "timed_out": "timed out",
                 "pruned": "pruned"}


def _status_counts(results: Any) -> dict:
    """``{'failed': 2, 'timed out': 1}``: the results by status, in words, none left at 0."""
    counts: dict = {}
    for result in results:
        word = _STATUS_WORDS.get(result.status, result.status)
        counts[word] = counts.get(word, 0) + 1
    return counts


def _command_words(name: str, url: Optional[str], store: Any) -> str:
    """``NAME --store URL`` as a shell takes it (the URL's password masked); no --store for the
    default store."""
    import shlex

    words = [printable(name)] + (["--store", store.display_url] if url is not None else [])
    return " ".join(shlex.quote(word) for word in words)


def _complete_keys(store: Any, name: str, metric: Optional[str] = None) -> set:
    """The params keys of the tasks of sweep ``name`` that are complete in the store now; a
    ``metric`` that none of them recorded is refused before anything runs."""
    from ._trials import params_key

    if name not in store.list_sweeps():
        return set()
    complete = [r for r in store.records(name) if r.ok]
    if metric is not None and complete:
        known = sorted({key for r in complete for row in r.history for key in row})
        if metric not in known:
            raise SweepsValueError(
                f"--metric {metric!r} is not in the history of sweep {name!r}; its tasks "
                f"record {known}. Pick one of them (or leave --metric out for the sweep's "
                "metric).")
    return {params_key(r.params) for r in complete}


def _check_roles(args: argparse.Namespace, grid: dict) -> None:
    """--by, --hue and --style must name params of the grid: checked before anything runs."""
    import difflib

    for role in ("by", "hue", "style"):
        value = getattr(args, role)
        if value is None or value in grid:
            continue
        close = difflib.get_close_matches(value, list(grid), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise SweepsValueError(
            f"--{role} {value!r} is not a param of this sweep; {hint}its params are "
            f"{list(grid)}. Pass one of them, or leave --{role} out for the default.")


def _open_store(url: Optional[str], *, writes: bool = False) -> Any:
    """The store, checked as ``sweep()`` checks it (``Store.check``): a wrong password, a server
    that is down or a missing database driver is one clear line before anything else happens.

    A file store is checked when it exists and the command writes to it; a new one is left for
    ``sweep()`` to create once the arguments hold, and a reader finds no sweep in it.
    """
    from ._store import Store

    store = Store(url)
    path = getattr(store, "_path", None)
    if path is None or (writes and path.exists()):
        store.check()
    return store


def _asked(result: Any, study: Any, grid: dict) -> Any:
    """The part of ``result`` that this grid asked for (a --grid can ask for part of a sweep)."""
    from ._autonamer import Autonamer
    from ._results import SweepResult
    from ._trials import params_key

    specs = Autonamer(study.create_task).specs(**{**study.grid, **grid})
    keys = {params_key(spec.params) for spec in specs}
    results = [r for r in result if params_key(r.params) in keys]
    if len(results) == len(result.results):
        return result
    return SweepResult(result.name, results, metric=result.metric, direction=result.direction,
                       store=result.store)


def _tasks(n: int) -> str:
    return f"{n} task" + ("" if n == 1 else "s")


def _timing(asked: Any, done_before: set, store: Any) -> Optional[str]:
    """Where the time went: the tasks' own seconds (the ``seconds`` column), and the start-up
    (interpreter, imports, data, worker processes) until the first task began."""
    from ._trials import params_key

    ran = {params_key(r.params): r for r in _ran(asked, done_before)[1]}
    begun = [entry.started.timestamp() for entry in store.entries(asked.name)
             if entry.key in ran and entry.started is not None]
    if not begun:
        return None
    startup = max(min(begun) - (time.time() - _elapsed()), 0.0)
    own = sum(r.seconds for r in ran.values())
    return (f"the tasks' own time: {own:.2f} s in all (the seconds column); start-up until the "
            f"first task began: {startup:.1f} s (interpreter, imports, data, worker processes)")


def _ran(asked: Any, done_before: set) -> tuple[list, list]:
    """(already complete before this command, run by it): the tasks a command asked for."""
    from ._trials import params_key

    already, ran = [], []
    for result in asked:
        (already if result.ok and params_key(result.params) in done_before else ran).append(result)
    return already, ran


def _summary(asked: Any, done_before: set, store: Any) -> str:
    already, ran = _ran(asked, done_before)
    counts = _status_counts(ran)
    if not ran:
        what = f"nothing to run: {'the' if len(already) == 1 else 'all'} {_tasks(len(already))} " \
               f"{'was' if len(already) == 1 else 'were'} already complete"
    else:
        others = "".join(f", {n} {status}" for status, n in counts.items()
                         if status not in ("complete", "failed"))
        what = (f"ran {_tasks(len(ran))} ({counts.get('complete', 0)} complete, "
                f"{counts.get('failed', 0)} failed{others})"
                + (f"; {len(already)} {'was' if len(already) == 1 else 'were'} already complete"
                   if already else ""))
    return (f"sweep {asked.name!r}: {what}, in {store.display_url}, {_elapsed():.1f} s (running "
            "the same command again runs only what is not complete)")


# When the command started: main() for a call from Python, the process itself (interpreter
# start included) for the sweeps command (entry)
_STARTED = {"at": time.monotonic(), "process": False}


def _elapsed() -> float:
    """Seconds since the command started."""
    if _STARTED["process"]:
        from ._trials import proc_stat

        fields = proc_stat("self")
        try:
            with open("/proc/uptime") as uptime:
                up = float(uptime.read().split()[0])
        except OSError:
            fields = None  # not Linux: from main()
        if fields:
            return max(up - int(fields[19]) / os.sysconf("SC_CLK_TCK"), 0.0)
    return time.monotonic() - _STARTED["at"]


def _list(args: argparse.Namespace) -> int:
    from ._registry import list_studies

    print("studies:")
    for name in list_studies():
        print(f"  {name}")
    store = _open_store(args.store)
    sweeps = store.list_sweeps()
    print(f"sweeps in {store.display_url}:" if sweeps else f"no sweeps in {store.display_url}")
    for name in sweeps:
        try:
            line = _task_counts(name, store)
        except SweepsValueError as error:  # one malformed record hides no other sweep
            print(f"  {printable(name)}: cannot be read ({printable(error)})")
            continue
        print(f"  {printable(name)}: {line}")
    return 0


def _task_counts(name: str, store: Any) -> str:
    """``3 complete, 1 failed, 2 timed out, 18 waiting``: the sweep's tasks by state (the
    states of ``sweeps verify``); complete and failed always, the others when there are some."""
    from ._verify import verify

    verification = verify(name, store)
    counts = verification.counts()
    words = [f"{counts['complete']} complete", f"{counts['failed']} failed"]
    words += [f"{n} {state}" for state, n in counts.items()
              if n and state not in ("complete", "failed")]
    if not verification.consistent:
        store.records(name)  # a record that cannot be read: the caller says so, not the counts
        words.append(f"inconsistent records (sweeps verify {printable(name)})")
    return ", ".join(words)


def _leaderboard(args: argparse.Namespace) -> int:
    store = _open_store(args.store)
    result = store.load(args.sweep)
    _print_board(result, args.metric)
    if not any(r.ok for r in result):
        print(f"sweep {printable(result.name)!r}: {_task_counts(result.name, store)}"
              + (f"; why they failed: sweeps failed {_command_words(result.name, args.store, store)}"
                 if any(r.status in ("failed", "timed_out") for r in result) else ""))
    return 0


def _failed(args: argparse.Namespace) -> int:
    store = _open_store(args.store)
    result = store.load(args.sweep)
    failed = [r for r in result if r.status in ("failed", "timed_out")]
    counts = _status_counts(failed)
    print(f"sweep {printable(result.name)!r}: "
          + (", ".join(f"{n} {status}" for status, n in counts.items()) if failed
             else "no failed or timed-out task"))
    for r in failed:
        print(f"\n{printable(r.name)} ({_STATUS_WORDS.get(r.status, r.status)}), params "
              f"{printable(repr(r.params))}:")
        for line in (r.error or "no traceback recorded").rstrip().splitlines():
            print(f"  {printable(line)}")
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    try:
        import optuna_dashboard  # noqa: F401 - served by _dashboard
    except ImportError:
        raise SweepsValueError(
            "sweeps dashboard needs optuna-dashboard: pip install optuna-dashboard "
            "(or the project's [dashboard] extra)") from None
    from ._dashboard import serve

    store = _open_store(args.store)
    if not store.list_sweeps():
        raise SweepsValueError(f"no sweeps in {store.display_url}: run one first (sweeps run iris), or pass --store.")
    serve(store, args.host, args.port)
    return 0


def _plot(args: argparse.Namespace) -> int:
    store = _open_store(args.store)
    _write_plots(store.load(args.sweep), args.metric, _folder(store, args.out), _roles(args),
                 _stem(store))
    return 0


def _devices(text: Optional[str]) -> Any:
    if text is None or text in ("auto", "cpu"):
        return text
    return [item.strip() for item in text.split(",") if item.strip()]


def _worker(args: argparse.Namespace) -> int:
    from ._worker import work

    n_jobs = 1 if args.executor == "sequential" and args.n_jobs is None else args.n_jobs
    store = _open_store(args.store, writes=True)
    before = _finished_trials(store, args.sweep)
    result = work(args.sweep, store=store, executor=args.executor, n_jobs=n_jobs,
                  progress=args.progress)
    ran = _ran_here(store, args.sweep, before, args.executor)
    failed = sum(not r.ok for r in result)
    print(f"sweep {printable(result.name)!r}: this worker ran {_tasks(ran)}; "
          f"{_tasks(len(result))} recorded in all, {failed} not complete")
    return 0


_FINISHED = ("COMPLETE", "FAIL", "PRUNED")


def _finished_trials(store: Any, name: str) -> set:
    return {entry.trial_id for entry in store.entries(name) if entry.state in _FINISHED}


def _ran_here(store: Any, name: str, before: set, executor: str) -> int:
    """How many trials finished since ``before`` under a lease of this worker: held by this
    process or one of its worker processes (on a local Dask cluster, by any process of this
    machine, since Dask's worker processes are not this process's children)."""
    import socket

    host, pid = socket.gethostname(), os.getpid()
    ran = 0
    for entry in store.entries(name):
        lease = entry.lease if isinstance(entry.lease, dict) else {}
        if entry.state not in _FINISHED or entry.trial_id in before or lease.get("host") != host:
            continue
        if executor == "dask" or pid in (lease.get("pid"), lease.get("driver")):
            ran += 1
    return ran


def _verify(args: argparse.Namespace) -> int:
    from ._verify import verify

    verification = verify(args.sweep, store=_open_store(args.store))
    print(verification.report())
    return 0 if verification.consistent else EXIT_FAILED_TASKS


def _print_board(result: Any, metric: Optional[str]) -> None:
    board = result.leaderboard(metric)
    empty = f"sweep {printable(result.name)!r}: no complete task"
    if not len(board):
        print(empty)
        return
    # names, params and metric names come from the store: no cell may move the cursor
    board.columns = [printable(column) for column in board.columns]
    for column in board.columns:
        if board[column].dtype == object:
            board[column] = board[column].map(_printable_cell)
    print("\n".join(printable(line) for line in board.to_string(index=False).split("\n")))


def _printable_cell(value: Any) -> Any:
    return printable(value) if isinstance(value, str) else value


def _write_plots(result: Any, metric: Optional[str], folder: str, roles: dict,
                 stem: Optional[str], painters: Any = None) -> None:
    """The curves and the leaderboard as ``<folder>/<store>.<sweep>.curves.png`` and
    ``...leaderboard.png``: named after the store too, so that two stores in one folder keep
    their own pictures. ``painters`` (``sweeps run``) draw both at once in processes that
    imported matplotlib while the sweep ran."""
    if not any(r.ok for r in result):
        return
    from ._plots import default_roles
    from ._results import SweepResult

    baseline = roles.pop("baseline", None)
    roles = roles or default_roles(result)
    os.makedirs(folder, exist_ok=True)
    # a sweep name read from a store may hold anything: keep the file inside the folder
    prefix = safe_file_name(f"{stem}.{result.name}" if stem else result.name)
    curves = os.path.join(folder, f"{prefix}.curves.png")
    board = os.path.join(folder, f"{prefix}.leaderboard.png")
    hue = roles.get("by") or roles.get("hue")
    # what a picture needs, without the store (a painter is another process)
    bare = SweepResult(result.name, result.results, metric=result.metric,
                       direction=result.direction)
    jobs = [(_draw_curves, (bare, metric, roles, baseline, curves)),
            (_draw_board, (bare, metric, hue, baseline, board))]
    if painters is not None:
        painters.draw(jobs)
    else:
        for function, args in jobs:
            function(*args)
    print(f"wrote {curves}")
    print(f"wrote {board}")


def _draw_curves(result: Any, metric: Optional[str], roles: dict, baseline: Optional[float],
                 path: str) -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")  # files only: never open a window
    import matplotlib.pyplot as plt

    plt.close(_figure(result.plot_curves(metric, **roles, baseline=baseline, path=path)))


def _draw_board(result: Any, metric: Optional[str], hue: Optional[str],
                baseline: Optional[float], path: str) -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot as plt

    plt.close(result.plot_leaderboard(metric, hue=hue, baseline=baseline, path=path).figure)


def _figure(drawn: Any) -> Any:
    """The figure of an Axes or of an array of Axes."""
    first = drawn.flat[0] if hasattr(drawn, "flat") else drawn
    return first.figure


def _roles(args: argparse.Namespace) -> dict:
    """The plot options given on the command line (none: the grid's defaults)."""
    roles = {key: getattr(args, key) for key in ("by", "hue", "style")
             if getattr(args, key) is not None}
    if args.baseline is not None:
        roles["baseline"] = args.baseline
    return roles


def safe_file_name(text: str) -> str:
    """A file name (no folder) made of ``[A-Za-z0-9._-]``; '..' and leading dots removed."""
    import re

    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip(".") or "sweep"
    return name.replace("..", "_")


def _folder(store: Any, out: Optional[str]) -> str:
    return out or getattr(store, "folder", None) or os.getcwd()


def _stem(store: Any) -> Optional[str]:
    """The store file's name without its extension (``sweeps`` for runs/sweeps.log); None for a
    database server."""
    path = getattr(store, "_path", None)
    return os.path.splitext(os.path.basename(path))[0] if path else None


def parse_grid(items: Sequence[str]) -> dict:
    """``['lr=0.1,0.3', 'algorithm=Adam']`` -> ``{'lr': [0.1, 0.3], 'algorithm': ['Adam']}``.

    Values split on the commas outside brackets and quotes; each one is a Python literal, or
    else the raw text. Every value becomes a range, even a single one.
    """
    grid: dict = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise SweepsValueError(f"--grid {item!r} must look like KEY=VALUES, e.g. "
                                   "--grid learning_rate=0.1,0.3 algorithm=Adam.")
        pieces = split_top_level(values)
        if not pieces or any(not piece.strip() for piece in pieces):
            raise SweepsValueError(f"--grid {item!r} has an empty value; write "
                                   f"{key}=V1,V2,... (quote strings with commas).")
        grid[key] = [_literal(piece.strip(), item) for piece in pieces]
    return grid


def split_top_level(text: str) -> list[str]:
    """Split on the commas outside brackets and quotes: ``'(),(1,)'`` -> ``['()', '(1,)']``."""
    pieces, depth, quote, start = [], 0, None, 0
    for i, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            pieces.append(text[start:i])
            start = i + 1
    pieces.append(text[start:])
    return [] if pieces == [""] else pieces


def _literal(text: str, item: str = "") -> Any:
    """A Python literal, or a bare word (Adam, relu) as its text; anything else that does not
    parse (an unclosed bracket or quote) is refused rather than taken as a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as error:
        if not any(char in text for char in "()[]{}'\""):
            return text
        reason = getattr(error, "msg", None) or str(error) or type(error).__name__
        raise SweepsValueError(
            f"--grid {item or text!r}: the value {text!r} is not a Python literal ({reason}); "
            "close its brackets and quotes, e.g. 'network_size=(),(10,)', or quote a string "
            "that holds them: \"name='a(b'\"") from None
