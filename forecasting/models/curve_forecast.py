"""What every estimator's predict returns: cumulative recovery curves per deal, as a point forecast and as paths.

Two different quantities are forecast, and a model may give both:
- the pool's realized cash (``mean``, ``draws``): what it has collected plus what it will collect, process noise
  included; the backtests score this against what happened;
- the pool's expected curve (``expected``): the cum_rate its loans are expected to produce (L x G(t) for a decay
  model), with only parameter and deal-effect uncertainty, the observed periods informing it but not replacing it.
  It is what the agency's est_gross_recovery estimates and what actual-vs-expected tracking compares against; a
  seasoned pool's luck so far is part of its realized cash but not of its expected curve.

Draw k of every deal comes from the same parameter draw, so sums over deals of draw k are draws of the sum.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


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

    @property
    def n_draws(self) -> int:
        return self.draws.shape[0]

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
            raise ValueError("this estimator forecasts realized cash only; it gives no expected curve")
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
    """Column name of a quantile: p10 for 0.1 (config quantiles are whole percentiles)."""
    return f"{prefix}p{round(q * 100):02d}"
