"""Issue 16's scale benchmark: the decay fit's time and peak memory as the number of pools grows, on simulated
markets and on the CAS Loss Reserve Database, and the forecast time for every pool.

A market of N pools: 20 originators, pools cut off monthly over the ``--periods`` months before the as-of date (so
the triangle holds 1 to ``periods`` observed months), vintage = cut-off year, a Weibull curve with originator,
vintage and deal effects on level and timing, Poisson counts of payers (phi = 1). The fit is the default decay
config with ``groups: [originator, vintage]`` and no covariates. Each size runs in its own process: ``fit_peak_gib``
is the peak resident memory once the fit is done (data and fit), ``peak_gib`` after the forecast too.

The forecast runs each market over its own whole development: 60 months for the simulated markets, 10 years for the
CAS triangles (Schedule P's development ages 1-10, what bench_cas.py scores).

Run: .venv/bin/python benchmarks/bench_scale.py [--sizes 300 1000 3000 10000] [--periods 60] [--cas [usable meyers]]
     [--draws 1000] [--forecast-up-to 4000]   (the forecast of 1,000 draws is timed for markets up to this size)
"""
from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from forecasting.data.dataset import Dataset, DatasetMeta
from forecasting.models import curves
from forecasting.models.decay import DecayCurveModel

AS_OF = pd.Timestamp("2025-12-31")
ORIGINATORS = 20


def scale_market(n_pools: int, periods: int, seed: int = 0) -> Dataset:
    """N simulated pools over a ``periods``-month triangle (module docstring)."""
    rng = np.random.default_rng(seed)
    age = np.arange(n_pools) % periods + 1  # observed months, 1..periods
    cutoff = pd.PeriodIndex.from_ordinals(AS_OF.to_period("M").ordinal - age, freq="M").to_timestamp(how="end").normalize()
    originator = rng.integers(0, ORIGINATORS, n_pools)
    vintage = cutoff.year.to_numpy()
    o_level, o_time = rng.normal(0, 0.2, ORIGINATORS), rng.normal(0, 0.1, ORIGINATORS)
    years = np.unique(vintage)
    v_level = dict(zip(years, np.cumsum(rng.normal(0, 0.1, len(years)))))
    level = expit(-1.7 + o_level[originator] + np.vectorize(v_level.get)(vintage) + rng.normal(0, 0.15, n_pools))
    scale = np.exp(np.log(14.0) + o_time[originator] + rng.normal(0, 0.08, n_pools))
    n = rng.integers(500, 20000, n_pools)
    deal_ids = np.array([f"P{i:05d}" for i in range(n_pools)])
    deal = np.repeat(np.arange(n_pools), age)
    t = np.concatenate([np.arange(1, a + 1) for a in age]).astype(float)
    mean = level[deal] * (curves.cdf("weibull", t, scale[deal], 0.8) - curves.cdf("weibull", t - 1, scale[deal], 0.8))
    opb = n * 1e5
    collections = pd.DataFrame({"deal_id": deal_ids[deal], "period": t.astype(int),
                                "gross_collections": rng.poisson(n[deal] * mean) / n[deal] * opb[deal]})
    deals = pd.DataFrame({"deal_id": deal_ids, "originator": [f"O{o:02d}" for o in originator], "vintage": vintage,
                          "cutoff_date": cutoff, "opb": opb.astype(float), "n_borrowers": n,
                          "avg_balance": 1e5, "wa_delinquency_months": 6.0})
    return Dataset(DatasetMeta(name=f"scale-{n_pools}", as_of=AS_OF.date()), deals, collections)


def _measure(label: str, build, horizon: int, draws: int, forecast_up_to: int, queue) -> None:
    """Fit (and forecast) in this process; report times, inner fits, convergence and peak RSS (or the error)."""
    try:
        queue.put(_fit_and_forecast(label, build, horizon, draws, forecast_up_to))
    except Exception as exc:  # the parent prints it: a failed size is a result, not a hang
        queue.put({"market": label, "error": f"{type(exc).__name__}: {exc}"})


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB


def _fit_and_forecast(label: str, build, horizon: int, draws: int, forecast_up_to: int) -> dict:
    dataset = build()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model = DecayCurveModel(curve="weibull", covariates=[], groups=["originator", "vintage"]).fit(dataset)
        fit_s = time.perf_counter() - start
        fit_peak = _peak_gib()
        forecast_s = float("nan")
        if len(dataset.deals) <= forecast_up_to:
            start = time.perf_counter()
            model.predict(dataset, horizon, n_draws=draws, random_state=0)
            forecast_s = time.perf_counter() - start
    return {"market": label, "pools": len(dataset.deals), "fit_s": fit_s, "forecast_s": forecast_s,
            "horizon": horizon, "inner_fits": model.diagnostics_.iterations, "converged": model.diagnostics_.converged,
            "fit_peak_gib": fit_peak, "peak_gib": _peak_gib(), "warnings": len(caught),
            "non_convergence_warnings": sum("did not settle" in str(w.message) or "iteration" in str(w.message)
                                            for w in caught)}


def run(label: str, build, horizon: int, draws: int, forecast_up_to: int) -> dict:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=_measure, args=(label, build, horizon, draws, forecast_up_to, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def _cas(selection: str) -> Dataset:
    sys.path.insert(0, str(Path(__file__).parent))
    from cas_data import cas_dataset
    return cas_dataset(selection)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 1000, 3000, 10000])
    parser.add_argument("--periods", type=int, default=60)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--forecast-up-to", type=int, default=4000, help="forecast only markets this small")
    parser.add_argument("--cas", nargs="*", choices=["usable", "meyers"],
                        help="also the CAS 1988-1997 triangles: every usable one (the default) and/or Meyers' 200")
    args = parser.parse_args()
    rows = [run(f"simulated x{args.periods}", lambda n=n: scale_market(n, args.periods), args.periods, args.draws,
                args.forecast_up_to) for n in args.sizes]
    for selection in (args.cas or ["usable"]) if args.cas is not None else []:
        rows.append(run(f"CAS {selection}", lambda s=selection: _cas(s), 10, args.draws, args.forecast_up_to))
    table = pd.DataFrame(rows)
    sim = table[table["market"].str.startswith("simulated")]
    table["time_ratio"] = sim["fit_s"] / sim["fit_s"].shift()
    table["pools_ratio"] = sim["pools"] / sim["pools"].shift()
    table["fit_plus_forecast_s"] = table["fit_s"] + table["forecast_s"]
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
