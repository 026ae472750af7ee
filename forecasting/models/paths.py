"""The realized-cash paths every family forecasts: the observed periods as they happened, then a gamma process.

``future`` is each draw's expected cum_rate gained after the deal's last observed period (draws, deals, horizon;
zero or below where nothing is due yet). Each later period's collections are Gamma with that period's expected
increment m as mean and ``unit * m`` as variance (the overdispersed Poisson's phi / n_borrowers), independent across
periods: paths never fall, never pass 1, and the band widens with the horizon as the variance adds up.
"""
from __future__ import annotations

import numpy as np

from forecasting.models import random

MIN_INCREMENT = 1e-12


def observed_state(cum_obs: np.ndarray, n_obs: np.ndarray) -> np.ndarray:
    """cum_rate at each deal's last observed period (0 where none): (..., deals) for ``cum_obs`` (..., deals,
    periods), e.g. per draw of paths whose value there differs by draw (an expected curve)."""
    last = cum_obs[..., np.arange(len(n_obs)), np.maximum(n_obs - 1, 0)]
    return np.where(n_obs > 0, last, 0.0)


def realized_paths(cum_obs: np.ndarray, n_obs: np.ndarray, future: np.ndarray, unit: np.ndarray, deal_ids,
                   random_state: int) -> np.ndarray:
    """Paths (draws, deals, horizon): observed cum_rate where observed, then its last value plus gamma noise around
    ``future`` (each deal's noise from its own stream). ``unit``: per deal, the variance of a unit of expected
    collections."""
    S, D, H = future.shape
    increment = np.diff(np.maximum(future, 0.0), axis=-1, prepend=0.0)
    noise = np.empty_like(future)
    unit = np.broadcast_to(np.asarray(unit, dtype=float), (D,))
    for j, deal in enumerate(deal_ids):
        rng = random.stream(random_state, "process", deal)
        noise[:, j] = np.cumsum(rng.gamma(np.maximum(increment[:, j], MIN_INCREMENT) / unit[j], unit[j]), axis=-1)
    seen = np.arange(1, H + 1)[None, :] <= n_obs[:, None]
    paths = np.where(seen[None], cum_obs[None], observed_state(cum_obs, n_obs)[None, :, None] + noise)
    return np.minimum(np.maximum.accumulate(np.maximum(paths, 0.0), axis=-1), 1.0)


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
