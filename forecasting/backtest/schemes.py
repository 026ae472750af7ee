"""Backtest folds: each holds only what was knowable when the forecast would have been made.

- as_of: every deal cut off by the date, with its collections to that date; forecasts the rest.
- new_pool: one deal left out entirely; the model fits on the others and forecasts it from features alone.
- vintage_holdout: vintage V forecast as new pools by a model fitted on earlier vintages as they stood at the last
  cut-off of V (with two earlier vintages at least: training on 2021-2023 to forecast 2024 mirrors forecasting the
  2025 pools today).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from forecasting.data.dataset import Dataset
from forecasting.data.history import RecoveryHistory


@dataclass(frozen=True)
class Fold:
    scheme: str
    fold: str
    train: Dataset
    test_deals: pd.DataFrame
    observed: RecoveryHistory | None  # what the forecast of the test deals may use
    test_loans: pd.DataFrame | None = None  # their loan tapes (known at cut-off)
    test_loan_collections: pd.DataFrame | None = None  # their loan payments up to the fold's date


def _without(dataset: Dataset, keep: pd.Series) -> Dataset:
    """The dataset restricted to the deals where ``keep`` (indexed like deals) is true."""
    ids = set(dataset.deals.loc[keep.to_numpy(), "deal_id"])
    part = lambda t: None if t is None else t[t["deal_id"].isin(ids)].reset_index(drop=True)  # noqa: E731
    return replace(dataset, deals=part(dataset.deals), collections=part(dataset.collections), loans=part(dataset.loans),
                   loan_collections=part(dataset.loan_collections))


def _loans_of(dataset: Dataset, deal_ids) -> pd.DataFrame | None:
    return None if dataset.loans is None else dataset.loans[dataset.loans["deal_id"].isin(set(deal_ids))]


def as_of_folds(dataset: Dataset, dates) -> list[Fold]:
    folds = []
    for date in dates:
        known = dataset.truncate(date)
        if len(known.deals):
            folds.append(Fold("as_of", f"{pd.Timestamp(date):%Y-%m-%d}", known, known.deals, known.history,
                              known.loans, known.loan_collections))
    return folds


def new_pool_folds(dataset: Dataset) -> list[Fold]:
    deals = dataset.deals
    return [Fold("new_pool", deal, _without(dataset, deals["deal_id"] != deal), deals[deals["deal_id"] == deal], None,
                 _loans_of(dataset, [deal])) for deal in deals["deal_id"]]


def vintage_holdout_folds(dataset: Dataset, min_earlier: int = 2) -> list[Fold]:
    deals = dataset.deals
    vintages = sorted(deals["vintage"].unique())
    folds = []
    for v in vintages[min_earlier:]:
        test = deals[deals["vintage"] == v]
        known = _without(dataset, deals["vintage"] < v).truncate(test["cutoff_date"].max())
        folds.append(Fold("vintage_holdout", str(v), known, test, None, _loans_of(dataset, test["deal_id"])))
    return folds


def make_folds(dataset: Dataset, schemes: list[str], as_of_dates) -> list[Fold]:
    makers = {"as_of": lambda: as_of_folds(dataset, as_of_dates), "new_pool": lambda: new_pool_folds(dataset),
              "vintage_holdout": lambda: vintage_holdout_folds(dataset)}
    return [fold for scheme in schemes for fold in makers[scheme]()]
