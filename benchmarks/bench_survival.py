"""Issue 4 figures: survival fits on a ~1,000,000-loan market, aggregated cells vs lifelines on the raw rows.

Run: .venv/bin/python benchmarks/bench_survival.py [--replicas 9]
Prints seconds and peak memory of: the loan-level mixture model (aggregated cells), and lifelines' WeibullAFTFitter
on the raw loan rows and on the aggregated cells (the same likelihood), with their ratio from one run.
"""
from __future__ import annotations

import argparse
import resource
import time
import warnings

import numpy as np
import pandas as pd
from lifelines import WeibullAFTFitter

from forecasting.models.survival import SurvivalLoanModel
from forecasting.models.survival.cells import aggregate, loan_durations, observed_periods
from forecasting.simulation.market import simulate_market


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replicas", type=int, default=9)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    ds = simulate_market(replicas=args.replicas).dataset
    print(f"market: {len(ds.loans):,} loans, {len(ds.deals)} deals (peak so far {peak_gib():.2f} GiB)")

    start = time.perf_counter()
    model = SurvivalLoanModel().fit(ds)
    fit_s = time.perf_counter() - start
    counts = model.diagnostics_.counts
    print(f"mixture model, loan level, aggregated: {fit_s:6.1f} s  ({counts['loans']:,} loans -> {counts['cells']:,} "
          f"cells, peak {peak_gib():.2f} GiB)")

    table = loan_durations(ds.loans, ds.loan_collections, observed_periods(ds))
    raw = pd.DataFrame({"duration": table["duration"], "event": table["event"],
                        "log_balance": np.round(np.log(table["balance"] / 1e5) / 0.2) * 0.2,
                        "months": np.round(table["months_delinquent"])})
    raw = raw[raw["duration"] > 0]
    start = time.perf_counter()
    cells = aggregate(raw)
    agg_fit = WeibullAFTFitter().fit(cells, "duration", "event", weights_col="weight")
    agg_s = time.perf_counter() - start
    start = time.perf_counter()
    raw_fit = WeibullAFTFitter().fit(raw, "duration", "event")
    raw_s = time.perf_counter() - start
    gap = np.abs(agg_fit.params_.to_numpy() - raw_fit.params_.to_numpy()).max()
    print(f"Weibull AFT, aggregated ({len(cells):,} cells): {agg_s:6.2f} s")
    print(f"Weibull AFT, raw rows ({len(raw):,}):          {raw_s:6.2f} s   ratio raw/aggregated {raw_s / agg_s:.1f}x, "
          f"max parameter gap {gap:.1e}  (peak {peak_gib():.2f} GiB)")


if __name__ == "__main__":
    main()
