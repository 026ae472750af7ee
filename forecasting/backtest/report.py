"""Backtest outputs: CSVs, plots and a summary report.md ranking the models."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from forecasting.backtest import metrics as bm  # noqa: E402
from forecasting.data.io import atomic_write, write_table  # noqa: E402


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
    return path


def error_by_horizon_plot(table: pd.DataFrame, path: Path) -> Path:
    schemes = list(table["scheme"].unique())
    fig, axes = plt.subplots(1, len(schemes), figsize=(5 * len(schemes), 4), squeeze=False)
    for ax, scheme in zip(axes[0], schemes):
        for model, rows in table[table["scheme"] == scheme].groupby("model"):
            ax.plot(rows["horizon"], rows["mae"], marker="o", label=model, ls="--" if model.startswith("baseline_") else "-")
        ax.set_title(scheme)
        ax.set_xlabel("horizon (periods)")
        ax.set_ylabel("MAE of cum_rate")
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    return _save(fig, path)


def ae_plot(ae: pd.DataFrame, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for model, rows in ae.groupby("model"):
        series = rows.groupby("period")["ae_index"].median()
        ax.plot(series.index, series.to_numpy(), label=model, ls="--" if model.startswith("baseline_") else "-")
    ax.axhline(100, color="black", lw=0.8)
    ax.set_xlabel("period since cut-off")
    ax.set_ylabel("median actual / expected x 100")
    ax.set_title("Actual-vs-expected index over time (100 = as forecast)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def deal_curves_plot(predictions: pd.DataFrame, scheme: str, path: Path, max_deals: int = 12) -> Path:
    rows = predictions[predictions["scheme"] == scheme]
    fold = rows["fold"].iloc[-1]
    rows = rows[rows["fold"] == fold]
    deals = list(rows["deal_id"].unique())[:max_deals]
    cols = 4
    fig, axes = plt.subplots((len(deals) + cols - 1) // cols, cols, figsize=(14, 3 * ((len(deals) + cols - 1) // cols)),
                             squeeze=False)
    for ax, deal in zip(axes.ravel(), deals):
        d = rows[rows["deal_id"] == deal]
        for model, m in d.groupby("model"):
            ax.plot(m["period"], m["predicted_cum_rate"], lw=1, label=model,
                    ls="--" if model.startswith("baseline_") else "-")
        actual = d.drop_duplicates("period")
        ax.plot(actual["period"], actual["actual_cum_rate"], color="black", lw=2, label="actual")
        ax.set_title(deal, fontsize=9)
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    for ax in axes.ravel()[len(deals):]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=7)
    fig.suptitle(f"{scheme} fold {fold}: forecast vs actual cum_rate")
    return _save(fig, path)


def ranking(table: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Models by MAE at one horizon, per scheme (rank 1 = best)."""
    at = table[table["horizon"] == horizon].copy()
    at["rank"] = at.groupby("scheme")["mae"].rank(method="min").astype(int)
    return at.sort_values(["scheme", "rank"])[["scheme", "rank", "model", "n", "mae", "rmse", "bias", "coverage"]]


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


def write_report(predictions: pd.DataFrame, deals: pd.DataFrame, horizons: list[int],
                 out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write every backtest output into ``out``; returns the metrics and the model-vs-baseline comparison."""
    table = bm.metrics(predictions, horizons)
    write_table(predictions, out / "backtest_predictions.csv")
    write_table(table, out / "backtest_metrics.csv")
    write_table(bm.metrics_by(predictions, horizons, deals), out / "backtest_metrics_by_group.csv")
    ae = bm.ae_index(predictions)
    write_table(ae, out / "backtest_ae_index.csv")
    error_by_horizon_plot(table, out / "backtest_error_by_horizon.png")
    ae_plot(ae, out / "backtest_ae_index.png")
    for scheme in predictions["scheme"].unique():
        deal_curves_plot(predictions, scheme, out / f"backtest_curves_{scheme}.png")
    compared = bm.comparison(predictions, horizons)
    write_table(compared, out / "backtest_comparison.csv")
    middle = middle_horizon(horizons)
    lines = ["# Backtest report\n", f"Models ranked by MAE of cum_rate at {middle} periods (lower is better). "
             f"coverage = share of actuals inside the outer quantiles; bias = mean(predicted - actual). "
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
    atomic_write(out / "report.md", lambda tmp: tmp.write_text("\n".join(lines) + "\n", encoding="utf-8"))
    return table, compared
