"""Survival at pool level (no loan tape): each unit of principal is an individual.

A unit is collected in period t (weight: that period's collections in average-balance units, so a pool counts as
many individuals as it has borrowers) or censored at the last observed period (the rest of the pool). x = the
config's covariates and group levels; cum_rate(t) = 1 - S(t), and a seasoned pool continues from its own:
cum(t) = cum(t0) + (1 - cum(t0)) (S(t0) - S(t)) / S(t0).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.dataset import Dataset
from forecasting.models.curve_forecast import CurveForecast
from forecasting.models.fit_checks import check_recovered
from forecasting.models.paths import observed_rates, observed_state, realized_paths
from forecasting.models.registry import register
from forecasting.models.survival.base import MixtureSurvival
from forecasting.models.survival.cells import DEAL, observed_periods, pool_units
from forecasting.models.survival.fitter import survival
from forecasting.models.survival.frailty import Evidence


@register("survival_pool")
class SurvivalPoolModel(MixtureSurvival):
    """Weibull mixture model of when each unit of a pool's principal is collected (module docstring)."""

    level = "pool"

    def _fit(self, dataset: Dataset):
        check_recovered(dataset)
        units = pool_units(dataset)
        rows = dataset.deals.set_index("deal_id").loc[units["deal_id"]].reset_index()
        rows = pd.concat([rows, units[["duration", "event", "weight"]]], axis=1).assign(**{DEAL: units["deal_id"]})
        return self._fit_rows(rows, lambda: self._pool_evidence(dataset, observed_periods(dataset).to_numpy()),
                              {"deals": len(dataset.deals)})

    def _pool_evidence(self, dataset: Dataset, t0: np.ndarray) -> Evidence:
        """A pool's units collected in each observed period are its payers (frailty.py)."""
        X_scale, X_never = self._designs(dataset.deals)
        rates = dataset.history.period_rate.reindex(dataset.deal_ids).to_numpy()
        rates = np.nan_to_num(rates)[:, : max(int(t0.max(initial=0)), 1)] if rates.size else np.zeros((len(t0), 1))
        seen = np.arange(1, rates.shape[1] + 1)[None, :] <= t0[:, None]
        n = dataset.deals["n_borrowers"].to_numpy(float)
        deal, period = np.nonzero(seen & (rates > 0))
        return Evidence(X_scale, X_never, np.ones(len(t0)), np.arange(len(t0)), t0, np.sum(rates * seen, 1), n,
                        X_scale[deal], deal, period + 1.0, rates[deal, period] * n[deal])

    def _predict(self, dataset: Dataset, horizon: int, n_draws: int, seed: int) -> CurveForecast:
        ids = dataset.deal_ids
        params = self._param_draws(n_draws, seed)
        _, cum_obs, n_obs = observed_rates(dataset, horizon)
        # the frailties are not anchored to each parameter draw at pool level: the evidence reads a pool's cash as
        # first payments of independent units, its posterior alone is too sure (docs/models.md)
        u, v = self._frailty_draws(self._pool_evidence(dataset, n_obs), params, ids, seed)
        S = survival(params, *self._designs(dataset.deals), np.arange(0, horizon + 1), offset=u, scale_offset=v)
        S0 = np.take_along_axis(S, np.broadcast_to(n_obs[None, :, None], S.shape[:2] + (1,)), -1)
        base = observed_state(cum_obs, n_obs)
        future = (1.0 - base)[None, :, None] * (S0 - S[..., 1:]) / S0
        paths = realized_paths(cum_obs, n_obs, future, 1.0 / dataset.deals["n_borrowers"].to_numpy(float), ids, seed)
        return CurveForecast(ids, paths.mean(axis=0), paths, n_obs, expected=np.minimum(1.0 - S[..., 1:], 1.0))

    def never_pay_share(self, dataset: Dataset) -> pd.Series:
        self._check_fitted()
        return pd.Series(self._never_pay(dataset.deals), index=dataset.deal_ids, name="never_pay_share")
