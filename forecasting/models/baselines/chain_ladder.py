"""Chain ladder: volume-weighted development factors of cumulative collections across the pools.

The spread comes from resampling each period's deal-level link ratios (one resample per path, shared by every
deal); the tail beyond the data decays geometrically at the fitted rate of the last factors. A new pool gets the
portfolio's pooled first-period rate, developed by the factors.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.dataset import Dataset
from forecasting.models import random
from forecasting.models.base import Diagnostics, EstimatorTags, RecoveryEstimator
from forecasting.models.curve_forecast import CurveForecast
from forecasting.models.options import Name
from forecasting.models.paths import observed_rates
from forecasting.models.registry import register
from forecasting.models.summary import value_rows

MIN_DEALS_PER_FACTOR = 2


def development_factors(dataset: Dataset) -> tuple[list[float], list[np.ndarray]]:
    """Volume-weighted factors period p -> p + 1 and the deal-level link ratios behind each."""
    amounts = dataset.history.amounts.cumsum(axis=1).where(dataset.history.amounts.notna()).to_numpy()
    factors, ratios = [], []
    for p in range(1, amounts.shape[1]):
        both = np.isfinite(amounts[:, p]) & np.isfinite(amounts[:, p - 1]) & (amounts[:, p - 1] > 0)
        if both.sum() < MIN_DEALS_PER_FACTOR:
            break
        factors.append(amounts[both, p].sum() / amounts[both, p - 1].sum())
        ratios.append(amounts[both, p] / amounts[both, p - 1])
    return factors, ratios


def _develop(start: np.ndarray, n_dev: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Each deal developed from its last observed cum_rate with cumulative factors: (draws, deals, horizon)."""
    S, H = factors.shape
    cum_log = np.concatenate([np.zeros((S, 1)), np.cumsum(np.log(factors), axis=1)], axis=1)
    periods = np.arange(1, H + 1)
    growth = np.exp(cum_log[:, None, periods] - np.take_along_axis(cum_log, n_dev[None, :], axis=1)[..., None])
    return np.where(periods[None, None, :] <= n_dev[None, :, None], start[None, :, None], start[None, :, None] * growth)


@register("chain_ladder")
class ChainLadderBaseline(RecoveryEstimator):
    _tags = EstimatorTags(is_baseline=True)

    def __init__(self, name: Name = "baseline_chainladder"):
        self.name = name

    def _fit(self, dataset: Dataset) -> Diagnostics:
        factors, ratios = development_factors(dataset)
        self.factors_ = np.asarray(factors, float)
        self.link_ratios_ = ratios
        excess = np.log(np.maximum(self.factors_[-12:], 1 + 1e-12))
        slope = np.polyfit(np.arange(len(excess)), np.log(excess), 1)[0] if len(excess) >= 3 else -0.1
        self.tail_decay_ = float(np.exp(min(slope, -0.01)))  # excess log-factor shrinks by this each period
        h = dataset.history
        pooled = h.triangle("cum_rate", by=pd.Series(0, index=h.deal_ids)).iloc[0].dropna().to_numpy()
        self.first_period_rate_ = float(pooled[0]) if len(pooled) else 0.0
        return Diagnostics(True, None, (), {"deals": len(dataset.deals), "factors": len(factors)})

    def _factor_draws(self, horizon: int, n_draws: int, rng) -> np.ndarray:
        k = len(self.factors_)
        draws = np.ones((n_draws, horizon))
        for p in range(min(k, horizon - 1)):
            draws[:, p + 1] = rng.choice(self.link_ratios_[p], n_draws) if rng is not None else self.factors_[p]
        last = np.log(draws[:, k]) if 0 < k < horizon else np.full(n_draws, np.log(self.factors_[-1]) if k else 0.0)
        for p in range(k + 1, horizon):
            last = last * self.tail_decay_
            draws[:, p] = np.exp(last)
        draws[:, 0] = 1.0
        return np.maximum(draws, 1.0)

    def _predict(self, dataset: Dataset, horizon: int, n_draws: int, seed: int) -> CurveForecast:
        _, cum_obs, n_obs = observed_rates(dataset, horizon)
        start = np.where(n_obs > 0, cum_obs[np.arange(len(n_obs)), np.maximum(n_obs - 1, 0)], self.first_period_rate_)
        n_dev = np.maximum(n_obs, 1)
        paths = np.minimum(_develop(start, n_dev, self._factor_draws(horizon, n_draws, random.stream(seed, "params"))), 1.0)
        mean = np.minimum(_develop(start, n_dev, self._factor_draws(horizon, 1, None))[0], 1.0)
        seen = np.arange(1, horizon + 1)[None, :] <= n_obs[:, None]
        return CurveForecast(dataset.deal_ids, np.where(seen, cum_obs, mean), np.where(seen[None], cum_obs[None], paths),
                             n_obs)

    def _summary_rows(self, alpha: float) -> pd.DataFrame:
        terms = [f"{p}-{p + 1}" for p in range(1, len(self.factors_) + 1)]
        return pd.concat([value_rows("factor", terms, self.factors_),
                          value_rows("tail", ["decay"], [self.tail_decay_])], ignore_index=True)
