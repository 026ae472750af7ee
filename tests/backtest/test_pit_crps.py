"""PIT, CRPS and KS against values computed by hand."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from forecasting.backtest.calibration import crps, inside, ks_critical, ks_statistic, pit, pit_coverage, pit_with_ties


def test_pit_is_the_mid_rank():
    draws = np.array([0.1, 0.2, 0.2, 0.4])[:, None]
    assert pit(draws, np.array([0.2]))[0] == pytest.approx((1 + 0.5 * 2) / 4)
    assert pit(draws, np.array([0.05]))[0] == 0 and pit(draws, np.array([0.5]))[0] == 1
    assert np.isnan(pit(draws, np.array([np.nan]))[0])


def test_a_tie_is_a_tie_to_rounding():
    """A pool that collected nothing more: its paths end at the last observed cum_rate summed in another order
    (0.1 + 0.2 against 0.3); scored as tied, not below or above every draw, and inside a band it bounds."""
    last = 0.1 + 0.2
    draws = np.array([0.3, 0.3, 0.35, 0.4])[:, None]
    assert last != 0.3
    assert pit(draws, np.array([last]))[0] == pytest.approx(0.5 * 2 / 4)
    assert inside(np.array([0.3]), np.array([last]), np.array([0.4]))[0]
    assert not inside(np.array([0.3 + 1e-6]), np.array([last]), np.array([0.4]))[0]  # a real difference counts


def test_crps_of_two_draws():
    """E|X - y| - E|X - X'| / 2 with X uniform on {0, 1}, y = 0.25: (0.25 + 0.75) / 2 - 0.5 / 2 = 0.25."""
    assert crps(np.array([[0.0], [1.0]]), np.array([0.25]))[0] == pytest.approx(0.25)
    assert crps(np.full((5, 1), 0.3), np.array([0.5]))[0] == pytest.approx(0.2)  # a point forecast: |x - y|


def test_crps_matches_the_normal_closed_form():
    rng = np.random.default_rng(0)
    draws = rng.normal(0, 1, (200_000, 1))
    y = 0.7
    exact = y * (2 * stats.norm.cdf(y) - 1) + 2 * stats.norm.pdf(y) - 1 / np.sqrt(np.pi)
    assert crps(draws, np.array([y]))[0] == pytest.approx(exact, abs=3e-3)


@pytest.mark.parametrize("weighted", [False, True])
def test_crps_equals_scoringrules(weighted):
    """The sorted form against scoringrules' ensemble CRPS (quantile decomposition and energy estimators), with ties,
    a missing actual and unequal member weights."""
    import scoringrules  # a test dependency: the reference
    rng = np.random.default_rng(2)
    draws = np.round(rng.gamma(2.0, 0.05, (300, 7, 4)), 3)  # rounding makes ties
    actual = rng.gamma(2.0, 0.05, (7, 4))
    actual[3, 1] = np.nan
    weights = rng.uniform(0.2, 1.0, 300) if weighted else None
    ours = crps(draws, actual, weights)
    fct = np.moveaxis(draws, 0, -1)
    ens_w = None if weights is None else np.broadcast_to(weights / weights.sum(), fct.shape)
    for estimator in ("qd", "nrg"):
        theirs = scoringrules.crps_ensemble(np.nan_to_num(actual), fct, ens_w=ens_w, estimator=estimator, backend="numpy")
        assert np.allclose(ours[np.isfinite(actual)], theirs[np.isfinite(actual)], rtol=1e-10, atol=1e-13)
    assert np.isnan(ours[3, 1])


def test_weights_equal_repeated_members():
    """A member of weight 2 scores as the same member drawn twice."""
    draws = np.array([0.1, 0.4, 0.2])[:, None]
    repeated = np.array([0.1, 0.4, 0.4, 0.2])[:, None]
    y = np.array([0.3])
    assert crps(draws, y, np.array([1.0, 2.0, 1.0]))[0] == pytest.approx(crps(repeated, y)[0], rel=1e-12)


def test_ks_on_uniform_and_on_narrow_bands():
    rng = np.random.default_rng(1)
    n = 2000
    assert ks_statistic(rng.uniform(size=n)) < ks_critical(n)
    # bands too narrow: actuals fall outside the draws too often, PITs pile up at 0 and 1
    draws = rng.normal(0, 0.5, (1000, n))
    assert ks_statistic(pit(draws, rng.normal(0, 1, n))) > ks_critical(n)
    assert ks_critical(200) == pytest.approx(1.36 / np.sqrt(200), rel=0.02)


def test_ks_with_ties_is_the_distance_of_the_mean_pit_distribution():
    """One PIT spread over [0, 0.5] (half the draws tie with the actual), one a point at 0.75: their mean
    distribution is u on [0, 0.5], 0.5 up to 0.75, then 1, at most 0.25 from uniform (at 0.75, either side)."""
    draws = np.array([[0.0, 0.1], [0.0, 0.2], [0.5, 0.3], [0.5, 0.9]])
    actual = np.array([0.0, 0.6])
    assert pit(draws, actual).tolist() == [0.25, 0.75]
    assert pit_with_ties(draws, actual)[1].tolist() == [0.5, 0.0]
    assert ks_statistic(*pit_with_ties(draws, actual)) == pytest.approx(0.25, abs=1e-12)
    x = np.random.default_rng(3).uniform(size=40)  # without ties: the ordinary statistic
    assert ks_statistic(x, np.zeros(40)) == pytest.approx(stats.kstest(x, "uniform").statistic, abs=1e-12)


def calibrated_with_zeros(n: int = 3000, draws: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Paths and actuals of pools that pay nothing more with the probability their forecast gives (0-80%): each
    actual is drawn from its own forecast, so the forecasts are calibrated."""
    rng = np.random.default_rng(5)
    zero_share = rng.uniform(0, 0.8, n)
    paths = np.where(rng.uniform(size=(draws, n)) < zero_share, 0.0, rng.uniform(0.01, 1.0, (draws, n)))
    return paths, np.where(rng.uniform(size=n) < zero_share, 0.0, rng.uniform(0.01, 1.0, n))


def test_calibrated_forecasts_with_mass_at_zero_pass_and_their_midpoints_would_not():
    """The midpoints of the ties crowd the centre; the PITs spread over them are uniform."""
    paths, actual = calibrated_with_zeros()
    n = len(actual)
    p, tied = pit_with_ties(paths, actual)
    assert ks_statistic(p, tied) < ks_critical(n)
    assert ks_statistic(p) > 2 * ks_critical(n)


def test_pit_coverage_counts_a_tie_by_its_share_inside():
    """PIT interval [0, 0.5]: 0.4 of it in [0.1, 0.9]; points at 0.5 and 0.95: in and out."""
    got = pit_coverage(np.array([0.25, 0.5, 0.95, np.nan]), np.array([0.5, 0.0, 0.0, 0.0]), 0.1, 0.9)
    np.testing.assert_allclose(got[:3], [0.8, 1.0, 0.0])
    assert np.isnan(got[3])
    # calibrated forecasts with mass at zero: 80%, where the closed band holds more
    paths, actual = calibrated_with_zeros()
    assert pit_coverage(*pit_with_ties(paths, actual), 0.1, 0.9).mean() == pytest.approx(0.8, abs=0.02)
    lo, hi = np.quantile(paths, [0.1, 0.9], axis=0)
    assert inside(lo, actual, hi).mean() > 0.85
