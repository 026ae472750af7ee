"""What the baselines share: the observed part of each deal's curve, and a reference curve continued from it."""
from __future__ import annotations

import numpy as np

from forecasting.data.dataset import Dataset
from forecasting.models.curve_forecast import CurveForecast
from forecasting.models.paths import observed_rates, observed_state


def continue_curve(dataset: Dataset, horizon: int, curve: np.ndarray, ratios: np.ndarray) -> CurveForecast:
    """A reference cum_rate curve per deal (deals or 1, horizon) scaled by ``ratios`` (one per path, shared by every
    deal), continued from each deal's observed cum_rate by the curve's own increments after it."""
    _, cum_obs, n_obs = observed_rates(dataset, horizon)
    curve = np.minimum(np.broadcast_to(np.atleast_2d(curve)[:, :horizon], (len(n_obs), horizon)), 1.0)
    seen = np.arange(1, horizon + 1)[None, :] <= n_obs[:, None]
    idx = np.arange(len(n_obs)), np.maximum(n_obs - 1, 0)
    last, at_last = observed_state(cum_obs, n_obs), np.where(n_obs > 0, curve[idx], 0.0)

    def from_actual(paths):
        return np.where(seen, cum_obs, last[:, None] + np.maximum(paths - at_last[:, None], 0.0))

    mean = np.minimum(from_actual(curve), 1.0)
    draws = np.minimum(from_actual(ratios[:, None, None] * curve[None]), 1.0)
    return CurveForecast(dataset.deal_ids, mean, np.maximum.accumulate(draws, -1), n_obs)
