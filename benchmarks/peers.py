"""Peers side by side: the iris grid (18 tasks x 200 epochs) through each way of running it.

    python benchmarks/peers.py [--repeats 3] [--epochs 200] [--arms plain,joblib,...]

One hand-written, seeded training function (plain torch, one thread, full-batch epochs on the
train split, accuracy on the test split) runs in every arm, so every arm must report the same
18 final accuracies; the script checks it. The arms:

- ``plain``: a for loop in one process (the baseline of the ratios);
- ``joblib``: ``joblib.Parallel(n_jobs=2, backend='loky')``;
- ``optuna-threads``: Optuna's ``GridSampler`` with ``study.optimize(n_jobs=2)`` (threads);
- ``optuna-processes``: two ``multiprocessing`` processes, each running ``study.optimize`` on the
  same study (``GridSampler``) in one journal file;
- ``sweeps``: ``sweep(..., executor='processes', n_jobs=2)`` with the function as a task;
- ``sweeps-dask``: ``sweep(..., executor='dask', n_jobs=2)`` (a LocalCluster per sweep);
- ``sweeps-core``: the real ``studies.iris`` task (``sweeps_core``) through ``sweep()``, 2
  processes; its training is not the hand-written one, so its accuracies are not compared;
- ``ray``: Ray Tune, only where ``import ray`` works.

Each arm runs in a fresh interpreter (this script with ``--arm``): "cold" is its first grid in
that process (worker start-up and first-use imports such as torch._dynamo included; the
driver's own imports and the data loading are done before the clock starts), "warm" is a second
grid in the same process. Repeats are interleaved across arms; the table shows medians and each
arm's ratio to the plain loop (below 1 is faster). The load average is printed: above 1.5 on a
2-core machine, someone else was using it and the figures are noisy.
"""
import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

ARMS = ["plain", "joblib", "optuna-threads", "optuna-processes", "sweeps", "sweeps-dask",
        "sweeps-core", "ray"]
EPOCHS = 200
N_JOBS = 2


# ----------------------------------------------------------------------------- the training


def grid_points():
    """The 18 points of studies.iris.GRID, in a fixed order."""
    from studies.iris import GRID

    keys = list(GRID)
    return [dict(zip(keys, values)) for values in itertools.product(*GRID.values())]


def key(params):
    """One spelling of a point, whatever each arm turned its values into (lists, ints)."""
    return (f"{tuple(params['network_size'])}|{float(params['learning_rate']):g}|"
            f"{params['algorithm']}")


def load_arrays():
    """The iris bundle as float32/int64 arrays, standardized with the train split's statistics;
    done once, in the driver, before the clock starts."""
    import numpy as np

    from studies.iris import load_bundle

    bundle = load_bundle()
    index, features = bundle.index, bundle.features.to_numpy(dtype=np.float32)
    labels = index["label"].astype("category").cat.codes.to_numpy().astype(np.int64)
    train, test = (index["split"] == "train").to_numpy(), (index["split"] == "test").to_numpy()
    mean, std = features[train].mean(0), features[train].std(0)
    scaled = ((features - mean) / std).astype(np.float32)
    return {"x_train": scaled[train], "y_train": labels[train],
            "x_test": scaled[test], "y_test": labels[test], "epochs": EPOCHS}


