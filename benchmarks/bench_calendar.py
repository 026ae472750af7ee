"""Issue 18's recovery and portfolio checks of the decay model's calendar effects, on simulated markets whose
calendar risk is known (simulation/calendar.py), one market per seed (the demo's process, 3 replicas: 87 pools).

1. Shock recovery: a 6-month shock of factor 0.6 (log -0.51) in 2023-07..2023-12. Per seed, the fitted model's
   ``calendar_.window`` (the window's log ratio against the other periods, with its 95% interval) and whether it
   holds log 0.6; and, on the same seed's market without the shock, the fitted calendar sd.
2. Portfolio calibration: every month's collections times a log-normal factor (``--sd``, observed and future months
   alike; independent from month to month, or an AR(1) in logs with coefficient ``--persistence``). Per seed, the
   2025 vintage's total collections (CNY, every pool summed per draw) over the next month and the next ``--months``
   months, against what the pools went on to collect (the simulator's ``realized``): whether the forecast's P10-P90
   holds it, with calendar effects (future factors drawn per month, shared by every pool) and without.

Run: .venv/bin/python benchmarks/bench_calendar.py [--seeds 50] [--first-seed 1] [--sd 0.15] [--persistence 0]
     [--months 12] [--jobs 2] [--model decay_curve|survival_pool] [--only recovery|portfolio]
"""
from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from forecasting.forecast.checks import check_paths
from forecasting.models.decay import DecayCurveModel
from forecasting.models.survival import SurvivalPoolModel
from forecasting.simulation.market import simulate_market
from forecasting.simulation.process import RecoveryProcess

WINDOW = ("2023-07", "2023-12", 0.6)
VINTAGE = 2025
DRAWS = 1000
MODELS = {"decay_curve": DecayCurveModel, "survival_pool": SurvivalPoolModel}  # their defaults, pool level


def market(seed: int, process: RecoveryProcess):
    m = simulate_market(seed, replicas=3, process=process)
    return m, replace(m.dataset, loans=None, loan_collections=None)


def fit(dataset, calendar: bool, kind: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MODELS[kind](calendar_effects=calendar).fit(dataset)


def recovery(seed: int, kind: str) -> dict:
    _, shocked = market(seed, RecoveryProcess(calendar_shock=WINDOW))
    window = fit(shocked, True, kind).calendar_.window(*WINDOW[:2])
    _, calm = market(seed, RecoveryProcess())
    truth = np.log(WINDOW[2])
    return {"seed": seed, "estimate": window["log_effect"], "se": window["se"],
            "covers": window["lower"] <= truth <= window["upper"], "sd_without_shock": fit(calm, True, kind).calendar_.sigma}


def portfolio(seed: int, sd: float, phi: float, months: int, kind: str) -> dict:
    m, data = market(seed, RecoveryProcess(calendar_sd=sd, calendar_persistence=phi))
    pools = data.deals.loc[data.deals["vintage"] == VINTAGE, "deal_id"].to_numpy()
    part = data.subset(pools)
    n_obs = part.history.observed_periods.reindex(pools).to_numpy().astype(int)
    opb = part.deals.set_index("deal_id")["opb"].reindex(pools).to_numpy()
    realized = m.realized.loc[pools].to_numpy()
    ahead = np.arange(1, realized.shape[1] + 1)[None, :] - n_obs[:, None]  # periods ahead, <= 0 observed
    row = {"seed": seed}
    for calendar in (True, False):
        model = fit(data, calendar, kind)
        fc = model.predict(part, int(n_obs.max()) + months, n_draws=DRAWS, random_state=seed)
        check_paths(fc, model.name)  # a NaN would drop its pool from every score unsaid
        cash = np.diff(fc.draws, axis=-1, prepend=0.0) * opb[None, :, None]
        label = "with" if calendar else "without"
        for span in (1, months):
            due = (ahead[:, :cash.shape[-1]] >= 1) & (ahead[:, :cash.shape[-1]] <= span)
            total = (cash * due[None]).sum(axis=(1, 2))
            truth = float((realized[:, :cash.shape[-1]] * due).sum())
            p10, p90 = np.quantile(total, [0.1, 0.9])
            row[f"covers_{span}m_{label}"] = p10 <= truth <= p90
            row[f"width_{span}m_{label}"] = (p90 - p10) / np.median(total)
        if calendar:
            row["sigma"], row["persistence"] = model.calendar_.sigma, model.calendar_.persistence
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--first-seed", type=int, default=1, help="seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--sd", type=float, default=0.15, help="the monthly calendar factor's log sd (portfolio check)")
    parser.add_argument("--persistence", type=float, default=0.0, help="its AR(1) coefficient month to month")
    parser.add_argument("--months", type=int, default=12, help="the portfolio total's span after the as-of date")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", choices=["recovery", "portfolio"])
    parser.add_argument("--model", choices=list(MODELS), default="decay_curve")
    args = parser.parse_args()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    start = time.perf_counter()
    if args.only != "portfolio":
        rec = pd.DataFrame(Parallel(n_jobs=args.jobs)(delayed(recovery)(s, args.model) for s in seeds))
        print(f"1. Shock recovery ({args.model}), {len(rec)} seeds (truth log 0.6 = {np.log(0.6):.3f}): window estimate mean "
              f"{rec['estimate'].mean():.3f} (sd over seeds {rec['estimate'].std():.3f}, mean se {rec['se'].mean():.3f}); "
              f"its 95% interval holds the truth in {rec['covers'].mean():.0%} of seeds; without the shock the calendar sd "
              f"is {rec['sd_without_shock'].median():.3f} (median; max {rec['sd_without_shock'].max():.3f})")
    if args.only != "recovery":
        port = pd.DataFrame(Parallel(n_jobs=args.jobs)(
            delayed(portfolio)(s, args.sd, args.persistence, args.months, args.model) for s in seeds))
        print(f"2. Portfolio calibration ({args.model}), {len(port)} seeds, monthly calendar sd {args.sd}, persistence "
              f"{args.persistence} (fitted: median {port['sigma'].median():.3f}, {port['persistence'].median():.2f}): "
              f"P10-P90 of the {VINTAGE} vintage's total collections holds the truth in")
        for span in (1, args.months):
            print(f"   next {span:>2} month(s): {port[f'covers_{span}m_with'].mean():.0%} with calendar effects (median "
                  f"width {port[f'width_{span}m_with'].median():.1%} of the median), "
                  f"{port[f'covers_{span}m_without'].mean():.0%} without ({port[f'width_{span}m_without'].median():.1%})")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
