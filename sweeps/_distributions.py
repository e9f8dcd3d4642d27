"""Optuna params for a task's params: one distribution per param, the same across a study.

Optuna holds a param as None/bool/int/float/str with a distribution, and refuses to change a
param's distribution inside a study. Ints and floats become one-point Int/FloatDistributions;
everything else a CategoricalDistribution over the sweep's choices, non-scalar values shown by
their ``repr``. A value that cannot fit the distribution the study already holds is left out of
the Optuna params (the exact params are kept in the trial's user attrs anyway).
"""
from __future__ import annotations

import logging
import math
from typing import Any, Optional

logger = logging.getLogger(__name__)

# A categorical param with more choices than this is left out of the Optuna params.
MAX_CHOICES = 32


def _optuna_value(value: Any) -> Any:
    """A value Optuna can hold as a param: None/bool/int/float/str, else the value's repr."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _grid_choices(meta: Optional[dict]) -> dict[str, tuple]:
    """param -> its choices in ``meta['grid']`` (a dict of lists, or a list of such dicts)."""
    grid = (meta or {}).get("grid")
    grids = grid if isinstance(grid, (list, tuple)) else [grid]
    choices: dict[str, dict] = {}
    for sub in grids:
        if not isinstance(sub, dict):
            continue
        for key, values in sub.items():
            values = values if isinstance(values, (list, tuple)) else [values]
            bucket = choices.setdefault(key, {})
            for v in values:
                v = _optuna_value(v)
                bucket.setdefault((type(v), v), v)
    return {key: tuple(bucket.values()) for key, bucket in choices.items()}


class ParamKinds:
    """The distributions a study holds per param, and how to fit new params to them."""

    def __init__(self, meta: Optional[dict], trials: Any = ()):
        self.choices = _grid_choices(meta)
        self.kinds: dict[str, Any] = {}
        for trial in trials:
            for key, dist in trial.distributions.items():
                self.kinds.setdefault(key, dist)

    def fit(self, raw: dict) -> tuple[dict, dict]:
        """The Optuna params and distributions of one task, consistent across the study."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        params, distributions = {}, {}
        for key, value in raw.items():
            value = _optuna_value(value)
            known = self.kinds.get(key)
            if known is None:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    choices = self.choices.get(key, ())
                    if len(choices) > MAX_CHOICES:
                        # each trial stores its distribution: all the choices in every trial
                        # would grow the store with the square of the grid; the exact value
                        # is in the trial's user attrs (and the dashboard's note) anyway
                        continue
                    if not any(type(c) is type(value) and c == value for c in choices):
                        choices = (*choices, value)
                    known = CategoricalDistribution(choices)
                elif isinstance(value, int) and all(
                    isinstance(c, int) and not isinstance(c, bool)
                    for c in self.choices.get(key, (value,))
                ):
                    known = IntDistribution(value, value)
                else:
                    known = FloatDistribution(float(value), float(value))
                self.kinds[key] = known
            dist = _fit(known, value)
            if dist is None:
                logger.debug("param %r=%r left out of the Optuna params: %r", key, value, known)
                continue
            params[key] = float(value) if isinstance(dist, FloatDistribution) else value
            distributions[key] = dist
        return params, distributions


def _fit(known: Any, value: Any) -> Any:
    """A distribution for ``value`` that Optuna accepts next to ``known``; None if none."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(known, CategoricalDistribution):
        hit = any(type(c) is type(value) and c == value for c in known.choices)
        return known if hit else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(known, IntDistribution):
        if isinstance(value, int) and not known.log:
            return IntDistribution(value, value)
        return None
    if isinstance(known, FloatDistribution) and math.isfinite(value) and not known.log:
        return FloatDistribution(float(value), float(value))
    return None