def train(params, data):
    """The hand-written training of every arm: seeded, so the same point gives the same accuracy
    in any process or thread."""
    import torch

    torch.set_num_threads(1)
    # a generator of its own: the global one is shared by the threads of the Optuna arm
    generator = torch.Generator().manual_seed(0)
    x, y = torch.from_numpy(data["x_train"]), torch.from_numpy(data["y_train"])
    sizes = [x.shape[1], *params["network_size"], 3]
    layers = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        linear = torch.nn.Linear(fan_in, fan_out)
        bound = fan_in ** -0.5
        with torch.no_grad():
            linear.weight.copy_((torch.rand(fan_out, fan_in, generator=generator) * 2 - 1) * bound)
            linear.bias.copy_((torch.rand(fan_out, generator=generator) * 2 - 1) * bound)
        layers += [linear, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    optimizer = getattr(torch.optim, params["algorithm"])(model.parameters(),
                                                          lr=params["learning_rate"])
    for _ in range(data["epochs"]):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        predicted = model(torch.from_numpy(data["x_test"])).argmax(1)
        return (predicted == torch.from_numpy(data["y_test"])).double().mean().item()


class HandTask:
    """``train`` as a sweeps task."""

    def __init__(self, network_size, learning_rate, algorithm):
        self.info = {}
        self.params = dict(network_size=tuple(network_size), learning_rate=learning_rate,
                           algorithm=algorithm)

    def run(self, data):
        accuracy = train(self.params, data)
        return {"metrics": {"accuracy_test": accuracy}, "runs": {},
                "output": {"history": [{"accuracy_test": accuracy, "iteration": 0}]}}

    def __repr__(self):
        return f"HandTask({self.params!r})"


def create_hand_task(network_size, learning_rate, algorithm):
    return HandTask(network_size, learning_rate, algorithm)


# ----------------------------------------------------------------------------- the arms
# each arm: setup(data) -> run(round) -> (accuracies by key, trials run); run is timed


def arm_plain(data, folder):
    def run(round_):
        return {key(p): train(p, data) for p in grid_points()}, 18
    return run


def _train_pair(params, data):  # module level: loky pickles it by reference
    return key(params), train(params, data)


def arm_joblib(data, folder):
    from joblib import Parallel, delayed

    def run(round_):
        pairs = Parallel(n_jobs=N_JOBS, backend="loky")(
            delayed(_train_pair)(p, data) for p in grid_points())
        return dict(pairs), 18
    return run


def _optuna_space():
    from studies.iris import GRID

    # Optuna's choices must be plain scalars: the network size travels as its index
    return {"network_index": list(range(len(GRID["network_size"]))),
            "learning_rate": list(GRID["learning_rate"]), "algorithm": list(GRID["algorithm"])}


class _Objective:
    def __init__(self, data):
        self.data = data

    def __call__(self, trial):
        from studies.iris import GRID

        space = _optuna_space()
        params = {"network_size": GRID["network_size"][
                      trial.suggest_categorical("network_index", space["network_index"])],
                  "learning_rate": trial.suggest_categorical("learning_rate",
                                                             space["learning_rate"]),
                  "algorithm": trial.suggest_categorical("algorithm", space["algorithm"])}
        return train(params, self.data)


def _optuna_accuracies(study):
    from studies.iris import GRID

    trials = [t for t in study.trials if t.state.name == "COMPLETE"]
    return {key(dict(t.params, network_size=GRID["network_size"][t.params["network_index"]]))
            : t.value for t in trials}, len(study.trials)


def _quiet_optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def arm_optuna_threads(data, folder):
    optuna = _quiet_optuna()

    def run(round_):
        study = optuna.create_study(direction="maximize",
                                    sampler=optuna.samplers.GridSampler(_optuna_space(), seed=0))
        study.optimize(_Objective(data), n_jobs=N_JOBS)
        return _optuna_accuracies(study)
    return run


def _journal(path):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(path))


def _optimize_in_process(path, name, data):
    """One of the two processes: the same study, its own sampler, until the grid is done."""
    optuna = _quiet_optuna()
    study = optuna.load_study(study_name=name, storage=_journal(path),
                              sampler=optuna.samplers.GridSampler(_optuna_space(), seed=0))
    study.optimize(_Objective(data))
    return os.getpid()


def arm_optuna_processes(data, folder):
    import multiprocessing

    optuna = _quiet_optuna()
    path = os.path.join(folder, "optuna.log")
    pool = multiprocessing.Pool(N_JOBS)  # the platform's default start (fork on Linux)

    def run(round_):
        name = f"iris-{round_}"
        optuna.create_study(study_name=name, storage=_journal(path), direction="maximize")
        waits = [pool.apply_async(_optimize_in_process, (path, name, data))
                 for _ in range(N_JOBS)]
        pids = {w.get(timeout=600) for w in waits}
        assert len(pids) == N_JOBS, f"both optimize calls ran in one process: {pids}"
        return _optuna_accuracies(optuna.load_study(study_name=name, storage=_journal(path)))
    return run


def _sweep_arm(data, folder, executor, create_task=None, metric="accuracy_test"):
    from studies.iris import GRID
    from sweeps import sweep

    store = os.path.join(folder, "sweeps.log")

    def run(round_):
        if create_task is None:
            task, grid = create_hand_task, dict(GRID)
        else:
            task, grid = create_task, dict(GRID, epoch_count=EPOCHS)
        result = sweep(task, grid, data=data, name=f"iris-{round_}", store=store,
                       executor=executor, n_jobs=N_JOBS, progress=False)
        assert len(result) == 18 and all(r.ok for r in result), result.failed
        return {key(r.params): r.metrics[metric] for r in result}, len(result)
    return run


def arm_sweeps(data, folder):
    return _sweep_arm(data, folder, "processes")


def arm_sweeps_dask(data, folder):
    return _sweep_arm(data, folder, "dask")


def arm_sweeps_core(data, folder):
    from studies.iris import create_task, load_bundle

    return _sweep_arm(load_bundle(), folder, "processes", create_task=create_task)


def _tune_trainable(config):
    from ray import tune

    accuracy = train(config["params"], config["data"])
    tune.report({"accuracy": accuracy})


