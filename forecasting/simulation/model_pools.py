"""Pools simulated from the decay model itself, with known parameters: what parameter-recovery checks fit.

Deal d has a standardised feature x_d, n_d borrowers and 12-60 observed periods; its level and timing are

    logit L_d = a0 + a1 x_d + u_d,  u_d ~ N(0, 0.1^2)      log lam_d = b0 + b1 x_d + v_d,  v_d ~ N(0, 0.05^2)

and its per-period rate is Poisson(n_d L_d (G(t) - G(t - 1))) / n_d (phi = 1), G the curve family's CDF with shape k;
with ``payment_shape`` alpha, the compound Poisson of the same mean and variance whose payments are Gamma with shape
alpha (models/paths.py).
Every pool is cut off 60 months before the as-of date, so its first ``periods`` months are what is observed.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from forecasting.data.dataset import Dataset, DatasetMeta
from forecasting.models import curves
from forecasting.models.paths import collections

TRUE = {"level": (-1.7, -0.25), "scale": (np.log(12.0), 0.10), "shape": 0.7}
LEVEL_SD, SCALE_SD = 0.1, 0.05
AS_OF = pd.Timestamp("2025-12-31")
CUTOFF = pd.Timestamp("2020-12-31")


def true_parameters(curve: str) -> pd.Series:
    """The simulated truth, indexed as ``summary.labelled`` labels the decay model's summary."""
    truth = {"level:intercept": TRUE["level"][0], "level:x": TRUE["level"][1],
             "timing:intercept": TRUE["scale"][0], "timing:x": TRUE["scale"][1]}
    if curves.HAS_SHAPE[curve]:
        truth["timing:log_shape"] = np.log(TRUE["shape"])
    return pd.Series(truth)


def simulate_pools(curve: str, seed: int, n_deals: int = 40, periods: np.ndarray | None = None,
                   borrowers: tuple[int, int] = (1000, 20000), payment_shape: float | None = None,
                   effect_sds: tuple[float, float] = (LEVEL_SD, SCALE_SD)) -> Dataset:
    """A dataset of ``n_deals`` pools from the model with the parameters in TRUE and deal effects of sds
    ``effect_sds`` (level on the logit scale, timing on the log scale)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n_deals)
    n = rng.integers(*borrowers, n_deals)
    periods = rng.integers(12, 61, n_deals) if periods is None else np.asarray(periods)
    L = expit(TRUE["level"][0] + TRUE["level"][1] * x + rng.normal(0, effect_sds[0], n_deals))
    lam = np.exp(TRUE["scale"][0] + TRUE["scale"][1] * x + rng.normal(0, effect_sds[1], n_deals))
    deals = pd.DataFrame({"deal_id": [f"d{i}" for i in range(n_deals)], "originator": "A", "vintage": 2020,
                          "cutoff_date": CUTOFF, "opb": n * 1e5, "n_borrowers": n, "avg_balance": 1e5,
                          "wa_delinquency_months": 5.0, "x": x})
    rows = []
    for i in range(n_deals):
        t = np.arange(1, periods[i] + 1)
        m = L[i] * (curves.cdf(curve, t, lam[i], TRUE["shape"]) - curves.cdf(curve, t - 1, lam[i], TRUE["shape"]))
        rate = rng.poisson(n[i] * m) / n[i] if payment_shape is None else collections(rng, m, 1 / n[i], payment_shape)
        rows.append(pd.DataFrame({"deal_id": f"d{i}", "period": t, "gross_collections": rate * deals.opb[i]}))
    return Dataset(DatasetMeta(name=f"model-pools-{curve}-{seed}", as_of=AS_OF.date()), deals,
                   pd.concat(rows, ignore_index=True))
