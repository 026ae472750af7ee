"""Multiplicative effects shared by the cells of one key (a calendar period, an age), estimated by a
random-effects meta-analysis of the log ratios of actual to fitted collections.

Per key k, with A_k and E_k the actual and the model's expected collections summed over its cells (CNY),

    y_k = log(A_k / E_k) = mu + c_k + e_k,   c_k ~ N(0, sigma^2),   e_k ~ N(0, v_k),   v_k = Var(A_k) / E_k^2

mu and sigma^2 maximise the marginal likelihood of the y_k, and each effect is its posterior mean
sigma^2 / (sigma^2 + v_k) (y_k - mu), with variance sigma^2 v_k / (sigma^2 + v_k): a key with few or noisy cells is
shrunk towards no effect, and mu (the overall level) is left to the model.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

MAX_LOG_SD = 3.0
BACKFIT_ROUNDS = 8  # a fit and its shrunk effects re-estimated in turn at most this often
SETTLED = 0.005  # until no effect moves by this much (log scale)


def random_effects(y: np.ndarray, v: np.ndarray) -> tuple[float, float, float]:
    """mu, sigma^2 maximising the marginal likelihood of y_i ~ N(mu, sigma^2 + v_i), and Var(mu) given sigma^2."""
    def profile(log_sd: float) -> float:  # -log likelihood with mu at its weighted mean
        total = np.exp(2 * log_sd) + v
        mu = np.sum(y / total) / np.sum(1 / total)
        return 0.5 * np.sum(np.log(total) + (y - mu) ** 2 / total)

    best = minimize_scalar(profile, bounds=(-12.0, np.log(MAX_LOG_SD)), method="bounded")
    sigma2 = np.exp(2 * best.x) if best.x > -11.5 else 0.0  # the lower bound: no common effect
    precision = np.sum(1 / (sigma2 + v))
    return float(np.sum(y / (sigma2 + v)) / precision), float(sigma2), float(1 / precision)


def shrunk_log_ratios(keys: np.ndarray, actual: np.ndarray, expected: np.ndarray, variance: np.ndarray):
    """Over the cells grouped by ``keys``: the keys with actual and expected collections, their log ratios y,
    noise variances v, posterior effects and sds, sigma, mu."""
    keys, where = np.unique(keys, return_inverse=True)
    A, E = np.bincount(where, actual), np.bincount(where, expected)
    V = np.bincount(where, variance)
    ok = (A > 0) & (E > 0)
    y, v = np.log(A[ok] / E[ok]), V[ok] / E[ok] ** 2
    if len(y) < 3:
        return keys[ok], y, v, np.zeros(len(y)), np.zeros(len(y)), 0.0, 0.0
    mu, sigma2, _ = random_effects(y, v)
    total = sigma2 + v
    shrink = sigma2 / total
    return keys[ok], y, v, shrink * (y - mu), np.sqrt(sigma2 * v / total), float(np.sqrt(sigma2)), mu


@dataclass(frozen=True)
class ShrunkEffects:
    """Per observed key: the log ratio, its noise variance, the posterior effect and its sd; the effects' sd sigma
    and mean mu."""

    key: np.ndarray
    log_ratio: np.ndarray
    noise_var: np.ndarray
    effect: np.ndarray
    effect_sd: np.ndarray
    sigma: float
    mu: float

    @classmethod
    def fit(cls, keys: np.ndarray, actual: np.ndarray, expected: np.ndarray, variance: np.ndarray, **extra):
        """From per-cell keys, actual and expected collections and the expected's noise variance (``extra``: a
        subclass's own fields)."""
        return cls(*shrunk_log_ratios(np.asarray(keys, int), actual, expected, variance), **extra)

    def bands(self, alpha: float = 0.05) -> dict[str, np.ndarray]:
        """effect, se, lower, upper of the (1 - alpha) band, log_ratio (before shrinkage, centred): a table's
        columns after its key."""
        from scipy.stats import norm
        z = norm.ppf(1 - alpha / 2)
        return {"effect": self.effect, "se": self.effect_sd, "lower": self.effect - z * self.effect_sd,
                "upper": self.effect + z * self.effect_sd, "log_ratio": self.log_ratio - self.mu}

    def factors(self, key: np.ndarray) -> np.ndarray:
        """exp(effect) at each key (1 where the key has no estimate)."""
        key = np.asarray(key, int)
        if not len(self.key):
            return np.ones(key.shape)
        at = np.minimum(np.searchsorted(self.key, key), len(self.key) - 1)
        return np.where(self.key[at] == key, np.exp(self.effect[at]), 1.0)


def settled(before: ShrunkEffects | None, after: ShrunkEffects) -> bool:
    """Whether backfitting may stop: the same keys, no effect moved by SETTLED."""
    return (before is not None and len(before.effect) == len(after.effect)
            and np.max(np.abs(before.effect - after.effect), initial=0) < SETTLED)
