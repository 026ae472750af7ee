"""A pool's collections by payment date: each period's collections fall due on the first payment date on or after
the period's end (those before closing on the first date; those after legal maturity on none)."""
from __future__ import annotations

import numpy as np

from forecasting.data.dataset import Dataset
from forecasting.data.periods import end_months, month_index
from forecasting.structure.terms import Terms


def date_of_period(terms: Terms, dataset: Dataset, horizon: int) -> np.ndarray:
    """(deals, horizon): the payment date index (1..) each period's collections are paid on; 0 past maturity."""
    cutoff = dataset.deals.set_index("deal_id")["cutoff_date"].reindex(terms.deal_ids)
    since = end_months(cutoff, horizon, dataset.meta.period_months) - terms.closing_month[:, None]
    j = np.maximum(-(-since // terms.frequency[:, None]), 1)
    return np.where(j <= terms.n_dates[:, None], j, 0)


def cash_by_date(paths: np.ndarray, opb: np.ndarray, dates: np.ndarray, n_dates: int) -> np.ndarray:
    """cum_rate paths (paths, deals, horizon) -> collections in CNY (paths, deals, n_dates) per payment date."""
    return cash_of_increments(np.diff(paths, axis=-1, prepend=0.0), opb, dates, n_dates)


def cash_of_increments(increments: np.ndarray, opb: np.ndarray, dates: np.ndarray, n_dates: int) -> np.ndarray:
    """Period increments of cum_rate (paths, deals, horizon) -> collections in CNY per payment date."""
    out = np.zeros(increments.shape[:2] + (n_dates + 1,))  # bin 0: past legal maturity, dropped
    for d in range(increments.shape[1]):  # per deal: a bincount over its periods for every path at once
        out[:, d] = _bincount_rows(increments[:, d], dates[d], n_dates + 1) * opb[d]
    return out[:, :, 1:]


def _bincount_rows(values: np.ndarray, bins: np.ndarray, width: int) -> np.ndarray:
    """Row-wise bincount: (rows, n) values summed into ``width`` bins by ``bins`` (n,)."""
    onehot = np.zeros((len(bins), width))
    onehot[np.arange(len(bins)), bins] = 1.0
    return values @ onehot


def split_observed(paths: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cum_rate paths -> (their observed part, their future part), each a cum_rate path: the break-even scales the
    future one only."""
    seen = np.arange(1, paths.shape[-1] + 1)[None, :] <= observed[:, None]
    increments = np.diff(paths, axis=-1, prepend=0.0)
    return np.cumsum(np.where(seen, increments, 0.0), -1), np.cumsum(np.where(seen, 0.0, increments), -1)


def horizon_to_maturity(terms: Terms, dataset: Dataset) -> int:
    """Periods from the earliest cut-off to the latest legal maturity: how far the structure needs forecasts."""
    cutoff = dataset.deals.set_index("deal_id")["cutoff_date"].reindex(terms.deal_ids)
    last = terms.closing_month + terms.n_dates * terms.frequency
    return int(np.max(-(-(last - month_index(cutoff)) // dataset.meta.period_months)))

