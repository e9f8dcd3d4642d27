"""Search spaces, samplers and pruners for ``search``: simple forms checked once, before anything runs.

A space maps ``create_task``'s argument names to Optuna distributions or to simple forms:

- ``(low, high)``: a float range, or an int range when both ends are ints;
- ``(low, high, 'log')``: the same, sampled on a log scale;
- a list of choices, any values (``network_size=[(), (10,), (10, 10)]``): Optuna holds choices
  that are not None/bool/int/float/str by their ``repr``, and the task gets the value itself.
"""
from __future__ import annotations

import difflib
import math
import numbers
from typing import Any, Optional

from ._codec import decode, encode
from ._errors import SweepsTypeError, SweepsValueError

SAMPLERS = ("tpe", "random", "cmaes", "grid")
PRUNERS = ("median", "hyperband", "successive_halving")
_PRIMITIVE = (type(None), bool, int, float, str)


class Space:
    """A checked search space: ``suggest(trial)`` samples one point (the task's params)."""

    def __init__(self, space: dict):
        self.space = space  # name -> Optuna distribution
        self.choices: dict[str, list] = {}  # name -> the real values of a categorical
        problems = []
        if not isinstance(space, dict) or not space:
            raise SweepsValueError(
                f"space={space!r:.200} must be a non-empty dict from create_task's argument names "
                "to distributions, e.g. space=dict(learning_rate=(1e-3, 1.0, 'log'), "
                "algorithm=['Adam', 'SGD'])")
        self.distributions = {}
        for name, value in space.items():
            try:
                self.distributions[name] = self._distribution(name, value)
            except SweepsValueError as error:
                problems.append(error)
        if problems:
            raise problems[0] if len(problems) == 1 else SweepsValueError(
                f"{len(problems)} problems with space=:\n" + "\n".join(f"  - {p}" for p in problems))

    def _distribution(self, name: str, value: Any) -> Any:
        import optuna.distributions as od

        if isinstance(value, od.BaseDistribution):
            return value
        if isinstance(value, list):
            if not value:
                raise SweepsValueError(f"space[{name!r}]=[] has no choices: give at least one")
            self.choices[name] = list(value)
            return od.CategoricalDistribution([_label(v) for v in value])
        if isinstance(value, tuple) and len(value) in (2, 3):
            low, high = value[0], value[1]
            log = len(value) == 3
            numbers_ok = all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                             for v in (low, high))
            if not numbers_ok or (log and value[2] != "log"):
                raise _not_a_range(name, value)
            if low >= high:
                raise SweepsValueError(
                    f"space[{name!r}]={value!r} is an empty range: low={low!r} must be below "
                    f"high={high!r}; swap them, or pass a list [{low!r}] for one value")
            if log and low <= 0:
                raise SweepsValueError(
                    f"space[{name!r}]={value!r} is a log range from low={low!r}: a log scale "
                    "needs low > 0, e.g. (1e-4, 1.0, 'log')")
            if isinstance(low, numbers.Integral) and isinstance(high, numbers.Integral):
                return od.IntDistribution(int(low), int(high), log=log)
            return od.FloatDistribution(float(low), float(high), log=log)
        raise _not_a_range(name, value)

    def suggest(self, trial: Any) -> dict:
        """Sample the task's params on an Optuna trial (real values, tuples included)."""
        import optuna.distributions as od

        params = {}
        for name, dist in self.distributions.items():
            if isinstance(dist, od.FloatDistribution):
                value = trial.suggest_float(name, dist.low, dist.high, log=dist.log, step=dist.step)
            elif isinstance(dist, od.IntDistribution):
                value = trial.suggest_int(name, dist.low, dist.high, log=dist.log, step=dist.step)
            elif isinstance(dist, od.CategoricalDistribution):
                value = trial.suggest_categorical(name, dist.choices)
                if name in self.choices:
                    value = self.choices[name][list(dist.choices).index(value)]
            else:
                raise SweepsTypeError(f"space[{name!r}]={dist!r} is a distribution sweeps cannot "
                                      "sample; use Float/Int/CategoricalDistribution")
            params[name] = value
        return params

    def first_point(self) -> dict:
        """One point of the space without sampling: each range's low end, each first choice."""
        point = {}
        for name, dist in self.distributions.items():
            if name in self.choices:
                point[name] = self.choices[name][0]
            elif hasattr(dist, "low"):
                point[name] = dist.low
            else:
                point[name] = dist.choices[0]
        return point

    def grid(self) -> dict:
        """The search space Optuna's GridSampler needs: every dimension must be a list."""
        import optuna.distributions as od

        ranges = [n for n, d in self.distributions.items()
                  if not isinstance(d, od.CategoricalDistribution)]
        if ranges:
            raise SweepsValueError(
                f"sampler='grid' needs a list of values for every dimension, but {ranges!r} "
                "are ranges; give lists, e.g. learning_rate=[0.01, 0.1, 1], or use sweep() for "
                "a grid")
        return {n: list(d.choices) for n, d in self.distributions.items()}

    def to_json(self) -> dict:
        """A form the store can hold and ``from_json`` rebuilds (for ``sweeps worker``)."""
        from optuna.distributions import distribution_to_json

        return {name: {"distribution": distribution_to_json(dist),
                       "choices": encode(self.choices.get(name))}
                for name, dist in self.distributions.items()}

    @classmethod
    def from_json(cls, data: dict) -> "Space":
        from optuna.distributions import json_to_distribution

        space = {}
        for name, item in data.items():
            choices = decode(item.get("choices"))
            space[name] = (list(choices) if choices is not None
                           else json_to_distribution(item["distribution"]))
        return cls(space)

    def __repr__(self) -> str:
        return f"Space({self.distributions!r})"


