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

from forecasting.backtest.calibration import crps, ks_critical, ks_statistic, pit
from forecasting.models import registry

KUO = pd.DataFrame({"Mack": {"CA": .060, "OL": .134, "PA": .038, "WC": .053},
                    "DeepTriangle": {"CA": .043, "OL": .109, "PA": .025, "WC": .046}})
ESTIMATORS = {
    "decay_weibull": {"kind": "decay_curve", "curve": "weibull", "covariates": [], "groups": ["originator", "vintage"]},
    "decay_loglogistic": {"kind": "decay_curve", "curve": "loglogistic", "covariates": [],
                          "groups": ["originator", "vintage"]},
    "decay_lognormal": {"kind": "decay_curve", "curve": "lognormal", "covariates": [],
                        "groups": ["originator", "vintage"]},
    "decay_average": {"kind": "decay_average", "curves": ["weibull", "lognormal"], "covariates": [],
                      "groups": ["originator", "vintage"]},
    "decay_weibull_age": {"kind": "decay_curve", "curve": "weibull", "covariates": [],
                          "groups": ["originator", "vintage"], "age_effects": True},
    "decay_average_age": {"kind": "decay_average", "curves": ["weibull", "lognormal"], "covariates": [],
                          "groups": ["originator", "vintage"], "age_effects": True},
    "decay_weibull_calendar": {"kind": "decay_curve", "curve": "weibull", "covariates": [],
                               "groups": ["originator", "vintage"], "calendar_effects": True},
    "decay_weibull_calendar_by_triangle": {"kind": "decay_curve", "curve": "weibull", "covariates": [],
                                           "groups": ["originator", "vintage"], "calendar_effects": True,
                                           "calendar_by": "originator"},
    "survival_pool": {"kind": "survival_pool", "covariates": [], "groups": ["originator", "vintage"]},
    "baseline_chainladder": {"kind": "chain_ladder"},
    # each triangle's own pattern, as Mack and the published figures use it (the pooled one is the whole market's)
    "mack_by_triangle": {"kind": "chain_ladder", "by": "originator"},
    "bootstrap_odp_by_triangle": {"kind": "bootstrap_odp", "by": "originator"},
    "cape_cod_by_triangle": {"kind": "cape_cod", "by": "originator"},
}
AGE = 10
GROWTH = {"lin": lambda h: h - 1.0, "sqrt": lambda h: np.sqrt(h) - 1.0}  # how a stretch grows with the periods ahead


def build(name: str):
    spec = registry.options_model(ESTIMATORS[name]["kind"])(name=name, **ESTIMATORS[name])
    return registry.build(spec)


def stretched(seen: np.ndarray, future: np.ndarray, k) -> np.ndarray:
    """Paths whose future (draws, pools) is stretched by k around its mean over the draws, kept non-negative."""
    return seen[None] + np.maximum(future.mean(0) + k * (future - future.mean(0)), 0.0)


def stretch_scan(fc, actual: np.ndarray, stretches: list[float]) -> pd.DataFrame:
    """An oracle diagnosis (docs/validation.md), not a model: each scored pool's future at age 10 (its paths less
    what was seen) stretched around its mean by k = 1 + a g(h), h the periods forecast, g of GROWTH; coverage and
    KS per form and a."""
    scored = np.flatnonzero(np.isfinite(actual) & (fc.observed_periods < AGE))
    seen_at = np.maximum(fc.observed_periods[scored] - 1, 0)
    seen = np.where(fc.observed_periods[scored] > 0, fc.draws[0, scored, seen_at], 0.0)
    future = fc.draws[:, scored, AGE - 1] - seen[None]
    h, y = AGE - fc.observed_periods[scored], actual[scored]
    rows = []
    for form, growth in GROWTH.items():
        for a in stretches:
            k = 1 + a * growth(h)
            paths = stretched(seen, future, k)
            lo, q25, q75, hi = np.quantile(paths, [0.1, 0.25, 0.75, 0.9], axis=0)
            inside = (lo <= y) & (y <= hi)
            rows.append({"form": form, "a": a, "cover80": inside.mean(), "cover50": np.mean((q25 <= y) & (y <= q75)),
                         "ks": ks_statistic(pit(paths, y)), "mae": np.mean(np.abs(paths.mean(0) - y)),
                         **{f"cover80_h{k}": inside[h == k].mean() for k in (1, 3, 5, 7, 9)}})
    return pd.DataFrame(rows)


