"""The baselines analysts use today, as models with the shared interface (names start with ``baseline_``).

Each gives a point forecast and draws, so its coverage can be scored like any model's:
- chain ladder: volume-weighted development factors of cumulative collections; the spread comes from resampling
  each period's deal-level link ratios; the tail beyond the data decays geometrically at the fitted rate of the
  last factors. A new pool gets the portfolio's average curve (its pooled cum_rate by period).
- agency: the deal's est_gross_recovery, spread over time by the portfolio's average timing curve; the spread comes
  from the training deals' actual-to-agency ratios at their latest period.
- vintage mean: the opb-weighted average curve of the most recent vintages with enough history; the spread comes
  from the individual curves of those vintages' deals.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.history import RecoveryHistory
from forecasting.models.base import CurveForecast

MIN_DEALS_PER_FACTOR = 2


def _history(deals: pd.DataFrame, collections: pd.DataFrame) -> RecoveryHistory:
    return RecoveryHistory.from_tables(deals, collections, pd.Timestamp.max)


def _observed(deals: pd.DataFrame, observed: RecoveryHistory | None, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Observed cum_rate (NaN where unobserved) on periods 1..horizon, and observed period counts."""
    ids = deals["deal_id"].astype(str)
    cum = np.full((len(ids), horizon), np.nan)
    if observed is not None:
        c = observed.cum_rate.reindex(ids).to_numpy()[:, :horizon]
        cum[:, : c.shape[1]] = c
    return cum, np.nan_to_num(np.isfinite(cum).sum(axis=1)).astype(int)


