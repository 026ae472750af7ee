"""Multiplicative effects shared by the cells of one key (a calendar period, an age), estimated by a
random-effects meta-analysis of the log ratios of actual to fitted collections.

Per key k, with A_k and E_k the actual and the model's expected collections summed over its cells (CNY),

    y_k = log(A_k / E_k) = mu + c_k + e_k,   c_k ~ N(0, sigma^2),   e_k ~ N(0, v_k),   v_k = Var(A_k) / E_k^2

mu and sigma^2 maximise the marginal likelihood of the y_k, and each effect is its posterior mean
sigma^2 / (sigma^2 + v_k) (y_k - mu), with variance sigma^2 v_k / (sigma^2 + v_k): a key with few or noisy cells is
shrunk towards no effect, and mu (the overall level) is left to the model. With ``df`` (calendar effects) the prior
is a t instead, c_k ~ t_df(0, scale^2), its marginal likelihood and posteriors integrated numerically
(``t_effects``): a shock far beyond the ordinary spread is then hardly shrunk.
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, minimize_scalar

MAX_LOG_SD = 3.0
BACKFIT_ROUNDS = 8  # a fit and its shrunk effects re-estimated in turn at most this often
SETTLED = 0.005  # until no effect moves by this much (log scale)


def random_effects(y: np.ndarray, v: np.ndarray, mean: float | None = None) -> tuple[float, float, float]:
    """mu, sigma^2 maximising the marginal likelihood of y_i ~ N(mu, sigma^2 + v_i), and Var(mu) given sigma^2;
    with ``mean`` mu is that value (Var 0), not estimated."""
    def centre(total: np.ndarray) -> float:
        return np.sum(y / total) / np.sum(1 / total) if mean is None else mean

    def profile(log_sd: float) -> float:  # -log likelihood with mu at its weighted mean
        total = np.exp(2 * log_sd) + v
        return 0.5 * np.sum(np.log(total) + (y - centre(total)) ** 2 / total)

    best = minimize_scalar(profile, bounds=(-12.0, np.log(MAX_LOG_SD)), method="bounded")
    sigma2 = np.exp(2 * best.x) if best.x > -11.5 else 0.0  # the lower bound: no common effect
    total = sigma2 + v
    return float(centre(total)), float(sigma2), float(1 / np.sum(1 / total)) if mean is None else 0.0


# the t prior as a scale mixture: c ~ N(0, scale^2 / lam), lam ~ Gamma(df / 2, rate df / 2), integrated over a
# grid in log lam wide enough for an effect hundreds of scales from 0
LOG_LAM = np.linspace(np.log(1e-7), np.log(30.0), 400)


def t_mixture(y: np.ndarray, v: np.ndarray, mu: float, scale: float, df: float) -> tuple[np.ndarray, np.ndarray]:
    """log p(y_k, lam_j) on the grid (keys, grid) when y_k - mu = c_k + e_k, c_k ~ N(0, scale^2 / lam_j) with lam
    from its gamma, e_k ~ N(0, v_k); and the prior variances s = scale^2 / lam_j. Summed over j (in exp), the
    marginal likelihood of y_k under the t prior."""
    s = scale ** 2 / np.exp(LOG_LAM)[None, :]
    total = s + v[:, None]
    return _log_weights(df) - 0.5 * (np.log(2 * np.pi * total) + (y[:, None] - mu) ** 2 / total), s


@functools.lru_cache(maxsize=4)
def _log_weights(df: float) -> np.ndarray:
    """log of each grid point's prior mass for lam ~ Gamma(df / 2, rate df / 2), normalised over ``LOG_LAM`` (the
    same at every step of a fit: computed once per df)."""
    from scipy.special import logsumexp
    from scipy.stats import gamma
    lam = np.exp(LOG_LAM)
    log_w = gamma.logpdf(lam, df / 2, scale=2 / df) + LOG_LAM + np.log(np.gradient(LOG_LAM))  # d lam = lam d log lam
    log_w = log_w - logsumexp(log_w)
    log_w.setflags(write=False)  # shared by every caller
    return log_w


def t_effects(y: np.ndarray, v: np.ndarray, df: float) -> tuple[float, float, np.ndarray, np.ndarray]:
    """mu, the effects' sd and each key's posterior mean and sd of c_k when y_k = mu + c_k + e_k,
    c_k ~ t_df(0, scale^2), e_k ~ N(0, v_k): mu and the scale maximise the marginal likelihood (``t_mixture``). A
    heavy-tailed prior shrinks an ordinary key as the normal would and a shock far beyond the others hardly at all:
    with a normal prior a shock is pulled toward 0 by the spread it inflates, and what is left of it is read by the
    model as the pools' own."""
    from scipy.special import logsumexp

    def nll(x: np.ndarray) -> float:
        return -float(np.sum(logsumexp(t_mixture(y, v, x[0], np.exp(x[1]), df)[0], axis=1)))

    mu0, sigma2, _ = random_effects(y, v)
    starts = [(mu0, np.log(max(np.sqrt(sigma2), 1e-3))), (float(np.median(y)), np.log(0.01))]
    best = min((minimize(nll, x0, method="L-BFGS-B", bounds=[(None, None), (-12.0, np.log(MAX_LOG_SD))])
                for x0 in starts), key=lambda r: r.fun)
    if not best.success:
        warnings.warn(f"calendar effects: the t prior's fit did not converge ({best.message}); its effects are the "
                      "last iterate's", RuntimeWarning, stacklevel=2)
    mu, log_scale = float(best.x[0]), float(best.x[1])
    if log_scale <= -11.5:  # the lower bound: no common effect
        return mu, 0.0, np.zeros(len(y)), np.zeros(len(y))
    log_p, s = t_mixture(y, v, mu, np.exp(log_scale), df)
    p = np.exp(log_p - logsumexp(log_p, axis=1, keepdims=True))  # each key's posterior over lam
    shrink = s / (s + v[:, None])
    mean_q, var_q = shrink * (y - mu)[:, None], shrink * v[:, None]
    mean = np.sum(p * mean_q, axis=1)
    sd = np.sqrt(np.maximum(np.sum(p * (var_q + mean_q ** 2), axis=1) - mean ** 2, 0.0))
    return mu, float(np.exp(log_scale) * np.sqrt(df / (df - 2))), mean, sd


