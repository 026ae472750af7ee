"""Backtest folds: each holds only what was knowable when the forecast would have been made.

- as_of: every deal cut off by the date, with its collections to that date; forecasts the rest.
- new_pool: one deal left out entirely; the model fits on the others and forecasts it from features alone.
- vintage_holdout: vintage V forecast as new pools by a model fitted on earlier vintages as they stood at the last
  cut-off of V (with two earlier vintages at least: training on 2021-2023 to forecast 2024 mirrors forecasting the
  2025 pools today).
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from forecasting.data.dataset import Dataset


@dataclass(frozen=True)
class Fold:
    scheme: str
    fold: str
    train: Dataset  # what the estimators are fitted on
    test: Dataset  # the deals forecast, with what the forecast may know of them (collections, loan tapes)


def as_of_folds(dataset: Dataset, dates) -> list[Fold]:
    folds = []
    for date in dates:
        known = dataset.truncate(date)
        if len(known.deals):
            folds.append(Fold("as_of", f"{pd.Timestamp(date):%Y-%m-%d}", known, known))
    return folds


def new_pool_folds(dataset: Dataset) -> list[Fold]:
    ids = list(dataset.deal_ids)
    return [Fold("new_pool", deal, dataset.subset([d for d in ids if d != deal]),
                 dataset.subset([deal]).without_history()) for deal in ids]


def vintage_holdout_folds(dataset: Dataset, min_earlier: int = 2) -> list[Fold]:
    deals = dataset.deals
    folds = []
    for v in sorted(deals["vintage"].unique())[min_earlier:]:
        test = deals[deals["vintage"] == v]
        known = dataset.subset(deals.loc[deals["vintage"] < v, "deal_id"]).truncate(test["cutoff_date"].max())
        folds.append(Fold("vintage_holdout", str(v), known, dataset.subset(test["deal_id"]).without_history()))
    return folds


def make_folds(dataset: Dataset, schemes: list[str], as_of_dates) -> list[Fold]:
    makers = {"as_of": lambda: as_of_folds(dataset, as_of_dates), "new_pool": lambda: new_pool_folds(dataset),
              "vintage_holdout": lambda: vintage_holdout_folds(dataset)}
    return [fold for scheme in schemes for fold in makers[scheme]()]
