"""Development-age effects (issue 17): a distortion of the curve at some ages is found, data from the curve family
itself need none, and forecasts carry the correction into the expected curve and the paths."""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

from forecasting.data.dataset import Dataset
from forecasting.models.decay import DecayCurveModel
from forecasting.models.decay.age import SPAN, AgeEffects, smooth_effects
from forecasting.simulation.model_pools import simulate_pools

BUMP = (4, 6, 1.3)  # ages 4-6 collect 30% more than the Weibull the pools are simulated from


def pools(bump: tuple[int, int, float] | None) -> Dataset:
    data = simulate_pools("weibull", 7, n_deals=80)
    c = data.collections.copy()
    if bump is not None:
        c.loc[c["period"].between(bump[0], bump[1]), "gross_collections"] *= bump[2]
    return Dataset(data.meta, data.deals, c)


def fit(data: Dataset, age_effects: bool = True) -> DecayCurveModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return DecayCurveModel(covariates=("x",), groups=(), age_effects=age_effects).fit(data)


@pytest.fixture(scope="module")
def bumped():
    data = pools(BUMP)
    return data, fit(data)


def test_a_distortion_at_some_ages_is_found(bumped):
    """The bumped ages against their neighbours (the curve may take a smooth part of any distortion, the smooth
    part of the effects the rest: what is identified is the bump's size against the ages beside it)."""
    _, model = bumped
    table = model.age_.table().set_index("period")
    inside = table.loc[BUMP[0]:BUMP[1], "effect"].mean()
    beside = table.loc[[BUMP[0] - 2, BUMP[0] - 1, BUMP[1] + 1, BUMP[1] + 2], "effect"].mean()
    assert inside - beside == pytest.approx(np.log(BUMP[2]), abs=0.08)
    assert model.age_.sigma > 0.03  # a bump at three ages is the independent part's
    summary = model.summary().set_index(["block", "term"])
    assert summary.loc[("age", "sd"), "coef"] == pytest.approx(model.age_.sigma)
    assert summary.loc[("age", "step sd"), "coef"] == pytest.approx(model.age_.step_sd)


def test_the_curve_family_itself_needs_no_correction():
    model = fit(pools(None))
    assert model.age_.sigma < 0.03 and model.age_.step_sd < 0.01
    assert np.abs(model.age_.effect).max() < 0.05


def replicates(effects, n: int = 5, keys: int = 150, v: float = 0.02 ** 2) -> np.ndarray:
    """(n, 2): sigma and step_sd fitted to n sets of log ratios y = 0.2 + effects(rng) + noise of variance v."""
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        y = 0.2 + effects(rng) + np.sqrt(v) * rng.standard_normal(keys)
        sds, *_ = smooth_effects(np.arange(1, keys + 1), y, np.full(keys, v))
        out.append(sds)
    return np.array(out)


def test_the_data_say_how_smooth_the_correction_is():
    """Log ratios from a random walk (step sd 0.03), from independent effects (sd 0.1) and from none: the
    restricted likelihood gives each its own part (medians over five sets)."""
    walk = np.median(replicates(lambda rng: np.cumsum(0.03 * rng.standard_normal(150))), axis=0)
    assert 0.015 < walk[1] < 0.05 and walk[0] < walk[1]
    rough = np.median(replicates(lambda rng: 0.1 * rng.standard_normal(150)), axis=0)
    assert rough[0] == pytest.approx(0.1, rel=0.15) and rough[1] < 0.01
    none = np.median(replicates(lambda rng: np.zeros(150)), axis=0)
    assert none.max() < 0.01


def test_an_age_few_pools_reach_keeps_the_correction_of_the_ages_before():
    """A step of 0.3 from age 30 on, the ages past 50 seen so noisily (few pools) that each alone says little: the
    smooth part carries the step to them, where effects independent by age would shrink them to the mean."""
    rng = np.random.default_rng(1)
    age = np.arange(1, 61)
    v = np.where(age > 50, 0.3 ** 2, 0.02 ** 2)
    y = np.where(age >= 30, 0.3, 0.0) + np.sqrt(v) * rng.standard_normal(60)
    _, mu, effect, cov = smooth_effects(age, y, v)
    assert np.mean((mu + effect)[age > 50]) == pytest.approx(0.3, abs=0.08)
    assert np.all(np.sqrt(np.diag(cov))[age > 50] < 0.3)  # each read better than its own noise


