"""The simulated market's common calendar risk (simulation/calendar.py): where it falls, what it leaves alone, and
the realized collections it hands to the checks."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.simulation.calendar import calendar_factors, log_factors_by_period_end, shocked
from forecasting.simulation.market import TRUTH_PERIODS, simulate_market
from forecasting.simulation.process import RecoveryProcess


def test_no_calendar_risk_leaves_payments_alone():
    factors = calendar_factors(RecoveryProcess(), np.array([24_300, 24_310]), 84, seed=1)
    pay = pd.DataFrame({"row": [0, 1], "period": [3, 5], "amount": [10.0, 20.0]})
    assert factors.empty
    assert shocked(pay, np.array([0, 1]), np.array([24_300, 24_310]), factors) is pay


def test_a_shock_and_random_factors_fall_on_their_months_only():
    cutoff = np.array([2023 * 12 + 0, 2023 * 12 + 4])  # Jan and May 2023
    window = calendar_factors(RecoveryProcess(calendar_shock=("2023-07", "2023-09", 0.5)), cutoff, 12, seed=3)
    assert window.index.min() == cutoff.min() + 1 and window.index.max() == cutoff.max() + 12
    inside = (window.index >= 2023 * 12 + 6) & (window.index <= 2023 * 12 + 8)
    assert np.all(window[inside] == 0.5) and np.all(window[~inside] == 1.0)
    pay = pd.DataFrame({"row": [0, 0, 1], "period": [5, 7, 3], "amount": [10.0, 10.0, 10.0]})  # Jun, Aug, Aug 2023
    out = shocked(pay, np.array([0, 1]), cutoff, window)
    np.testing.assert_allclose(out["amount"], [10.0, 5.0, 5.0])
    random = calendar_factors(RecoveryProcess(calendar_sd=0.2), cutoff, 120, seed=3)
    logs = np.log(random.to_numpy())
    assert logs.std() == pytest.approx(0.2, rel=0.15) and logs.mean() == pytest.approx(-0.02, abs=0.04)
    again = calendar_factors(RecoveryProcess(calendar_sd=0.2), cutoff, 120, seed=3)
    pd.testing.assert_series_equal(random, again)
    truth = log_factors_by_period_end(random)
    assert truth.index[0] == pd.Timestamp("2023-02-28") and np.allclose(truth.to_numpy(), logs)


def test_persistent_factors_are_a_stationary_ar1():
    """With calendar_persistence the log factors keep their sd and correlate 0.8 from one month to the next (with
    none, about 0); the first month is already at the stationary spread."""
    cutoff = np.array([2000 * 12])
    logs = {phi: np.log(calendar_factors(RecoveryProcess(calendar_sd=0.2, calendar_persistence=phi), cutoff, 5000,
                                         seed=4).to_numpy()) for phi in (0.0, 0.8)}
    assert logs[0.8].std() == pytest.approx(0.2, rel=0.1)
    assert np.corrcoef(logs[0.8][:-1], logs[0.8][1:])[0, 1] == pytest.approx(0.8, abs=0.03)
    assert abs(np.corrcoef(logs[0.0][:-1], logs[0.0][1:])[0, 1]) < 0.05
    assert logs[0.8][0] == pytest.approx(logs[0.0][0])  # the same stream, first draw at sd 0.2


@pytest.fixture(scope="module")
def risky():
    return simulate_market(5, process=RecoveryProcess(calendar_sd=0.15))


def test_realized_collections_are_the_observed_ones_then_the_future(risky):
    ds = risky.dataset
    assert risky.realized.shape == (len(ds.deals), TRUTH_PERIODS)
    seen = ds.history.amounts.reindex(ds.deal_ids)
    observed = seen.notna().to_numpy()
    realized = risky.realized.loc[ds.deal_ids].to_numpy()
    np.testing.assert_allclose(realized[:, :seen.shape[1]][observed], seen.to_numpy()[observed], atol=0.01)
    assert realized[:, :seen.shape[1]][~observed].sum() > 0  # the pools go on collecting after the as-of date


def test_calendar_risk_changes_only_the_amounts_not_the_loans(risky):
    calm = simulate_market(5)
    assert len(risky.calendar) > 84 and calm.calendar.empty
    pd.testing.assert_frame_equal(risky.dataset.loans, calm.dataset.loans)
    ratio = risky.realized.sum() / calm.realized.sum()  # by period of age: a mix of the months' factors
    assert not np.allclose(ratio, 1.0) and ratio.between(0.5, 1.6).all()
