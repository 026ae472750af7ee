"""Issue 19's speed check: paths through the waterfall, five scenarios, tranche summaries and break-even.

The demo's 29 deals (their tranches and terms), and the same terms tiled to 3,000 deals, each with 1,000 paths of
84 monthly periods (gamma increments: the structure step's cost does not depend on where paths come from), timed
from paths to tables: scenarios applied, cash dated, the waterfall run, tranche_summary and breakeven computed.
The haircut sweep behind the chart is timed apart. Prints seconds per size and the ratio.

Run: .venv/bin/python benchmarks/bench_structure.py [--deals 29 3000] [--paths 1000]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from forecasting.forecast import scenarios as stress
from forecasting.forecast.pipeline import CHUNK_VALUES
from forecasting.forecast.scenarios import BASE, Scenario, Shock
from forecasting.simulation.demo import demo_dataset
from forecasting.structure import cashflows, measures, waterfall
from forecasting.structure.terms import deal_terms

HORIZON = 84
SCENARIOS = [BASE, Scenario(name="haircut20", haircut=0.2), Scenario(name="delay6", delay_months=6),
             Scenario(name="shock", shock=Shock.parse("2026-01:2026-06:50%")),
             Scenario(name="severe", haircut=0.3, delay_months=6)]


def tiled(n: int):
    """The demo dataset's deals, tranches and terms repeated to n deals (ids made unique)."""
    base = demo_dataset()
    copies = -(-n // len(base.deals))
    deals = pd.concat([base.deals.assign(deal_id=base.deals["deal_id"] + f"-r{i}") for i in range(copies)]).head(n)
    tranches = pd.concat([base.tranches.assign(deal_id=base.tranches["deal_id"] + f"-r{i}") for i in range(copies)])
    from dataclasses import replace
    data = replace(base, deals=deals.reset_index(drop=True), collections=base.collections.iloc[:0],
                   loans=None, loan_collections=None, tranches=tranches[tranches["deal_id"].isin(deals["deal_id"])])
    return data, deal_terms(data)


def run(n: int, n_paths: int, seed: int = 0) -> tuple[float, float]:
    data, terms = tiled(n)
    rng = np.random.default_rng(seed)
    opb = data.deals.set_index("deal_id")["opb"].reindex(terms.deal_ids).to_numpy(float)
    observed = np.zeros(n, dtype=int)
    cutoff = data.deals.set_index("deal_id")["cutoff_date"].reindex(terms.deal_ids)
    dates = cashflows.date_of_period(terms, data, HORIZON)
    chunk = max(1, CHUNK_VALUES // (n_paths * HORIZON))
    expected = {s.name: [] for s in SCENARIOS}
    start = time.perf_counter()
    for lo in range(0, n, chunk):
        rows = np.arange(lo, min(n, lo + chunk))
        sub = terms.subset(rows)
        increments = rng.gamma(0.6, 0.004, (n_paths, len(rows), HORIZON))
        mean = np.cumsum(increments, axis=-1).mean(axis=0, keepdims=True)
        for scenario in SCENARIOS:  # as structure/flow.py: scenarios on the increments, dated once
            inc = stress.stressed(scenario, increments, observed[rows], cutoff.iloc[rows], 1)
            w = waterfall.run(sub, cashflows.cash_of_increments(inc, opb[rows], dates[rows], sub.max_dates))
            measures.tranche_summary(sub, w)
            m = stress.apply(scenario, mean, observed[rows], cutoff.iloc[rows], 1)
            seen, future = cashflows.split_observed(m, observed[rows])
            expected[scenario.name].append((cashflows.cash_by_date(seen, opb[rows], dates[rows], terms.max_dates)[0],
                                            cashflows.cash_by_date(future, opb[rows], dates[rows], terms.max_dates)[0],
                                            seen[0, :, -1], future[0, :, -1]))
    for parts in expected.values():  # the break-even runs once per scenario on all deals, as in structure/flow.py
        measures.breakeven(terms, *(np.concatenate(p) for p in zip(*parts)))
    return time.perf_counter() - start, n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, nargs="+", default=[29, 3000])
    parser.add_argument("--paths", type=int, default=1000)
    args = parser.parse_args()
    print(f"{args.paths} paths x {HORIZON} months, {len(SCENARIOS)} scenarios (base included)")
    previous = None
    for n in args.deals:
        seconds, _ = run(n, args.paths)
        ratio = "" if previous is None else f"  ({seconds / previous[0]:.1f}x the time for {n / previous[1]:.0f}x the deals)"
        print(f"{n:>6} deals: {seconds:6.2f} s{ratio}")
        previous = (seconds, n)


if __name__ == "__main__":
    main()