def test_forecasts_carry_the_correction(bumped):
    """New pools (no collections: the same prior draws with and without the correction): every expected
    increment differs by exactly its age's factor in that draw, the same for every pool, and the paths collect
    more at the bumped ages."""
    data, model = bumped
    new = Dataset(data.meta, data.deals, data.collections[~data.collections["deal_id"].isin(data.deal_ids[:10])])
    bare = copy.copy(model)
    bare.age_ = None
    n = 200  # in antithetic pairs: n / 2 independent values of each sd
    with_age, without = (m.predict(new, 72, n_draws=n, random_state=3) for m in (model, bare))
    inc = np.diff(with_age.expected, axis=-1, prepend=0.0)
    inc_bare = np.diff(without.expected, axis=-1, prepend=0.0)
    factor = inc[:, :10] / np.where(inc_bare[:, :10] > 0, inc_bare[:, :10], np.nan)
    np.testing.assert_allclose(factor, np.broadcast_to(factor[:, :1], factor.shape), rtol=1e-9)  # one per draw and age
    ages = np.arange(1, 73)  # past the oldest age seen, the walk's extrapolation
    np.testing.assert_allclose(np.nanmean(factor[:, 0], axis=0), np.exp(model.age_.posterior(0 * ages, ages)[0]),
                               rtol=4 * model.age_.effect_sd.max() / np.sqrt(n) + 1e-9)
    sd = np.log(factor[:, 0, model.age_.key - 1]).std(axis=0)  # the paths carry each age's posterior sd
    np.testing.assert_allclose(sd, model.age_.effect_sd, rtol=0.4)
    assert model.age_.factors(np.arange(1, 73))[BUMP[0] - 1:BUMP[1]].min() > 1.1
    young = with_age.observed_periods == 0
    assert young.sum() == 10
    assert (with_age.mean[young, BUMP[1] - 1] > without.mean[young, BUMP[1] - 1]).all()


def test_age_effects_survive_an_artifact(bumped, tmp_path):
    from forecasting.models.state import decode, encode
    _, model = bumped
    arrays: dict[str, np.ndarray] = {}
    restored = decode(encode(model.age_, arrays), arrays)
    np.testing.assert_array_equal(restored.effect, model.age_.effect)
    assert restored.sigma == model.age_.sigma and restored.step_sd == model.age_.step_sd
    np.testing.assert_array_equal(restored.effect_cov, model.age_.effect_cov)


def test_each_ages_correction_is_drawn_from_its_posterior(bumped):
    """The forecast's factor at an age is exp(effect + sd z - sd^2 / 2): its log has the effect's posterior sd as
    sd over the draws and the factor has the point factor exp(effect) as mean; ages without an estimate keep 1."""
    _, model = bumped
    age = model.age_
    ages = np.arange(1, age.key.max() + 6)
    z = np.random.default_rng(0).standard_normal((20000, 1, len(ages)))
    log = np.log(age.factor_draws(ages, z))[:, 0]
    known = ages <= age.key.max()
    np.testing.assert_allclose(log[:, known].mean(axis=0), age.effect - age.effect_sd ** 2 / 2,
                               atol=4 * age.effect_sd.max() / np.sqrt(20000))
    np.testing.assert_allclose(log[:, known].std(axis=0), age.effect_sd, rtol=0.03)
    np.testing.assert_allclose(np.exp(log[:, known]).mean(axis=0), np.exp(age.effect), rtol=0.01)
    assert age.effect_sd.min() > 0
    np.testing.assert_allclose(np.cov(log[:, known], rowvar=False), age.effect_cov,  # ages' errors as tied
                               atol=4 * age.effect_sd.max() ** 2 / np.sqrt(20000))


