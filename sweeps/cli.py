"""The ``sweeps`` command: run a study, list studies and sweeps, show a leaderboard, plot.

    sweeps run iris --grid learning_rate=0.1,0.3 "network_size=(),(10,)" --n-jobs 2
    sweeps run path/to/my_study.py --no-progress
    sweeps list
    sweeps leaderboard iris --metric accuracy_test
    sweeps plot iris --out figures/
    sweeps dashboard --port 8080          # optuna-dashboard on the store

Errors print one line, ``sweeps: error: ...``, and exit with status 2. ``sweeps run`` exits
with 1 when some task failed (the leaderboard of the others is still printed).
"""
from __future__ import annotations

import argparse
import ast
import os
import sys
from typing import Any, Optional, Sequence

from ._errors import SweepsError, SweepsValueError

EXIT_FAILED_TASKS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _UsageError(Exception):
    """argparse's complaint, turned into an exception so that main prints one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print the usage and exit
        raise _UsageError(f"{message} (see `{self.prog} --help`)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    try:
        args = _parser().parse_args(argv)
        _quiet_optuna()
        return args.command(args)
    except (_UsageError, SweepsError) as error:
        message = " ".join(str(error).split())  # one line, whatever the message holds
        print(f"sweeps: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as error:  # not ours (a file that cannot be written, ...): still one line
        if os.environ.get("SWEEPS_DEBUG"):
            raise
        message = " ".join(str(error).split())
        print(f"sweeps: error: {type(error).__name__}: {message} (set SWEEPS_DEBUG=1 for the "
              "traceback)", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as done:  # --help
        return done.code if isinstance(done.code, int) else 0
    except KeyboardInterrupt:
        print("sweeps: interrupted; the finished tasks are recorded: run the same command "
              "again to run the rest", file=sys.stderr)
        return EXIT_INTERRUPTED


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
    run.add_argument("--executor", default="processes", help="processes (default) or sequential")
    run.add_argument("--store", default=None, metavar="URL", help="store URL (default: ./runs/)")
    run.add_argument("--name", default=None, help="sweep name (default: the study name)")
    run.add_argument("--seed", type=int, default=0, help="sweep seed (default: 0)")
    run.add_argument("--metric", default=None, help="the metric to rank by")
    run.add_argument("--no-progress", dest="progress", action="store_false",
                     help="no progress bar")
    run.set_defaults(command=_run)

    listing = commands.add_parser("list", help="list studies, and the sweeps in the store")
    listing.add_argument("--store", default=None, metavar="URL")
    listing.set_defaults(command=_list)

    board = commands.add_parser("leaderboard", help="print the leaderboard of a stored sweep")
    board.add_argument("sweep", metavar="SWEEP")
    board.add_argument("--metric", default=None)
    board.add_argument("--store", default=None, metavar="URL")
    board.set_defaults(command=_leaderboard)

    plot = commands.add_parser("plot", help="write the learning curves and leaderboard plots")
    plot.add_argument("sweep", metavar="SWEEP")
    plot.add_argument("--metric", default=None)
    plot.add_argument("--store", default=None, metavar="URL")
    plot.add_argument("--out", default=None, metavar="DIR",
                      help="folder of the PNG files (default: the store's folder)")
    plot.set_defaults(command=_plot)

    dashboard = commands.add_parser("dashboard", help="serve the store in optuna-dashboard")
    dashboard.add_argument("--store", default=None, metavar="URL")
    dashboard.add_argument("--host", default="127.0.0.1")
    dashboard.add_argument("--port", type=int, default=8080)
    dashboard.set_defaults(command=_dashboard)
    return parser


def _run(args: argparse.Namespace) -> int:
    from ._registry import get_study
    from ._store import Store
    from ._sweep import sweep

    study = get_study(args.study)
    store = Store(args.store)
    result = sweep(study.name, parse_grid(args.grid), name=args.name, store=store,
                   executor=args.executor, n_jobs=args.n_jobs, seed=args.seed,
                   progress=args.progress, metric=args.metric)
    _print_board(result, args.metric)
    _write_plots(result, args.metric, _folder(store, None))
    failed = len(result.failed)
    print(f"sweep {result.name!r}: {len(result) - failed} complete, {failed} failed, in {store.url} "
          "(running the same command again runs only what is not complete)", file=sys.stderr)
    if failed:
        print(f"sweeps: {failed} of {len(result)} tasks failed; see their tracebacks with "
              "sweeps.load_sweep(...).failed", file=sys.stderr)
        return EXIT_FAILED_TASKS
    return 0


def _list(args: argparse.Namespace) -> int:
    from ._registry import list_studies
    from ._store import Store

    print("studies:")
    for name in list_studies():
        print(f"  {name}")
    store = Store(args.store)
    sweeps = store.list_sweeps()
    print(f"sweeps in {store.url}:" if sweeps else f"no sweeps in {store.url}")
    for name in sweeps:
        results = store.records(name)
        done = sum(r.ok for r in results)
        print(f"  {name}: {done} complete, {len(results) - done} failed")
    return 0


def _leaderboard(args: argparse.Namespace) -> int:
    from ._store import Store

    _print_board(Store(args.store).load(args.sweep), args.metric)
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from ._store import Store

    try:
        import optuna_dashboard
    except ImportError:
        raise SweepsValueError(
            "sweeps dashboard needs optuna-dashboard: pip install optuna-dashboard "
            "(or the project's [dashboard] extra)") from None
    store = Store(args.store)
    if not store.list_sweeps():
        raise SweepsValueError(f"no sweeps in {store.url}: run one first (sweeps run iris), or pass --store")
    print(f"serving {store.url} on http://{args.host}:{args.port}/ (Ctrl-C stops)", file=sys.stderr)
    optuna_dashboard.run_server(store.optuna_storage(), host=args.host, port=args.port)
    return 0


def _plot(args: argparse.Namespace) -> int:
    from ._store import Store

    store = Store(args.store)
    _write_plots(store.load(args.sweep), args.metric, _folder(store, args.out))
    return 0


def _print_board(result: Any, metric: Optional[str]) -> None:
    board = result.leaderboard(metric)
    empty = f"sweep {result.name!r}: no complete task"
    print(board.to_string(index=False) if len(board) else empty)


def _write_plots(result: Any, metric: Optional[str], folder: str) -> None:
    if not any(r.ok for r in result):
        return
    os.environ.setdefault("MPLBACKEND", "Agg")  # files only: never open a window
    import matplotlib.pyplot as plt

    os.makedirs(folder, exist_ok=True)
    for kind, plot in (("curves", result.plot_curves), ("leaderboard", result.plot_leaderboard)):
        path = os.path.join(folder, f"{result.name}_{kind}.png")
        figure = plot(metric, path=path)
        plt.close(getattr(figure, "figure", figure))
        print(f"wrote {path}")


def _folder(store: Any, out: Optional[str]) -> str:
    return out or getattr(store, "folder", None) or os.getcwd()


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
                                   "learning_rate=0.1,0.3")
        pieces = split_top_level(values)
        if not pieces or any(not piece.strip() for piece in pieces):
            raise SweepsValueError(f"--grid {item!r} has an empty value; write "
                                   f"{key}=V1,V2,... (quote strings with commas)")
        grid[key] = [_literal(piece.strip()) for piece in pieces]
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


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
