"""Each deal's securities as arrays: tranches in priority order, payment dates, fees and legal maturity.

Defaults where the deals table is silent (docs/contract.md): closing on the cut-off date, payments every 3 months,
no senior fees, legal maturity 7 years after closing. The last tranche by priority is the residual one: it is paid
its principal after every other tranche and then everything left.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.data.dataset import Dataset
from forecasting.data.periods import month_end, month_index
from forecasting.data.problems import InputError, Problem

DEFAULT_FREQUENCY, DEFAULT_MATURITY_YEARS = 3, 7


@dataclass(frozen=True)
class Terms:
    """Per deal d and tranche k (padded with zero tranches to the largest count): names, balance, coupon; per deal
    the closing month, payment frequency, fee rate and the number of payment dates up to legal maturity."""

    deal_ids: pd.Index
    names: np.ndarray  # (deals, tranches) text; "" where padded
    balance: np.ndarray  # (deals, tranches) CNY at closing
    coupon: np.ndarray  # (deals, tranches) annual
    residual: np.ndarray  # (deals,) index of the residual tranche
    closing_month: np.ndarray  # (deals,) months since year 0
    frequency: np.ndarray  # (deals,) months between payment dates
    fee_rate: np.ndarray  # (deals,)
    n_dates: np.ndarray  # (deals,) payment dates up to legal maturity

    def subset(self, rows: np.ndarray) -> Terms:
        """These deals' terms (row positions)."""
        return Terms(self.deal_ids[rows], self.names[rows], self.balance[rows], self.coupon[rows], self.residual[rows],
                     self.closing_month[rows], self.frequency[rows], self.fee_rate[rows], self.n_dates[rows])

    @property
    def max_dates(self) -> int:
        return int(self.n_dates.max())

    def payment_month(self, j: np.ndarray) -> np.ndarray:
        """Month (since year 0) of payment date j = 1, 2, ... per deal: (deals, len(j))."""
        return self.closing_month[:, None] + np.asarray(j)[None, :] * self.frequency[:, None]

    def payment_dates(self) -> pd.DataFrame:
        """deal_id, date_index (1..n_dates), date (month end)."""
        j = np.arange(1, self.max_dates + 1)
        months = self.payment_month(j)
        keep = j[None, :] <= self.n_dates[:, None]
        dates = month_end(months[keep])
        return pd.DataFrame({"deal_id": np.repeat(self.deal_ids.to_numpy(), keep.sum(axis=1)),
                             "date_index": np.tile(j, (len(self.deal_ids), 1))[keep], "date": dates.to_numpy()})


def deal_terms(dataset: Dataset) -> Terms:
    """The terms of every deal that has tranches (deals without any are left out)."""
    if dataset.tranches is None or dataset.tranches.empty:
        raise InputError(Problem("tranches", None, None, "the dataset has no tranches table: the structure analysis "
                                                         "needs each deal's tranches (docs/contract.md)"))
    tranches = dataset.tranches.sort_values(["deal_id", "priority"])
    deals = dataset.deals.set_index("deal_id").loc[tranches["deal_id"].unique()]
    ids = deals.index
    count = tranches.groupby("deal_id").size().reindex(ids).to_numpy()
    width = int(count.max())
    slot = tranches.groupby("deal_id").cumcount().to_numpy()
    row = ids.get_indexer(tranches["deal_id"])
    names = np.full((len(ids), width), "", dtype=object)
    balance, coupon = np.zeros((len(ids), width)), np.zeros((len(ids), width))
    names[row, slot] = tranches["tranche"].astype(str).to_numpy()
    balance[row, slot] = tranches["balance"].to_numpy(float)
    coupon[row, slot] = tranches["coupon"].to_numpy(float)
    closing = _column(deals, "closing_date", deals["cutoff_date"])
    frequency = _column(deals, "payment_frequency_months", DEFAULT_FREQUENCY).astype(int).to_numpy()
    maturity = _column(deals, "legal_maturity", closing + pd.DateOffset(years=DEFAULT_MATURITY_YEARS))
    span = month_index(maturity) - month_index(closing)
    return Terms(ids, names, balance, coupon, count - 1, month_index(closing), frequency,
                 _column(deals, "senior_fee_rate", 0.0).to_numpy(float), np.maximum(span // frequency, 1))


def _column(deals: pd.DataFrame, name: str, default) -> pd.Series:
    """The deals' column with the default where it is missing or blank (a scalar or a Series per deal)."""
    if name not in deals:
        return pd.Series(default, index=deals.index)
    value = deals[name]
    return value.fillna(default) if np.isscalar(default) else value.where(value.notna(), default)