def test_a_fit_of_the_sds_that_does_not_converge_says_so(monkeypatch):
    from scipy.optimize import OptimizeResult

    from forecasting.models.decay import age as age_module

    def stuck(fun, x0, **_):
        return OptimizeResult(x=np.asarray(x0), fun=fun(np.asarray(x0)), success=False, message="ABNORMAL")

    monkeypatch.setattr(age_module, "minimize", stuck)
    with pytest.warns(RuntimeWarning, match="did not converge.*ABNORMAL"):
        smooth_effects(np.arange(1, 21), np.linspace(0, 0.2, 20), np.full(20, 1e-4))


def effects_of(y_by_group: dict[str, np.ndarray], v: float, groups: bool = True) -> AgeEffects:
    """AgeEffects fitted to log ratios given per group and age 1, 2, ... (one cell each: expected 1, actual
    exp(y), noise variance v)."""
    names = tuple(sorted(y_by_group))
    keys = np.concatenate([i * SPAN * groups + np.arange(1, len(y) + 1) for i, y in enumerate(y_by_group.values())])
    y = np.concatenate(list(y_by_group.values()))
    return AgeEffects.fit(keys, np.exp(y), np.ones(len(y)), np.full(len(y), v), groups=names if groups else ())


def test_past_the_oldest_age_the_walk_carries_its_last_value_on():
    """Log ratios from a walk (step 0.03) over ages 1-40: at ages 41-50 the correction's mean is the walk's value
    at 40 (the independent part's mean is 0) and its variance grows by the step's each period."""
    rng = np.random.default_rng(2)
    effects = effects_of({"all": np.cumsum(0.03 * rng.standard_normal(40)) + 0.005 * rng.standard_normal(40)},
                         0.005 ** 2, groups=False)
    assert effects.step_sd == pytest.approx(0.03, rel=0.4)
    mean, cov = effects.posterior(np.zeros(11, int), np.arange(40, 51))
    np.testing.assert_allclose(mean[1:], mean[1], atol=1e-12)
    assert mean[1] == pytest.approx(mean[0], abs=2 * effects.sigma + 0.01)
    growth = np.diff(np.diag(cov)[1:])
    np.testing.assert_allclose(growth, effects.step_sd ** 2, rtol=1e-6)
    z = np.random.default_rng(0).standard_normal((20000, 1, 50))
    log = np.log(effects.factor_draws(np.arange(1, 51), z))[:, 0]
    np.testing.assert_allclose(log.std(axis=0)[40:], np.sqrt(np.diag(cov)[1:]), rtol=0.03)


def test_each_group_keeps_its_own_correction_and_a_new_one_takes_the_common():
    """Two lines over ages 1-40: one drifts by 0.01 a period (a shape the curve misses its own way), the other
    not; by group each keeps its own (the drifting line's effect at 40 is 0.39 above its effect at 1, the flat
    line's within 0.06 of flat) and a line not seen at fit sits between them, with the wider band."""
    rng = np.random.default_rng(3)
    age = np.arange(1, 41)
    effects = effects_of({"drift": 0.01 * age + 0.01 * rng.standard_normal(40),
                          "flat": 0.01 * rng.standard_normal(40)}, 0.01 ** 2)
    table = effects.table().set_index(["group", "period"])["effect"]
    assert table["drift"][40] - table["drift"][1] == pytest.approx(0.39, abs=0.08)
    assert abs(table["flat"][40] - table["flat"][1]) < 0.06
    assert table["flat"][40] - table["flat"][1] < table["(new)"][40] - table["(new)"][1] < \
        table["drift"][40] - table["drift"][1]
    sd = effects.table().set_index(["group", "period"])["se"]
    assert sd["(new)"][40] > max(sd["drift"][40], sd["flat"][40])
    assert effects.group_step_sd > 0.002
    np.testing.assert_array_equal(effects.levels(np.array(["flat", "drift", "other"])), [1, 0, 2])


