"""The CAS Loss Reserve Database (accident years 1988-1997, paid losses) as an npas dataset, for benchmarks and tests.

Each company-line triangle is a set of pools of one originator: ``originator`` = company code and line, ``vintage``
= accident year, ``cutoff_date`` = the end of the year before it (so period p, of 12 months, ends at the end of
accident year + p - 1, where Schedule P values development age p), ``opb`` = 10 x the year's net earned premium (the
largest paid loss ratio of the usable triangles is 8.1, so every cum_rate stays below 1; one constant for all pools,
fixed before looking at any outcome), ``n_borrowers`` = opb / 100,000 (the overdispersed Poisson weight of a
reserving ODP model is the size of the exposure: Var(cash) = phi x its mean), ``wa_delinquency_months`` = 0 (not
used: benchmark configs have no covariates). Collections are the increments of cumulative paid losses as of
1997-12-31 (the upper triangle); the lower triangle, to 2006, is the truth the forecasts are scored against. A
negative increment (salvage, subrogation: 3% of cells) is folded into the running maximum of cumulative paid, so
collections stay >= 0 as the contract requires, and the truth is treated the same way.

Sources (both on PyPI, offline): ``cas-schedule-p`` (the full squares, with Meyers' company screens; needs duckdb)
and ``chainladder`` (its ``clrd`` sample: the upper triangles only).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.dataset import Dataset, DatasetMeta

AS_OF = pd.Timestamp("1997-12-31")
YEARS = range(1988, 1998)
OPB_MULTIPLE = 10.0
UNIT = 1e5
MEYERS_LINES = ("commercial_auto", "private_passenger_auto", "workers_compensation", "other_liability")
SHORT = {"commercial_auto": "CA", "private_passenger_auto": "PA", "workers_compensation": "WC",
         "other_liability": "OL", "products_liability": "PL", "medical_malpractice": "MM"}


def squares(selection: str = "meyers") -> pd.DataFrame:
    """Cumulative paid losses and net earned premium by company, line, accident year and development age 1-10.

    ``meyers``: the 50 companies per line that Meyers' screens select (cas_schedule_p.screens, Monograph 1 Table
    A.1); ``usable``: every complete triangle whose premium is positive and paid losses non-negative in all cells."""
    import cas_schedule_p
    frame = pd.read_parquet(cas_schedule_p.path("mart_reserving_model_training"))
    frame = frame[frame["accident_year"].isin(YEARS) & frame["development_age"].between(1, 10)]
    frame = frame[["company_code", "line_of_business", "accident_year", "development_age", "cum_paid_loss",
                   "earned_prem_net"]]
    if selection == "meyers":
        from cas_schedule_p import screens
        chosen = pd.concat([screens.select_companies(line=line, per_line=50).assign(line_of_business=line)
                            for line in MEYERS_LINES])
        keys = set(zip(chosen["company_code"], chosen["line_of_business"]))
    else:
        ok = frame.groupby(["company_code", "line_of_business"]).apply(
            lambda t: len(t) == 100 and (t["earned_prem_net"] > 0).all() and (t["cum_paid_loss"] >= 0).all()
            and (t.loc[t["development_age"] == 10, "cum_paid_loss"] > 0).all(), include_groups=False)
        keys = set(ok[ok].index)
    inside = [k in keys for k in zip(frame["company_code"], frame["line_of_business"])]
    return frame[inside].sort_values(["line_of_business", "company_code", "accident_year", "development_age"])


def cas_dataset(selection: str = "meyers", lines: tuple[str, ...] | None = None) -> tuple[Dataset, pd.DataFrame]:
    """The dataset as of 1997-12-31, and the truth: deal_id, period (1-10), cum_rate, line, company."""
    sq = squares(selection)
    if lines is not None:
        sq = sq[sq["line_of_business"].isin(lines)]
    sq = sq.assign(deal_id=sq["company_code"] + "-" + sq["line_of_business"].map(SHORT) + "-" +
                   sq["accident_year"].astype(str))
    sq["cum_paid"] = sq.groupby("deal_id")["cum_paid_loss"].cummax().clip(lower=0.0) * 1000.0
    pools = sq[sq["development_age"] == 1].set_index("deal_id")
    premium = sq.groupby("deal_id")["earned_prem_net"].first() * 1000.0
    opb = (OPB_MULTIPLE * premium).reindex(pools.index)
    deals = pd.DataFrame({
        "deal_id": pools.index, "originator": (pools["company_code"] + "-" + pools["line_of_business"].map(SHORT)).to_numpy(),
        "vintage": pools["accident_year"].to_numpy(), "line": pools["line_of_business"].to_numpy(),
        "cutoff_date": pd.to_datetime((pools["accident_year"] - 1).astype(str) + "-12-31").to_numpy(),
        "opb": opb.to_numpy(), "n_borrowers": np.maximum(np.round(opb.to_numpy() / UNIT), 1).astype(int),
        "wa_delinquency_months": 0.0})
    deals["avg_balance"] = deals["opb"] / deals["n_borrowers"]
    sq["increment"] = sq.groupby("deal_id")["cum_paid"].diff().fillna(sq["cum_paid"])
    known = sq["accident_year"] + sq["development_age"] - 1 <= AS_OF.year
    collections = sq.loc[known, ["deal_id", "development_age", "increment"]].rename(
        columns={"development_age": "period", "increment": "gross_collections"})
    truth = sq[["deal_id", "development_age", "cum_paid", "line_of_business", "company_code"]].rename(
        columns={"development_age": "period", "line_of_business": "line", "company_code": "company"})
    truth["cum_rate"] = truth["cum_paid"] / truth["deal_id"].map(opb)
    meta = DatasetMeta(name=f"cas-{selection}-1988-1997", as_of=AS_OF.date(), period_months=12, currency="USD")
    return Dataset(meta, deals.reset_index(drop=True), collections.reset_index(drop=True)), truth.drop(columns="cum_paid")
