"""Illustrative securities for the simulated deals (the seed report gives issuance totals only; docs/simulation.md).

Each deal with an issue_size gets a senior tranche sized as a structurer would, from the rating agency's estimate:
opb x est_gross_recovery x (1 - fees) / m with a coverage multiple m of 1.6-2.2, at most 85% of the issue size,
with a coupon of 2.0-3.5% a year; a subordinated tranche takes the rest of the issue size (coupon 0, the
residual). Closing 2-4 months after the cut-off, quarterly payments, senior fees of 2-6% of each collection, legal
maturity 7 years after closing. The ranges are chosen to look like the market's offering documents (issuance is
7-13% of principal, senior tranches are repaid in months, MARKET_FACTS.md), not taken from any deal's.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.models import random

COVERAGE = (1.6, 2.2)
MAX_SENIOR_SHARE = 0.85
SENIOR_COUPON = (0.020, 0.035)
FEE_RATE = (0.02, 0.06)
CLOSING_LAG_MONTHS = (2, 4)


def illustrative_structure(deals: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(deals with closing_date, payment_frequency_months, senior_fee_rate, legal_maturity; tranches table)."""
    rng = random.stream(seed, "tranches")
    n = len(deals)
    size = deals["issue_size"].to_numpy(float) if "issue_size" in deals else np.zeros(n)
    fee = np.round(rng.uniform(*FEE_RATE, n), 4)
    est = deals["est_gross_recovery"].fillna(0.0).to_numpy(float) if "est_gross_recovery" in deals else np.zeros(n)
    supported = deals["opb"].to_numpy(float) * est * (1 - fee) / rng.uniform(*COVERAGE, n)
    senior = np.round(np.minimum(supported, MAX_SENIOR_SHARE * size), 2)
    lag = rng.integers(CLOSING_LAG_MONTHS[0], CLOSING_LAG_MONTHS[1] + 1, n)
    closing = pd.DatetimeIndex([c + pd.offsets.MonthEnd(int(m)) for c, m in zip(pd.to_datetime(deals["cutoff_date"]), lag)])
    out = deals.assign(closing_date=closing, payment_frequency_months=3, senior_fee_rate=fee,
                       legal_maturity=closing + pd.DateOffset(years=7))
    has = size > 0
    ids = deals["deal_id"].to_numpy()[has]
    tranches = pd.DataFrame({
        "deal_id": np.repeat(ids, 2), "tranche": np.tile(["优先A", "次级"], len(ids)), "priority": np.tile([1, 2], len(ids)),
        "balance": np.column_stack([senior[has], np.round(size[has] - senior[has], 2)]).ravel(),
        "coupon": np.column_stack([np.round(rng.uniform(*SENIOR_COUPON, n)[has], 4), np.zeros(has.sum())]).ravel()})
    return out, tranches
