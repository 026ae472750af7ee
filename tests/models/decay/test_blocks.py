"""The block-sparse Hessian: every quantity the fit and the forecasts use agrees with the dense computation."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from forecasting.models.decay import DecayCurveModel
from forecasting.models.decay.blocks import BlockSystem
from forecasting.models.decay.layout import Layout
from forecasting.models.decay.likelihood import Prior, QuasiLikelihood
from forecasting.models.decay.model import _cells
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
    lik = QuasiLikelihood("loglogistic", lay, np.hstack([F, R]), np.hstack([F, R]), _cells(demo))
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
        BlockSystem(np.eye(2), np.zeros((1, 2, 2)), np.zeros((1, 2, 2)))


def test_layout_counts():
    lay = Layout(3, (0, 0, 1, 1, 1), ("originator", "vintage"), True, True)
    assert lay.size == 2 * (3 + 5) + 1 and lay.n_fixed == 7
    assert lay.vc_names == ["level:originator", "level:vintage", "level:deal", "timing:originator",
                            "timing:vintage", "timing:deal"]
    assert lay.deal_vc == (2, 5)
