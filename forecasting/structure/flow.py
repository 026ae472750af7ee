"""The structure analysis (``npas structure``, ``fc.structure``): forecast paths to legal maturity, each scenario
applied, dated cash through the waterfall, and the tables of docs/outputs.md section 5.

Paths are made chunk by chunk of deals (the forecast's chunks), each chunk run through every scenario in a joblib
worker, so memory stays bounded for any number of deals and the chunks share the cores; draw k of every deal shares
one parameter draw (random streams are keyed by purpose, not by chunk or worker), so the portfolio tables (sums
over deals per draw) keep the dependence between pools.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from forecasting.config import MAX_HORIZON
from forecasting.data.dataset import Dataset
from forecasting.data.periods import month_end
from forecasting.forecast import scenarios as stress
from forecasting.forecast.checks import check_paths
from forecasting.forecast.paths import group_labels
from forecasting.forecast.pipeline import chunks
from forecasting.forecast.scenarios import BASE, Scenario
from forecasting.structure import cashflows, measures, waterfall
from forecasting.structure.terms import Terms, deal_terms

HAIRCUTS = np.round(np.arange(0.0, 0.95, 0.1), 2)  # the sweep behind the p_repaid-against-haircut chart
QUANTILES = (0.1, 0.5, 0.9)


def structure(model, dataset: Dataset, scenarios: list[Scenario] = (BASE,), n_paths: int = 1000, seed: int = 0,
              price: float = 1.0, n_jobs: int = 1) -> dict[str, pd.DataFrame]:
    """cashflows, cashflows_portfolio, tranche_summary, breakeven and haircut_sweep tables for every deal with
    tranches, under each scenario (``base`` first). The chunks of deals run in parallel through joblib
    (``n_jobs``; the backend the caller configured); the result is the same for any n_jobs."""
    terms = deal_terms(dataset)
    data = dataset.subset(terms.deal_ids)
    horizon = min(cashflows.horizon_to_maturity(terms, data), MAX_HORIZON)
    scenarios = [BASE] + [s for s in scenarios if s != BASE]
    results = Parallel(n_jobs=n_jobs)(delayed(_forecast_chunk)(model, part, terms, horizon, scenarios, n_paths, seed,
                                                               price) for part in chunks(data, horizon, n_paths))
    return merge(results, terms, scenarios)


def _forecast_chunk(model, part: Dataset, terms: Terms, horizon: int, scenarios, n_paths: int, seed: int,
                    price: float) -> ChunkResult:
    fc = model.predict(part, horizon, n_draws=n_paths, random_state=seed)
    check_paths(fc, model.name)  # a NaN path would pay the tranches nothing on that draw, unsaid
    return chunk_tables(fc, part, terms, horizon, scenarios, price)


@dataclass
class ChunkResult:
    """One chunk's tables, its portfolio sums and its expected cash for the break-even."""

    tables: dict[str, list[pd.DataFrame]]
    portfolio: _Portfolio
    expected: dict[str, tuple]


def chunk_tables(fc, part: Dataset, terms: Terms, horizon: int, scenarios, price: float) -> ChunkResult:
    """Everything one chunk of deals' paths gives: every scenario through the waterfall, the haircut sweep."""
    rows = terms.deal_ids.get_indexer(fc.deal_ids)
    sub = terms.subset(rows)
    opb = part.deals.set_index("deal_id")["opb"].reindex(fc.deal_ids).to_numpy(float)
    dates = cashflows.date_of_period(sub, part, horizon)
    cutoff = part.history.cutoff.reindex(fc.deal_ids)
    months = part.meta.period_months
    increments = np.diff(fc.draws, axis=-1, prepend=0.0)
    tables, portfolio, expected = defaultdict(list), _Portfolio(), {}
    for scenario in scenarios:
        if scenario.shock is not None and scenario.shock.factor > 1:  # paths capped at a cum_rate of 1
            cash = cashflows.cash_by_date(stress.apply(scenario, fc.draws, fc.observed_periods, cutoff, months), opb,
                                          dates, sub.max_dates)
        else:
            cash = cashflows.cash_of_increments(stress.stressed(scenario, increments, fc.observed_periods, cutoff,
                                                                months), opb, dates, sub.max_dates)
        w = waterfall.run(sub, cash)
        tables["tranche_summary"].append(measures.tranche_summary(sub, w, price).assign(scenario=scenario.name))
        tables["cashflows"].append(_cashflow_rows(sub, cash, w).assign(scenario=scenario.name))
        portfolio.add(scenario.name, sub, part, cash)
        mean = stress.apply(scenario, fc.mean[None], fc.observed_periods, cutoff, months)
        seen, future = cashflows.split_observed(mean, fc.observed_periods)
        expected[scenario.name] = (rows, cashflows.cash_by_date(seen, opb, dates, terms.max_dates)[0],
                                   cashflows.cash_by_date(future, opb, dates, terms.max_dates)[0], seen[0, :, -1],
                                   future[0, :, -1])
    seen = _seen(fc)[None]
    future_cash = cashflows.cash_of_increments(increments * ~seen, opb, dates, sub.max_dates)
    seen_cash = cashflows.cash_of_increments(increments * seen, opb, dates, sub.max_dates)
    real = np.arange(sub.balance.shape[1])[None, :] < sub.residual[:, None]
    d, k = np.nonzero(real)
    for haircut in HAIRCUTS:  # a haircut scales the future cash only: no need to redate the paths
        repaid = waterfall.repaid_on(sub, seen_cash + (1 - haircut) * future_cash) > 0
        tables["haircut_sweep"].append(pd.DataFrame({"deal_id": sub.deal_ids.to_numpy()[d], "tranche": sub.names[d, k],
                                                     "haircut": haircut, "p_repaid": repaid[:, d, k].mean(axis=0)}))
    return ChunkResult(tables, portfolio, expected)


