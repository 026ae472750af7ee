"""The stacked mixture of timing families: its weights, its draws and its artifact."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from forecasting.models.decay import DecayAverageModel, averaged
from forecasting.models.decay.averaged import (
    MIN_GROUP_POOLS,
    age_edges,
    age_group,
    draw_counts,
    grouped_weights,
    stacking_weights,
)
from forecasting.models.state import decode, encode


def test_weights_go_to_the_family_that_forecasts_the_held_out_periods():
    """A family centred on the outcomes against one biased by two sds: (nearly) all the weight on the first."""
    rng = np.random.default_rng(0)
    actual = rng.normal(0, 1, 500)
    good = actual[None] + rng.normal(0, 1, (300, 500))
    biased = good + 2.0
    w = stacking_weights([biased, good], actual)
    assert w.sum() == pytest.approx(1) and w[1] >= 0.9


def test_weights_split_two_families_biased_each_way():
    """Families biased by +-1 sd around outcomes drawn from their mixture: the mixture wins, at half each."""
    rng = np.random.default_rng(1)
    centre = rng.normal(0, 1, 2000)
    actual = centre + rng.choice([-1.0, 1.0], 2000) + rng.normal(0, 0.5, 2000)
    up = centre[None] + 1.0 + rng.normal(0, 0.5, (200, 2000))
    down = centre[None] - 1.0 + rng.normal(0, 0.5, (200, 2000))
    assert stacking_weights([up, down], actual)[0] == pytest.approx(0.5, abs=0.1)


def test_three_families_search_the_whole_simplex():
    rng = np.random.default_rng(2)
    actual = rng.normal(0, 1, 400)
    draws = [actual[None] + shift + rng.normal(0, 1, (100, 400)) for shift in (3.0, 0.0, -3.0)]
    w = stacking_weights(draws, actual)
    assert w.shape == (3,) and w.sum() == pytest.approx(1) and w[1] >= 0.8


def test_weights_are_the_grid_minimum_of_the_mixtures_crps():
    """The family terms (a_k, B_kl) give the same choice as scoring each grid point's pooled, weighted draws:
    three families of unequal sizes, some outcomes missing."""
    import itertools

    from forecasting.backtest.calibration import crps
    rng = np.random.default_rng(3)
    actual = rng.gamma(2.0, 0.08, 300)
    actual[:5] = np.nan
    draws = [rng.gamma(2.0, scale, (size, 300)) for scale, size in ((0.05, 150), (0.09, 220), (0.12, 90))]
    pooled = np.concatenate(draws)
    scores = {}
    for cut in itertools.product(range(21), repeat=2):
        if sum(cut) <= 20:
            w = np.array([*cut, 20 - sum(cut)]) / 20
            per_draw = np.concatenate([np.full(len(d), wk / len(d)) for d, wk in zip(draws, w)])
            scores[tuple(w)] = float(np.nanmean(crps(pooled, actual, weights=per_draw)))
    best = min(scores, key=scores.get)
    assert tuple(stacking_weights(draws, actual)) == best
    assert 0 < best[1] < 1  # an interior optimum: the quadratic term matters


@pytest.mark.parametrize("weights, n", [([0.5, 0.5], 1001), ([0.33, 0.33, 0.34], 10), ([1.0, 0.0], 7)])
def test_draw_counts_sum_to_the_draws(weights, n):
    counts = draw_counts(np.array(weights), n)
    assert counts.sum() == n and np.all(np.abs(counts - np.array(weights) * n) < 1)


def test_age_groups_hold_about_equal_shares_and_need_enough_pools():
    ages = np.repeat(np.arange(9), 100)  # 900 pools seen 0..8 periods
    edges = age_edges(ages, 3)
    share = np.bincount(age_group(edges, ages)) / len(ages)
    assert len(edges) == 2 and np.all(np.abs(share - 1 / 3) < 0.12), (edges, share)
    assert len(age_edges(ages[:2 * MIN_GROUP_POOLS], 3)) == 1  # two groups' worth of pools: two groups
    assert len(age_edges(ages[:MIN_GROUP_POOLS + 50], 3)) == 0  # one group: the weights are shared
    assert len(age_edges(np.full(900, 4), 3)) == 0  # every pool of one age: one group
    assert list(age_edges(np.repeat([0, 10], 450), 3)) == [0]  # an edge at an observed age: no empty group


def test_each_age_group_weighs_the_family_that_forecasts_its_pools():
    """Young pools' held-out periods are forecast right by the first family and wrong by the second, seasoned
    pools' the other way round: each group's weights go to its own family."""
    rng = np.random.default_rng(2)
    age = np.repeat([1, 2, 6, 7], 100)
    actual = rng.normal(0.1, 0.01, len(age))
    young = age < 4
    right = actual[None] + rng.normal(0, 0.01, (300, len(age)))
    wrong = right + 0.05
    edges, w = grouped_weights([np.where(young, right, wrong), np.where(young, wrong, right)], actual, age, 3)
    group = age_group(edges, age)
    assert set(group[young]).isdisjoint(group[~young])
    for g in range(len(w)):
        own = 0 if young[group == g].all() else 1
        assert w[g, own] >= 0.9, (edges, w)


@pytest.fixture(scope="module")
def fitted(pool_level):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # without the spread's stretch, so the mixture's draws are the families' own (tests/models/test_spread.py)
        return DecayAverageModel(curves=("weibull", "lognormal"), spread_holdout=0).fit(pool_level)


def test_held_out_draws_in_chunks_of_pools_are_one_calls(fitted, pool_level, monkeypatch):
    """The stacking's held-out forecast goes in chunks of pools to bound its memory; its draws must not change."""
    member = fitted.members_[0]
    last = averaged._last_index(pool_level)
    one = member.predict(averaged._holdout(pool_level), int(last.max()) + 1, n_draws=50, random_state=1)
    whole = one.draws[:, np.arange(len(last)), np.maximum(last, 0)]
    monkeypatch.setattr(averaged, "HOLDOUT_CELLS", 50 * (int(last.max()) + 1) * 4)  # chunks of 4 pools
    chunked = averaged._holdout_draws(member, pool_level, averaged._holdout(pool_level), 50)
    assert len(pool_level.deal_ids) > 8
    np.testing.assert_allclose(chunked, whole, rtol=1e-12, atol=1e-15)  # to rounding: sums in another order


