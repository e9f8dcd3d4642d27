"""Pruning on a real study: the same Optuna search with and without a pruner.

    python benchmarks/pruning.py [--trials 40] [--epochs 40] [--study breast_cancer] [--n-jobs 2]

Both searches use the same seeded TPE sampler over the walkthrough's task (learning rate on a
log scale, optimizer, network size) on the same data. The script prints the epochs each search
spent (the sum of every trial's history length), the best value each found, and the ratios.
Goal: pruning saves at least 30% of the epochs at a best value within 1%.
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import optuna  # noqa: E402

from sweeps import get_study, search  # noqa: E402

SPACE = dict(
    learning_rate=(1e-4, 1.0, "log"),
    algorithm=["Adam", "SGD"],
    network_size=[(), (10,), (10, 10)],
)
METRICS = {"iris": "accuracy_test", "breast_cancer": "roc_auc_score_test"}


def run(study, store, name, pruner, args):
    started = time.perf_counter()
    result = search(study.create_task, {**SPACE, "epoch_count": [args.epochs]}, data=study.data,
                    n_trials=args.trials, metric=METRICS[args.study], mode="max", name=name,
                    store=store, sampler="tpe", pruner=pruner, n_jobs=args.n_jobs, seed=0,
                    progress=False)
    seconds = time.perf_counter() - started
    epochs = sum(len(r.history) for r in result)
    best = result.leaderboard().query("status != 'pruned'" if "status" in
                                      result.leaderboard().columns else "rank > 0")
    value = float(best[METRICS[args.study]].max())
    pruned = sum(r.status == "pruned" for r in result)
    print(f"{name:<12} trials {len(result):3d}  pruned {pruned:3d}  epochs {epochs:5d}  "
          f"best {METRICS[args.study]} {value:.4f}  {seconds:6.1f} s")
    return epochs, value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--study", default="breast_cancer", choices=sorted(METRICS))
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    study = get_study(args.study)
    with tempfile.TemporaryDirectory() as folder:
        store = os.path.join(folder, "pruning.log")
        full_epochs, full_best = run(study, store, "no-pruner", None, args)
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=args.epochs // 4)
        pruned_epochs, pruned_best = run(study, store, "median", pruner, args)
    saved = 1 - pruned_epochs / full_epochs
    gap = (full_best - pruned_best) / abs(full_best)
    print(f"epochs saved by pruning: {saved:.0%} (goal >= 30%); best value "
          f"{'lower' if gap > 0 else 'higher or equal'} by {abs(gap):.2%} (goal within 1%)")


if __name__ == "__main__":
    main()
