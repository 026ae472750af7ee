"""Cumulative dispersion from the loan tape: known answers on constructed pools, and the simulator's truth."""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.periods import observed_periods
from forecasting.models.decay.dispersion import cum_dispersion
from forecasting.simulation import facts


def instalment_pools(parts: int, seed: int = 0, n_deals: int = 20, n_loans: int = 2000):
    """Each payer (20%) repays its balance in ``parts`` equal instalments in consecutive periods from a random start."""
    rng = np.random.default_rng(seed)
    loans, paid = [], []
    for d in range(n_deals):
        ids = [f"L{i}" for i in range(n_loans)]
        balance = rng.lognormal(11, 0.9, n_loans)
        loans.append(pd.DataFrame({"deal_id": f"d{d}", "loan_id": ids, "balance": balance}))
        payers = np.flatnonzero(rng.random(n_loans) < 0.2)
        start = rng.integers(1, 13, len(payers))
        for j in range(parts):
            paid.append(pd.DataFrame({"deal_id": f"d{d}", "loan_id": np.array(ids)[payers], "period": start + j,
                                      "amount": balance[payers] / parts}))
    return pd.concat(loans), pd.concat(paid), [f"d{d}" for d in range(n_deals)]


def test_single_payments_give_the_bernoulli_ratio():
    """One payment per payer (p = 0.2, in one of 12 periods): within a balance stratum the cash to date varies as
    p (1 - p) B^2 and the periods sum to (p - p^2 / 12) B^2, a ratio of 0.81 (the total is capped at one payment)."""
    loans, paid, ids = instalment_pools(1)
    assert abs(cum_dispersion(loans, paid, ids) - 0.8 / (1 - 0.2 / 12)) < 0.05


def test_three_instalments_multiply_the_cumulative_variance():
    """A payer's cash in three equal parts: each period sees a third of it. Cash to date: p (1 - p) B^2 = 0.16 B^2;
    the periods sum to (3p - sum_t q_t^2) B^2 / 9 with q_t = p x (starts covering t) / 12: 0.0636 B^2, a ratio of
    2.52."""
    loans, paid, ids = instalment_pools(3)
    assert abs(cum_dispersion(loans, paid, ids) - 2.52) < 0.12


def test_without_a_loan_tape_periods_are_taken_as_independent():
    assert cum_dispersion(None, None, ["d0"]) == 1.0


def test_matches_the_simulators_truth(market):
    """On the demo market, the ratio measured on its loan tape matches the one the simulator knows: over redraws of
    the process, the variance of each pool's cash to its last observed period over the sum of its per-period
    variances."""
    ds = market.dataset
    ids = ds.deals["deal_id"].to_numpy()
    n_obs = observed_periods(ds.deals["cutoff_date"], facts.AS_OF, 1)
    rng = np.random.default_rng(3)
    draws = np.stack([market.redraw_collections(rng).loc[ids].to_numpy() for _ in range(200)])
    seen = np.arange(1, draws.shape[2] + 1)[None, :] <= n_obs[:, None]
    cumulative = np.sum(draws * seen, axis=2).var(axis=0)
    per_period = np.sum(draws.var(axis=0) * seen, axis=1)
    truth = np.mean((cumulative / per_period)[n_obs >= 3])
    measured = cum_dispersion(ds.loans, ds.loan_collections, ids)
    assert abs(measured / truth - 1) < 0.1, (measured, truth)
