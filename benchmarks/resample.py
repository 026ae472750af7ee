"""How sure a benchmark's figure is when its pools come in clusters that share their errors (a CAS triangle's
accident years, a simulated market's pools): the figure recomputed over clusters drawn with replacement, every
pool of a drawn cluster kept.

A coverage or an MAE over pools is a ratio of sums, sum(value) / sum(count); resampling the clusters' sums keeps
each cluster's pools together, so a shock they share counts once, not once per pool. The interval is the
percentile bootstrap's (``scipy.stats.bootstrap``, paired over clusters); ``below <bar>`` says how often a
resample fell below a bar (a target's edges, or 0 for a difference of two models' errors).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import bootstrap

RESAMPLES = 4000
LEVEL = 0.90


def cluster_interval(values: pd.Series, clusters: pd.Series, bars: tuple[float, ...] = (),
                     resamples: int = RESAMPLES, level: float = LEVEL, seed: int = 0) -> dict[str, float]:
    """The mean of ``values`` over pools, its ``level`` interval resampling ``clusters`` (aligned with the values),
    and per bar the share of resamples below it (``below <bar>``)."""
    sums = values.groupby(clusters.to_numpy()).agg(["sum", "count"])
    if len(sums) < 2:
        raise ValueError("a cluster bootstrap needs at least two clusters")

    def ratio(total: np.ndarray, count: np.ndarray, axis: int = -1) -> np.ndarray:
        return total.sum(axis=axis) / count.sum(axis=axis)

    result = bootstrap((sums["sum"].to_numpy(float), sums["count"].to_numpy(float)), ratio, paired=True,
                       vectorized=True, n_resamples=resamples, confidence_level=level, method="percentile",
                       rng=np.random.default_rng(seed))
    out = {"value": float(ratio(sums["sum"].to_numpy(float), sums["count"].to_numpy(float))),
           "lower": float(result.confidence_interval.low), "upper": float(result.confidence_interval.high),
           "clusters": float(len(sums))}
    for bar in bars:
        out[f"below {bar:g}"] = float(np.mean(result.bootstrap_distribution < bar))
    return out


def intervals(rows: pd.DataFrame, value: str, cluster: str, by: str, bars: tuple[float, ...] = ()) -> pd.DataFrame:
    """``cluster_interval`` of column ``value`` per level of ``by`` and for all rows: one row each."""
    return pd.DataFrame({name: cluster_interval(part[value], part[cluster], bars)
                         for name, part in [*rows.groupby(by), ("all", rows)]}).T
