"""Issue 19's speed check: paths through the waterfall, five scenarios, tranche summaries and break-even.

The demo's 29 deals (their tranches and terms), and the same terms tiled to 3,000 deals, each with 1,000 paths of
84 monthly periods (gamma increments: the structure step's cost does not depend on where paths come from), timed
from paths to tables with the code `npas structure` runs (structure/flow.py: chunk_tables per chunk of deals through
joblib, then merge: scenarios applied, cash dated, the waterfall, tranche_summary, cash flows, portfolio sums, the
haircut sweep, and the break-even on all deals). Prints seconds per size and n_jobs, and the ratios.

Run: .venv/bin/python benchmarks/bench_structure.py [--deals 29 3000] [--paths 1000] [--jobs 1 2]
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from forecasting.forecast.pipeline import CHUNK_VALUES
from forecasting.forecast.scenarios import BASE, Scenario, Shock
from forecasting.models.curve_forecast import CurveForecast
from forecasting.simulation.demo import demo_dataset
from forecasting.structure.flow import chunk_tables, merge
from forecasting.structure.terms import deal_terms

HORIZON = 84
SCENARIOS = [BASE, Scenario(name="haircut20", haircut=0.2), Scenario(name="delay6", delay_months=6),
             Scenario(name="shock", shock=Shock.parse("2026-01:2026-06:50%")),
             Scenario(name="severe", haircut=0.3, delay_months=6)]


def tiled(n: int):
    """The demo dataset's deals, tranches and terms repeated to n deals (ids made unique), as new pools."""
    base = demo_dataset()
    copies = -(-n // len(base.deals))
    deals = pd.concat([base.deals.assign(deal_id=base.deals["deal_id"] + f"-r{i}") for i in range(copies)]).head(n)
    tranches = pd.concat([base.tranches.assign(deal_id=base.tranches["deal_id"] + f"-r{i}") for i in range(copies)])
    data = replace(base, deals=deals.reset_index(drop=True), collections=base.collections.iloc[:0],
                   loans=None, loan_collections=None, tranches=tranches[tranches["deal_id"].isin(deals["deal_id"])])
    return data, deal_terms(data)


def synthetic_chunk(part, terms, n_paths: int, seed: int):
    rng = np.random.default_rng(seed)
    draws = np.cumsum(rng.gamma(0.6, 0.004, (n_paths, len(part.deals), HORIZON)), axis=-1)
    fc = CurveForecast(part.deal_ids, draws.mean(axis=0), draws, np.zeros(len(part.deals), dtype=int))
    return chunk_tables(fc, part, terms, HORIZON, SCENARIOS, 1.0)


def run(n: int, n_paths: int, n_jobs: int) -> float:
    data, terms = tiled(n)
    size = max(1, CHUNK_VALUES // (n_paths * HORIZON))
    ids = list(data.deal_ids)
    parts = [data.subset(ids[i:i + size]) for i in range(0, n, size)]
    start = time.perf_counter()
    results = Parallel(n_jobs=n_jobs)(delayed(synthetic_chunk)(part, terms, n_paths, i) for i, part in enumerate(parts))
    merge(results, terms, SCENARIOS)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, nargs="+", default=[29, 3000])
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print(f"{args.paths} paths x {HORIZON} months, {len(SCENARIOS)} scenarios (base included), haircut sweep included")
    first = {}
    for n in args.deals:
        for jobs in args.jobs:
            seconds = run(n, args.paths, jobs)
            first.setdefault(jobs, (seconds, n))
            ratio = "" if first[jobs][1] == n else \
                f"  ({seconds / first[jobs][0]:.1f}x the time of {first[jobs][1]} deals for {n / first[jobs][1]:.0f}x the deals)"
            print(f"{n:>6} deals, n_jobs={jobs}: {seconds:6.2f} s{ratio}")


if __name__ == "__main__":
    main()
