"""The random-effects shrinkage of calendar and age effects: the t prior's numerical integration against direct
quadrature, and what it is for (a shock kept, ordinary noise shrunk, no signal no effect)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import logsumexp

from forecasting.models.shrinkage import random_effects, t_effects, t_mixture


@pytest.mark.parametrize("d, v, scale", [(0.0, 0.05 ** 2, 0.03), (0.5, 0.05 ** 2, 0.03), (-0.1, 0.02 ** 2, 0.2),
                                         (1.0, 0.01 ** 2, 0.01)])  # the last: 100 scales out
def test_the_t_marginal_and_posterior_match_direct_quadrature(d, v, scale):
    """log p(y) = log integral t_4(c; 0, scale) N(y - mu - c; 0, v) dc, and E[c | y], by scipy's quad."""
    df, y, mu = 4.0, np.array([d + 0.01]), 0.01
    prior = lambda c: stats.t.pdf(c, df, scale=scale)  # noqa: E731
    noise = lambda c: stats.norm.pdf(y[0] - mu - c, scale=np.sqrt(v))  # noqa: E731
    points = [0.0, d]
    marginal = integrate.quad(lambda c: prior(c) * noise(c), -5, 5, points=points, limit=200)[0]
    first = integrate.quad(lambda c: c * prior(c) * noise(c), -5, 5, points=points, limit=200)[0]
    log_p, s = t_mixture(y, np.array([v]), mu, scale, df)
    assert logsumexp(log_p) == pytest.approx(np.log(marginal), abs=1e-6)
    p = np.exp(log_p - logsumexp(log_p))
    posterior_mean = np.sum(p * s / (s + v) * (y[0] - mu))
    assert posterior_mean == pytest.approx(first / marginal, abs=1e-6)


def test_a_shock_is_kept_and_ordinary_noise_shrunk():
    """50 periods of noise sd 0.05 and common effects sd 0.03, six of them shocked by -0.5: the t prior keeps over
    90% of each shock's deviation where the normal keeps less, and mu stays with the ordinary periods."""
    rng = np.random.default_rng(7)
    v = np.full(50, 0.05 ** 2)
    c = rng.normal(0, 0.03, 50)
    c[20:26] -= 0.5
    y = c + rng.normal(0, 0.05, 50)
    mu, sd, effect, effect_sd = t_effects(y, v, 4.0)
    mu_n, sigma2_n, _ = random_effects(y, v)
    normal = sigma2_n / (sigma2_n + v) * (y - mu_n)
    shock = slice(20, 26)
    assert np.all(effect[shock] / (y[shock] - mu) > 0.9)
    assert np.mean(effect[shock]) < np.mean(normal[shock]) - 0.03
    assert abs(mu) < 0.03 < abs(mu_n)  # the normal's mean is pulled toward the shock
    ordinary = np.r_[0:20, 26:50]
    assert np.all(np.abs(effect[ordinary]) < np.abs(y[ordinary] - mu))  # shrunk
    assert np.all(effect_sd > 0) and np.all(effect_sd[ordinary] < 0.05)  # the noise sd, less what the prior adds


def test_no_common_effect_gives_none():
    """20 sets of 60 periods of noise only (sd 0.04): the effects' sd is 0 or nearly (median below 0.001), the
    effects a fortieth of the noise on average."""
    sds, effects = [], []
    for seed in range(20):
        y = np.random.default_rng(seed).normal(0.02, 0.04, 60)
        mu, sd, effect, _ = t_effects(y, np.full(60, 0.04 ** 2), 4.0)
        sds.append(sd)
        effects.append(np.abs(effect).mean())
    assert np.median(sds) < 0.001 and max(sds) < 0.03
    assert np.mean(effects) < 0.001


def test_a_fit_that_does_not_converge_says_so(monkeypatch):
    from scipy.optimize import OptimizeResult

    import forecasting.models.shrinkage as shrinkage

    def stuck(fun, x0, **kwargs):
        return OptimizeResult(x=np.asarray(x0, float), fun=fun(np.asarray(x0, float)), success=False,
                              message="ABNORMAL_TERMINATION_IN_LNSRCH")

    monkeypatch.setattr(shrinkage, "minimize", stuck)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        t_effects(np.array([0.1, -0.2, 0.05, 0.0]), np.full(4, 0.01), 4.0)


def test_a_fixed_mean_is_kept_and_its_spread_includes_the_drift():
    """Steps of a random walk (prior mean no step): with the mean fixed at 0, sigma^2 is the mean square of the
    steps beyond their noise, drift included; estimated freely, the mean takes the drift and sigma^2 the rest.
    200 steps of sd 0.2 around a drift of 0.3, noise sd 0.05: sigma 0.36 (sqrt(0.2^2 + 0.3^2)) against 0.2."""
    rng = np.random.default_rng(4)
    v = np.full(200, 0.05 ** 2)
    y = 0.3 + rng.normal(0, 0.2, 200) + rng.normal(0, 0.05, 200)
    mu_free, sigma2_free, var_free = random_effects(y, v)
    mu_zero, sigma2_zero, var_zero = random_effects(y, v, mean=0.0)
    assert mu_free == pytest.approx(0.3, abs=0.04) and np.sqrt(sigma2_free) == pytest.approx(0.2, abs=0.03)
    assert mu_zero == 0.0 and var_zero == 0.0 and var_free > 0
    assert np.sqrt(sigma2_zero) == pytest.approx(np.sqrt(0.2 ** 2 + 0.3 ** 2), abs=0.04)
