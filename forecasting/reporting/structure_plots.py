"""Charts of the structure analysis: when the senior tranche is paid back, and how that survives a haircut."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from forecasting.reporting.plots import save


def payoff_chart(summary: pd.DataFrame, path: Path, title: str) -> Path:
    """Per deal, the first-paid tranche's payoff months from closing (P10-P90 bar, P50 dot) in the base scenario;
    a bar reaching the right edge means that share of paths is not repaid by legal maturity, a cross there that the
    median path is not."""
    senior = summary[(summary["scenario"] == "base") & (summary["priority_rank"] == 1) & ~summary["residual"]]
    senior = senior.iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(senior) + 1.4))
    y = np.arange(len(senior))
    right = np.nanmax(senior[["payoff_months_p90", "payoff_months_p50"]].to_numpy(float), initial=12) * 1.1
    hi = senior["payoff_months_p90"].fillna(right)
    ax.hlines(y, senior["payoff_months_p10"].fillna(right), hi, color="#4a7ab0", lw=4, alpha=0.6, label="P10-P90")
    repaid = senior["payoff_months_p50"].notna().to_numpy()
    ax.plot(senior["payoff_months_p50"][repaid], y[repaid], "o", color="#123", ms=4, label="P50")
    if not repaid.all():  # the median path is not repaid: no payoff month to show, only the edge
        ax.plot(np.full((~repaid).sum(), right), y[~repaid], "x", color="#b03a2e", ms=6, mew=1.5,
                label="P50 not repaid by legal maturity")
    for yi, p in zip(y, senior["p_repaid"]):
        ax.text(right * 1.01, yi, f"{p:.0%}", va="center", fontsize=7)
    ax.set_yticks(y, senior["deal_id"], fontsize=7)
    ax.set_xlim(0, right * 1.12)
    ax.set_xlabel("months from closing to the senior tranche's repayment (right: share of paths repaid)")
    ax.set_title(title, fontsize=10, pad=18)
    ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, frameon=False)
    return save(fig, path)


def haircut_chart(sweep: pd.DataFrame, deals: list[str], path: Path, title: str) -> Path:
    """p_repaid of the first-paid tranche of each of ``deals`` against a haircut on every future collection."""
    first = (sweep.groupby("deal_id", sort=False)["tranche"].transform("first") == sweep["tranche"]) & \
        sweep["deal_id"].isin(deals)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for deal, rows in sweep[first].groupby("deal_id", sort=False):
        ax.plot(rows["haircut"] * 100, rows["p_repaid"] * 100, lw=1.5, marker="o", ms=3, label=deal)
    ax.set_xlabel("haircut on future collections (%)")
    ax.set_ylabel("senior repaid by legal maturity (% of paths)")
    ax.set_ylim(-2, 102)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return save(fig, path)
