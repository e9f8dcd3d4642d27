"""The ``sweeps`` command: run a study, list studies and sweeps, show a leaderboard, plot.

    sweeps run iris --grid learning_rate=0.1,0.3 "network_size=(),(10,)" --n-jobs 2
    sweeps run path/to/my_study.py --no-progress
    sweeps list
    sweeps leaderboard iris --metric accuracy_test
    sweeps plot iris --out figures/
    sweeps dashboard --port 8080          # optuna-dashboard on the store
    sweeps verify iris                    # tasks by state; exit 1 on an inconsistent record

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
    code = main()
    import atexit

    _flush()
    atexit._run_exitfuncs()
    _flush()
    os._exit(code)


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
    from ._store import Store
    from ._sweep import sweep

    study = get_study(args.study)
    store = Store(args.store)
    grid = parse_grid(args.grid)
    done_before = _complete_keys(store, args.name or study.name)
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
        print(f"sweeps: {len(failed)} of {len(asked)} tasks failed; see their tracebacks with "
              "sweeps.load_sweep(...).failed", file=sys.stderr)
        return EXIT_FAILED_TASKS
    return 0


def _complete_keys(store: Any, name: str) -> set:
    """The params keys of the tasks of sweep ``name`` that are complete in the store now."""
    from ._trials import params_key

    if name not in store.list_sweeps():
        return set()
    return {params_key(r.params) for r in store.records(name) if r.ok}


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

    ran = {params_key(r.params): r for r in asked
           if not (r.ok and params_key(r.params) in done_before)}
    begun = [entry.started.timestamp() for entry in store.entries(asked.name)
             if entry.key in ran and entry.started is not None]
    if not begun:
        return None
    startup = max(min(begun) - (time.time() - _elapsed()), 0.0)
    own = sum(r.seconds for r in ran.values())
    return (f"the tasks' own time: {own:.2f} s in all (the seconds column); start-up until the "
            f"first task began: {startup:.1f} s (interpreter, imports, data, worker processes)")


def _summary(asked: Any, done_before: set, store: Any) -> str:
    from ._trials import params_key

    already = [r for r in asked if r.ok and params_key(r.params) in done_before]
    ran = [r for r in asked if not (r.ok and params_key(r.params) in done_before)]
    failed = sum(not r.ok for r in ran)
    if not ran:
        what = f"nothing to run: {'the' if len(already) == 1 else 'all'} {_tasks(len(already))} " \
               f"{'was' if len(already) == 1 else 'were'} already complete"
    else:
        what = (f"ran {_tasks(len(ran))} ({len(ran) - failed} complete, {failed} failed)"
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
        try:
            with open("/proc/self/stat", "rb") as stat:
                ticks = int(stat.read().rsplit(b")", 1)[1].split()[19])
            with open("/proc/uptime") as uptime:
                return max(float(uptime.read().split()[0]) - ticks / os.sysconf("SC_CLK_TCK"),
                           0.0)
        except (OSError, ValueError, IndexError):
            pass  # not Linux: from main()
    return time.monotonic() - _STARTED["at"]


def _list(args: argparse.Namespace) -> int:
    from ._registry import list_studies
    from ._store import Store

    print("studies:")
    for name in list_studies():
        print(f"  {name}")
    store = Store(args.store)
    sweeps = store.list_sweeps()
    print(f"sweeps in {store.display_url}:" if sweeps else f"no sweeps in {store.display_url}")
    for name in sweeps:
        try:
            results = store.records(name)
        except SweepsValueError as error:  # one malformed record hides no other sweep
            print(f"  {printable(name)}: cannot be read ({printable(error)})")
            continue
        done = sum(r.ok for r in results)
        pruned = sum(r.status == "pruned" for r in results)
        failed = len(results) - done - pruned
        print(f"  {printable(name)}: {done} complete, {failed} failed"
              + (f", {pruned} pruned" if pruned else ""))
    return 0


def _leaderboard(args: argparse.Namespace) -> int:
    from ._store import Store

    _print_board(Store(args.store).load(args.sweep), args.metric)
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from ._store import Store

    try:
        import optuna_dashboard  # noqa: F401 - served by _dashboard
    except ImportError:
        raise SweepsValueError(
            "sweeps dashboard needs optuna-dashboard: pip install optuna-dashboard "
            "(or the project's [dashboard] extra)") from None
    from ._dashboard import serve

    store = Store(args.store)
    if not store.list_sweeps():
        raise SweepsValueError(f"no sweeps in {store.display_url}: run one first (sweeps run iris), or pass --store.")
    serve(store, args.host, args.port)
    return 0


def _plot(args: argparse.Namespace) -> int:
    from ._store import Store

    store = Store(args.store)
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
    result = work(args.sweep, store=args.store, executor=args.executor, n_jobs=n_jobs,
                  progress=args.progress)
    failed = sum(not r.ok for r in result)
    print(f"sweep {result.name!r}: {len(result)} tasks recorded, {failed} not complete")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from ._verify import verify

    verification = verify(args.sweep, store=args.store)
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