def heldout_stretch(name: str, dataset, years: int, stretches: list[float], draws: int) -> pd.DataFrame:
    """Whether the stretch can be learnt from the training data: the model fitted on the triangles cut ``years``
    diagonals back, each cut cell h = 1..years ahead scored against the upper triangle, its future stretched by
    1 + a g(h) (GROWTH); CRPS summed over the cells, coverage per h."""
    cut = dataset.truncate(pd.Timestamp(f"{dataset.as_of.year - years}-12-31"))
    model = build(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fc = model.fit(cut).predict(cut, AGE, n_draws=draws, random_state=0)
    known = dataset.history.cum_rate.reindex(fc.deal_ids).to_numpy(float)
    observed = fc.observed_periods.astype(int)
    cells = []
    for h in range(1, years + 1):
        at = observed + h - 1
        index = np.flatnonzero((observed > 0) & (at < AGE))
        y = known[index, at[index]]
        index, y = index[np.isfinite(y)], y[np.isfinite(y)]
        cells.append((h, fc.draws[:, index, at[index]], y, fc.draws[0, index, observed[index] - 1]))
    rows = []
    for form, growth in GROWTH.items():
        for a in stretches:
            row = {"form": form, "a": a, "crps_sum": 0.0}
            for h, paths, y, seen in cells:
                future = paths - seen[None]
                paths_h = stretched(seen, future, 1 + a * growth(h))
                lo, hi = np.quantile(paths_h, [0.1, 0.9], axis=0)
                row["crps_sum"] += float(np.sum(crps(paths_h, y)))
                row[f"cover80_h{h}"] = np.mean((lo <= y) & (y <= hi))
            rows.append(row)
    return pd.DataFrame(rows)


def score(name: str, dataset, truth: pd.DataFrame, draws: int, stretches: list[float] = ()
          ) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """One row per scored pool: line, originator, error, pit, crps, inside80, inside50, and ultimates in money; and
    one row per triangle: line and the percentile of its actual total at age 10 within the distribution of its
    pools' summed paths (draw k of every pool shares one parameter draw, so the sum is a draw of the total)."""
    model = build(name)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model.fit(dataset)
        fc = model.predict(dataset, AGE, n_draws=draws, random_state=0)
    seconds = time.perf_counter() - start
    if not model.diagnostics_.converged:
        print(f"{name}: did not converge ({'; '.join(model.diagnostics_.warnings)})")
    if "weights" in model.diagnostics_.counts:
        print(f"{name}: stacking weights {model.diagnostics_.counts['weights']}")
    final = truth[truth["period"] == AGE].set_index("deal_id").reindex(fc.deal_ids)
    paths = fc.draws[:, :, AGE - 1]
    actual = final["cum_rate"].to_numpy(float)
    if stretches:
        print(f"{name}: spread stretched by 1 + a g(h), an oracle scan (docs/validation.md)")
        print(stretch_scan(fc, actual, stretches).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    opb = dataset.deals.set_index("deal_id")["opb"].reindex(fc.deal_ids).to_numpy(float)
    p = pit(paths, actual)
    lo, q25, q75, hi = np.quantile(paths, [0.1, 0.25, 0.75, 0.9], axis=0)
    rows = pd.DataFrame({"deal_id": fc.deal_ids, "line": final["line"].map(SHORT).to_numpy(),
                         "originator": dataset.deals.set_index("deal_id")["originator"].reindex(fc.deal_ids).to_numpy(),
                         "observed": fc.observed_periods, "error": fc.mean[:, AGE - 1] - actual, "pit": p,
                         "crps": crps(paths, actual), "inside80": (lo <= actual) & (actual <= hi),
                         "inside50": (q25 <= actual) & (actual <= q75), "forecast_ult": fc.mean[:, AGE - 1] * opb,
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
        out[line] = {"pools": len(part), "mae": part["error"].abs().mean(), "cover80": part["inside80"].mean(),
                     "cover50": part["inside50"].mean(), "ks": ks_statistic(part["pit"].to_numpy(float)),
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
    from scipy.stats import binom
    directory.mkdir(parents=True, exist_ok=True)
    bins, edges = 10, np.linspace(0, 1, 11)
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6), sharey=True)
    for ax, line in zip(axes, ["CA", "OL", "PA", "WC"]):
        n = 0
        for name, (rows, _) in results.items():
            p = rows.loc[(rows["line"] == line) & (rows["observed"] < AGE), "pit"].to_numpy(float)
            n = len(p)
            density = np.histogram(p, edges)[0] / max(n, 1) * bins
            ax.step(edges, np.append(density, density[-1]), where="post", label=name)
        lo, hi = (binom.ppf(q, n, 1 / bins) / max(n, 1) * bins for q in (0.025, 0.975))
        ax.axhspan(lo, hi, color="grey", alpha=0.15, lw=0)
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_title(f"{line}: per-pool PIT at age {AGE} (n = {n})")
        ax.set_xlabel("PIT")
    axes[0].set_ylabel("density")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(directory / "cas_pit.png", dpi=110)
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
    parser.add_argument("--stretch", type=float, nargs="*", default=[],
                        help="also print the oracle spread scan for these a (e.g. 0 0.05 0.1)")
    parser.add_argument("--holdout", type=int, default=0,
                        help="with --stretch: also fit on the triangles cut this many diagonals back and score the "
                             "stretch on the cut cells (learnt from the training data, not the outcomes)")
    args = parser.parse_args()
    dataset, truth = cas_dataset("meyers")
    print(f"CAS 1988-1997 paid, Meyers' selection: {len(dataset.deals)} pools, "
          f"{dataset.deals['originator'].nunique()} triangles")
    if args.holdout and args.stretch:
        for name in args.models:
            print(f"\n{name} fitted as of {dataset.as_of.year - args.holdout}, the cut cells scored:")
            print(heldout_stretch(name, dataset, args.holdout, args.stretch, args.draws).to_string(
                index=False, float_format=lambda v: f"{v:.4f}"))
    results = {}
    for name in args.models:
        rows, triangles, seconds = score(name, dataset, truth, args.draws, args.stretch)
        results[name] = rows, triangles
        print(f"\n{name} (fit + forecast {seconds:.1f} s)")
        print(table(rows).to_string(float_format=lambda v: f"{v:.4f}"))
        print("Meyers' test on triangle totals (percentile of the actual total at age 10):")
        print(meyers(triangles).to_string(float_format=lambda v: f"{v:.3f}"))
    if args.figures:
        figures(results, args.figures)
    print("\nPublished MAPE of triangle totals (Kuo 2019, Table 1):")
    print(KUO.to_string(float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
