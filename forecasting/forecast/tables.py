"""Forecast output tables of docs/contract.md section 4, from a model's CurveForecast."""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.dataset import Dataset
from forecasting.models.curve_forecast import CurveForecast, quantile_name


def forecast_curves(forecast: CurveForecast, dataset: Dataset, quantiles: list[float]) -> pd.DataFrame:
    """deal_id, period, observed, collections, cum_rate, cum_rate_pNN: actual figures where observed."""
    table = forecast.frame(quantiles)
    opb = table["deal_id"].map(dataset.deals.set_index("deal_id")["opb"])
    cum = table.groupby("deal_id", sort=False)["cum_rate"]
    table.insert(3, "collections", np.round(cum.diff().fillna(table["cum_rate"]) * opb, 2))
    return table


def forecast_summary(forecast: CurveForecast, dataset: Dataset, quantiles: list[float]) -> pd.DataFrame:
    """One row per deal: what was observed, the gross recovery forecast at the horizon (realized cash) with its quantiles,
    from models that give it the pool's expected gross recovery with its quantiles, and the months to 50% and 90%
    of the horizon's recovery."""
    months = dataset.meta.period_months
    deals = dataset.deals.set_index("deal_id").loc[forecast.deal_ids]
    idx = np.arange(len(forecast.deal_ids))
    last = np.maximum(forecast.observed_periods - 1, 0)
    observed_cum = np.where(forecast.observed_periods > 0, forecast.mean[idx, last], 0.0)
    out = pd.DataFrame({"deal_id": forecast.deal_ids, "originator": deals["originator"].to_numpy(),
                        "vintage": deals["vintage"].to_numpy(), "opb": deals["opb"].to_numpy(),
                        "observed_periods": forecast.observed_periods, "observed_cum_rate": observed_cum,
                        "horizon": forecast.horizon, "gross_recovery": forecast.mean[:, -1]})
    for q in quantiles:
        out[quantile_name(q, "gross_recovery_")] = forecast.quantile(q)[:, -1]
    if forecast.expected is not None:  # the pool's expected curve at the horizon: its luck so far left out
        out["expected_gross_recovery"] = forecast.expected_mean[:, -1]
        for q in quantiles:
            out[quantile_name(q, "expected_gross_recovery_")] = forecast.expected_quantile(q)[:, -1]
    out["months_to_50pct"], out["months_to_90pct"] = (time_to_share(forecast.mean, share, months) for share in (0.5, 0.9))
    if "est_gross_recovery" in deals:
        out["est_gross_recovery"] = deals["est_gross_recovery"].to_numpy()
    return out


def time_to_share(mean: np.ndarray, share: float, months: int) -> np.ndarray:
    """Months from cut-off until the point forecast of cum_rate first reaches ``share`` of its value at the horizon
    (NaN for a pool forecast to collect nothing)."""
    reached = mean >= share * mean[:, -1:] - 1e-12
    first = np.argmax(reached, axis=1) + 1.0
    return np.where(mean[:, -1] > 0, first * months, np.nan)
