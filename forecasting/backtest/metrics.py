"""Scores of backtest predictions: errors of cum_rate at each horizon, coverage, and the actual-vs-expected index."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def outer_quantiles(predictions: pd.DataFrame) -> tuple[str, str]:
    cols = sorted(c for c in predictions.columns if c.startswith("p") and c[1:].isdigit())
    return cols[0], cols[-1]


def scored(predictions: pd.DataFrame, horizons: list[int]) -> pd.DataFrame:
    """Rows forecast (not observed) at a scored horizon, with an actual to compare against."""
    rows = predictions[predictions["period"].isin(horizons) & (predictions["period"] > predictions["observed_periods"])
                       & predictions["actual_cum_rate"].notna()]
    lo, hi = outer_quantiles(predictions)
    return rows.assign(error=rows["predicted_cum_rate"] - rows["actual_cum_rate"],
                       inside=(rows[lo] <= rows["actual_cum_rate"]) & (rows["actual_cum_rate"] <= rows[hi]))


def _summarise(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    g = rows.groupby(keys)
    out = pd.DataFrame({"n": g.size(), "mae": g["error"].apply(lambda e: e.abs().mean()),
                        "rmse": g["error"].apply(lambda e: np.sqrt((e**2).mean())), "bias": g["error"].mean(),
                        "coverage": g["inside"].mean()})
    return out.reset_index()


def metrics(predictions: pd.DataFrame, horizons: list[int]) -> pd.DataFrame:
    """scheme, model, horizon, n, mae, rmse, bias, coverage (CONTRACT section 4)."""
    rows = scored(predictions, horizons).rename(columns={"period": "horizon"})
    return _summarise(rows, ["scheme", "model", "horizon"])


def metrics_by(predictions: pd.DataFrame, horizons: list[int], deals: pd.DataFrame) -> pd.DataFrame:
    """The same metrics by vintage and by originator (column ``group`` names which)."""
    rows = scored(predictions, horizons).rename(columns={"period": "horizon"})
    rows = rows.merge(deals[["deal_id", "vintage", "originator"]], on="deal_id")
    parts = []
    for by in ("vintage", "originator"):
        part = _summarise(rows, ["scheme", "model", "horizon", by]).rename(columns={by: "level"})
        parts.append(part.assign(group=by))
    return pd.concat(parts, ignore_index=True)[["scheme", "model", "horizon", "group", "level", "n", "mae", "rmse",
                                                "bias", "coverage"]]


def _ratio(numerator: np.ndarray, denominator: np.ndarray, axis: int = -1) -> np.ndarray:
    return numerator.sum(axis=axis) / denominator.sum(axis=axis)


def _deal_interval(numerator: np.ndarray, denominator: np.ndarray, resamples: int, seed: int) -> tuple[float, float]:
    """95% percentile interval of sum(numerator) / sum(denominator) over deals drawn with replacement."""
    if len(numerator) < 2:
        return np.nan, np.nan
    ci = stats.bootstrap((numerator, denominator), _ratio, paired=True, vectorized=True, method="percentile",
                         n_resamples=resamples, rng=np.random.default_rng(seed)).confidence_interval
    return float(ci.low), float(ci.high)


def comparison(predictions: pd.DataFrame, horizons: list[int], resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Each model against the best baseline (lowest MAE) of its scheme and horizon, with 95% intervals.

    Forecasts of one deal are not independent (the as_of scheme forecasts a deal once per as-of date, and a deal's
    own luck moves all of them), so the intervals resample deals, not forecasts: on the demo's 5 to 16 forecasts
    they say whether a ranking is a finding or a draw."""
    rows = scored(predictions, horizons).rename(columns={"period": "horizon"})
    out = []
    for (scheme, horizon), part in rows.groupby(["scheme", "horizon"]):
        errors = part.pivot_table(index=["deal_id", "fold"], columns="model", values="error", aggfunc="first").abs()
        inside = part.pivot_table(index=["deal_id", "fold"], columns="model", values="inside", aggfunc="first")
        baselines = [m for m in errors.columns if m.startswith("baseline_")]
        models = [m for m in errors.columns if not m.startswith("baseline_")]
        if not baselines:
            continue
        baseline = errors[baselines].mean().idxmin()
        for model in models:
            both = errors[[model, baseline]].dropna()
            per_forecast = pd.DataFrame({"diff": both[model] - both[baseline], "n": 1.0,
                                         "inside": inside.loc[both.index, model].astype(float)})
            by_deal = per_forecast.groupby(level="deal_id").sum()
            diff, n, hit = (by_deal[c].to_numpy() for c in ("diff", "n", "inside"))
            out.append({"scheme": scheme, "horizon": horizon, "model": model, "baseline": baseline,
                        "n": int(n.sum()), "deals": len(by_deal), "mae_diff": _ratio(diff, n),
                        **dict(zip(("mae_diff_lo", "mae_diff_hi"), _deal_interval(diff, n, resamples, seed))),
                        "coverage": _ratio(hit, n),
                        **dict(zip(("coverage_lo", "coverage_hi"), _deal_interval(hit, n, resamples, seed)))})
    return pd.DataFrame(out, columns=["scheme", "horizon", "model", "baseline", "n", "deals", "mae_diff",
                                      "mae_diff_lo", "mae_diff_hi", "coverage", "coverage_lo", "coverage_hi"])


def ae_index(predictions: pd.DataFrame) -> pd.DataFrame:
    """Actual-vs-expected index per deal and forecast period: 100 = as forecast (the agencies' tracking form)."""
    rows = predictions[(predictions["period"] > predictions["observed_periods"]) & predictions["actual_cum_rate"].notna()]
    index = 100.0 * rows["actual_cum_rate"] / rows["predicted_cum_rate"].where(rows["predicted_cum_rate"] > 0)
    return rows[["scheme", "fold", "model", "deal_id", "period"]].assign(ae_index=index)
