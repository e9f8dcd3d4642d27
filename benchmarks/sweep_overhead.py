"""Orchestration cost per task: 500 tasks that do nothing, through ``sweep()``.

    python benchmarks/sweep_overhead.py [--tasks 500] [--profile]

Runs in a temporary working directory with the default store (./runs/sweeps.log) and prints
milliseconds per task for the sequential executor and for 2 processes, the latter cold (worker
start-up included) and warm (a second sweep with a new name on the running workers). It also
times ``Store.record`` alone, the part of the cost that belongs to the store, and shows the
cold run's one-off worker start-up apart (cold - warm). Target: at most 3 ms per task.
"""
import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sweeps import Store, TaskResult, sweep  # noqa: E402

# Tasks are seeded through torch too (imported at the first task if it is installed): import it
# here, so that its one-off second is not counted as orchestration.
import torch  # noqa: E402,F401


class NothingTask:
    info: dict = {}

    def __init__(self, x):
        self.x = x

    def run(self, data):
        history = [{"value_test": float(self.x), "loss": 0.0, "iteration": 0}]
        return {"metrics": dict(history[0]), "runs": {}, "output": {"history": history}}


def create_task(x):
    return NothingTask(x)


def load_data():
    return None


def timed(label, n, fn):
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    print(f"{label:<42} {seconds:7.2f} s  {1000 * seconds / n:6.2f} ms/task")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--profile", action="store_true", help="cProfile the sequential sweep")
    args = parser.parse_args()
    n = args.tasks
    grid = dict(x=list(range(n)))
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)

        def run(name, **kwargs):
            result = sweep(create_task, grid, data=load_data, name=name, progress=True, **kwargs)
            assert len(result) == n and all(r.ok for r in result), result

        print(f"{n} tasks that do nothing, default store {Store().url}")
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(run, "profiled", executor="sequential")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        timed("sequential", n, lambda: run("sequential", executor="sequential"))
        cold = timed("2 processes, cold (worker start-up)", n, lambda: run("cold", n_jobs=2))
        warm = timed("2 processes, warm (a second sweep)", n, lambda: run("warm", n_jobs=2))
        # what cold adds once per sweep, whatever the number of tasks: forking the workers and
        # their warm-up (each imports what torch's first optimizer step needs, about a second)
        print(f"{'worker start-up, once (cold - warm)':<42} {cold - warm:7.2f} s")

        store = Store()
        store.begin("record-only")
        results = [TaskResult(f"X{i}", {"x": i}, 0, "complete",
                              history=[{"value_test": float(i), "loss": 0.0, "iteration": 0}],
                              metrics={"value_test": float(i)}, extra={"index": i})
                   for i in range(n)]
        timed("Store.record alone", n,
              lambda: [store.record("record-only", result) for result in results])


if __name__ == "__main__":
    main()
