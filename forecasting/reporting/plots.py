"""Charts an analyst can hand on: fan charts of forecast recovery curves."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from forecasting.data.periods import period_unit  # noqa: E402
from forecasting.reporting.fonts import use_cjk_font  # noqa: E402

DPI = 200
LEGEND_INSIDE = 10  # groups whose legend fits inside the plot without hiding the curves
use_cjk_font()


def save(fig, path: Path) -> Path:
    """Write a figure as PNG (into an output set's staging directory) and free it."""
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=DPI)
    plt.close(fig)
    return path


def fan_chart(curves: pd.DataFrame, summary: pd.DataFrame, title: str, path: Path) -> Path:
    """Cumulative recovery per deal: observed (solid), forecast median with the outer quantile band, agency mark."""
    qcols = sorted(c for c in curves.columns if c.startswith("cum_rate_p"))
    lo, hi = qcols[0], qcols[-1]
    fig, ax = plt.subplots(figsize=(9, 5.5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (deal, c) in enumerate(curves.groupby("deal_id", sort=False)):
        color = colors[i % len(colors)]
        ax.fill_between(c["period"], c[lo], c[hi], color=color, alpha=0.15, lw=0)
        ax.plot(c["period"], c["cum_rate"], color=color, lw=1.2, ls="--", label=deal)
        seen = c[c["observed"] == 1]
        ax.plot(seen["period"], seen["cum_rate"], color=color, lw=2.2)
        est = summary.loc[summary["deal_id"] == deal, "est_gross_recovery"] if "est_gross_recovery" in summary else []
        if len(est) and pd.notna(est.iloc[0]):
            ax.plot([c["period"].max()], [est.iloc[0]], marker="<", color=color, ms=9)
    ax.set_xlabel("period since cut-off")
    ax.set_ylabel("cumulative gross recovery / opb")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_title(f"{title}\nsolid: observed; dashed: forecast mean; band: {lo[-3:]}-{hi[-3:]}; ◀ agency estimate")
    ax.grid(alpha=0.3)
    if curves["deal_id"].nunique() <= len(colors):  # beyond that colours repeat: a legend would name no one line
        ax.legend(fontsize=8, ncol=2, loc="lower right")
    else:
        ax.text(0.99, 0.02, f"{curves['deal_id'].nunique()} pools (colours repeat: the CSVs name each one)",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=8, color="grey")
    return save(fig, path)


def curves_by_group(dataset, by: str, path: Path, title: str) -> Path:
    """Pooled (opb-weighted) cum_rate by period for each vintage or originator, beside each deal's thin curve."""
    h = dataset.history
    groups = dataset.deals.set_index("deal_id")[by]
    pooled = h.triangle("cum_rate", by=groups)
    many = len(pooled) > LEGEND_INSIDE  # a legend that would hide the curves goes beside the plot
    fig, ax = plt.subplots(figsize=(11 if many else 9, 5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    if len(pooled) > len(colors):
        colors = [matplotlib.colormaps["tab20"](i) for i in range(20)]  # twice as many before a colour repeats
    color_of = {g: colors[i % len(colors)] for i, g in enumerate(pooled.index)}
    for deal, row in h.cum_rate.iterrows():
        ax.plot(row.index, row.to_numpy(), color=color_of[groups[deal]], lw=0.6, alpha=0.35)
    for g, row in pooled.iterrows():
        ax.plot(row.index, row.to_numpy(), color=color_of[g], lw=2.4, label=f"{by} {g}")
    ax.set_xlabel(f"{period_unit(h.period_months)}s since cut-off")
    ax.set_ylabel("cumulative gross recovery / opb")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_title(f"{title}\nthick: opb-weighted pool of the group; thin: each deal")
    ax.grid(alpha=0.3)
    if many:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), ncol=1 + len(pooled) // 25)
    else:
        ax.legend(fontsize=8)
    return save(fig, path)


def survival_curves(curves: dict, path: Path, title: str) -> Path:
    """Kaplan-Meier curves (share of loans not yet paid) with their 95% bands."""
    fig, ax = plt.subplots(figsize=(9, 5))
    for kmf in curves.values():
        kmf.plot_survival_function(ax=ax, ci_show=True)
    ax.set_xlabel("period since cut-off")
    ax.set_ylabel("share of loans with no payment yet")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return save(fig, path)


def never_pay_plot(deals: pd.DataFrame, share: pd.Series, path: Path, title: str) -> Path:
    """opb-weighted never-pay share by vintage and by originator, with each deal's own share as dots."""
    frame = deals.assign(never_pay_share=share.reindex(deals["deal_id"]).to_numpy())
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, by in zip(axes, ("vintage", "originator")):
        pooled = frame.groupby(by).apply(lambda g: np.average(g["never_pay_share"], weights=g["opb"]), include_groups=False)
        positions = np.arange(len(pooled))
        ax.bar(positions, pooled.to_numpy(), color="#9ab", label="opb-weighted")
        lookup = dict(zip(pooled.index, positions))
        ax.scatter([lookup[v] for v in frame[by]], frame["never_pay_share"], color="#234", s=12, zorder=3, label="deals")
        labels = [str(v) for v in pooled.index]
        crowded = sum(map(len, labels)) > 60  # more text than the axis holds level: turned, so none overlaps
        ax.set_xticks(positions, labels, rotation=45 if crowded else 0, ha="right" if crowded else "center",
                      fontsize=8 if crowded else None)
        ax.set_xlabel(by)
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_ylabel("share of principal never recovered")
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    return save(fig, path)
