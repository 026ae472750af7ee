"""Scores of backtest predictions: errors of cum_rate at each horizon, coverage, and the actual-vs-expected index."""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.backtest.calibration import inside, ks_critical, ks_statistic, pit_coverage


def outer_quantiles(predictions: pd.DataFrame) -> tuple[str, str]:
    cols = sorted(c for c in predictions.columns if c.startswith("p") and c[1:].isdigit())
    return cols[0], cols[-1]


def scored(predictions: pd.DataFrame, horizons: list[int]) -> pd.DataFrame:
    """Rows forecast (not observed) at a scored horizon, with an actual to compare against."""
    rows = predictions[predictions["period"].isin(horizons) & (predictions["period"] > predictions["observed_periods"])
                       & predictions["actual_cum_rate"].notna()]
    lo, hi = outer_quantiles(predictions)
    return rows.assign(error=rows["predicted_cum_rate"] - rows["actual_cum_rate"],
                       inside=inside(rows[lo].to_numpy(float), rows["actual_cum_rate"].to_numpy(float),
                                     rows[hi].to_numpy(float)))


def _summarise(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    g = rows.groupby(keys)
    out = pd.DataFrame({"n": g.size(), "mae": g["error"].apply(lambda e: e.abs().mean()),
                        "rmse": g["error"].apply(lambda e: np.sqrt((e**2).mean())), "bias": g["error"].mean(),
                        "coverage": g["inside"].mean()})
    if "pit" in rows:
        tied = rows["pit_tied"] if "pit_tied" in rows else pd.Series(0.0, index=rows.index)
        g = rows.assign(pit_tied=tied, coverage_50=pit_coverage(rows["pit"], tied, 0.25, 0.75),
                        coverage_80=pit_coverage(rows["pit"], tied, 0.1, 0.9)).groupby(keys)
        out["coverage_50"], out["coverage_80"] = g["coverage_50"].mean(), g["coverage_80"].mean()
        out["ks"] = g[["pit", "pit_tied"]].apply(lambda r: ks_statistic(r["pit"].to_numpy(float),
                                                                        r["pit_tied"].to_numpy(float)))
        out["ks_critical"] = [ks_critical(int(n)) for n in out["n"]]
        out["crps"] = g["crps"].mean()
    return out.reset_index()


def metrics(predictions: pd.DataFrame, horizons: list[int]) -> pd.DataFrame:
    """scheme, model, role, horizon, n, mae, rmse, bias, coverage, and from the paths coverage_50, coverage_80, ks,
    ks_critical, crps (docs/outputs.md)."""
    rows = scored(predictions, horizons).rename(columns={"period": "horizon"})
    return _summarise(rows, ["scheme", "model", "role", "horizon"])


def metrics_by(predictions: pd.DataFrame, horizons: list[int], deals: pd.DataFrame) -> pd.DataFrame:
    """The same metrics by vintage and by originator (column ``group`` names which)."""
    rows = scored(predictions, horizons).rename(columns={"period": "horizon"})
    rows = rows.merge(deals[["deal_id", "vintage", "originator"]], on="deal_id")
    parts = []
    for by in ("vintage", "originator"):
        part = _summarise(rows, ["scheme", "model", "role", "horizon", by]).rename(columns={by: "level"})
        parts.append(part.assign(group=by))
    first = ["scheme", "model", "role", "horizon", "group", "level"]
    out = pd.concat(parts, ignore_index=True)
    return out[first + [c for c in out.columns if c not in first]]


def ae_index(predictions: pd.DataFrame) -> pd.DataFrame:
    """Actual-vs-expected index per deal and forecast period: 100 = as forecast (the agencies' tracking form)."""
    rows = predictions[(predictions["period"] > predictions["observed_periods"]) & predictions["actual_cum_rate"].notna()]
    index = 100.0 * rows["actual_cum_rate"] / rows["predicted_cum_rate"].where(rows["predicted_cum_rate"] > 0)
    return rows[["scheme", "fold", "model", "role", "deal_id", "period"]].assign(ae_index=index)
