"""The block-sparse Hessian: every quantity the fit and the forecasts use agrees with the dense computation."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from forecasting.models.decay import DecayCurveModel
from forecasting.models.decay.blocks import BlockSystem
from forecasting.models.decay.cells import fit_cells
from forecasting.models.decay.layout import Layout
from forecasting.models.decay.likelihood import Prior, QuasiLikelihood
from forecasting.models.design import Design


@pytest.fixture(scope="module")
def system(demo):
    """The information of the demo's decay model (loglogistic, originator and vintage effects) at its estimate."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model = DecayCurveModel(curve="loglogistic").fit(demo)
    design = Design(model.covariates, model.groups, model.ordered_groups).fit(demo.deals)
    F, R = design.fixed(demo.deals), design.random(demo.deals)[0]
    lay = model.layout_
    lik = QuasiLikelihood("loglogistic", lay, np.hstack([F, R]), np.hstack([F, R]), fit_cells(demo),
                          psi=model.deal_dispersion_)
    prior = Prior.from_variances(lay, model.tau2_, model.theta_mean_)
    g_t, g_b, sys = lik.system(model.theta_, model.deal_effects_, model.phi_ * model.cum_dispersion_, prior)
    return sys, g_t, g_b, model


def test_sparse_and_dense_agree_to_1e8(system):
    sys, g_t, g_b, model = system
    dense = sys.dense()
    inverse = np.linalg.inv(dense)
    P = len(g_t)
    np.testing.assert_allclose(sys.theta_cov(), inverse[:P, :P], rtol=1e-8, atol=1e-12)
    deal_cov = sys.deal_cov()
    for d in range(len(deal_cov)):
        s = P + 2 * d
        np.testing.assert_allclose(deal_cov[d], inverse[s:s + 2, s:s + 2], rtol=1e-8, atol=1e-12)
    step_t, step_b = sys.solve(g_t, g_b)
    full = np.linalg.solve(dense, np.r_[g_t, g_b.ravel()])
    np.testing.assert_allclose(np.r_[step_t, step_b.ravel()], full, rtol=1e-8, atol=1e-12)
    assert sys.logdet == pytest.approx(np.linalg.slogdet(dense)[1], rel=1e-10)
    np.testing.assert_allclose(model.cov_, sys.theta_cov(), rtol=1e-8)


def test_the_information_is_the_gradients_derivative_in_expectation(system):
    """At the optimum the gradient of the penalised objective vanishes (the fit converged)."""
    _, g_t, g_b, _ = system
    assert np.max(np.abs(g_t)) < 1e-3 and np.max(np.abs(g_b)) < 1e-3


def test_a_singular_deal_block_is_refused():
    from forecasting.models.decay.blocks import SingularInformation
    with pytest.raises(SingularInformation):
        BlockSystem(np.zeros((1, 2, 2)), np.zeros((1, 2, 1)), np.array([0]), np.ones(1), np.zeros(2))


def test_the_nesting_group_is_the_largest_unordered_one(system):
    """The demo's originators are eliminated level by level (the vintage, ordered, stays in the dense block): each
    originator's level, timing and log-shape effects."""
    *_, model = system
    assert model.layout_.nested == 0 and model.layout_.nested_index.shape == (5, 3)


def test_layout_counts():
    lay = Layout(3, (0, 0, 1, 1, 1), ("originator", "vintage"), True, True)
    assert lay.size == 2 * (3 + 5) + 1 and lay.n_fixed == 7
    assert lay.vc_names == ["level:originator", "level:vintage", "level:deal", "timing:originator",
                            "timing:vintage", "timing:deal"]
    assert lay.deal_vc == (2, 5)


@pytest.mark.parametrize("curve", ["exponential", "weibull", "loglogistic", "gamma"])
def test_the_observed_information_is_the_negative_hessian(demo, curve):
    """Newton steps use the observed information; it equals minus the derivative of the gradient (finite
    differences), away from the optimum too."""
    ds = demo.subset(["A-2021-1", "C-2023-1", "B-2024-1", "D-2024-1", "E-2023-1", "C-2025-1"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model = DecayCurveModel(curve=curve).fit(ds)
    F, R = model.design_.fixed(ds.deals), model.design_.random(ds.deals)[0]
    lik = QuasiLikelihood(curve, model.layout_, np.hstack([F, R]), np.hstack([F, R]), fit_cells(ds))
    prior = Prior.from_variances(model.layout_, model.tau2_, model.theta_mean_)
    rng = np.random.default_rng(0)
    theta = model.theta_ + rng.normal(0, 0.05, len(model.theta_))
    b = model.deal_effects_ + rng.normal(0, 0.05, model.deal_effects_.shape)
    dense = lik.system(theta, b, 0.8, prior, observed=True)[2].dense()
    x0, P = np.r_[theta, b.ravel()], len(theta)

    def gradient(x):
        g_t, g_b, _ = lik.system(x[:P], x[P:].reshape(-1, 2), 0.8, prior)
        return np.r_[g_t, g_b.ravel()]
    numeric = np.array([(gradient(x0 + 1e-5 * e) - gradient(x0 - 1e-5 * e)) / 2e-5 for e in np.eye(len(x0))])
    assert np.abs(dense + numeric).max() <= 1e-8 * np.abs(dense).max()