def check_grid_trials(grid: dict, n_trials: Any) -> None:
    """With sampler='grid', ``n_trials`` may not exceed the grid's points: Optuna's GridSampler
    would run the extra trials again on points it already ran (warning at each)."""
    points = math.prod(len(values) for values in grid.values())
    if isinstance(n_trials, int) and not isinstance(n_trials, bool) and n_trials > points:
        sizes = ", ".join(f"{name}: {len(values)} value{'s' if len(values) != 1 else ''}"
                          for name, values in grid.items())
        raise SweepsValueError(
            f"n_trials={n_trials!r} is more than the {points} points of this space ({sizes}), "
            f"and sampler='grid' runs each point once: pass n_trials={points}, add values to "
            "the space, or use another sampler")


def _label(value: Any) -> Any:
    return value if isinstance(value, _PRIMITIVE) else repr(value)


def _not_a_range(name: str, value: Any) -> SweepsValueError:
    return SweepsValueError(
        f"space[{name!r}]={value!r} is not a distribution, a range or a list of choices; use "
        "(low, high), (low, high, 'log'), a list such as ['Adam', 'SGD'], or an Optuna "
        "distribution (optuna.distributions.FloatDistribution(...))")


def _pick(kind: str, value: Any, names: tuple) -> None:
    if isinstance(value, str) and value not in names:
        close = difflib.get_close_matches(value, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise SweepsValueError(
            f"{kind}={value!r} is not a known {kind}.{hint} Expected one of {list(names)!r} or an "
            f"Optuna {kind} object")


def check_sampler(sampler: Any) -> None:
    """Refuse an unknown sampler name or something that is not an Optuna sampler."""
    import optuna

    _pick("sampler", sampler, SAMPLERS)
    if not isinstance(sampler, (str, optuna.samplers.BaseSampler)):
        raise SweepsTypeError(f"sampler={sampler!r} must be one of {list(SAMPLERS)!r} or an "
                              "optuna.samplers.BaseSampler")
    if sampler == "cmaes":
        try:
            import cmaes  # noqa: F401 - Optuna's CmaEsSampler imports it at the first trial
        except ImportError:
            raise SweepsValueError(
                "sampler='cmaes' needs the cmaes package, which is not installed here: "
                "pip install cmaes (or pass sampler='tpe')") from None


def check_pruner(pruner: Any) -> None:
    """Refuse an unknown pruner name or something that is not an Optuna pruner."""
    import optuna

    _pick("pruner", pruner, PRUNERS)
    if pruner is not None and not isinstance(pruner, (str, optuna.pruners.BasePruner)):
        raise SweepsTypeError(f"pruner={pruner!r} must be None, one of {list(PRUNERS)!r} or an "
                              "optuna.pruners.BasePruner")


def make_sampler(sampler: Any, space: Space, seed: Optional[int], slot: int,
                 offset: int = 0) -> Any:
    """The Optuna sampler of participant ``slot``: the first one of a new search uses ``seed``;
    the others, and every participant of a resumed search (``offset`` trials already held), use
    other seeds, so that they do not propose the points already proposed."""
    import optuna

    if not isinstance(sampler, str):
        if slot or offset:
            sampler.reseed_rng()
        return sampler
    seed = None if seed is None else seed + slot + 7919 * offset
    if sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    if sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.GridSampler(space.grid(), seed=seed)


def make_pruner(pruner: Any) -> Any:
    import optuna

    if pruner is None:
        return optuna.pruners.NopPruner()
    if not isinstance(pruner, str):
        return pruner
    return {"median": optuna.pruners.MedianPruner,
            "hyperband": optuna.pruners.HyperbandPruner,
            "successive_halving": optuna.pruners.SuccessiveHalvingPruner}[pruner]()
