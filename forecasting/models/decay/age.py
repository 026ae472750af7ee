"""Development-age effects: a multiplicative correction per period of age on every pool's curve, where the
parametric timing family does not have the market's shape.

A timing family is a guess: on a market whose cash comes in a quick phase and a slow one, a Weibull fitted to it
is 20% too high at some ages and 20% too low at others, the same for every pool, and its forecasts of the tail are
biased. After the fit, each age t's actual collections A_t (summed over the pools observed at that age, CNY) are
set against the model's expected E_t, and

    y_t = mu + a_t + e_t,   a_t = w_t + u_t,   e_t ~ N(0, v_t),   v_t = Var(A_t) / E_t^2 (the ODP noise)
    w_t - w_s ~ N(0, step_sd^2 (t - s)),  w_0 = 0     (a random walk over ages: the smooth part)
    u_t ~ N(0, sigma^2)                                (each age's own: a bump at a few ages)

the random-effects meta-analysis of the calendar effects (``shrinkage.py``) with a smooth part added: the two sds
by restricted likelihood, so the data say how smooth the correction is. A family read through a shape it does not
have errs smoothly over ages (a Weibull's tail on a market with a slow second phase is too thin at every age from
three years on); with the independent part alone an age that few pools have reached is shrunk to no correction,
just where the tail needs it, while the walk lets it keep the correction of the ages before. The curve takes the
shape it can, the a_t the rest; with both, age and calendar effects are estimated in turn (backfitting). A forecast
multiplies each future period's expected collections by exp(a_t) of its age (1 at ages no pool has reached: there
the family extrapolates), like a chain ladder's development factors on top of the curve, each path with its own
draw of the factors from their joint posterior, log-normal with mean exp(a_t) (shared by the pools of that path: an
age's correction is common to every pool).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import minimize

from forecasting.models import random
from forecasting.models.shrinkage import MAX_LOG_SD, ShrunkEffects, log_ratios, random_effects

LOWEST = -12.0  # log sd: the bound that means no such part


def smooth_effects(age: np.ndarray, y: np.ndarray, v: np.ndarray) -> tuple[float, float, float, np.ndarray,
                                                                            np.ndarray]:
    """mu, sigma (the independent part's sd), step_sd (the walk's, per period), the posterior mean of a_t per age
    and its posterior covariance (module docstring): the sds maximise the restricted likelihood (mu integrated out
    under a flat prior), mu is their GLS estimate."""
    walk = np.minimum.outer(age, age).astype(float)
    ones = np.ones(len(y))

    def prior(log_sds: np.ndarray) -> np.ndarray:
        return np.exp(2 * log_sds[0]) * np.eye(len(y)) + np.exp(2 * log_sds[1]) * walk

    def solve(log_sds: np.ndarray) -> tuple[tuple, float, np.ndarray, float]:
        """The factor of the marginal covariance, mu, Sigma^-1 (y - mu) and log det Sigma."""
        factor = cho_factor(prior(log_sds) + np.diag(v), lower=True)
        to_ones, to_y = cho_solve(factor, np.column_stack([ones, y])).T
        mu = float(ones @ to_y / (ones @ to_ones))
        return factor, mu, to_y - mu * to_ones, 2 * np.sum(np.log(np.diag(factor[0])))

    def restricted(log_sds: np.ndarray) -> float:  # -log restricted likelihood
        factor, mu, scaled, logdet = solve(log_sds)
        return 0.5 * (logdet + np.log(ones @ cho_solve(factor, ones)) + (y - mu) @ scaled)

    mu0, sigma2_0, _ = random_effects(y, v)  # the independent part alone: a start, and the answer if neither part
    starts = [np.array([np.log(max(np.sqrt(sigma2_0), 1e-3)), LOWEST + 6]), np.array([LOWEST + 6, np.log(0.02)])]
    bounds = [(LOWEST, np.log(MAX_LOG_SD))] * 2
    best = min((minimize(restricted, x0, method="L-BFGS-B", bounds=bounds) for x0 in starts), key=lambda r: r.fun)
    if not best.success:
        warnings.warn(f"age effects: the sds' fit did not converge ({best.message}); the effects are the last "
                      "iterate's", RuntimeWarning, stacklevel=2)
    log_sds = np.where(best.x > LOWEST + 0.5, best.x, -np.inf)  # at the bound: no such part
    if np.all(np.isinf(log_sds)):
        return mu0, 0.0, 0.0, np.zeros(len(y)), np.zeros((len(y), len(y)))
    factor, mu, scaled, _ = solve(log_sds)
    a = prior(log_sds)
    cov = a - a @ cho_solve(factor, a)
    return mu, float(np.exp(log_sds[0])), float(np.exp(log_sds[1])), a @ scaled, (cov + cov.T) / 2


@dataclass(frozen=True)
class AgeEffects(ShrunkEffects):
    """Fitted age effects: per observed age (periods since cut-off, ``key``) the shrunk effect (``ShrunkEffects``;
    ``sigma`` the independent part's sd), ``step_sd`` the smooth part's (module docstring) and ``effect_cov`` the
    effects' posterior covariance (the smooth part ties neighbouring ages' errors together)."""

    step_sd: float
    effect_cov: np.ndarray

    @classmethod
    def fit(cls, keys: np.ndarray, actual: np.ndarray, expected: np.ndarray, variance: np.ndarray) -> AgeEffects:
        """From per-cell ages, actual and expected collections and the expected's noise variance."""
        age, y, v = log_ratios(keys, actual, expected, variance)
        if len(y) < 3:
            return cls(age, y, v, np.zeros(len(y)), np.zeros(len(y)), 0.0, 0.0, 0.0, np.zeros((len(y), len(y))))
        mu, sigma, step_sd, effect, cov = smooth_effects(age, y, v)
        return cls(age, y, v, effect, np.sqrt(np.maximum(np.diag(cov), 0.0)), sigma, mu, step_sd, cov)

    def factor_draws(self, ages: np.ndarray, z: np.ndarray) -> np.ndarray:
        """exp(effect + e - sd^2 / 2) per draw and age, e drawn from the effects' joint posterior (``effect_cov``)
        with ``z`` (draws, len(ages)) standard normals: each age's correction spread around the point factor
        exp(effect), which stays its mean (the centre of the forecast is the fitted one's), neighbouring ages' errors
        together as the posterior ties them, shared by every pool in a draw (1 at ages without an estimate)."""
        out = np.ones(z.shape)
        if not len(self.key):
            return out
        at = np.minimum(np.searchsorted(self.key, ages), len(self.key) - 1)
        known = np.flatnonzero(self.key[at] == ages)
        cov = self.effect_cov[np.ix_(at[known], at[known])]
        error = z[:, known] @ random.covariance_root(cov).T
        out[:, known] = np.exp(self.effect[at[known]] + error - np.diag(cov) / 2)
        return out

    def table(self, alpha: float = 0.05) -> pd.DataFrame:
        """period (age), effect, se, lower, upper (exp(effect): collections at that age against the curve's),
        log_ratio (before shrinkage, centred)."""
        return pd.DataFrame({"period": self.key, **self.bands(alpha)})