def test_forecast_draws_come_from_the_families_by_weight(fitted, pool_level):
    """Draw k of every deal comes from one family: the first round(w n) draws are the Weibull model's own."""
    n = 200
    fc = fitted.predict(pool_level, 36, n_draws=n, random_state=3)
    k = int(draw_counts(fitted.weights_[0], n)[0])
    assert fc.draws.shape[0] == n and fitted.summary().query("block == 'weight'")["coef"].sum() == pytest.approx(1)
    if k:
        weibull = fitted.members_[0].predict(pool_level, 36, n_draws=k, random_state=_seed(3, "weibull"))
        np.testing.assert_array_equal(fc.draws[:k], weibull.draws)


def test_a_deal_draws_from_its_age_groups_families(fitted, pool_level):
    """With the weights of young deals all on the Weibull and of seasoned deals all on the log-normal, each deal's
    draws are that family's own."""
    model = clone_fitted(fitted)
    seen = pool_level.history.observed_periods.reindex(pool_level.deal_ids).to_numpy()
    model.age_edges_, model.weights_ = np.array([np.floor(np.median(seen))]), np.array([[1.0, 0.0], [0.0, 1.0]])
    fc = model.predict(pool_level, 24, n_draws=40, random_state=5)
    young = seen <= np.floor(np.median(seen))
    assert young.any() and (~young).any()
    for curve, mine in (("weibull", young), ("lognormal", ~young)):
        member = model.members_[model.curves.index(curve)]
        own = member.predict(pool_level, 24, n_draws=40, random_state=_seed(5, curve))
        np.testing.assert_array_equal(fc.draws[:, mine], own.draws[:, mine])


def clone_fitted(fitted):
    """A copy of the fitted model through its saved state, so a test may change its weights."""
    arrays = {}
    text = json.dumps(encode(fitted.fitted_state(), arrays))
    model = DecayAverageModel(**fitted.get_params())
    for key, value in decode(json.loads(text), arrays).items():
        setattr(model, key, value)
    model.check_state()
    return model


def _seed(seed, curve):
    from forecasting.models.decay.averaged import _member_seed
    return _member_seed(seed, curve)


def test_the_saved_state_gives_the_same_forecast(fitted, pool_level):
    """What an artifact stores (JSON and arrays) rebuilds the families' models and their forecasts exactly."""
    loaded = clone_fitted(fitted)
    a = fitted.predict(pool_level, 24, n_draws=50, random_state=0)
    b = loaded.predict(pool_level, 24, n_draws=50, random_state=0)
    np.testing.assert_array_equal(a.draws, b.draws)
    assert loaded.summary().equals(fitted.summary())
