"""Backtest scores: metrics by hand, and model-vs-baseline comparisons whose intervals resample deals."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.backtest import metrics as bm
from forecasting.backtest.comparison import comparison


def test_metrics_by_hand():
    rows = pd.DataFrame({"scheme": "s", "fold": "f", "model": "m", "role": "model", "deal_id": ["a", "b", "c"], "period": 12,
                         "observed_periods": [0, 0, 12], "predicted_cum_rate": [0.10, 0.20, 0.5],
                         "p10": [0.05, 0.21, 0.0], "p90": [0.15, 0.30, 1.0], "actual_cum_rate": [0.12, 0.16, 0.5]})
    table = bm.metrics(rows, [12]).iloc[0]
    assert table["n"] == 2  # deal c was observed at 12: not a forecast
    assert table["mae"] == pytest.approx(0.03) and table["bias"] == pytest.approx(0.01)
    assert table["rmse"] == pytest.approx(np.sqrt((0.02**2 + 0.04**2) / 2)) and table["coverage"] == 0.5
    ae = bm.ae_index(rows)
    assert ae["ae_index"].round(6).tolist() == [120.0, 80.0]


def forecasts(model_error: np.ndarray, baseline_error: np.ndarray, folds: int = 1, seed: int = 0) -> pd.DataFrame:
    """One forecast per deal and fold at period 24 for a model and a baseline with the given errors per deal."""
    actual = np.random.default_rng(seed).uniform(0.05, 0.2, len(model_error))
    parts = []
    for fold in range(folds):
        for model, role, error in (("m", "model", model_error), ("baseline_x", "baseline", baseline_error)):
            parts.append(pd.DataFrame({
                "scheme": "as_of", "fold": str(fold), "model": model, "role": role,
                "deal_id": [f"d{i}" for i in range(len(actual))],
                "period": 24, "observed_periods": 6, "predicted_cum_rate": actual + error,
                "p10": actual + error - 0.01, "p90": actual + error + 0.01, "actual_cum_rate": actual}))
    return pd.concat(parts, ignore_index=True)


def test_a_uniformly_better_model_is_found_better():
    rng = np.random.default_rng(1)
    baseline = rng.normal(0, 0.02, 40)
    row = comparison(forecasts(0.5 * baseline, baseline), [24]).iloc[0]
    assert row["baseline"] == "baseline_x" and row["n"] == 40 and row["deals"] == 40
    assert row["mae_diff"] == pytest.approx(-0.5 * np.abs(baseline).mean())
    assert row["mae_diff_lo"] < row["mae_diff"] < row["mae_diff_hi"] < 0


def test_a_model_no_better_than_the_baseline_is_not_called_better():
    rng = np.random.default_rng(2)
    row = comparison(forecasts(rng.normal(0, 0.02, 12), rng.normal(0, 0.02, 12)), [24]).iloc[0]
    assert row["mae_diff_lo"] < 0 < row["mae_diff_hi"]
    assert row["coverage_lo"] <= row["coverage"] <= row["coverage_hi"]


def test_repeated_forecasts_of_the_same_deals_do_not_narrow_the_intervals():
    """Three as-of dates scoring the same ten deals carry the information of ten deals, not thirty: resampling
    forecasts would narrow the interval by about sqrt(3)."""
    rng = np.random.default_rng(3)
    model, baseline = rng.normal(0, 0.02, 10), rng.normal(0, 0.02, 10)
    once = comparison(forecasts(model, baseline, folds=1), [24]).iloc[0]
    thrice = comparison(forecasts(model, baseline, folds=3), [24]).iloc[0]
    assert thrice["n"] == 30 and thrice["deals"] == 10
    assert thrice["mae_diff"] == pytest.approx(once["mae_diff"])
    width = lambda r: r["mae_diff_hi"] - r["mae_diff_lo"]  # noqa: E731
    assert width(thrice) == pytest.approx(width(once), rel=0.15)


def test_comparison_is_reproducible():
    rng = np.random.default_rng(4)
    table = forecasts(rng.normal(0, 0.02, 15), rng.normal(0, 0.02, 15))
    pd.testing.assert_frame_equal(comparison(table, [24]), comparison(table, [24]))
