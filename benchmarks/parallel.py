"""Speed-up of 2 processes over the sequential executor on the iris grid (18 tasks).

    python benchmarks/parallel.py [--epochs 200] [--n-jobs 2]

Both runs use one torch thread per task: the sequential baseline sets ``torch.set_num_threads(1)``
in this process and the process executor does the same in each worker
(``threads_per_worker=1``, its default). Without that, 2 workers with 2 threads each fight over
2 cores and the comparison says more about oversubscription than about the executor.

Prints the wall time of the sequential sweep, of a cold process sweep (worker start-up, imports
of torch and the data loading included) and of a warm one (a second sweep, new name, same
workers), and the speed-ups. Target: at least 1.7 on 2 cores.
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from studies.iris import GRID, create_task, load_bundle  # noqa: E402
from sweeps import sweep  # noqa: E402


def timed(label, fn):
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    print(f"{label:<38} {seconds:7.2f} s")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    grid = dict(GRID, epoch_count=args.epochs)
    with tempfile.TemporaryDirectory() as folder:
        store = os.path.join(folder, "sweeps.log")

        def run(name, **kwargs):
            result = sweep(create_task, grid, data=load_bundle, name=name, store=store,
                           progress=False, **kwargs)
            assert len(result) == 18 and all(r.ok for r in result), result.failed
            return result

        print(f"iris grid, 18 tasks x {args.epochs} epochs, {os.cpu_count()} cores")
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            sequential = timed("sequential, 1 torch thread",
                               lambda: run("sequential", executor="sequential"))
        finally:
            torch.set_num_threads(threads)
        cold = timed(f"{args.n_jobs} processes, cold", lambda: run("cold", n_jobs=args.n_jobs))
        warm = timed(f"{args.n_jobs} processes, warm", lambda: run("warm", n_jobs=args.n_jobs))
        print(f"speed-up with worker start-up:    {sequential / cold:.2f}")
        print(f"speed-up without worker start-up: {sequential / warm:.2f}")
        # What a user of `sweeps run` sees: each from a fresh interpreter, imports included.
        fresh_sequential = timed("fresh process: sequential", lambda: _fresh(folder, "sequential", args))
        fresh_processes = timed(f"fresh process: {args.n_jobs} processes", lambda: _fresh(folder, "processes", args))
        print(f"speed-up, both from a fresh process: {fresh_sequential / fresh_processes:.2f}")


def _fresh(folder, executor, args):
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    n_jobs = "None" if executor == "sequential" else str(args.n_jobs)
    code = (
        "import torch; torch.set_num_threads(1)\n"
        "from studies.iris import GRID, create_task, load_bundle\n"
        "from sweeps import sweep\n"
        f"sweep(create_task, dict(GRID, epoch_count={args.epochs}), data=load_bundle, name='fresh-{executor}', "
        f"store={os.path.join(folder, 'fresh.log')!r}, executor={executor!r}, n_jobs={n_jobs}, progress=False)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


if __name__ == "__main__":
    main()
