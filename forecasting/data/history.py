"""The recovery history of a set of pools: a triangle of deals by collection periods.

Like chainladder's ``Triangle``, this is the domain object the models and baselines work on: rows are deals,
columns are periods since cut-off (1, 2, ...), cells beyond a deal's last observed period are NaN.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.periods import observed_periods


class RecoveryHistory:
    """Collections of deals by period, with the deals' opb as the denominator of every rate."""

    def __init__(self, amounts: pd.DataFrame, opb: pd.Series, cutoff: pd.Series, as_of: pd.Timestamp,
                 period_months: int = 1):
        self.amounts = amounts
        self.opb = opb.reindex(amounts.index).astype(float)
        self.cutoff = pd.to_datetime(cutoff.reindex(amounts.index))
        self.as_of = pd.Timestamp(as_of)
        self.period_months = period_months

    @classmethod
    def from_tables(cls, deals: pd.DataFrame, collections: pd.DataFrame, as_of: pd.Timestamp,
                    period_months: int = 1) -> RecoveryHistory:
        """Build from the contract's deals and collections tables (long form)."""
        info = deals.set_index("deal_id")
        n_periods = int(collections["period"].max()) if len(collections) else 0
        amounts = collections.pivot(index="deal_id", columns="period", values="gross_collections")
        amounts = amounts.reindex(index=info.index, columns=range(1, n_periods + 1))
        amounts.columns.name = "period"
        return cls(amounts.astype(float), info["opb"], info["cutoff_date"], as_of, period_months)

    @property
    def deal_ids(self) -> pd.Index:
        return self.amounts.index

    @property
    def n_periods(self) -> int:
        return self.amounts.shape[1]

    @property
    def observed_periods(self) -> pd.Series:
        """Periods observed per deal (contiguous from 1 by the contract)."""
        return self.amounts.notna().sum(axis=1).rename("observed_periods")

    @property
    def period_rate(self) -> pd.DataFrame:
        """Collections in each period / opb."""
        return self.amounts.div(self.opb, axis=0)

    @property
    def cum_rate(self) -> pd.DataFrame:
        """Cumulative collections / opb after each period; NaN after a deal's last observed period."""
        rate = self.period_rate
        return rate.cumsum(axis=1).where(rate.notna())

    @property
    def latest_cum_rate(self) -> pd.Series:
        """cum_rate at each deal's last observed period (0 for a deal with none)."""
        return self.period_rate.sum(axis=1, min_count=0).rename("observed_cum_rate")

    def truncate(self, as_of: pd.Timestamp | str) -> RecoveryHistory:
        """The history as it stood at ``as_of``: later periods set to NaN (calendar, from cut-off dates)."""
        as_of = pd.Timestamp(as_of)
        n_obs = observed_periods(self.cutoff, as_of, self.period_months)
        keep = np.arange(1, self.n_periods + 1)[None, :] <= n_obs[:, None]
        return RecoveryHistory(self.amounts.where(keep), self.opb, self.cutoff, as_of, self.period_months)

    def to_long(self) -> pd.DataFrame:
        """One row per deal and observed period: deal_id, period, gross_collections, period_rate, cum_rate."""
        long = pd.DataFrame({
            "gross_collections": self.amounts.stack(),
            "period_rate": self.period_rate.stack(),
            "cum_rate": self.cum_rate.stack(),
        }).reset_index()
        return long.rename(columns={"level_0": "deal_id"})

    def triangle(self, value: str = "cum_rate", by: pd.Series | None = None) -> pd.DataFrame:
        """The triangle of ``value`` (cum_rate, period_rate or amounts), by deal or summed/averaged by a grouping.

        With ``by`` (a Series mapping deal_id to a group such as vintage), rates are opb-weighted over the deals
        of each group that have observed the period, so a group's row is that group's pooled experience.
        """
        if by is None:
            return getattr(self, value)
        groups = by.reindex(self.deal_ids)
        amounts = self.amounts
        opb_seen = amounts.notna().mul(self.opb, axis=0)
        if value == "amounts":
            return amounts.groupby(groups).sum(min_count=1)
        rate = amounts.groupby(groups).sum(min_count=1) / opb_seen.groupby(groups).sum().replace(0, np.nan)
        return rate.cumsum(axis=1).where(rate.notna()) if value == "cum_rate" else rate

    def __repr__(self) -> str:
        return (f"RecoveryHistory({len(self.deal_ids)} deals x {self.n_periods} periods, as of {self.as_of:%Y-%m-%d}, "
                f"period_months={self.period_months})")
