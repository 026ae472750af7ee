"""The interface every model family shares, scikit-learn style.

``fit(deals, collections[, loans, loan_collections])`` learns from a dataset and returns self; learned state lives in attributes ending
in ``_``. ``predict_curves(deals, horizon, observed=None)`` returns :class:`CurveForecast`: cumulative recovery rate
curves per deal for periods 1..horizon, as a point forecast and as draws from which any quantile is read. Observed
periods (when ``observed`` is given) are carried as they are and the rest is conditioned on them.

Two different quantities are forecast, and a model may give both:
- the pool's realized cash (``mean``, ``draws``): what it has collected plus what it will collect, process noise
  included; the backtests score this against what happened;
- the pool's expected curve (``expected``): the cum_rate its loans are expected to produce, L x G(t) for a decay
  model, with only parameter and deal-effect uncertainty, the observed periods informing it but not replacing it.
  It is what the agency's est_gross_recovery estimates and what actual-vs-expected tracking compares against; a
  seasoned pool's luck so far is part of its realized cash but not of its expected curve.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from forecasting.data.history import RecoveryHistory


@dataclass(frozen=True)
class CurveForecast:
    """Forecast cum_rate curves: rows are deals, columns periods 1..horizon."""

    deal_ids: pd.Index
    mean: np.ndarray  # (deals, horizon) point forecast of cum_rate
    draws: np.ndarray  # (draws, deals, horizon) simulated cum_rate paths, each non-decreasing in time
    observed_periods: np.ndarray  # (deals,) periods taken from actual collections
    expected: np.ndarray | None = None  # (draws, deals, horizon) draws of the pool's expected cum_rate curve

    @property
    def horizon(self) -> int:
        return self.mean.shape[1]

    def quantile(self, q: float) -> np.ndarray:
        """Pointwise quantile of the paths: non-decreasing in time because every path is."""
        return np.quantile(self.draws, q, axis=0)

    @property
    def expected_mean(self) -> np.ndarray:
        """Point forecast of the pool's expected cum_rate curve (deals, horizon): the estimate of its true curve."""
        return self._expected().mean(axis=0)

    def expected_quantile(self, q: float) -> np.ndarray:
        """Pointwise quantile of the expected curve's draws: a credible band for the pool's true curve."""
        return np.quantile(self._expected(), q, axis=0)

    def _expected(self) -> np.ndarray:
        if self.expected is None:
            raise ValueError("this model forecasts realized cash only; it gives no expected curve")
        return self.expected

    def frame(self, quantiles: list[float]) -> pd.DataFrame:
        """Long table: deal_id, period, observed (0/1), cum_rate, cum_rate_pNN per quantile."""
        deals, periods = np.meshgrid(np.arange(len(self.deal_ids)), np.arange(1, self.horizon + 1), indexing="ij")
        out = pd.DataFrame({"deal_id": self.deal_ids.to_numpy()[deals.ravel()], "period": periods.ravel(),
                            "observed": (periods <= self.observed_periods[:, None]).astype(int).ravel(),
                            "cum_rate": self.mean.ravel()})
        for q in quantiles:
            out[quantile_name(q)] = self.quantile(q).ravel()
        return out


def quantile_name(q: float, prefix: str = "cum_rate_") -> str:
    return f"{prefix}p{round(q * 100):02d}"


class RecoveryModel(Protocol):
    name: str

    def fit(self, deals: pd.DataFrame, collections: pd.DataFrame, loans: pd.DataFrame | None = None,
            loan_collections: pd.DataFrame | None = None) -> "RecoveryModel":
        ...

    def predict_curves(self, deals: pd.DataFrame, horizon: int, observed: RecoveryHistory | None = None,
                       n_draws: int = 1000, seed: int = 0, loans: pd.DataFrame | None = None,
                       loan_collections: pd.DataFrame | None = None) -> CurveForecast:
        ...


def gamma_process(rng: np.random.Generator, expected: np.ndarray, unit: np.ndarray | float) -> np.ndarray:
    """Simulated cumulative collections after the observed periods, path by path.

    ``expected`` is the expected cumulative collections after the last observed period (draws, deals, periods; zero
    or below where nothing is due yet). Each period's collections are Gamma with that period's expected increment m
    as mean and ``unit * m`` as variance (the overdispersed Poisson's phi / n_borrowers), independent across periods:
    paths never fall, and the band widens with the horizon as the variance adds up.
    """
    increment = np.diff(np.maximum(expected, 0.0), axis=-1, prepend=0.0)
    return np.cumsum(rng.gamma(np.maximum(increment, 1e-12) / unit, unit), axis=-1)

