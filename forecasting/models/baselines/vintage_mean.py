"""The vintage mean: the opb-weighted average curve of the most recent vintages with enough history (a year of
periods unless ``min_history`` says otherwise); the spread from those deals' own curves."""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.dataset import Dataset
from forecasting.data.history import RecoveryHistory
from forecasting.data.periods import periods_per_year
from forecasting.models import random
from forecasting.models.base import Diagnostics, EstimatorTags, FitError, RecoveryEstimator
from forecasting.models.baselines.common import continue_curve
from forecasting.models.curve_forecast import CurveForecast
from forecasting.models.options import Name, PositiveInt
from forecasting.models.registry import register
from forecasting.models.summary import value_rows

CURVE_PERIODS = 240


def average_curve(h: RecoveryHistory, mask: np.ndarray, horizon: int) -> np.ndarray:
    """opb-weighted pooled cum_rate by period of the masked deals, extended flat where no deal reaches."""
    sub = RecoveryHistory(h.amounts[mask], h.opb[mask], h.cutoff[mask], h.as_of)
    pooled = sub.triangle("cum_rate", by=pd.Series(0, index=sub.deal_ids)).iloc[0].to_numpy()
    pooled = np.fmax.accumulate(np.nan_to_num(pooled, nan=-np.inf))
    pooled[~np.isfinite(pooled)] = 0.0
    out = np.full(horizon, pooled[-1] if len(pooled) else 0.0)
    out[: min(horizon, len(pooled))] = pooled[:horizon]
    return out


@register("vintage_mean")
class VintageMeanBaseline(RecoveryEstimator):
    _tags = EstimatorTags(is_baseline=True)

    def __init__(self, name: Name = "baseline_vintage_mean", min_history: PositiveInt | None = None,
                 n_vintages: PositiveInt = 2):
        self.name = name
        self.min_history = min_history
        self.n_vintages = n_vintages

    def _fit(self, dataset: Dataset) -> Diagnostics:
        h = dataset.history
        vintage = dataset.deals.set_index("deal_id")["vintage"].reindex(h.deal_ids)
        periods = self.min_history or periods_per_year(dataset.meta.period_months)
        long_enough = (h.observed_periods >= periods).to_numpy()
        if not long_enough.any():
            raise FitError(f"no deal has {periods} periods of history, the least a vintage's curve is averaged over "
                           f"(min_history)")
        recent = sorted(vintage[long_enough].unique())[-self.n_vintages:]
        mask = vintage.isin(recent).to_numpy() & long_enough
        self.vintages_ = [int(v) for v in recent]
        self.curve_ = average_curve(h, mask, CURVE_PERIODS)
        last = h.latest_cum_rate[mask]
        ref = np.array([self.curve_[k - 1] for k in h.observed_periods[mask]])
        self.ratios_ = (last.to_numpy() / ref) if mask.sum() >= 3 else np.array([1.0])
        return Diagnostics(True, None, (), {"deals": int(mask.sum())})

    def _predict(self, dataset: Dataset, horizon: int, n_draws: int, seed: int) -> CurveForecast:
        ratios = random.stream(seed, "params").choice(self.ratios_, n_draws)
        return continue_curve(dataset, horizon, self.curve_[None, :], ratios)

    def _summary_rows(self, alpha: float) -> pd.DataFrame:
        return value_rows("curve", [f"period {p}" for p in (12, 24, 36, 60)], self.curve_[[11, 23, 35, 59]])
