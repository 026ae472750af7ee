"""Issue 17's real-data benchmark: the CAS Loss Reserve Database, paid losses, accident years 1988-1997.

Meyers' 200 triangles (50 per line: commercial auto CA, personal auto PA, workers' comp WC, other liability OL,
chosen by his screens as shipped with ``cas-schedule-p``), each accident year a pool (``benchmarks/cas_data.py``).
Every estimator is fitted on the upper triangles (as of 1997) and forecasts 10 development years; each pool not yet
at age 10 is scored at age 10 (its realized cum_rate: the quantity actuals are) on per-pool MAE, the P10-P90 and
P25-P75 coverage of its paths, the KS distance of the PITs from uniform (with the 5% critical value for n
independent pools: pools of one triangle are not independent, so it is a bar, not a test) and CRPS, per line and
for all; the MAPE of each triangle's total (sum over its pools of the forecast ultimate against the actual)
next to the published Mack and DeepTriangle figures (Kuo 2019, Table 1); and Meyers' test: the percentile of each
triangle's actual total within its pools' summed joint paths, KS against uniform with the critical value
136 / sqrt(n) percent (19.2 per line of 50, 9.6 for all 200).

Run: .venv/bin/python benchmarks/bench_cas.py [--models decay_average mack_by_triangle ...] [--figures docs/figures]
(``--figures``: the per-pool PIT histograms by line and the p-p plot of the triangle-total percentiles, with their
95% bands, as PNGs: docs/validation.md shows them.)
"""
from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from cas_data import SHORT, cas_dataset
from figures import pit_histograms
from resample import intervals

from forecasting.backtest.calibration import crps, inside, ks_critical, ks_statistic, pit, pit_coverage, pit_with_ties
from forecasting.forecast.checks import check_paths
from forecasting.models import registry

KUO = pd.DataFrame({"Mack": {"CA": .060, "OL": .134, "PA": .038, "WC": .053},
                    "DeepTriangle": {"CA": .043, "OL": .109, "PA": .025, "WC": .046}})
# the pools have no covariates; each triangle is an originator, each accident year a vintage
SHARED = {"covariates": [], "groups": ["originator", "vintage"]}
# each family with the demo config's settings (with age effects); variants say what they change
ESTIMATORS = {
    "decay_weibull": {"kind": "decay_curve", "curve": "weibull", "age_effects": True, **SHARED},
    "decay_weibull_no_age": {"kind": "decay_curve", "curve": "weibull", **SHARED},
    "decay_loglogistic": {"kind": "decay_curve", "curve": "loglogistic", "age_effects": True, **SHARED},
    "decay_loglogistic_no_age": {"kind": "decay_curve", "curve": "loglogistic", **SHARED},
    "decay_lognormal": {"kind": "decay_curve", "curve": "lognormal", **SHARED},
    # three families stacked, with age effects (the CAS model of 0.7.11-0.7.12)
    "decay_average": {"kind": "decay_average", "age_effects": True, **SHARED},
    "decay_average_no_age": {"kind": "decay_average", **SHARED},
    # the CAS model since 0.7.13: age effects by line of business, each line's own correction on top of the common
    # one, shrunk toward it (the line is known before any outcome, as a market's originator is)
    "decay_average_age_by_line": {"kind": "decay_average", "age_effects": True, "age_by": "line", **SHARED},
    # the variants below are of decay_average without age effects (the CAS model until 0.7.10), as measured then
    # one set of stacking weights for pools of every age (the default before 0.7.3)
    "decay_average_one_weight": {"kind": "decay_average", "age_groups": 1, **SHARED},
    # the line of business (known before any outcome) as the outermost group: its own level and speed effects
    "decay_average_by_line": {"kind": "decay_average", **SHARED, "groups": ["line", "originator", "vintage"]},
    # the default before 0.7.1: two families
    "decay_average_2": {"kind": "decay_average", "curves": ["weibull", "lognormal"], **SHARED},
    # the model's own spread only, without the growth learnt from held-out periods (models/spread.py)
    "decay_average_own_spread": {"kind": "decay_average", "curves": ["weibull", "lognormal"], "spread_holdout": 0,
                                 **SHARED},
    "decay_average_2_age": {"kind": "decay_average", "curves": ["weibull", "lognormal"], "age_effects": True,
                            **SHARED},
    "decay_weibull_calendar": {"kind": "decay_curve", "curve": "weibull", "age_effects": True,
                               "calendar_effects": True, **SHARED},
    "decay_weibull_calendar_by_triangle": {"kind": "decay_curve", "curve": "weibull", "age_effects": True,
                                           "calendar_effects": True, "calendar_by": "originator", **SHARED},
    "survival_pool": {"kind": "survival_pool", **SHARED},
    "baseline_chainladder": {"kind": "chain_ladder"},
    # each triangle's own pattern, as Mack and the published figures use it (the pooled one is the whole market's)
    "mack_by_triangle": {"kind": "chain_ladder", "by": "originator"},
    "bootstrap_odp_by_triangle": {"kind": "bootstrap_odp", "by": "originator"},
    "cape_cod_by_triangle": {"kind": "cape_cod", "by": "originator"},
}
AGE = 10


