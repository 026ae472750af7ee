"""Development-age effects: a multiplicative correction per period of age on every pool's curve, where the
parametric timing family does not have the market's shape.

A timing family is a guess: on a market whose cash comes in a quick phase and a slow one, a Weibull fitted to it
is 20% too high at some ages and 20% too low at others, the same for every pool, and its forecasts of the tail are
biased. After the fit, each age t's actual collections A_t (summed over the pools observed at that age, CNY) are
set against the model's expected E_t, and

    y_t = mu + a_t + e_t,   a_t ~ N(0, sigma^2),   e_t ~ N(0, v_t),   v_t = Var(A_t) / E_t^2 (the ODP noise)

is the random-effects meta-analysis of the calendar effects (``shrinkage.py``): an age seen by few
pools, or with noisy collections, is shrunk towards no correction. The curve takes the shape it can, the a_t the
rest; with both, age and calendar effects are estimated in turn (backfitting). A forecast multiplies each future
period's expected collections by exp(a_t) of its age (1 at ages no pool has reached: there the family
extrapolates), like a chain ladder's development factors on top of the curve, each path with its own draw of every
factor, log-normal with a_t's posterior sd and mean exp(a_t) (shared by the pools of that path: an age's
correction is common to every pool).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.models.shrinkage import ShrunkEffects


@dataclass(frozen=True)
class AgeEffects(ShrunkEffects):
    """Fitted age effects: per observed age (periods since cut-off, ``key``) the shrunk effect (``ShrunkEffects``)."""

    def factor_draws(self, ages: np.ndarray, z: np.ndarray) -> np.ndarray:
        """exp(effect + sd z - sd^2 / 2) per draw and age, ``z`` (draws, len(ages)) standard normals: each age's
        correction drawn from its posterior's spread around the point factor exp(effect), which stays its mean (the
        centre of the forecast is the fitted one's), shared by every pool in a draw (1 at ages without an
        estimate)."""
        if not len(self.key):
            return np.ones(z.shape)
        at = np.minimum(np.searchsorted(self.key, ages), len(self.key) - 1)
        sd = self.effect_sd[at]
        return np.exp(np.where(self.key[at] == ages, self.effect[at] + sd * z - sd ** 2 / 2, 0.0))

    def table(self, alpha: float = 0.05) -> pd.DataFrame:
        """period (age), effect, se, lower, upper (exp(effect): collections at that age against the curve's),
        log_ratio (before shrinkage, centred)."""
        return pd.DataFrame({"period": self.key, **self.bands(alpha)})