def arm_ray(data, folder):
    import ray
    from ray import tune

    ray.init(num_cpus=N_JOBS, include_dashboard=False, log_to_driver=False)

    def run(round_):
        tuner = tune.Tuner(
            tune.with_resources(_tune_trainable, {"cpu": 1}),
            param_space={"params": tune.grid_search(grid_points()), "data": data},
            tune_config=tune.TuneConfig(max_concurrent_trials=N_JOBS),
            run_config=tune.RunConfig(storage_path=os.path.join(folder, "ray"),
                                      name=f"iris-{round_}", verbose=0))
        results = tuner.fit()
        return {key(r.config["params"]): r.metrics["accuracy"] for r in results}, len(results)
    return run


def run_arm(arm):
    """In the fresh interpreter: two grids, timed; one JSON line on stdout."""
    if arm == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            print(json.dumps({"arm": arm, "missing": "not installed"}))
            return
    data = load_arrays()
    import torch  # noqa: F401  the driver's own imports are not what is measured

    with tempfile.TemporaryDirectory() as folder:
        run = globals()["arm_" + arm.replace("-", "_")](data, folder)
        times, accuracies, trials = [], [], []
        for round_ in ("cold", "warm"):
            start = time.perf_counter()
            values, count = run(round_)
            times.append(time.perf_counter() - start)
            accuracies.append(values)
            trials.append(count)
    print(json.dumps({"arm": arm, "cold": times[0], "warm": times[1], "trials": trials,
                      "accuracies": accuracies}))


# ----------------------------------------------------------------------------- the driver


def load_average():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def fresh(arm, epochs):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--arm", arm,
                           "--epochs", str(epochs)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"arm {arm!r} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def check_same(outcomes, reference):
    """Every run of every hand-written arm reports the reference's accuracies, point by point."""
    problems = []
    for outcome in outcomes:
        if outcome["arm"] == "sweeps-core":
            continue
        for round_, values in zip(("cold", "warm"), outcome["accuracies"]):
            if values != reference:
                differ = sorted(k for k in reference.keys() | values.keys()
                                if reference.get(k) != values.get(k))
                problems.append(f"{outcome['arm']} ({round_}): {len(differ)} points differ, "
                                f"e.g. {differ[:2]}")
    return problems


def main():
    global EPOCHS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arm", choices=ARMS, help="run one arm here (used by the driver)")
    parser.add_argument("--arms", default=",".join(ARMS),
                        help=f"comma-separated arms to compare; default {','.join(ARMS)}")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args()
    EPOCHS = args.epochs
    if args.arm:
        return run_arm(args.arm)
    arms = [a for a in args.arms.split(",") if a]
    unknown = [a for a in arms if a not in ARMS]
    if unknown or "plain" not in arms or args.repeats < 1:
        parser.error(f"--arms={args.arms!r} must list some of {ARMS}, 'plain' included (the "
                     f"baseline); --repeats={args.repeats!r} must be at least 1")
    print(f"iris grid, 18 tasks x {EPOCHS} epochs, {N_JOBS} workers where parallel, "
          f"{os.cpu_count()} cores; {args.repeats} interleaved repeats, each arm in a fresh "
          "process", flush=True)
    outcomes, loads = {a: [] for a in arms}, [load_average()]
    for repeat in range(args.repeats):
        for arm in arms:
            if outcomes[arm] and "missing" in outcomes[arm][0]:
                continue
            outcomes[arm].append(fresh(arm, EPOCHS))
            loads.append(load_average())
        print(f"  repeat {repeat + 1} done (load average {loads[-1]:.2f})", flush=True)
    reference = outcomes["plain"][0]["accuracies"][0]
    problems = check_same([o for runs in outcomes.values() for o in runs
                           if "missing" not in o], reference)
    plain = {r: statistics.median(o[r] for o in outcomes["plain"]) for r in ("cold", "warm")}
    print("\n| arm | cold s | warm s | cold / plain | warm / plain | trials |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for arm in arms:
        runs = outcomes[arm]
        if "missing" in runs[0]:
            print(f"| {arm} | {runs[0]['missing']} | | | | |")
            continue
        cold = statistics.median(o["cold"] for o in runs)
        warm = statistics.median(o["warm"] for o in runs)
        print(f"| {arm} | {cold:.2f} | {warm:.2f} | {cold / plain['cold']:.2f} | "
              f"{warm / plain['warm']:.2f} | {runs[0]['trials'][0]} |")
    print(f"\nmedian test accuracy {statistics.median(reference.values()):.3f}; ", end="")
    print("the same 18 accuracies in every hand-written arm" if not problems
          else "ACCURACIES DIFFER:\n  " + "\n  ".join(problems))
    # the parallel arms alone bring a 2-core machine near 2: the load before the first arm
    # tells whether someone else was using it too
    print(f"load average: {loads[0]:.2f} before the run, max {max(loads):.2f} during it"
          + (" (above 1.5: the machine was shared, the figures are noisy)"
             if max(loads) > 1.5 else ""))
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
