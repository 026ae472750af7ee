"""Checks every family makes before fitting: the data must hold a recovery curve to learn."""
from __future__ import annotations

import numpy as np

from forecasting.data.dataset import Dataset
from forecasting.models.base import FitError

MIN_RECOVERED = 1e-6  # of the pools' principal: below this there is no recovery curve to fit
ALL_RECOVERED = 0.999


def check_recovered(dataset: Dataset) -> None:
    """Refuse data that hold no recovery curve: nothing (or almost nothing) collected, or every pool's whole
    principal already collected (nothing left whose timing could be learned)."""
    h = dataset.history
    if h.amounts.size == 0 or not np.isfinite(h.amounts.to_numpy()).any():
        raise FitError("no collections to fit on: every pool is new")
    share = float(np.nansum(h.amounts.to_numpy()) / h.opb.sum())
    if share < MIN_RECOVERED:
        raise FitError(f"the pools have collected {share:.1e} of their principal in all: too little to fit a recovery "
                       f"curve (check the units of gross_collections)")
    latest = h.latest_cum_rate[h.observed_periods > 0]
    if (latest >= ALL_RECOVERED).all():
        raise FitError("every pool with collections has already collected its whole principal: nothing is left to "
                       "forecast, and the curve's timing cannot be estimated")
