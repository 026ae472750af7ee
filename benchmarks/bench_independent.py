"""Issue 17's simulated check off our own simulator: the bands on markets from ``independent_market.py`` (a
two-phase timing shape, common calendar shocks, six originators), for the same model settings as the CAS benchmark.

Each model is fitted on the market as of 2025-12-31 and forecasts 96 months. Scored, for the pools not yet 60
months old:
- ``expected@60``: the expected curve's band (``CurveForecast.expected``) against the pool's expected 60-month
  cum_rate given its own parameters (the truth the generator knows);
- ``cash+12``, ``cash+24``, ``cash+36``: the realized-cash band against the cum_rate the simulated future brings 12,
  24 and 36 months after the as-of date (what an as-of backtest scores, without giving up any history).
Per model and target: MAE, P10-P90 and P25-P75 coverage, KS distance of the PITs with its 5% critical value for
independent pools (pools share the calendar shocks, so it is a bar, not a test), CRPS; per seed and pooled.

With ``--by-borrowers`` the bands are also shown by quarter of the pools' borrowers; ``--generator`` passes
``independent_market.simulate``'s switches (e.g. ``--generator pool_shapes=0 calendar=0 noise_scale=0.5``).

Run: .venv/bin/python benchmarks/bench_independent.py [--seeds 1 2 3] [--models decay_average ...]
"""
from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from figures import pit_histograms
from independent_market import simulate
from resample import intervals

from forecasting.backtest.calibration import crps, inside, ks_critical, ks_statistic, pit_coverage, pit_with_ties
from forecasting.forecast.checks import check_paths
from forecasting.models import registry

SHARED = {"covariates": [], "groups": ["originator", "vintage"]}
# each family with the demo config's settings (with age effects); variants say what they change
ESTIMATORS = {
    "decay_weibull": {"kind": "decay_curve", "curve": "weibull", "age_effects": True, **SHARED},
    "decay_weibull_no_age": {"kind": "decay_curve", "curve": "weibull", **SHARED},
    "decay_loglogistic": {"kind": "decay_curve", "curve": "loglogistic", "age_effects": True, **SHARED},
    "decay_loglogistic_no_age": {"kind": "decay_curve", "curve": "loglogistic", **SHARED},
    # three families stacked, with age effects (the CAS model of 0.7.11-0.7.12; since 0.7.13 the CAS model corrects
    # by line of business, which these markets do not have)
    "decay_average": {"kind": "decay_average", "age_effects": True, **SHARED},
    # the NPL analogue of the CAS model's lines: each originator's own age correction on top of the common one
    "decay_average_age_by_originator": {"kind": "decay_average", "age_effects": True, "age_by": "originator",
                                        **SHARED},
    "decay_average_no_age": {"kind": "decay_average", **SHARED},
    # the decay_average variants below are without age effects unless they say so (the CAS model until 0.7.10)
    "decay_average_2": {"kind": "decay_average", "curves": ["weibull", "lognormal"], **SHARED},  # before 0.7.1
    # the model's own spread only, without the growth learnt from held-out periods (models/spread.py)
    "decay_average_own_spread": {"kind": "decay_average", "curves": ["weibull", "lognormal"], "spread_holdout": 0,
                                 **SHARED},
    "decay_average_holdout24": {"kind": "decay_average", "spread_holdout": 24, **SHARED},
    "decay_average_calendar": {"kind": "decay_average", "calendar_effects": True, **SHARED},
    "decay_average_age_calendar": {"kind": "decay_average", "age_effects": True, "calendar_effects": True, **SHARED},
    "decay_weibull_calendar": {"kind": "decay_curve", "curve": "weibull", "age_effects": True,
                               "calendar_effects": True, **SHARED},
    "survival_pool": {"kind": "survival_pool", **SHARED},
    "chain_ladder": {"kind": "chain_ladder"},
    "bootstrap_odp": {"kind": "bootstrap_odp"},
}
HORIZON = 96
AGE = 60
AHEAD = (12, 24, 36)


def build(name: str):
    spec = registry.options_model(ESTIMATORS[name]["kind"])(name=name, **ESTIMATORS[name])
    return registry.build(spec)


