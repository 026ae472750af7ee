"""Group levels not seen at fit (a new vintage, a new originator): the survival models draw their effects from the
sds learnt over the levels they have seen (base.never_pay_level_sds, MixtureSurvival._new_levels)."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from forecasting.models.survival import SurvivalPoolModel
from forecasting.models.survival.base import never_pay_level_sds
from forecasting.models.survival.cells import aggregate
from forecasting.models.survival.fitter import fit_mixture
from forecasting.models.survival.frailty import FrailtyDraws

LOG_SCALE, LOG_SHAPE, NEVER = np.log(6.0), np.log(1.0), 0.3


def simulate(seed: int, level_sd: float, levels: int, ordered: bool, deals: int = 3, loans: int = 600,
             horizon: int = 30) -> tuple[pd.DataFrame, np.ndarray]:
    """Loans in deals at group levels whose never-pay logits differ: by level effects of sd ``level_sd`` (an
    ordered group's levels are a random walk: each level one such step from the one before) and by each deal's own
    (sd 0.1), so a level is known by its deals, not its loans. Returns the loans and the drawn effects (the steps
    when ordered)."""
    rng = np.random.default_rng(seed)
    effect = rng.normal(0, level_sd, levels)
    level_logit = np.cumsum(np.r_[0.0, effect[1:]]) if ordered else effect
    deal_logit = np.repeat(level_logit, deals) + rng.normal(0, 0.1, levels * deals)
    d = np.repeat(np.arange(levels * deals), loans)
    never = rng.random(d.size) < expit(NEVER + deal_logit[d])
    t = np.ceil(np.exp(LOG_SCALE) * rng.weibull(np.exp(LOG_SHAPE), d.size))
    event = ~never & (t <= horizon)
    frame = pd.DataFrame({"deal": d, "level": d // deals, "duration": np.where(event, t, horizon),
                          "event": event.astype(int)})
    return frame, effect[1:] if ordered else effect


def learnt_sd(seed: int, level_sd: float, levels: int, ordered: bool) -> tuple[float, np.ndarray]:
    frame, effect = simulate(seed, level_sd, levels, ordered)
    cells = aggregate(frame)
    k = cells["level"].to_numpy()
    if ordered:  # column j: at or after level j + 1 (design.level_indicators)
        indicators = (k[:, None] >= np.arange(1, levels)[None, :]).astype(float)
    else:
        indicators = np.eye(levels)[k]
    X_never = np.column_stack([np.ones(len(cells)), indicators])
    fit = fit_mixture(np.ones((len(cells), 1)), X_never, cells["duration"], cells["event"], cells["weight"],
                      cells["deal"].to_numpy(), ridge_never=np.r_[0.0, np.full(indicators.shape[1], 0.5)])
    groups = np.full(indicators.shape[1], "group")
    sds = never_pay_level_sds(fit, 3, groups, np.full(len(groups), 3), ("group",) if ordered else ())
    return sds["group"], effect


@pytest.mark.parametrize("seed", [0, 1])
def test_the_sd_of_originators_never_pay_levels_is_recovered(seed):
    """16 levels whose never-pay logits differ with sd 0.4: the learnt sd is within 30% of the drawn effects' sd
    (measured 0.360 / 0.249 against 0.363 / 0.246)."""
    sd, effect = learnt_sd(seed, 0.4, 16, ordered=False)
    assert sd == pytest.approx(effect.std(ddof=1), rel=0.3)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_sd_of_a_random_walks_steps_is_recovered(seed):
    """13 vintages, each a step of sd 0.3 from the one before: the learnt sd of the 12 steps (prior mean no step) is
    within 35% of their root mean square (measured 0.318 / 0.217 against 0.292 / 0.197)."""
    sd, steps = learnt_sd(seed, 0.3, 13, ordered=True)
    assert sd == pytest.approx(np.sqrt(np.mean(steps ** 2)), rel=0.35)


def test_a_new_level_is_one_draw_shared_by_its_deals_and_discounted_by_each_deals_credibility(survival_pool,
                                                                                             pool_level):
    """Deals moved to a vintage the fit has not seen: each draw gives all of them one effect, whose sd over draws
    is the learnt never-pay sd of vintages; deals at seen levels get none. A pool whose own periods pin its level
    (credibility 1) keeps it; a new pool (credibility 0) carries the whole draw."""
    deals = pool_level.deals.head(6).copy()
    deals.loc[deals.index[:3], "vintage"] = 2031
    never, scale = survival_pool._new_levels(deals, 4000, seed=7)
    sd = survival_pool.never_pay_sds_["vintage"]
    assert sd > 0.05
    np.testing.assert_array_equal(never[:, 0], never[:, 2])
    assert never[:, 0].std() == pytest.approx(sd, rel=0.05)
    assert np.all(never[:, 3:] == 0) and np.all(scale == 0)  # vintage has no timing levels (ordered group)
    zeros = np.zeros((4000, 6))
    frailty = FrailtyDraws(zeros, zeros, np.r_[np.ones(3), np.zeros(3)], np.zeros(6))
    moved = frailty.with_levels((never[:, [0, 1, 2, 0, 1, 2]], scale))
    assert np.all(moved.u[:, :3] == 0)
    np.testing.assert_array_equal(moved.u[:, 3:], never[:, :3])


def test_a_new_vintages_pools_carry_its_uncertainty(pool_level):
    """Fitted without the last vintage, the model forecasts that vintage's pools (each seen a few months, so each
    discounts the draw by its credibility) with a band at 60 periods wider than the same forecast without the new
    level's draws (measured: P10-P90 0.011-0.050 against 0.011-0.044, learnt vintage sd 0.25), around the same
    centre (within 0.0002)."""
    last = pool_level.deals["vintage"].astype(str).max()
    known = pool_level.subset(pool_level.deals.loc[pool_level.deals["vintage"].astype(str) != last, "deal_id"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model = SurvivalPoolModel().fit(known)
    new = pool_level.subset(pool_level.deals.loc[pool_level.deals["vintage"].astype(str) == last, "deal_id"])
    with_level = model.predict(new, 60, n_draws=2000, random_state=3).expected[:, :, -1]
    model.never_pay_sds_ = {}
    without = model.predict(new, 60, n_draws=2000, random_state=3).expected[:, :, -1]
    width = lambda x: np.subtract(*np.quantile(x, [0.9, 0.1], axis=0))  # noqa: E731
    assert np.all(width(with_level) > width(without))
    assert np.max(np.abs(with_level.mean(axis=0) - without.mean(axis=0))) < 0.002
