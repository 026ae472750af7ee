"""The pool-level survival model's overdispersion (phi), its process noise's payment shape, and its expected curve's
frailties anchored to the parameter draws (pool_level.py)."""
from __future__ import annotations

import warnings
from dataclasses import replace

import pytest

from forecasting.data.dataset import Dataset
from forecasting.models.summary import labelled
from forecasting.models.survival import SurvivalPoolModel
from forecasting.simulation.model_pools import simulate_pools


def fit(dataset) -> SurvivalPoolModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return SurvivalPoolModel(spread_holdout=0).fit(dataset)


@pytest.fixture(scope="module")
def plain(pool_level):
    return fit(pool_level)


def test_units_reported_four_times_over_are_read_as_dispersion(plain, pool_level):
    """The demo's collections vary as independent units would (Pearson 0.85, so phi is held at 1). Reporting four
    times as many borrowers makes the same collections four times as variable as the units say: phi reads about
    4 x 0.85 = 3.4, and the frailties' spreads, whose evidence counts n / phi units, are what they were (with the
    evidence counting all n units the timing frailties' sd was measured at 0.31 against 0.05: noise read as speed)."""
    deals = pool_level.deals
    inflated = fit(replace(pool_level, deals=deals.assign(n_borrowers=deals["n_borrowers"] * 4)))
    assert plain.dispersion_ == 1.0
    assert 2.8 < inflated.dispersion_ < 4.0
    assert inflated.frailty_sd_ == pytest.approx(plain.frailty_sd_, rel=0.05)
    assert inflated.timing_frailty_sd_ == pytest.approx(plain.timing_frailty_sd_, rel=0.05)
    summary = plain.summary()
    assert summary[(summary["block"] == "dispersion") & (summary["term"] == "phi")]["coef"].item() == 1.0


def test_the_expected_curve_counts_the_parameters_uncertainty_once(plain, pool_level):
    """A seasoned pool's frailties move against each parameter draw by the pool's credibility, so the mean expected
    60-month rate of the pools seen two years or more barely moves from draw to draw, while the same pools forecast as
    new (nothing collected) move with every draw. Measured: 0.26 of the new pools' sd; 0.72 with the frailties
    unanchored (npas 0.7.5)."""
    seasoned = pool_level.history.observed_periods.reindex(pool_level.deal_ids).to_numpy() >= 24
    fc = plain.predict(pool_level, 60, n_draws=2000, random_state=0)
    fresh = Dataset(pool_level.meta, pool_level.deals.assign(deal_id=pool_level.deals["deal_id"] + "-new"),
                    pool_level.collections.iloc[:0])
    new = plain.predict(fresh, 60, n_draws=2000, random_state=0)
    moved = [f.expected[:, seasoned, -1].mean(axis=1).std() for f in (fc, new)]
    assert moved[0] < 0.5 * moved[1], moved


@pytest.mark.parametrize("shape", [0.3, 1.0, 3.0, None])
def test_payment_shape_is_recovered_from_sparse_pools(shape):
    """Pools of 20-200 borrowers whose periods are often empty: the compound Poisson's payment shape comes back
    within 20% (measured: 0.32, 1.04, 3.3), and for the overdispersed Poisson itself (None: every payment one size)
    far above any of them (measured 21: the Poisson's empty share within 5%). The decay model's test is the same
    (tests/models/decay/test_model.py)."""
    data = simulate_pools("weibull", 0, n_deals=60, borrowers=(20, 200), payment_shape=shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model = SurvivalPoolModel(covariates=("x",), groups=(), ordered_groups=(), spread_holdout=0).fit(data)
    if shape is None:
        assert model.payment_shape_ > 10
    else:
        assert model.payment_shape_ == pytest.approx(shape, rel=0.2)
    assert labelled(model.summary()).loc["dispersion:payment_shape", "coef"] == model.payment_shape_