@pytest.fixture(scope="module")
def by_line():
    """Half the pools (line A) collect 30% more at ages 4-6 than the Weibull they are simulated from; line B not."""
    data = simulate_pools("weibull", 7, n_deals=80)
    deals = data.deals.assign(line=np.where(np.arange(len(data.deals)) % 2 == 0, "A", "B"))
    c = data.collections.copy()
    bumped = c["deal_id"].isin(deals.loc[deals["line"] == "A", "deal_id"]) & c["period"].between(BUMP[0], BUMP[1])
    c.loc[bumped, "gross_collections"] *= BUMP[2]
    data = Dataset(data.meta, deals, c)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return data, DecayCurveModel(covariates=("x",), groups=(), age_effects=True, age_by="line").fit(data)


def test_age_effects_by_line_find_the_line_that_has_the_distortion(by_line):
    data, model = by_line
    table = model.age_.table().set_index(["group", "period"])["effect"]

    def bump(line: str) -> float:
        return table[line].loc[BUMP[0]:BUMP[1]].mean() - table[line].loc[[2, 3, 7, 8]].mean()

    assert bump("A") == pytest.approx(np.log(BUMP[2]), abs=0.1)
    assert abs(bump("B")) < 0.08
    summary = model.summary().set_index(["block", "term"])
    assert summary.loc[("age", "line sd"), "coef"] == pytest.approx(model.age_.group_sd)
    # the same new pools as line A and as line B (the same prior draws): line A's forecasts carry the bump
    young = data.deal_ids[:10]

    def new_pools(line: str) -> Dataset:
        return Dataset(data.meta, data.deals.assign(line=line),
                       data.collections[~data.collections["deal_id"].isin(young)])

    a, b = (model.predict(new_pools(line), 12, n_draws=200, random_state=3) for line in "AB")
    assert (a.observed_periods[:10] == 0).all()
    log_ratio = np.log(np.diff(a.expected[:, :10], axis=-1) / np.diff(b.expected[:, :10], axis=-1)).mean(axis=(0, 1))
    inside = log_ratio[BUMP[0] - 2:BUMP[1] - 1].mean()  # increments of ages 2, 3, ...
    assert inside - log_ratio[[0, 1, 5, 6]].mean() == pytest.approx(np.log(BUMP[2]), abs=0.1)


def test_age_by_needs_the_column_and_age_effects(by_line):
    from forecasting.models.base import FitError
    data, _ = by_line
    assert DecayCurveModel.check_options(DecayCurveModel(age_by="line")) == [("age_by", "needs age_effects: true")]
    from forecasting.models.decay import DecayAverageModel
    assert DecayAverageModel(age_effects=True, age_by="line")._member("weibull").age_by == "line"
    with pytest.raises(FitError, match="age_by: the deals table has no column 'desk'"):
        DecayCurveModel(covariates=("x",), groups=(), age_effects=True, age_by="desk").fit(data)


def test_age_effects_by_group_survive_an_artifact(by_line):
    from forecasting.models.state import decode, encode
    _, model = by_line
    arrays: dict[str, np.ndarray] = {}
    restored = decode(encode(model.age_, arrays), arrays)
    assert restored.groups == model.age_.groups and restored.group_step_sd == model.age_.group_step_sd
    np.testing.assert_array_equal(restored.log_ratio, model.age_.log_ratio)  # NaN where a line was not seen


def test_held_out_age_effects_are_refitted_without_the_cut_cells(bumped):
    """On the fitted data the re-estimate is the fit's own (the backfit settled to 0.005); on the data without each
    pool's last period the oldest ages, seen only in cut cells, have no estimate, and the curve is the fit's."""
    from forecasting.models.decay.averaged import _holdout
    data, model = bumped
    same = model.held_out_age(data)
    np.testing.assert_allclose(same.age_.effect, model.age_.effect, atol=0.01)
    held = model.held_out_age(_holdout(data))
    assert held.age_.key.max() == model.age_.key.max() - 1
    assert held.theta_ is model.theta_ and model.age_ is not held.age_
    bare = copy.copy(model)
    bare.age_ = None
    assert bare.held_out_age(data) is bare