def build(name: str):
    spec = registry.options_model(ESTIMATORS[name]["kind"])(name=name, **ESTIMATORS[name])
    return registry.build(spec)


def score(name: str, dataset, truth: pd.DataFrame, draws: int) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """One row per scored pool: line, originator, error, pit, crps, inside80, inside50, and ultimates in money; and
    one row per triangle: line and the percentile of its actual total at age 10 within the distribution of its
    pools' summed paths (draw k of every pool shares one parameter draw, so the sum is a draw of the total)."""
    model = build(name)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model.fit(dataset)
        fc = model.predict(dataset, AGE, n_draws=draws, random_state=0)
    check_paths(fc, name)  # a NaN would drop its pool from every score unsaid
    seconds = time.perf_counter() - start
    if not model.diagnostics_.converged:
        print(f"{name}: did not converge ({'; '.join(model.diagnostics_.warnings)})")
    if getattr(model, "spread_growth_", 0) > 0 or getattr(model, "spread_noise_", 0) > 0:  # models/spread.py
        print(f"{name}: spread growth a = {model.spread_growth_:.3f}, noise b = {model.spread_noise_:.3f}")
    if "weights" in model.diagnostics_.counts:
        print(f"{name}: stacking weights {model.diagnostics_.counts['weights']}")
    final = truth[truth["period"] == AGE].set_index("deal_id").reindex(fc.deal_ids)
    paths = fc.draws[:, :, AGE - 1]
    actual = final["cum_rate"].to_numpy(float)
    opb = dataset.deals.set_index("deal_id")["opb"].reindex(fc.deal_ids).to_numpy(float)
    p, tied = pit_with_ties(paths, actual)
    lo, q25, q75, hi = np.quantile(paths, [0.1, 0.25, 0.75, 0.9], axis=0)
    rows = pd.DataFrame({"deal_id": fc.deal_ids, "line": final["line"].map(SHORT).to_numpy(),
                         "originator": dataset.deals.set_index("deal_id")["originator"].reindex(fc.deal_ids).to_numpy(),
                         "observed": fc.observed_periods, "error": fc.mean[:, AGE - 1] - actual, "pit": p,
                         "tied": tied,
                         "crps": crps(paths, actual), "inside80": inside(lo, actual, hi),
                         "inside50": inside(q25, actual, q75), "forecast_ult": fc.mean[:, AGE - 1] * opb,
                         "actual_ult": actual * opb})
    money = paths * opb[None]
    triangles = []
    for originator, index in rows.groupby("originator").indices.items():
        total = money[:, index].sum(axis=1)
        actual_total = rows["actual_ult"].to_numpy()[index].sum()
        triangles.append({"originator": originator, "line": rows["line"].iat[index[0]],
                          "percentile": float(pit(total[:, None], np.array([actual_total]))[0])})
    return rows, pd.DataFrame(triangles), seconds


def meyers(triangles: pd.DataFrame) -> pd.DataFrame:
    """Meyers' test: KS distance (in percent) of the triangle-total percentiles from uniform, against 136 / sqrt(n)."""
    out = {}
    for line, part in [*triangles.groupby("line"), ("all", triangles)]:
        out[line] = {"triangles": len(part), "ks_pct": 100 * ks_statistic(part["percentile"].to_numpy(float)),
                     "critical_pct": 136 / np.sqrt(len(part)), "mean_percentile": part["percentile"].mean()}
    frame = pd.DataFrame(out).T
    frame["passes"] = frame["ks_pct"] < frame["critical_pct"]
    return frame


def table(rows: pd.DataFrame) -> pd.DataFrame:
    scored = rows[rows["observed"] < AGE]
    out = {}
    for line, part in [*scored.groupby("line"), ("all", scored)]:
        totals = rows[rows["line"] == line] if line != "all" else rows
        tri = totals.groupby("originator")[["forecast_ult", "actual_ult"]].sum()
        pits, tied = part["pit"].to_numpy(float), part["tied"].to_numpy(float)
        out[line] = {"pools": len(part), "mae": part["error"].abs().mean(), "cover80": part["inside80"].mean(),
                     "cover50": part["inside50"].mean(), "pit80": pit_coverage(pits, tied, 0.1, 0.9).mean(),
                     "pit50": pit_coverage(pits, tied, 0.25, 0.75).mean(),
                     "ks": ks_statistic(pits, tied),
                     "ks_5%": ks_critical(len(part)), "crps": part["crps"].mean(),
                     "mape_total": (tri["forecast_ult"] / tri["actual_ult"] - 1).abs().mean()}
    return pd.DataFrame(out).T