def merge(results: list[ChunkResult], terms: Terms, scenarios) -> dict[str, pd.DataFrame]:
    """The chunks' tables in one, the break-even run once on every deal, the portfolio sums added up."""
    tables, portfolio = defaultdict(list), _Portfolio()
    for result in results:
        for name, parts in result.tables.items():
            tables[name] += parts
        portfolio.merge(result.portfolio)
    for scenario in scenarios:
        rows, *parts = (np.concatenate(p) for p in zip(*(r.expected[scenario.name] for r in results)))
        tables["breakeven"].append(measures.breakeven(terms.subset(rows), *parts).assign(scenario=scenario.name))
    order = {"scenario": {s.name: i for i, s in enumerate(scenarios)}, "deal_id": {d: i for i, d in enumerate(terms.deal_ids)}}
    out = {name: _canonical(_scenario_first(pd.concat(parts, ignore_index=True)), order) for name, parts in tables.items()}
    out["cashflows_portfolio"] = portfolio.table()
    return out


def _canonical(table: pd.DataFrame, order: dict) -> pd.DataFrame:
    """Rows by scenario (base first) and deal (the terms' order), the rest as each deal's rows came: the same for
    any chunking."""
    keys = [c for c in ("scenario", "deal_id") if c in table]
    return table.sort_values(keys, key=lambda col: col.map(order[col.name]), kind="stable").reset_index(drop=True)


def _seen(fc) -> np.ndarray:
    """(deals, horizon): the periods the forecast took from actual collections."""
    return np.arange(1, fc.horizon + 1)[None, :] <= fc.observed_periods[:, None]


def _scenario_first(table: pd.DataFrame) -> pd.DataFrame:
    return table[["scenario"] + [c for c in table.columns if c != "scenario"]] if "scenario" in table else table


def _cashflow_rows(terms: Terms, cash: np.ndarray, w: waterfall.Waterfall) -> pd.DataFrame:
    """Per deal and payment date: collections (mean and quantiles over paths) and each tranche's mean interest and
    principal (columns by priority rank: tranche_1_interest, ...)."""
    dates = terms.payment_dates()
    d = terms.deal_ids.get_indexer(dates["deal_id"])
    j = dates["date_index"].to_numpy() - 1
    values = cash[:, d, j]
    out = dates.assign(collections_mean=values.mean(axis=0),
                       **dict(zip(_quantile_names(), np.quantile(values, QUANTILES, axis=0))))
    for k in range(terms.balance.shape[1]):
        real = k <= terms.residual[d]
        out[f"tranche_{k + 1}_interest"] = np.where(real, w.interest[:, d, k, j].mean(axis=0), np.nan)
        out[f"tranche_{k + 1}_principal"] = np.where(real, w.principal[:, d, k, j].mean(axis=0), np.nan)
    out["residual_excess"] = w.excess[:, d, j].mean(axis=0)
    return out


class _Portfolio:
    """Per scenario, draw and calendar payment month, collections summed by vintage, originator and portfolio."""

    def __init__(self):
        self.sums: dict[tuple, np.ndarray] = {}

    def add(self, scenario: str, terms: Terms, dataset: Dataset, cash: np.ndarray) -> None:
        deals = dataset.deals.set_index("deal_id").reindex(terms.deal_ids)
        months = terms.payment_month(np.arange(1, cash.shape[-1] + 1))
        live = np.arange(1, cash.shape[-1] + 1)[None, :] <= terms.n_dates[:, None]
        for grouping, labels in group_labels(deals).items():
            for label in np.unique(labels):
                rows = labels == label
                at, sub = np.where(live[rows], months[rows], -1), cash[:, rows]  # -1: past legal maturity
                for month in np.unique(at[at >= 0]):
                    key = (scenario, grouping, label, int(month))
                    self.sums[key] = self.sums.get(key, 0.0) + sub[:, at == month].sum(axis=1)

    def merge(self, other: _Portfolio) -> None:
        for key, values in other.sums.items():
            self.sums[key] = self.sums.get(key, 0.0) + values

    def table(self) -> pd.DataFrame:
        keys = list(self.sums)
        if not keys:
            return pd.DataFrame(columns=["scenario", "grouping", "group", "date", "collections_mean", *_quantile_names()])
        values = np.stack([self.sums[key] for key in keys])  # (keys, paths)
        scenario, grouping, label, month = (list(column) for column in zip(*keys))
        out = pd.DataFrame({"scenario": scenario, "grouping": grouping, "group": label,
                            "date": month_end(np.asarray(month, np.int64)),
                            "collections_mean": values.mean(axis=1),
                            **dict(zip(_quantile_names(), np.quantile(values, QUANTILES, axis=1)))})
        return out.sort_values(["scenario", "grouping", "group", "date"]).reset_index(drop=True)


def _quantile_names() -> list[str]:
    return [f"collections_p{round(q * 100):02d}" for q in QUANTILES]