def _chain(start: np.ndarray, n_obs: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Develop each deal from its last observed cum_rate with cumulative factors; rows (draws, deals, horizon)."""
    S, H = factors.shape
    out = np.empty((S, len(n_obs), H))
    # factors[:, i] develops period i to period i + 1 (factors[:, 0] = 1); cum_log[:, p] = sum of logs up to period p
    cum_log = np.concatenate([np.zeros((S, 1)), np.cumsum(np.log(factors), axis=1)], axis=1)
    for i, k in enumerate(n_obs):
        periods = np.arange(1, H + 1)
        growth = np.exp(cum_log[:, periods] - cum_log[:, [k]])
        out[:, i, :] = np.where(periods <= k, start[i], start[i] * growth)
    return out


class ChainLadderBaseline:
    name = "baseline_chainladder"

    def fit(self, deals, collections, loans=None, loan_collections=None):
        h = _history(deals, collections)
        cum = h.cum_rate.to_numpy()
        amounts = h.amounts.cumsum(axis=1).to_numpy()
        H = cum.shape[1]
        self.factors_, self.link_ratios_ = [], []
        for p in range(1, H):
            both = np.isfinite(amounts[:, p]) & np.isfinite(amounts[:, p - 1]) & (amounts[:, p - 1] > 0)
            if both.sum() < MIN_DEALS_PER_FACTOR:
                break
            self.factors_.append(amounts[both, p].sum() / amounts[both, p - 1].sum())
            self.link_ratios_.append(amounts[both, p] / amounts[both, p - 1])
        excess = np.log(np.maximum(np.array(self.factors_[-12:]), 1 + 1e-12))
        slope = np.polyfit(np.arange(len(excess)), np.log(excess), 1)[0] if len(excess) >= 3 else -0.1
        self.tail_decay_ = float(np.exp(min(slope, -0.01)))  # excess log-factor shrinks by this each period
        pooled = h.triangle("cum_rate", by=pd.Series(0, index=h.deal_ids)).iloc[0].dropna().to_numpy()
        self.first_period_rate_ = float(pooled[0]) if len(pooled) else 0.0
        return self

    def _factor_draws(self, horizon: int, n_draws: int, rng) -> np.ndarray:
        k = len(self.factors_)
        draws = np.ones((n_draws, horizon))
        for p in range(min(k, horizon - 1)):
            ratios = self.link_ratios_[p]
            draws[:, p + 1] = rng.choice(ratios, n_draws) if n_draws > 1 else self.factors_[p]
        last = np.log(draws[:, k]) if 0 < k < horizon else np.full(n_draws, np.log(self.factors_[-1]) if k else 0.0)
        for p in range(k + 1, horizon):
            last = last * self.tail_decay_
            draws[:, p] = np.exp(last)
        draws[:, 0] = 1.0
        return np.maximum(draws, 1.0)

    def predict_curves(self, deals, horizon, observed=None, n_draws=1000, seed=0, loans=None, loan_collections=None):
        rng = np.random.default_rng(seed)
        cum, n_obs = _observed(deals, observed, horizon)
        factors = self._factor_draws(horizon, n_draws, rng)
        mean_factors = self._factor_draws(horizon, 1, rng)
        start = np.where(n_obs > 0, cum[np.arange(len(n_obs)), np.maximum(n_obs - 1, 0)], self.first_period_rate_)
        n_dev = np.maximum(n_obs, 1)
        paths = np.minimum(_chain(start, n_dev, factors), 1.0)
        mean = np.minimum(_chain(start, n_dev, mean_factors)[0], 1.0)
        seen = np.arange(1, horizon + 1)[None, :] <= n_obs[:, None]
        paths = np.where(seen[None], np.nan_to_num(cum)[None], paths)
        mean = np.where(seen, np.nan_to_num(cum), mean)
        return CurveForecast(pd.Index(deals["deal_id"].astype(str)), mean, paths, n_obs)


class _CurveBaseline:
    """Shared by the agency and vintage baselines: a reference curve and a spread of multiplicative ratios."""

    def _forecast(self, deals, horizon, observed, curve: np.ndarray, ratios: np.ndarray, n_draws, seed):
        rng = np.random.default_rng(seed)
        cum, n_obs = _observed(deals, observed, horizon)
        curve = np.minimum(np.atleast_2d(curve)[:, :horizon], 1.0)  # (deals or 1, horizon)
        draws = rng.choice(ratios, (n_draws, 1, 1)) * curve[None]
        mean = np.broadcast_to(curve, (len(n_obs), horizon)).copy()
        seen = np.arange(1, horizon + 1)[None, :] <= n_obs[:, None]
        idx = np.arange(len(n_obs)), np.maximum(n_obs - 1, 0)
        last = np.where(n_obs > 0, np.nan_to_num(cum)[idx], 0.0)
        at_last = np.where(n_obs > 0, mean[idx], 0.0)

        def continue_from_actual(paths):  # observed part as is; later, the curve's own increments after it
            return np.where(seen, np.nan_to_num(cum), last[..., :, None] + np.maximum(paths - at_last[:, None], 0.0))

        mean = np.minimum(continue_from_actual(mean), 1.0)
        draws = np.minimum(continue_from_actual(np.broadcast_to(draws, (n_draws, len(n_obs), horizon))), 1.0)
        return CurveForecast(pd.Index(deals["deal_id"].astype(str)), mean, np.maximum.accumulate(draws, -1), n_obs)


def _average_curve(h: RecoveryHistory, mask: np.ndarray, horizon: int) -> np.ndarray:
    """opb-weighted pooled cum_rate by period of the masked deals, extended flat where no deal reaches."""
    sub = RecoveryHistory(h.amounts[mask], h.opb[mask], h.cutoff[mask], h.as_of)
    pooled = sub.triangle("cum_rate", by=pd.Series(0, index=sub.deal_ids)).iloc[0].to_numpy()
    pooled = np.fmax.accumulate(np.nan_to_num(pooled, nan=-np.inf))
    pooled[~np.isfinite(pooled)] = 0.0
    out = np.full(horizon, pooled[-1] if len(pooled) else 0.0)
    out[: min(horizon, len(pooled))] = pooled[:horizon]
    return out


class AgencyBaseline(_CurveBaseline):
    name = "baseline_agency"

    def fit(self, deals, collections, loans=None, loan_collections=None):
        h = _history(deals, collections)
        cl = ChainLadderBaseline().fit(deals, collections)
        factors = np.cumprod(cl._factor_draws(240, 1, np.random.default_rng(0))[0])
        self.timing_ = factors / factors[-1]  # portfolio timing: share of the ultimate collected by period
        est = deals.set_index("deal_id")["est_gross_recovery"] if "est_gross_recovery" in deals else None
        ratios = []
        if est is not None:
            n_obs = h.observed_periods
            for deal in h.deal_ids[n_obs.to_numpy() >= 12]:
                k = n_obs[deal]
                ratios.append(h.cum_rate.at[deal, k] / (est[deal] * self.timing_[k - 1]))
        self.ratios_ = np.array(ratios) if len(ratios) >= 3 else np.array([1.0])
        self.ratios_ /= np.median(self.ratios_)  # the spread only; the level is the agency's own
        return self

    def predict_curves(self, deals, horizon, observed=None, n_draws=1000, seed=0, loans=None, loan_collections=None):
        if "est_gross_recovery" not in deals or deals["est_gross_recovery"].isna().any():
            raise ValueError("baseline_agency needs est_gross_recovery for every deal")
        curve = deals["est_gross_recovery"].to_numpy()[:, None] * self.timing_[None, :horizon]
        return self._forecast(deals, horizon, observed, curve, self.ratios_, n_draws, seed)


class VintageMeanBaseline(_CurveBaseline):
    name = "baseline_vintage_mean"

    def __init__(self, min_history: int = 12, n_vintages: int = 2):
        self.min_history = min_history
        self.n_vintages = n_vintages

    def fit(self, deals, collections, loans=None, loan_collections=None):
        h = _history(deals, collections)
        vintage = deals.set_index("deal_id")["vintage"].reindex(h.deal_ids)
        enough = vintage[(h.observed_periods >= self.min_history).to_numpy()]
        recent = sorted(enough.unique())[-self.n_vintages:]
        mask = vintage.isin(recent).to_numpy() & (h.observed_periods >= self.min_history).to_numpy()
        self.vintages_ = [int(v) for v in recent]
        self.curve_ = _average_curve(h, mask, 240)
        last = h.latest_cum_rate[mask]
        ref = np.array([self.curve_[k - 1] for k in h.observed_periods[mask]])
        self.ratios_ = (last.to_numpy() / ref) if mask.sum() >= 3 else np.array([1.0])
        return self

    def predict_curves(self, deals, horizon, observed=None, n_draws=1000, seed=0, loans=None, loan_collections=None):
        return self._forecast(deals, horizon, observed, self.curve_[None, :], self.ratios_, n_draws, seed)


BASELINES = (ChainLadderBaseline, AgencyBaseline, VintageMeanBaseline)
