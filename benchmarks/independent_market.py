"""A market from a generator that shares no code or shape with ``forecasting.simulation``: issue 17's test of the
bands where we did not simulate.

Pools, not loans. Six originators issue pools at random month-ends from 2020-01 to 2025-09 (as-of 2025-12-31,
monthly periods). Pool d of originator o collects in month t

    cash_dt = opb_d * L_d * (G_d(t) - G_d(t - 1)) * s_c(d,t) * e_dt

- level: logit L_d = a_o + u_d, a_o ~ N(-1.75, 0.3^2), u_d ~ N(0, 0.3^2);
- timing: a two-phase (hyperexponential) curve that none of the models' families is,
  G_d(t) = p_d (1 - exp(-t / f_d)) + (1 - p_d) (1 - exp(-t / m_d)), a quick phase (settlements, f_d around 3
  months) and a slow one (court enforcement, m_d around 30 months), logit p_d ~ N(b_o, 0.5^2), b_o ~ N(-0.4, 0.4^2),
  log m_d ~ N(log 30 + c_o, 0.25^2), c_o ~ N(0, 0.2^2);
- common calendar risk s_c (one factor per calendar month, the same for every pool): an AR(1) in logs
  (coefficient 0.8, innovation sd 0.08, mean one), and a servicing halt in 2022-04..2022-06 (x 0.4) whose missed cash
  is collected over the next six months (x 1.2);
- pool-month noise e_dt ~ Gamma with mean 1 and coefficient of variation 0.2 + 2 / sqrt(n_borrowers).

The truth a forecast can be scored on is known at every month: ``expected`` is the expected cum_rate given the
pool's own parameters and the calendar factors realized by the as-of date (future factors at their mean), and
``realized`` is the cum_rate the simulated future brings (future calendar factors and noise drawn).

``simulate``'s switches take parts of the market away, to find which part a model misses (docs/validation.md):
``pool_shapes=False`` gives every pool its originator's quick share, quick speed and slow speed (pools then differ
in level only), ``calendar=False`` sets every calendar factor to one, ``noise_scale`` multiplies the pool-month
noise's coefficient of variation, ``equal_borrowers`` reports every pool with the same n_borrowers (the truth is
unchanged). The random numbers drawn are the same whatever the switches.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from forecasting.data.dataset import Dataset, DatasetMeta

AS_OF = pd.Timestamp("2025-12-31")
FIRST, LAST = pd.Period("2020-01", "M"), pd.Period("2025-09", "M")
HORIZON = 96  # months simulated per pool: enough for 36 months beyond the oldest pool's as-of age
ORIGINATORS = 6
HALT = (pd.Period("2022-04", "M"), pd.Period("2022-06", "M"), 0.4, 6, 1.2)  # start, end, factor, catch-up months, factor


def calendar_factors(rng: np.random.Generator, months: pd.PeriodIndex) -> pd.Series:
    """The common factor of each calendar month: an AR(1) in logs with mean one, times the servicing halt."""
    phi, sd = 0.8, 0.08
    z = np.zeros(len(months))
    z[0] = rng.normal(0, sd / np.sqrt(1 - phi ** 2))
    for i in range(1, len(months)):
        z[i] = phi * z[i - 1] + rng.normal(0, sd)
    factor = np.exp(z - sd ** 2 / (1 - phi ** 2) / 2)
    start, end, halt, catch_up, extra = HALT
    factor[(months >= start) & (months <= end)] *= halt
    factor[(months > end) & (months <= end + catch_up)] *= extra
    return pd.Series(factor, index=months)


def simulate(seed: int, pools_per_originator: int = 40, pool_shapes: bool = True, calendar: bool = True,
             noise_scale: float = 1.0, equal_borrowers: bool = False) -> tuple[Dataset, pd.DataFrame]:
    """The dataset as of AS_OF and the truth: deal_id, period (1..HORIZON), expected and realized cum_rate,
    observed (the pool's observed periods). The switches: module docstring."""
    rng = np.random.default_rng(seed)
    months = pd.period_range(FIRST, LAST + HORIZON, freq="M")
    factor = calendar_factors(rng, months)
    if not calendar:
        factor[:] = 1.0
    shapes = float(pool_shapes)
    a, b, c = (rng.normal(m, s, ORIGINATORS) for m, s in ((-1.75, 0.3), (-0.4, 0.4), (0.0, 0.2)))
    n_deals = ORIGINATORS * pools_per_originator
    origin = np.repeat(np.arange(ORIGINATORS), pools_per_originator)
    cutoff = FIRST + rng.integers(0, (LAST - FIRST).n + 1, n_deals)
    level = expit(a[origin] + rng.normal(0, 0.3, n_deals))
    quick = expit(b[origin] + shapes * rng.normal(0, 0.5, n_deals))
    fast = np.exp(np.log(3.0) + shapes * rng.normal(0, 0.2, n_deals))
    slow = np.exp(np.log(30.0) + c[origin] + shapes * rng.normal(0, 0.25, n_deals))
    borrowers = rng.integers(500, 20000, n_deals)
    opb = borrowers * rng.uniform(2e5, 6e5, n_deals)

    t = np.arange(HORIZON + 1)[None, :]
    G = quick[:, None] * (1 - np.exp(-t / fast[:, None])) + (1 - quick[:, None]) * (1 - np.exp(-t / slow[:, None]))
    increment = level[:, None] * np.diff(G, axis=1)  # (deals, HORIZON): expected rate per month before common risk
    month_index = np.array([(c_ - FIRST).n for c_ in cutoff])[:, None] + np.arange(1, HORIZON + 1)[None, :]
    s = factor.to_numpy()[month_index]
    cv = noise_scale * (0.2 + 2 / np.sqrt(borrowers))
    noise = rng.gamma(1 / cv[:, None] ** 2, cv[:, None] ** 2, increment.shape)
    observed = np.array([(LAST.asfreq("M") - c_).n + 3 for c_ in cutoff])  # months from cut-off to 2025-12
    known = np.arange(1, HORIZON + 1)[None, :] <= observed[:, None]
    realized = np.cumsum(increment * s * noise, axis=1)
    expected = np.cumsum(increment * np.where(known, s, 1.0), axis=1)

    ids = np.array([f"IM{o + 1}-{i:03d}" for o, i in zip(origin, range(n_deals))])
    deals = pd.DataFrame({"deal_id": ids, "originator": [f"originator_{o + 1}" for o in origin],
                          "vintage": [c_.year for c_ in cutoff],
                          "cutoff_date": [c_.to_timestamp(how="end").normalize() for c_ in cutoff],
                          "opb": opb, "n_borrowers": borrowers, "wa_delinquency_months": 0.0})
    if equal_borrowers:
        deals["n_borrowers"] = int(np.median(borrowers))
    deals["avg_balance"] = deals["opb"] / deals["n_borrowers"]
    rows = [(ids[d], p, opb[d] * increment[d, p - 1] * s[d, p - 1] * noise[d, p - 1])
            for d in range(n_deals) for p in range(1, observed[d] + 1)]
    collections = pd.DataFrame(rows, columns=["deal_id", "period", "gross_collections"])
    truth = pd.DataFrame({"deal_id": np.repeat(ids, HORIZON), "period": np.tile(np.arange(1, HORIZON + 1), n_deals),
                          "expected": expected.ravel(), "realized": realized.ravel(),
                          "observed": np.repeat(observed, HORIZON)})
    meta = DatasetMeta(name=f"independent-{seed}", as_of=AS_OF.date(), period_months=1, currency="CNY")
    return Dataset(meta, deals, collections), truth
