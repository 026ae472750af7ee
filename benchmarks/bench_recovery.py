"""Issue 3's parameter-recovery check over many seeds: how often the decay model's 95% intervals hold the truth.

The test runs 50 seeds per curve family (tests/models/test_decay.py::test_parameter_recovery). This prints, per
family and parameter, the coverage over ``--seeds`` seeds of the summary's intervals (t on deals minus fixed
parameters) and of normal intervals with the same standard errors, the smallest coverage of any parameter in each
batch of 50 seeds, and the mean and sd of the z-scores (coef - truth) / se.

Run: .venv/bin/python benchmarks/bench_recovery.py [--seeds 200]   (about 1.3 s a fit)
"""
from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from forecasting.models import curves
from forecasting.models.decay import DecayCurveModel
from forecasting.models.summary import labelled
from forecasting.simulation.model_pools import simulate_pools, true_parameters

BATCH = 50


def z_scores(curve: str, seeds: int) -> tuple[pd.DataFrame, int]:
    """(coef - truth) / se per seed and parameter, and the t intervals' degrees of freedom."""
    truth = true_parameters(curve)
    rows = []
    for seed in range(seeds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            model = DecayCurveModel(curve=curve, covariates=("x",), groups=()).fit(simulate_pools(curve, seed))
        s = labelled(model.summary()).loc[truth.index]
        rows.append((s["coef"] - truth) / s["se"])
    return pd.DataFrame(rows).reset_index(drop=True), model.df_


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    for curve in curves.CURVES:
        z, df = z_scores(curve, args.seeds)
        print(f"\n{curve}: {args.seeds} seeds, t intervals on {df} df")
        for label, limit in (("t (summary)", stats.t.ppf(0.975, df)), ("normal", stats.norm.ppf(0.975))):
            inside = z.abs() <= limit
            batches = [inside.iloc[i: i + BATCH].mean().min() for i in range(0, len(z), BATCH)]
            print(f"  {label:12s} coverage {inside.mean().round(3).to_dict()}")
            print(f"  {'':12s} smallest per batch of {BATCH}: {np.round(batches, 2).tolist()}")
        print(f"  z mean {z.mean().round(3).to_dict()}\n  z sd   {z.std().round(3).to_dict()}")


if __name__ == "__main__":
    main()
