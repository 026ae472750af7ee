"""Each model against the best baseline of its scheme and horizon, with intervals that resample deals."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from forecasting.backtest.metrics import scored
from forecasting.backtest.runner import ROLE_BASELINE


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
        role = part.drop_duplicates("model").set_index("model")["role"]
        baselines = [m for m in errors.columns if role[m] == ROLE_BASELINE]
        models = [m for m in errors.columns if role[m] != ROLE_BASELINE]
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