def figures(results: dict[str, tuple[pd.DataFrame, pd.DataFrame]], directory: Path) -> None:
    """cas_pit.png: per line, each model's histogram of per-pool PITs (flat at 1 when calibrated; the grey band:
    where a calibrated forecaster's bars fall 95% of the time for independent pools); cas_pp.png: the p-p plot of
    the 200 triangle-total percentiles, with Meyers' KS band (136 / sqrt(n) percent)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    directory.mkdir(parents=True, exist_ok=True)
    pit_histograms({name: rows[rows["observed"] < AGE] for name, (rows, _) in results.items()}, "line",
                   ["CA", "OL", "PA", "WC"], f"{{panel}}: per-pool PIT at age {AGE} (n = {{n}})", directory / "cas_pit.png")
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, (_, triangles) in results.items():
        p = np.sort(triangles["percentile"].to_numpy(float))
        ax.plot((np.arange(1, len(p) + 1) - 0.5) / len(p), p, label=name)
    u = np.linspace(0, 1, 101)
    band = 1.36 / np.sqrt(len(p))
    ax.fill_between(u, np.clip(u - band, 0, 1), np.clip(u + band, 0, 1), color="grey", alpha=0.15, lw=0)
    ax.plot(u, u, color="grey", lw=0.8)
    ax.set_xlabel("expected (uniform) percentile")
    ax.set_ylabel("predicted percentile of the actual total")
    ax.set_title(f"Meyers' p-p plot: {len(p)} triangle totals, KS band")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(directory / "cas_pp.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(ESTIMATORS))
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--figures", type=Path, help="write cas_pit.png and cas_pp.png here")
    parser.add_argument("--intervals", action="store_true",
                        help="90%% intervals of the P10-P90 coverage and of each model's MAE minus Cape Cod's "
                             "(cape_cod_by_triangle among the models), resampling triangles (resample.py)")
    args = parser.parse_args()
    dataset, truth = cas_dataset("meyers")
    print(f"CAS 1988-1997 paid, Meyers' selection: {len(dataset.deals)} pools, "
          f"{dataset.deals['originator'].nunique()} triangles")
    results = {}
    for name in args.models:
        rows, triangles, seconds = score(name, dataset, truth, args.draws)
        results[name] = rows, triangles
        print(f"\n{name} (fit + forecast {seconds:.1f} s)")
        print(table(rows).to_string(float_format=lambda v: f"{v:.4f}"))
        scored = rows[rows["observed"] < AGE]
        print("mean PIT by years seen:", scored.groupby("observed")["pit"].mean().round(2).to_dict())
        print("share of pools that paid nothing more, and of paths that did not either:",
              f"{np.mean(scored['tied'] > 0):.3f}, {scored['tied'].mean():.3f}")
        print("Meyers' test on triangle totals (percentile of the actual total at age 10):")
        print(meyers(triangles).to_string(float_format=lambda v: f"{v:.3f}"))
        if args.intervals:
            print("P10-P90 coverage, 90% interval resampling triangles (below: share of resamples under the bar):")
            print(intervals(scored.astype({"inside80": float}), "inside80", "originator", "line", (0.75, 0.85))
                  .to_string(float_format=lambda v: f"{v:.3f}"))
            print("The same for the PITs' mass in [0.1, 0.9] (each PIT spread over its ties: calibration.pit_coverage):")
            pit80 = scored.assign(pit80=pit_coverage(scored["pit"], scored["tied"], 0.1, 0.9))
            print(intervals(pit80, "pit80", "originator", "line", (0.75, 0.85)).to_string(float_format=lambda v: f"{v:.3f}"))
    if args.intervals and "cape_cod_by_triangle" in results:
        cape_cod = results["cape_cod_by_triangle"][0].set_index("deal_id")["error"].abs()
        for name, (rows, _) in results.items():
            if name != "cape_cod_by_triangle":
                scored = rows[rows["observed"] < AGE]
                gap = scored.assign(gap=scored["error"].abs().to_numpy() - cape_cod.loc[scored["deal_id"]].to_numpy())
                print(f"\n{name}: MAE minus Cape Cod's, 90% interval resampling triangles (below 0: better):")
                print(intervals(gap, "gap", "originator", "line", (0.0,)).to_string(float_format=lambda v: f"{v:.4f}"))
    if args.figures:
        figures(results, args.figures)
    print("\nPublished MAPE of triangle totals (Kuo 2019, Table 1):")
    print(KUO.to_string(float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