def score(name: str, seed: int, draws: int, generator: dict | None = None) -> tuple[pd.DataFrame, float]:
    """One row per scored pool and target: seed, target, error, pit, crps, inside80, inside50, borrowers (the
    pool's true count)."""
    generator = generator or {}
    dataset, truth = simulate(seed, **generator)
    true = simulate(seed)[0] if generator.get("equal_borrowers") else dataset  # the reported count is not the truth
    borrowers = true.deals.set_index("deal_id")["n_borrowers"]
    model = build(name)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model.fit(dataset)
        fc = model.predict(dataset, HORIZON, n_draws=draws, random_state=seed)
    check_paths(fc, name)  # a NaN would drop its pool from every score unsaid
    seconds = time.perf_counter() - start
    if not model.diagnostics_.converged:
        print(f"{name} seed {seed}: did not converge ({'; '.join(model.diagnostics_.warnings)})")
    if getattr(model, "spread_growth_", 0) > 0 or getattr(model, "spread_noise_", 0) > 0:  # models/spread.py
        print(f"{name} seed {seed}: spread growth a = {model.spread_growth_:.3f}, noise b = {model.spread_noise_:.3f}")
    observed = fc.observed_periods.astype(int)
    young = np.flatnonzero(observed < AGE)
    table = {k: truth.pivot(index="deal_id", columns="period", values=k).reindex(fc.deal_ids).to_numpy()
             for k in ("expected", "realized")}
    targets = {}
    if fc.expected is not None:  # a baseline forecasts realized cash only
        targets["expected@60"] = (fc.expected[:, young, AGE - 1], table["expected"][young, AGE - 1])
    for h in AHEAD:
        at = observed[young] + h - 1
        targets[f"cash+{h}"] = (fc.draws[:, young, at], table["realized"][young, at])
    rows = []
    for target, (paths, actual) in targets.items():
        lo, q25, q75, hi = np.quantile(paths, [0.1, 0.25, 0.75, 0.9], axis=0)
        p, tied = pit_with_ties(paths, actual)
        rows.append(pd.DataFrame({"seed": seed, "target": target, "error": paths.mean(axis=0) - actual,
                                  "pit": p, "tied": tied,
                                  "crps": crps(paths, actual),
                                  "inside80": inside(lo, actual, hi),
                                  "inside50": inside(q25, actual, q75),
                                  "borrowers": borrowers.reindex(fc.deal_ids).to_numpy()[young]}))
    return pd.concat(rows, ignore_index=True), seconds


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    def one(part: pd.DataFrame) -> pd.Series:
        return pd.Series({"pools": len(part), "mae": part["error"].abs().mean(), "bias": part["error"].mean(),
                          "cover80": part["inside80"].mean(), "cover50": part["inside50"].mean(),
                          "pit80": pit_coverage(part["pit"], part["tied"], 0.1, 0.9).mean(),
                          "ks": ks_statistic(part["pit"].to_numpy(float), part["tied"].to_numpy(float)),
                          "ks_5%": ks_critical(len(part)),
                          "crps": part["crps"].mean()})
    by_seed = rows.groupby(["target", "seed"]).apply(one, include_groups=False)
    pooled = rows.groupby("target").apply(one, include_groups=False).assign(seed="all").set_index("seed", append=True)
    return pd.concat([by_seed, pooled]).sort_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(ESTIMATORS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--by-borrowers", action="store_true", help="P10-P90 coverage by quarter of borrowers")
    parser.add_argument("--intervals", action="store_true",
                        help="90%% intervals of the P10-P90 coverage resampling markets (resample.py)")
    parser.add_argument("--figures", type=Path, help="write independent_pit.png (each target's PIT histograms) here")
    parser.add_argument("--generator", nargs="*", default=[], metavar="SWITCH=VALUE",
                        help="independent_market.simulate's switches: pool_shapes, calendar, noise_scale, "
                             "equal_borrowers")
    args = parser.parse_args()
    generator = {k: (float(v) if k == "noise_scale" else bool(int(v)))
                 for k, v in (item.split("=", 1) for item in args.generator)}
    results = {}
    for name in args.models:
        parts, seconds = zip(*(score(name, seed, args.draws, generator) for seed in args.seeds))
        rows = results[name] = pd.concat(parts)
        print(f"\n{name} (fit + forecast {np.mean(seconds):.1f} s per market)")
        print(summary(rows).to_string(float_format=lambda v: f"{v:.4f}"))
        if args.by_borrowers:
            quarter = pd.qcut(rows["borrowers"], 4, labels=["smallest", "second", "third", "largest"])
            print(rows.pivot_table(index=quarter, columns="target", values="inside80", observed=True).round(3))
        if args.intervals:
            print("P10-P90 coverage, 90% interval resampling markets (below: share of resamples under the bar):")
            print(intervals(rows.astype({"inside80": float}), "inside80", "seed", "target", (0.70, 0.75, 0.85))
                  .drop(index="all").to_string(float_format=lambda v: f"{v:.3f}"))
    if args.figures:
        args.figures.mkdir(parents=True, exist_ok=True)
        targets = [t for t in ["cash+12", "cash+24", "cash+36", "expected@60"]
                   if any((rows["target"] == t).any() for rows in results.values())]
        pit_histograms(results, "target", targets, f"{{panel}}: PIT ({len(args.seeds)} markets, n = {{n}})",
                       args.figures / "independent_pit.png")


if __name__ == "__main__":
    main()
