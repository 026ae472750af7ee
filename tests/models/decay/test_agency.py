"""The agency's vintage steps: read back exactly from estimates built with known steps, and wired into the decay
model's forecast of a vintage it has not seen."""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from forecasting.backtest.schemes import make_folds
from forecasting.config import validate_config
from forecasting.data.problems import InputError
from forecasting.models.decay import DecayCurveModel
from forecasting.models.decay.agency import AgencySteps
from forecasting.models.decay.estimation import SD_FLOOR
from forecasting.models.design import Design
from forecasting.models.summary import labelled

LEVEL = {2021: 0.0, 2022: -0.2, 2023: -0.5}
ORIGINATOR = {"A": 0.1, "B": -0.1, "C": 0.0}


def rated_deals(noise: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """Pools whose agency estimate is a known function of features, originator and vintage."""
    rng = np.random.default_rng(seed)
    n = 36
    deals = pd.DataFrame({"deal_id": [f"d{i}" for i in range(n)], "originator": list("ABC") * (n // 3),
                          "vintage": np.repeat([2021, 2022, 2023], n // 3),
                          "avg_balance": rng.uniform(5e4, 5e5, n), "wa_delinquency_months": rng.uniform(4, 6, n)})
    eta = (-1.6 - 0.3 * np.log(deals["avg_balance"] / 1e5) - 0.2 * (deals["wa_delinquency_months"] - 5)
           + deals["originator"].map(ORIGINATOR) + deals["vintage"].map(LEVEL) + rng.normal(0, noise, n))
    return deals.assign(est_gross_recovery=expit(eta))


def test_steps_are_read_back_from_the_estimates():
    deals = rated_deals()
    seen = deals[deals["vintage"] < 2023]
    design = Design(("log_avg_balance", "wa_delinquency_months"), ("originator", "vintage"), ("vintage",)).fit(seen)
    agency = AgencySteps.fit(design, seen)
    means = dict(zip(design.random_names(), agency.step_means(design)))
    assert means[("vintage", "2022")] == pytest.approx(LEVEL[2022] - LEVEL[2021], abs=1e-4)
    assert ("vintage", "2021") not in means and means[("originator", "A")] == 0  # the baseline; not a step
    step, variance = agency.new_level_steps(design, deals)
    new = (deals["vintage"] == 2023).to_numpy()
    assert step[new] == pytest.approx(LEVEL[2023] - LEVEL[2022], abs=1e-4)
    assert (step[~new] == 0).all() and (variance[~new] == 0).all() and (variance[new] < 1e-8).all()


def test_the_step_of_a_new_vintage_is_as_uncertain_as_its_few_pools_say():
    """With noisy estimates the step's variance is the residual variance over the new vintage's pool count."""
    deals = rated_deals(noise=0.2, seed=1)
    seen = deals[deals["vintage"] < 2023]
    design = Design(("log_avg_balance",), ("originator", "vintage"), ("vintage",)).fit(seen)
    agency = AgencySteps.fit(design, seen)
    assert 0.02 < agency.resid_var_ < 0.08  # noise 0.2**2 = 0.04
    step, variance = agency.new_level_steps(design, deals.iloc[-5:])  # five 2023 pools
    assert variance == pytest.approx(np.full(5, agency.resid_var_ / 5))
    assert abs(step[0] - (LEVEL[2023] - LEVEL[2022])) < 4 * np.sqrt(variance[0])


@pytest.fixture(scope="module")
def fold_2024(market):
    """The demo's 2021-2023 pools as they stood at end-2023, and the 2024 pools."""
    return next(f for f in make_folds(market.dataset, ["vintage_holdout"], []) if f.fold == "2024")


def fit_on(fold, agency_prior: bool) -> DecayCurveModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return DecayCurveModel(curve="loglogistic", agency_prior=agency_prior).fit(fold.train)


@pytest.fixture(scope="module")
def holdout_2024(fold_2024):
    """The decay model with the agency prior fitted on the 2024 fold, and the 2024 pools it has not seen."""
    return fit_on(fold_2024, True), fold_2024.test


def test_a_new_vintage_starts_where_the_agency_moved_it(holdout_2024):
    model, new = holdout_2024
    step, variance = model.agency_.new_level_steps(model.design_, new.deals)
    assert (variance > 0).all() and np.ptp(step) == 0  # one step for the whole vintage
    blind = copy.copy(model)
    blind.agency_ = None
    eta, _, _ = model._shared_draws(new, 4000, 0)
    eta_blind, _, _ = blind._shared_draws(new, 4000, 0)
    moved = eta - eta_blind
    assert moved.mean(axis=0) == pytest.approx(step, abs=4 * np.sqrt(variance[0] / 4000))
    assert moved.std(axis=0) == pytest.approx(np.sqrt(variance), rel=0.1)
    assert np.allclose(moved, moved[:, :1])  # the vintage's pools share its step in every draw


def test_summary_shows_where_each_vintage_step_is_centred(holdout_2024):
    model, _ = holdout_2024
    s = labelled(model.summary())
    centre = dict(zip(model.design_.random_names(), model.theta_mean_[model.layout_.level_groups]))
    assert s.loc["agency_step:vintage=2022", "coef"] == pytest.approx(centre[("vintage", "2022")])
    assert "agency_step:vintage=2021" not in s.index and "agency_step:originator=A" not in s.index


def test_a_young_vintage_step_is_shrunk_toward_the_agency_not_zero(holdout_2024, fold_2024):
    """At end-2023 the 2023 pools have a few months: their step is mostly prior, and the prior is the agency's."""
    model, _ = holdout_2024
    plain = fit_on(fold_2024, False)
    agency_step = labelled(model.summary()).loc["agency_step:vintage=2023", "coef"]
    with_prior, without = (labelled(m.summary()).loc["level:vintage=2023", "coef"] for m in (model, plain))
    assert abs(with_prior - agency_step) < abs(without - agency_step)


def test_missing_agency_estimates_are_named():
    deals = rated_deals()
    deals.loc[3, "est_gross_recovery"] = np.nan
    design = Design((), ("vintage",), ("vintage",)).fit(deals)
    with pytest.raises(InputError, match="est_gross_recovery.*d3"):
        AgencySteps.fit(design, deals)


def test_agency_prior_is_a_decay_option():
    with pytest.raises(InputError, match="models.0.agency_prior: Extra inputs are not permitted"):
        validate_config({"name": "c", "models": [{"name": "s", "kind": "survival_pool", "agency_prior": True}]}, "c")
    config = validate_config({"name": "c", "models": [{"name": "d", "kind": "decay_curve", "agency_prior": True}]}, "c")
    assert config.models[0].agency_prior


def test_a_model_needing_agency_estimates_names_the_pools_without(pool_level):
    from forecasting.data.dataset import Dataset
    deals = pool_level.deals.copy()
    deals.loc[2, "est_gross_recovery"] = np.nan
    with pytest.raises(InputError, match="est_gross_recovery.*1 pool.*A-2022-1"):
        DecayCurveModel(agency_prior=True).fit(Dataset(pool_level.meta, deals, pool_level.collections))


def test_effects_held_at_their_prior_show_no_standard_error(demo):
    """On the demo the agency's steps explain the vintages: the level's vintage sd falls to its floor and the steps
    are held where the agency put them. The summary shows those effects with se 0 and no statistic (not t statistics
    in the thousands from an se of 1e-5), and every other effect keeps its own."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model = DecayCurveModel(curve="loglogistic", agency_prior=True).fit(demo)
    sd = dict(zip(model.layout_.vc_names, np.sqrt(model.tau2_)))
    assert sd["level:vintage"] <= SD_FLOOR * 1.001 < 0.01 < sd["timing:vintage"]
    s = model.summary()
    held = s[(s["block"] == "level") & s["term"].str.startswith("vintage=")]
    assert len(held) == 4 and (held["se"] == 0).all() and held["statistic"].isna().all()  # 2022-2025's steps
    steps = labelled(s).loc[[f"agency_step:vintage={v}" for v in range(2022, 2026)], "coef"].to_numpy()
    np.testing.assert_allclose(held["coef"].to_numpy(), steps, atol=1e-6)
    free = s[(s["block"] == "timing") & s["term"].str.startswith("vintage=")]
    assert (free["se"] > 0.05).all() and free["statistic"].notna().all()
