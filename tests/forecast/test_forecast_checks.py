"""The last check on a forecast: a skewed one passes, an inconsistent one is stopped naming the deal."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.forecast.checks import ForecastError, check_forecast
from forecasting.models.curve_forecast import CurveForecast


def stalled_pool(mean_shift: float = 0.0) -> CurveForecast:
    """A pool that has stopped paying: 95 of 100 paths collect nothing more, 5 collect one payment of 0.004."""
    draws = np.full((100, 1, 3), 0.06)
    draws[:5, 0, 2] += 0.004
    return CurveForecast(pd.Index(["P"]), draws.mean(axis=0) + mean_shift, draws, np.array([2]))


def test_a_mean_above_its_p90_passes_when_most_paths_collect_nothing_more():
    fc = stalled_pool()
    assert fc.mean[0, 2] > fc.quantile(0.9)[0, 2]  # 0.0602 above a P90 of 0.06: rightly
    check_forecast(fc, "m")


def test_a_point_forecast_outside_every_path_is_stopped_naming_the_deal():
    with pytest.raises(ForecastError, match="m: the point forecast of deal 'P' is outside the range of its paths"):
        check_forecast(stalled_pool(mean_shift=0.01), "m")
