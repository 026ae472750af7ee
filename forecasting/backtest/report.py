"""Backtest outputs: CSVs, plots and a summary report.md ranking the models."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.backtest import metrics as bm
from forecasting.backtest import plots
from forecasting.backtest.comparison import comparison
from forecasting.data.io import write_table
from forecasting.data.periods import span


def ranking(table: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Models by MAE at one horizon, per scheme (rank 1 = best)."""
    at = table[table["horizon"] == horizon].copy()
    at["rank"] = at.groupby("scheme")["mae"].rank(method="min").astype(int)
    columns = ["scheme", "rank", "model", "role", "n", "mae", "rmse", "bias", "coverage", "coverage_50", "coverage_80",
               "ks", "ks_critical", "crps"]
    return at.sort_values(["scheme", "rank"])[[c for c in columns if c in at]]


def verdicts(compared: pd.DataFrame) -> list[str]:
    """One line per model: its MAE against the best baseline's and its coverage, each with the 95% interval over
    deals, and whether the difference is a finding or within what a redraw of the same deals could give."""
    lines = []
    for _, r in compared.iterrows():
        if np.isnan(r["mae_diff_lo"]):
            reading = "too few deals to tell"
        elif r["mae_diff_hi"] < 0:
            reading = "better"
        elif r["mae_diff_lo"] > 0:
            reading = "worse"
        else:
            reading = "not distinguishable"
        lines.append(f"{r['model']} vs {r['baseline']}: MAE difference {r['mae_diff']:+.4f} (95% interval "
                     f"{r['mae_diff_lo']:+.4f} to {r['mae_diff_hi']:+.4f}; {r['n']} forecasts of {r['deals']} deals): "
                     f"{reading}. Coverage {r['coverage']:.2f} ({r['coverage_lo']:.2f} to {r['coverage_hi']:.2f}).")
    return lines


def middle_horizon(horizons: list[int]) -> int:
    """The horizon the report ranks at."""
    return sorted(horizons)[len(horizons) // 2]


def write_report(predictions: pd.DataFrame, deals: pd.DataFrame, horizons: list[int], out: Path,
                 period_months: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write every backtest output into ``out`` (spans said in the data's units); returns the metrics and the
    model-vs-baseline comparison."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = bm.metrics(predictions, horizons)
    write_table(predictions, out / "backtest_predictions.csv")
    write_table(table, out / "backtest_metrics.csv")
    write_table(bm.metrics_by(predictions, horizons, deals), out / "backtest_metrics_by_group.csv")
    ae = bm.ae_index(predictions)
    write_table(ae, out / "backtest_ae_index.csv")
    plots.error_by_horizon_plot(table, out / "backtest_error_by_horizon.png", period_months)
    plots.ae_plot(ae, out / "backtest_ae_index.png", period_months)
    plots.pit_plot(predictions, middle_horizon(horizons), out / "backtest_pit.png", period_months=period_months)
    for scheme in predictions["scheme"].unique():
        plots.deal_curves_plot(predictions, scheme, out / f"backtest_curves_{scheme}.png")
    compared = comparison(predictions, horizons)
    write_table(compared, out / "backtest_comparison.csv")
    middle = middle_horizon(horizons)
    lines = ["# Backtest report\n", f"Models ranked by MAE of cum_rate at {span(middle, period_months)} (lower is better). "
             f"coverage = share of actuals inside the outer quantiles (coverage_50 / _80: the P25-P75 and P10-P90 "
             f"bands); ks = Kolmogorov-Smirnov distance of the actuals' PITs from uniform, beside its 5% critical "
             f"value for that many independent forecasts (forecasts of one deal are not independent: a bar, not a "
             f"test); crps = continuous ranked probability score; bias = mean(predicted - actual). "
             f"Below each ranking every model is compared with the scheme's best baseline. The 95% intervals "
             f"resample deals, since the forecasts of one deal move together: 'not distinguishable' means a redraw "
             f"of that many deals could reverse the order.\n"]
    for scheme, rows in ranking(table, middle).groupby("scheme", sort=False):
        lines.append(f"\n## {scheme}\n")
        lines.append(rows.drop(columns="scheme").to_markdown(index=False, floatfmt=".4f"))
        here = compared[(compared["scheme"] == scheme) & (compared["horizon"] == middle)]
        lines += [""] + [f"- {line}" for line in verdicts(here)]
    lines.append("\n\n## All horizons\n")
    lines.append(table.to_markdown(index=False, floatfmt=".4f"))
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return table, compared
