"""What recording a result costs: SQLite against Optuna's journal file.

The whole orchestration may cost at most 3 ms per task, so ``Store.record`` has to stay well
below that. This records ``--tasks`` results with ``--epochs``-row histories into each store in a
temporary folder, and prints the milliseconds per record, the time to load the sweep back from a
fresh ``Store`` (a new process's view), and the time of ``completed()`` (what a re-run asks).

    python benchmarks/store_overhead.py [--tasks 500] [--epochs 20] [--repeat 3] [--dir .]

The faster of the two is the default store (``sweeps._store.DEFAULT_FILE``).
"""
from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from sweeps._spec import COMPLETE, TaskResult  # noqa: E402
from sweeps._store import Store  # noqa: E402


def make_results(n_tasks: int, n_epochs: int) -> list[TaskResult]:
    results = []
    for i in range(n_tasks):
        params = {"learning_rate": [0.01, 0.03, 0.1, 0.3][i % 4], "network_size": (10 + i % 5,),
                  "optimizer": ["adam", "sgd"][i % 2], "seed": i}
        history = [
            {"accuracy_test": 0.5 + 0.02 * e, "accuracy_display": 0.5 + 0.021 * e,
             "loss": 1.0 / (e + 1), "iteration": e, "timestamp": f"2025-01-01 00:00:{e:02d}"}
            for e in range(n_epochs)
        ]
        results.append(TaskResult(f"task_{i:04d}", params, i, COMPLETE, history=history,
                                  metrics=dict(history[-1]), seconds=0.01, device="cpu",
                                  extra={"index": i}))
    return results


def measure(url: str, results: list[TaskResult]) -> dict[str, float]:
    store = Store(url)
    store.begin("bench", metric="accuracy_test", direction="maximize",
                meta={"grid": {"learning_rate": [0.01, 0.03, 0.1, 0.3],
                               "optimizer": ["adam", "sgd"]}})
    store.record("bench", results[0])  # opens the storage and creates the study: a one-off
    start = time.perf_counter()
    for result in results[1:]:
        store.record("bench", result)
    per_record = (time.perf_counter() - start) / (len(results) - 1)
    start = time.perf_counter()
    loaded = Store(url).load("bench")
    load = time.perf_counter() - start
    assert len(loaded) == len(results), (len(loaded), len(results))
    start = time.perf_counter()
    Store(url).completed("bench")
    completed = time.perf_counter() - start
    return {"record_ms": per_record * 1e3, "load_s": load, "completed_s": completed}


def main() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created" lines
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=".", help="where the temporary stores go; the default "
                        "store lives under ./runs, so the current folder's disk is the fair one")
    args = parser.parse_args()
    results = make_results(args.tasks, args.epochs)
    print(f"{args.tasks} results, {args.epochs}-row histories, median of {args.repeat} runs")
    print(f"{'store':<10} {'ms/record':>10} {'load s':>8} {'completed s':>12}")
    for label, name in (("sqlite", "sqlite:///{}/sweeps.db"), ("journal", "{}/sweeps.log")):
        runs = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(dir=args.dir) as folder:
                runs.append(measure(name.format(folder), results))
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"{label:<10} {med['record_ms']:>10.2f} {med['load_s']:>8.2f} "
              f"{med['completed_s']:>12.2f}")


if __name__ == "__main__":
    main()
