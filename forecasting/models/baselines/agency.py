"""The rating agency's estimate: each deal's est_gross_recovery spread over time by the portfolio's chain-ladder
timing (the share p(t) = 1 / CDF(t) of chainladder's development pattern, its tail included); the spread comes from
the training deals' actual-to-agency ratios at their latest period (12+ periods)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.dataset import Dataset
from forecasting.models import random
from forecasting.models.base import Diagnostics, EstimatorTags, RecoveryEstimator
from forecasting.models.baselines import triangle
from forecasting.models.baselines.common import continue_curve
from forecasting.models.curve_forecast import CurveForecast
from forecasting.models.options import Name
from forecasting.models.registry import register
from forecasting.models.summary import value_rows

TIMING_PERIODS = 240
MIN_SEEN = 12


@register("agency")
class AgencyBaseline(RecoveryEstimator):
    _tags = EstimatorTags(is_baseline=True, uses_agency=True)

    def __init__(self, name: Name = "baseline_agency"):
        self.name = name

    def _fit(self, dataset: Dataset) -> Diagnostics:
        pattern = triangle.fit_pattern(triangle.origin_triangle(dataset)[0], tail=True)
        self.timing_ = np.exp(-pattern.log_cdf(TIMING_PERIODS))  # portfolio timing: share of the ultimate by period
        h, est = dataset.history, dataset.agency_estimates
        n_obs = h.observed_periods
        ratios = [h.cum_rate.at[d, n_obs[d]] / (est[d] * self.timing_[n_obs[d] - 1])
                  for d in h.deal_ids[n_obs.to_numpy() >= MIN_SEEN]]
        self.ratios_ = np.array(ratios) if len(ratios) >= 3 else np.array([1.0])
        self.ratios_ = self.ratios_ / np.median(self.ratios_)  # the spread only; the level is the agency's own
        return Diagnostics(True, None, (), {"deals": len(dataset.deals), "ratios": len(ratios)})

    def _predict(self, dataset: Dataset, horizon: int, n_draws: int, seed: int) -> CurveForecast:
        curve = dataset.agency_estimates.to_numpy()[:, None] * self.timing_[None, :horizon]
        ratios = random.stream(seed, "params").choice(self.ratios_, n_draws)
        return continue_curve(dataset, horizon, curve, ratios)

    def _summary_rows(self, alpha: float) -> pd.DataFrame:
        return value_rows("ratio", ["p10", "p50", "p90"], np.quantile(self.ratios_, [0.1, 0.5, 0.9]))