def log_ratios(keys: np.ndarray, actual: np.ndarray, expected: np.ndarray,
               variance: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Over the cells grouped by ``keys``: the keys with actual and expected collections, their log ratios y and
    noise variances v."""
    keys, where = np.unique(np.asarray(keys, int), return_inverse=True)
    A, E = np.bincount(where, actual), np.bincount(where, expected)
    V = np.bincount(where, variance)
    ok = (A > 0) & (E > 0)
    return keys[ok], np.log(A[ok] / E[ok]), V[ok] / E[ok] ** 2


def shrunk_log_ratios(keys: np.ndarray, actual: np.ndarray, expected: np.ndarray, variance: np.ndarray,
                      df: float | None = None):
    """Over the cells grouped by ``keys``: the keys, their log ratios y, noise variances v (``log_ratios``),
    posterior effects and sds, sigma (the effects' sd), mu. ``df``: the effects' prior a t with so many degrees of
    freedom (``t_effects``), else normal."""
    keys, y, v = log_ratios(keys, actual, expected, variance)
    if len(y) < 3:
        return keys, y, v, np.zeros(len(y)), np.zeros(len(y)), 0.0, 0.0
    if df is not None:
        mu, sigma, effect, effect_sd = t_effects(y, v, df)
        return keys, y, v, effect, effect_sd, sigma, mu
    mu, sigma2, _ = random_effects(y, v)
    total = sigma2 + v
    shrink = sigma2 / total
    return keys, y, v, shrink * (y - mu), np.sqrt(sigma2 * v / total), float(np.sqrt(sigma2)), mu


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
    def fit(cls, keys: np.ndarray, actual: np.ndarray, expected: np.ndarray, variance: np.ndarray,
            df: float | None = None, **extra):
        """From per-cell keys, actual and expected collections and the expected's noise variance (``df``: a t prior,
        ``shrunk_log_ratios``; ``extra``: a subclass's own fields)."""
        return cls(*shrunk_log_ratios(keys, actual, expected, variance, df), **extra)

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
