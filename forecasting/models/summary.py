"""The one summary table every estimator gives: block, term, coef, se, statistic, p, lower, upper."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

SUMMARY_COLUMNS = ["block", "term", "coef", "se", "statistic", "p", "lower", "upper"]


def estimate_rows(block: str | list[str], term: list[str], coef, se, alpha: float, df: float | None = None
                  ) -> pd.DataFrame:
    """Rows with standard errors: statistic coef / se, two-sided p and the (1 - alpha) interval, on Student's t
    with ``df`` degrees of freedom, or the normal when df is None."""
    coef, se = np.asarray(coef, float), np.asarray(se, float)
    statistic = coef / np.where(se > 0, se, np.nan)
    dist = stats.norm if df is None else stats.t(df)
    half = dist.ppf(1 - alpha / 2) * se
    return pd.DataFrame({"block": block, "term": term, "coef": coef, "se": se, "statistic": statistic,
                         "p": 2 * dist.sf(np.abs(statistic)), "lower": coef - half, "upper": coef + half})


def value_rows(block: str, term: list[str], coef) -> pd.DataFrame:
    """Rows that are estimates without a standard error (effect sds, dispersion)."""
    return pd.DataFrame({"block": block, "term": term, "coef": np.asarray(coef, float)}).reindex(columns=SUMMARY_COLUMNS)


def lookup(summary: pd.DataFrame, block: str, term: str) -> pd.Series:
    """One row of a summary by block and term."""
    row = summary[(summary["block"] == block) & (summary["term"] == term)]
    if len(row) != 1:
        raise KeyError(f"no single row {block}: {term} in the summary")
    return row.iloc[0]


def labelled(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary indexed by 'block:term' (for lookups such as ``labelled(s).loc['level:intercept']``)."""
    return summary.set_index(summary["block"] + ":" + summary["term"])
