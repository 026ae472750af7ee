"""The spread's growth and noise (models/spread.py): the stretch keeps paths valid and widens by k(h), the noise
scales each path's future (and the expected curve's) by its own mean-one factor, the terms learnt from held-out
cells recover the ones the cells were made with, and a fitted model's forecast is its own stretched."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from forecasting.data.problems import InputError, Problem
from forecasting.models import spread
from forecasting.models.curve_forecast import CurveForecast
from forecasting.models.decay import DecayCurveModel
from forecasting.models.random import per_deal, standard_normal
from forecasting.models.spread import HeldOutCells, growth_factor, learn_terms, relative_noise, stretch_future, stretched
from forecasting.models.survival import SurvivalPoolModel


def test_growth_factor_starts_at_one_and_grows():
    h = np.arange(-2, 40, dtype=float)
    k = growth_factor(h, 0.3)
    assert np.all(k[h <= 1] == 1.0) and np.all(np.diff(k) >= 0) and k[-1] == pytest.approx(1 + 0.3 * (39 ** .5 - 1))
    assert np.all(growth_factor(h, 0.0) == 1.0)


def _paths(S=4000, H=24, n_obs=(0, 6, 12), seed=0):
    """Paths with a steady trend and a level that differs by draw, so no clipping binds."""
    rng = np.random.default_rng(seed)
    n_obs = np.asarray(n_obs)
    t = np.arange(1, H + 1)
    seen = 0.02 * n_obs
    z = rng.standard_normal((S, len(n_obs), 1))
    future = 0.02 * (t[None] - n_obs[:, None]) + 0.004 * z * np.sqrt(np.maximum(t[None] - n_obs[:, None], 0))
    observed = t[None] <= n_obs[:, None]
    paths = np.where(observed[None], 0.02 * t[None], seen[None, :, None] + np.maximum(future, 0))
    return np.maximum.accumulate(paths, axis=-1), n_obs


def test_stretch_leaves_observed_periods_and_widens_the_future_by_k():
    paths, n_obs = _paths()
    a = 0.4
    out = stretch_future(paths, n_obs, a)
    t = np.arange(1, paths.shape[-1] + 1)
    for j, n in enumerate(n_obs):
        np.testing.assert_array_equal(out[:, j, :n], paths[:, j, :n])
        h = t[n:] - n
        ratio = out[:, j, n:].std(axis=0) / paths[:, j, n:].std(axis=0)
        np.testing.assert_allclose(ratio, growth_factor(h, a), rtol=1e-6)
        np.testing.assert_allclose(out[:, j, n:].mean(axis=0), paths[:, j, n:].mean(axis=0), atol=1e-12)
    np.testing.assert_array_equal(stretch_future(paths, n_obs, 0.0), paths)


def test_stretched_paths_stay_valid_where_clipping_binds():
    rng = np.random.default_rng(1)
    n_obs = np.array([0, 3, 10])
    future = np.cumsum(rng.gamma(0.2, 0.05, (500, 3, 30)), axis=-1)
    seen = np.array([0.0, 0.3, 0.9])
    t = np.arange(1, 31)
    paths = np.where(t[None, None] <= n_obs[None, :, None], seen[None, :, None] * t / np.maximum(n_obs, 1)[None, :, None],
                     seen[None, :, None] + future)
    paths = np.minimum(np.maximum.accumulate(paths, axis=-1), 1.0)
    out = stretch_future(paths, n_obs, 1.5)
    assert np.all(np.diff(out, axis=-1) >= 0) and out.max() <= 1.0
    for j, n in enumerate(n_obs):
        assert np.all(out[:, j, n:] >= (out[0, j, n - 1] if n else 0.0))


def _cells(true_growth: float, scale=1.0, n=3000, holdout=12, seed=2) -> HeldOutCells:
    """Cut cells whose outcomes spread scale x k_true(h) times as wide as the forecast's draws."""
    rng = np.random.default_rng(seed)
    ahead = np.tile(np.arange(1, holdout + 1, dtype=float), n // holdout)
    seen = np.full(len(ahead), 0.1)
    centre, sd = 0.01 * ahead, 0.002 * np.sqrt(ahead)
    draws = seen + centre + sd * rng.standard_normal((400, len(ahead)))
    actual = seen + centre + scale * sd * growth_factor(ahead, true_growth) * rng.standard_normal(len(ahead))
    return HeldOutCells(draws, seen, ahead, actual)


@pytest.mark.parametrize("true_growth", [0.25, 0.6])
def test_learnt_growth_recovers_the_one_the_outcomes_have(true_growth):
    a, b = learn_terms(_cells(true_growth))
    assert a == pytest.approx(true_growth, abs=0.08) and b < 0.01


def test_no_spread_is_learnt_where_the_models_own_is_right_or_too_wide():
    a, b = learn_terms(_cells(0.0))
    assert a < 0.05 and b < 0.005
    a, b = learn_terms(_cells(0.0, scale=0.5))
    assert a == 0.0 and b < 0.005


def _noisy_cells(true_noise: float, n=3000, holdout=12, seed=3) -> HeldOutCells:
    """Cut cells whose outcomes carry the relative noise b = true_noise that the forecast's draws lack; the draws'
    own spread is narrow (a pool the model is sure of), so no stretch of it can stand in for the noise."""
    rng = np.random.default_rng(seed)
    ahead = np.tile(np.arange(1, holdout + 1, dtype=float), n // holdout)
    seen = np.full(len(ahead), 0.1)
    centre = 0.01 * ahead
    draws = seen + centre * (1 + 0.01 * rng.standard_normal((400, len(ahead))))
    actual = seen + centre * relative_noise(ahead, true_noise, rng.standard_normal(len(ahead)))
    return HeldOutCells(draws, seen, ahead, actual)


@pytest.mark.parametrize("true_noise", [0.05, 0.12])
def test_learnt_noise_recovers_the_one_the_outcomes_have(true_noise):
    a, b = learn_terms(_noisy_cells(true_noise))
    assert b == pytest.approx(true_noise, abs=0.015)


def test_the_noise_has_mean_one_and_scales_its_future_by_its_own_factor():
    paths, n_obs = _paths(S=20000)
    b = 0.05
    z = np.random.default_rng(5).standard_normal((paths.shape[0], len(n_obs)))
    out = stretch_future(paths, n_obs, 0.0, b, z)
    t = np.arange(1, paths.shape[-1] + 1)
    for j, n in enumerate(n_obs):
        np.testing.assert_array_equal(out[:, j, :n], paths[:, j, :n])
        seen = paths[0, j, n - 1] if n else 0.0
        h = t[n:] - n
        free = seen + (paths[:, j, n:] - seen) * relative_noise(h, b, z[:, j, None])
        unbound = np.all(np.diff(free, axis=-1) >= 0, axis=-1) & (free[:, -1] <= 1.0)  # no bound binds
        assert unbound.mean() > 0.95
        np.testing.assert_allclose(out[unbound, j, n:], free[unbound], rtol=1e-12)
        np.testing.assert_allclose(relative_noise(h, b, z[:, j, None]).mean(axis=0), 1.0, atol=0.02)  # mean one


@pytest.fixture(scope="module", params=["decay", "survival_pool"])
def learnt(request, pool_level):
    model = DecayCurveModel(curve="weibull", spread_holdout=12) if request.param == "decay" else \
        SurvivalPoolModel(spread_holdout=12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return model.fit(pool_level)


def test_a_fitted_models_forecast_is_its_own_stretched_by_the_learnt_terms(learnt, pool_level):
    a, b = learnt.spread_growth_, learnt.spread_noise_
    spread.check_terms(a, b)
    rows = learnt.summary().query("block == 'spread'").set_index("term")["coef"]
    assert rows["growth"] == pytest.approx(a) and rows["noise"] == pytest.approx(b)
    fc = learnt.predict(pool_level, 60, n_draws=300, random_state=4)
    learnt.spread_growth_ = learnt.spread_noise_ = 0.0
    try:
        own = learnt.predict(pool_level, 60, n_draws=300, random_state=4)
    finally:
        learnt.spread_growth_, learnt.spread_noise_ = a, b
    mine = stretched(own, a, b, 4)
    np.testing.assert_allclose(fc.draws, mine.draws)
    np.testing.assert_allclose(fc.expected, mine.expected)
    if b == 0:
        np.testing.assert_array_equal(fc.expected, own.expected)


def test_the_expected_curves_future_takes_each_draws_noise_from_its_own_last_observed_value():
    """The expected curve differs by draw at the last observed period too (a parameter draw is a curve), so each
    draw's future is what it adds after its own value there, scaled by the same factor as its realized path."""
    rng = np.random.default_rng(6)
    S, H, n_obs = 3000, 36, np.array([0, 5, 12])
    t = np.arange(1, H + 1)
    level = 0.15 * np.exp(0.1 * rng.standard_normal((S, len(n_obs), 1)))
    expected = level * (1 - np.exp(-t / 30.0))  # a curve per draw: it differs at every period
    ids = pd.Index(["a", "b", "c"])
    fc = CurveForecast(ids, expected.mean(axis=0), expected.copy(), n_obs, expected=expected)
    b = 0.03
    out = stretched(fc, 0.0, b, 3)
    z = per_deal(3, "spread-noise", ids, lambda r: standard_normal(r, S))
    for j, n in enumerate(n_obs):
        np.testing.assert_array_equal(out.expected[:, j, :n], expected[:, j, :n])
        seen = expected[:, j, n - 1:n] if n else np.zeros((S, 1))
        free = seen + (expected[:, j, n:] - seen) * relative_noise(t[n:] - n, b, z[:, j, None])
        unbound = np.all(np.diff(free, axis=-1) >= 0, axis=-1)  # no bound binds
        assert unbound.mean() > 0.9
        np.testing.assert_allclose(out.expected[unbound, j, n:], free[unbound], rtol=1e-12)
        np.testing.assert_allclose(out.draws[:, j], out.expected[:, j], rtol=1e-12)  # the same factor
    assert np.all(np.diff(out.expected, axis=-1) >= 0)
    np.testing.assert_array_equal(stretched(fc, 0.3, 0.0, 3).expected, expected)  # the growth leaves it alone


def test_a_pools_noise_is_the_same_in_any_batch_of_pools():
    paths, n_obs = _paths(S=200, n_obs=(0, 6, 12, 3))
    ids = pd.Index(["a", "b", "c", "d"])
    fc = CurveForecast(ids, paths.mean(axis=0), paths, n_obs)
    whole = stretched(fc, 0.2, 0.1, 9).draws
    part = stretched(CurveForecast(ids[2:], paths[:, 2:].mean(axis=0), paths[:, 2:], n_obs[2:]), 0.2, 0.1, 9).draws
    np.testing.assert_array_equal(whole[:, 2:], part)


def test_held_out_cells_come_from_a_fit_that_did_not_see_them(pool_level):
    seen = {}

    class Recorder(DecayCurveModel):
        def fit(self, dataset):
            seen["as_of"], seen["periods"] = dataset.as_of, dataset.history.observed_periods.copy()
            return super().fit(dataset)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cells = spread.held_out_cells(Recorder(curve="weibull", spread_holdout=0), pool_level, 6)
    assert seen["as_of"] == pd.Timestamp(pool_level.as_of) - pd.DateOffset(months=6)
    full = pool_level.history.observed_periods.reindex(seen["periods"].index)
    assert np.all(seen["periods"] <= np.maximum(full - 6, 0))
    assert set(np.unique(cells.ahead)) == set(range(1, 7)) and np.isfinite(cells.actual).all()


def test_too_little_history_warns_and_keeps_the_models_own_spread(pool_level):
    young = pool_level.truncate(pd.Timestamp(pool_level.as_of) - pd.DateOffset(months=1))
    young = young.subset(young.deal_ids[:1])
    terms, notes = spread.learn_spread(DecayCurveModel(curve="weibull"), young, 12)
    assert terms == (0.0, 0.0) and len(notes) == 1 and "own spread only" in notes[0]
    assert spread.learn_spread(DecayCurveModel(curve="weibull"), young, 0) == ((0.0, 0.0), [])


def test_a_cut_fit_refused_by_a_config_check_is_said_by_its_reason(pool_level):
    class Refused(DecayCurveModel):
        def _cut_refit(self):
            raise InputError(Problem("config", None, "agency_prior", "5 pool(s) cannot estimate the agency's view"))

    terms, notes = spread.learn_spread(Refused(curve="weibull"), pool_level, 12)
    assert terms == (0.0, 0.0) and notes == [
        "decay: the spread's growth could not be learnt, the fit 12 periods back failed (5 pool(s) cannot "
        "estimate the agency's view); the forecast carries the model's own spread only"]
