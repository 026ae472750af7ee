"""Backtest charts: error by horizon, the actual-vs-expected index, forecast against actual curves per deal."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from forecasting.backtest.runner import ROLE_BASELINE  # noqa: E402
from forecasting.data.periods import period_unit, span  # noqa: E402

DPI = 200


def _style(rows: pd.DataFrame) -> str:
    """Baselines dashed, models solid."""
    return "--" if (rows["role"] == ROLE_BASELINE).any() else "-"


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=DPI)
    plt.close(fig)
    return path


def error_by_horizon_plot(table: pd.DataFrame, path: Path, period_months: int = 1) -> Path:
    schemes = list(table["scheme"].unique())
    fig, axes = plt.subplots(1, len(schemes), figsize=(5 * len(schemes), 4), squeeze=False)
    for ax, scheme in zip(axes[0], schemes):
        for model, rows in table[table["scheme"] == scheme].groupby("model"):
            ax.plot(rows["horizon"], rows["mae"], marker="o", label=model, ls=_style(rows))
        ax.set_title(scheme)
        ax.set_xlabel(f"horizon ({period_unit(period_months)}s since cut-off)")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_ylabel("MAE of cum_rate")
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    return _save(fig, path)


def ae_plot(ae: pd.DataFrame, path: Path, period_months: int = 1) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for model, rows in ae.groupby("model"):
        series = rows.groupby("period")["ae_index"].median()
        ax.plot(series.index, series.to_numpy(), label=model, ls=_style(rows))
    ax.axhline(100, color="black", lw=0.8)
    ax.set_xlabel(f"{period_unit(period_months)}s since cut-off")
    ax.set_ylabel("median actual / expected x 100")
    ax.set_title("Actual-vs-expected index over time (100 = as forecast)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def deal_curves_plot(predictions: pd.DataFrame, scheme: str, path: Path, max_deals: int = 12) -> Path:
    """The scheme's last fold, deal by deal: each model's forecast and the actual cum_rate. The deals shown are
    those with forecast periods inside the backtest's horizons first (a pool seen for longer shows only its
    actuals there), in the data's order."""
    rows = predictions[predictions["scheme"] == scheme]
    fold = rows["fold"].iloc[-1]
    rows = rows[rows["fold"] == fold]
    forecast = (rows["period"] > rows["observed_periods"]).groupby(rows["deal_id"], sort=False).any()
    deals = (list(forecast.index[forecast.to_numpy()]) + list(forecast.index[~forecast.to_numpy()]))[:max_deals]
    cols = 4
    fig, axes = plt.subplots((len(deals) + cols - 1) // cols, cols, figsize=(14, 3 * ((len(deals) + cols - 1) // cols)),
                             squeeze=False)
    for ax, deal in zip(axes.ravel(), deals):
        d = rows[rows["deal_id"] == deal]
        for model, m in d.groupby("model"):
            ax.plot(m["period"], m["predicted_cum_rate"], lw=1, label=model, ls=_style(m))
        actual = d.drop_duplicates("period")
        ax.plot(actual["period"], actual["actual_cum_rate"], color="black", lw=2, label="actual")
        ax.set_title(deal, fontsize=9)
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))  # periods are whole
    for ax in axes.ravel()[len(deals):]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=7)
    fig.suptitle(f"{scheme} fold {fold}: forecast vs actual cum_rate")
    return _save(fig, path)


def pit_plot(predictions: pd.DataFrame, horizon: int, path: Path, bins: int = 10, period_months: int = 1) -> Path:
    """Per scheme, each model's PIT histogram at one horizon (flat at 1 when calibrated; a U shape: bands too
    narrow; a hump: too wide; a slope: biased), with the band a calibrated forecaster's bars fall in 95% of the time."""
    import numpy as np
    from scipy.stats import binom
    at = predictions[(predictions["period"] == horizon) & (predictions["observed_periods"] < horizon)
                     & predictions["pit"].notna()]
    schemes = list(at["scheme"].unique()) or ["(none)"]
    models = sorted(at["model"].unique())
    fig, axes = plt.subplots(1, len(schemes), figsize=(5 * len(schemes), 4), squeeze=False)
    edges = np.linspace(0, 1, bins + 1)
    for ax, scheme in zip(axes[0], schemes):
        rows = at[at["scheme"] == scheme]
        for model in models:
            pit = rows.loc[rows["model"] == model, "pit"].to_numpy(float)
            if len(pit):
                density = np.histogram(pit, edges)[0] / len(pit) * bins
                ax.step(edges, np.append(density, density[-1]), where="post", label=model,
                        ls="--" if (rows.loc[rows["model"] == model, "role"] == ROLE_BASELINE).any() else "-")
        n = max(len(rows) // max(len(models), 1), 1)
        lo, hi = (binom.ppf(q, n, 1 / bins) / n * bins for q in (0.025, 0.975))
        ax.axhspan(lo, hi, color="grey", alpha=0.15, lw=0)
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_title(f"{scheme}: PIT at {span(horizon, period_months)} (n = {n} per model)")
        ax.set_xlabel("PIT of the actual in its forecast")
        ax.set_ylabel("density")
    axes[0][0].legend(fontsize=7)
    return _save(fig, path)
