"""Issue 3 and 5 figures: decay-curve fit and forecast times, and the demo backtest at n_jobs=1 and 2.

Run: .venv/bin/python benchmarks/bench_models.py   (prints a table; compare ratios, the machine is noisy)
"""
from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from forecasting.artifacts import load_models, save_models
from forecasting.backtest.runner import run_backtest
from forecasting.config import load_config
from forecasting.data.dataset import Dataset, DatasetMeta
from forecasting.forecast.pipeline import config_dataset
from forecasting.models import curves
from forecasting.models.decay import DecayCurveModel

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def big_market(n_deals: int = 500, periods: int = 60, seed: int = 0) -> Dataset:
    """Pools from the decay model itself, with originator and vintage effects."""
    rng = np.random.default_rng(seed)
    deals = pd.DataFrame({"deal_id": [f"d{i}" for i in range(n_deals)],
                          "originator": rng.choice(list("ABCDE"), n_deals), "vintage": rng.integers(2015, 2025, n_deals),
                          "n_borrowers": rng.integers(1000, 30000, n_deals), "wa_delinquency_months": rng.normal(5, .5, n_deals)})
    deals["opb"] = deals["n_borrowers"] * rng.lognormal(np.log(15e4), 0.6, n_deals)
    deals["avg_balance"] = deals["opb"] / deals["n_borrowers"]
    level = expit(-1.7 - 0.2 * np.log(deals["opb"] / deals["n_borrowers"] / 1e5) + rng.normal(0, .2, n_deals))
    scale = np.exp(np.log(12) + rng.normal(0, .15, n_deals))
    t = np.arange(1, periods + 1)
    G = curves.cdf("weibull", t, scale[:, None], .7) - curves.cdf("weibull", t - 1, scale[:, None], .7)
    m = level.to_numpy()[:, None] * G
    rate = rng.poisson(deals["n_borrowers"].to_numpy()[:, None] * m) / deals["n_borrowers"].to_numpy()[:, None]
    coll = pd.DataFrame({"deal_id": np.repeat(deals["deal_id"], periods), "period": np.tile(t, n_deals),
                         "gross_collections": (rate * deals["opb"].to_numpy()[:, None]).ravel()})
    deals["cutoff_date"] = pd.Timestamp("2015-01-31")
    return Dataset(DatasetMeta(name="big", as_of="2025-12-31"), deals, coll)


def main() -> None:
    warnings.simplefilter("ignore", RuntimeWarning)
    config, base = load_config(ROOT / "configs" / "demo.yaml")
    demo = config_dataset(config, base)
    rows = []
    spec = config.models[0]
    make = lambda: DecayCurveModel(curve=spec.curve, covariates=spec.covariates, groups=spec.groups)  # noqa: E731
    seconds, model = timed(lambda: make().fit(demo), repeat=3)
    rows.append(("fit demo market (29 deals and loan tape, weibull)", seconds, "< 1 s"))
    big = big_market()
    seconds, _ = timed(lambda: DecayCurveModel(curve="weibull").fit(big))
    rows.append(("fit 500 deals x 60 periods (weibull)", seconds, "< 10 s"))
    with tempfile.TemporaryDirectory() as tmp:
        save_models({spec.name: model}, Path(tmp) / "a", config.model_dump(mode="json"), "")
        loaded = load_models(Path(tmp) / "a")[0][spec.name]
        new = demo.subset(demo.deals.loc[demo.deals["vintage"] == 2025, "deal_id"][:1]).without_history()
        seconds, _ = timed(lambda: loaded.predict(new, 60), repeat=5)
        rows.append(("one new-pool forecast after load (60 periods, 1000 draws)", seconds, "< 0.05 s"))
    for n_jobs in (1, 2):
        config.parallel.n_jobs = n_jobs
        seconds, _ = timed(lambda: run_backtest(config, demo))
        rows.append((f"demo backtest, 3 schemes, n_jobs={n_jobs}", seconds, "< 60 s" if n_jobs == 2 else ""))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'seconds':>8}  target")
    for name, seconds, target in rows:
        print(f"{name:<{width}}  {seconds:>8.3f}  {target}")
    print(f"backtest speed-up n_jobs=2 vs 1: {rows[-2][1] / rows[-1][1]:.2f}x (target >= 1.6x)")


if __name__ == "__main__":
    main()
