"""The realized-cash paths every family forecasts: the observed periods as they happened, then each later period's
collections drawn around the forecast.

``future`` is each draw's expected cum_rate gained after the deal's last observed period (draws, deals, horizon;
zero or below where nothing is due yet). Each later period's collections X have that period's expected increment m
as mean and ``unit * m`` as variance (the overdispersed Poisson's phi / n_borrowers), independent across periods:
paths never fall, never pass 1, and the band widens with the horizon as the variance adds up. Their distribution is
a compound Poisson: N ~ Poisson(lambda) payments, each Gamma with shape alpha (``payment_shape``) and mean
unit alpha / (alpha + 1), so that

    E X = m,   Var X = unit m,   P(X = 0) = exp(-k (1 + 1 / alpha)),   k = m / unit,   lambda = k (1 + 1 / alpha)

(the sum of N payments is Gamma(N alpha), one draw). alpha -> infinity is the overdispersed Poisson itself (every
payment the same size: the most periods with nothing), alpha -> 0 a Gamma(k, unit) with no period quite empty
(alpha = 0, the distribution until 0.7.12). Which one a market is shows in how many of its periods collected
nothing: ``payment_shape`` is alpha's maximum likelihood from the fitted cells' zeros. An insurer's late
development or a pool's tail is a few lumpy payments with many empty periods between (CAS: 46-72% of commercial auto
cells at ages 7-10 are zero, where a Gamma(k, unit) gives 17-60% and the overdispersed Poisson 66-91%); a Gamma
would put small amounts in every one of them, and a pool that stops paying would fall below every path.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from forecasting.models import random

MIN_INCREMENT = 1e-12
SHAPES = (1e-4, 1e4)  # the payment shapes searched: from a Gamma's no empty period to the overdispersed Poisson's


def observed_state(cum_obs: np.ndarray, n_obs: np.ndarray) -> np.ndarray:
    """cum_rate at each deal's last observed period (0 where none): (..., deals) for ``cum_obs`` (..., deals,
    periods), e.g. per draw of paths whose value there differs by draw (an expected curve)."""
    last = cum_obs[..., np.arange(len(n_obs)), np.maximum(n_obs - 1, 0)]
    return np.where(n_obs > 0, last, 0.0)


def realized_paths(cum_obs: np.ndarray, n_obs: np.ndarray, future: np.ndarray, unit: np.ndarray, deal_ids,
                   random_state: int, payment_shape: float = 0.0) -> np.ndarray:
    """Paths (draws, deals, horizon): observed cum_rate where observed, then its last value plus each period's
    collections around ``future`` (module docstring; each deal's from its own stream). ``unit``: per deal, the
    variance of a unit of expected collections."""
    S, D, H = future.shape
    increment = np.diff(np.maximum(future, 0.0), axis=-1, prepend=0.0)
    noise = np.empty_like(future)
    unit = np.broadcast_to(np.asarray(unit, dtype=float), (D,))
    for j, deal in enumerate(deal_ids):
        rng = random.stream(random_state, "process", deal)
        noise[:, j] = np.cumsum(collections(rng, increment[:, j], unit[j], payment_shape), axis=-1)
    seen = np.arange(1, H + 1)[None, :] <= n_obs[:, None]
    paths = np.where(seen[None], cum_obs[None], observed_state(cum_obs, n_obs)[None, :, None] + noise)
    return np.minimum(np.maximum.accumulate(np.maximum(paths, 0.0), axis=-1), 1.0)


def collections(rng: np.random.Generator, mean: np.ndarray, unit: float, payment_shape: float) -> np.ndarray:
    """One draw of each period's collections with mean ``mean`` and variance unit x mean (module docstring)."""
    if payment_shape <= 0:
        return rng.gamma(np.maximum(mean, MIN_INCREMENT) / unit, unit)
    rate = (payment_shape + 1.0) / unit  # of each payment's Gamma
    count = rng.poisson(np.maximum(mean, 0.0) * rate / payment_shape)
    return np.where(count > 0, rng.gamma(np.maximum(count * payment_shape, MIN_INCREMENT), 1.0 / rate), 0.0)


def zero_probability(k: np.ndarray, payment_shape: float) -> np.ndarray:
    """P(a period collects nothing) for k = expected collections / unit (module docstring)."""
    if payment_shape <= 0:
        return np.zeros_like(k, dtype=float)
    return np.exp(-k * (1.0 + 1.0 / payment_shape))


def fit_payment_shape(k: np.ndarray, zero: np.ndarray) -> float:
    """alpha maximising the likelihood of which cells collected nothing (``zero``), given each cell's k = expected
    collections / unit: P(zero) = exp(-k (1 + 1 / alpha)). 0 (the Gamma) when no cell is zero; the bound SHAPES[1]
    when the zeros are as many as the overdispersed Poisson gives or more."""
    k, zero = np.asarray(k, float), np.asarray(zero, bool)
    if not zero.any():
        return 0.0

    def minus_loglik(log_shape: float) -> float:
        lam = k * (1.0 + np.exp(-log_shape))
        return float(np.sum(lam[zero]) - np.sum(np.log(-np.expm1(-np.maximum(lam[~zero], 1e-300)))))

    best = minimize_scalar(minus_loglik, bounds=np.log(SHAPES), method="bounded", options={"xatol": 1e-3})
    return float(np.exp(best.x))


def observed_rates(dataset, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The deals' observed history on periods 1..horizon: period rates (0 where unobserved), cum_rate (0 where
    unobserved) and the number of observed periods, each deal in dataset order."""
    ids = dataset.deal_ids
    rates = np.zeros((len(ids), horizon))
    n_obs = np.zeros(len(ids), dtype=int)
    if len(dataset.collections):
        seen = dataset.history.period_rate.reindex(ids).to_numpy()
        width = min(seen.shape[1], horizon)
        n_obs = np.minimum(np.isfinite(seen).sum(axis=1), horizon)
        rates[:, :width] = np.nan_to_num(seen[:, :width])
    mask = np.arange(1, horizon + 1)[None, :] <= n_obs[:, None]
    rates = rates * mask
    return rates, np.cumsum(rates, axis=1) * mask, n_obs
