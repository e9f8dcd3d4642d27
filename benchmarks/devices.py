"""Device slots: the same grid on every CPU core against 1, 2, 4 and 8 tasks per GPU.

    python benchmarks/devices.py [--study iris|breast_cancer] [--epochs 200] [--slots 1,2,4,8]

Each arm is a fresh sweep (its own store) of the study's grid, warm workers excluded: every arm
pays its own worker start-up, as ``sweeps run`` does. The CPU arm runs one worker per core with
one torch thread each (no device slots); the GPU arms run ``devices='auto'`` with
``tasks_per_device=k`` (k workers, each owning a slot on the first GPU). Prints tasks per second
and each GPU arm's ratio to the CPU arm, and checks that every task completed. Without a GPU only
the CPU arm runs.

These networks are tiny (iris: 4 inputs, at most two layers of 10), so one task leaves a GPU
almost idle: a GPU pays off only through many tasks at once, which is what the slots are for.
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from sweeps import sweep  # noqa: E402


def arm(label, study, epochs, folder, **kwargs):
    module = __import__(f"studies.{study}", fromlist=["GRID"])
    start = time.perf_counter()
    result = sweep(module.create_task, dict(module.GRID, epoch_count=[epochs]), data=module.load_bundle,
                   name=label, store=os.path.join(folder, f"{label}.log"), progress=False, **kwargs)
    seconds = time.perf_counter() - start
    n = len(result.results)
    failed = len(result.failed)
    devices = sorted({str(r.device) for r in result.results})
    print(f"{label:<14} {n} tasks in {seconds:6.2f} s = {n / seconds:6.2f} tasks/s  "
          f"failed {failed}  devices {devices}", flush=True)
    return n / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="iris", choices=["iris", "breast_cancer"])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--slots", default="1,2,4,8", help="tasks per GPU, comma-separated")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    # the GPU's name is read at the end: initialising CUDA here would make the workers spawn, not fork
    print(f"{args.study}: grid x {args.epochs} epochs; {cores} CPU cores", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        cpu = arm(f"cpu-x{cores}", args.study, args.epochs, folder, n_jobs=cores)
        if not torch.cuda.is_available():
            return
        for k in [int(s) for s in args.slots.split(",")]:
            rate = arm(f"gpu-x{k}", args.study, args.epochs, folder, devices="auto", tasks_per_device=k)
            print(f"{'':<14} {k} per GPU / {cores} CPU workers: {rate / cpu:.2f}", flush=True)
        print(f"GPU: {torch.cuda.get_device_name(0)}")


if __name__ == "__main__":
    main()
