"""The rows a survival fit sees: loans (or units of principal) by time to first payment, aggregated into cells.

Fits run on cells of identical features, duration and event with their total weight: the likelihood is the same as
on the raw rows at a fraction of the cost (benchmarks/bench_survival.py).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.dataset import Dataset

DEAL = "_deal"  # the cells' cluster column: a deal's rows share its frailty


def aggregate(frame: pd.DataFrame, weight: str | None = None) -> pd.DataFrame:
    """Unique rows with their total weight (count of rows when ``weight`` is None)."""
    keys = [c for c in frame.columns if c != weight]
    grouped = frame.groupby(keys, sort=False)
    cells = (grouped[weight].sum() if weight else grouped.size()).rename("weight").reset_index()
    return cells[cells["weight"] > 0]


def loan_durations(loans: pd.DataFrame, loan_collections: pd.DataFrame, n_obs: pd.Series) -> pd.DataFrame:
    """Per loan: duration (first payment period, or its deal's last observed period), event, total paid."""
    key = pd.MultiIndex.from_frame(loans[["deal_id", "loan_id"]])
    paid = loan_collections[loan_collections["amount"] > 0].groupby(["deal_id", "loan_id"])
    first = paid["period"].min().reindex(key).to_numpy(dtype=float)
    total = paid["amount"].sum().reindex(key).fillna(0.0).to_numpy()
    event = ~np.isnan(first)
    horizon = n_obs.reindex(loans["deal_id"]).fillna(0).to_numpy()
    return pd.DataFrame({"deal_id": loans["deal_id"].to_numpy(), "loan_id": loans["loan_id"].to_numpy(),
                         "duration": np.where(event, first, horizon), "event": event.astype(int), "paid": total,
                         "balance": loans["balance"].to_numpy(float),
                         "months_delinquent": loans["months_delinquent"].to_numpy(float), "observed": horizon})


def observed_periods(dataset: Dataset) -> pd.Series:
    """Last observed period per deal (0 for a new pool), by deal_id."""
    seen = dataset.collections.groupby("deal_id")["period"].max()
    return seen.reindex(dataset.deal_ids).fillna(0).astype(int)


def pool_units(dataset: Dataset) -> pd.DataFrame:
    """Pool level: each unit of principal (of the pool's average balance) is an individual, collected in period t
    (weight: that period's collections in units) or censored at the last observed period (the rest of the pool)."""
    info = dataset.deals.set_index("deal_id")
    coll = dataset.collections
    unit = info["opb"] / info["n_borrowers"]
    events = coll[coll["gross_collections"] > 0]
    rows = pd.DataFrame({"deal_id": events["deal_id"].to_numpy(), "duration": events["period"].to_numpy(), "event": 1,
                         "weight": (events["gross_collections"] / unit.reindex(events["deal_id"]).to_numpy()).to_numpy()})
    left = (info["opb"] - coll.groupby("deal_id")["gross_collections"].sum().reindex(info.index).fillna(0.0)) / unit
    seen = observed_periods(dataset)
    censored = pd.DataFrame({"deal_id": info.index, "duration": seen.reindex(info.index).to_numpy(), "event": 0,
                             "weight": left.to_numpy()})
    rows = pd.concat([rows, censored], ignore_index=True)
    return rows[(rows["duration"] > 0) & (rows["weight"] > 0)].reset_index(drop=True)
