"""A seasoned pool's posterior per draw: the one-scoring, first-order-path computation against Fisher scoring run
to convergence for every draw and deal."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from forecasting.models import curves
from forecasting.models.decay.posterior import MAX_ITER, _Terms, deal_posterior

PRIOR_VAR = (0.3**2, 0.2**2)


def _pools(curve: str, rng: np.random.Generator, deals: int = 40, periods: int = 36):
    """Poisson collections of pools with their own level and timing effects, observed for 1 to ``periods``."""
    n = rng.integers(300, 5000, deals).astype(float)
    u, v = rng.normal(0, 0.3, deals), rng.normal(0, 0.2, deals)
    t = np.arange(periods + 1, dtype=float)
    G = curves.cdf(curve, t[None], np.exp(np.log(12.0) + v)[:, None], 0.8)
    mean = expit(-1.6 + u)[:, None] * np.diff(G, axis=1)
    rates = rng.poisson(n[:, None] * mean) / n[:, None]
    mask = (np.arange(1, periods + 1)[None] <= rng.integers(0, periods + 1, deals)[:, None]).astype(float)
    return rates * mask, mask, n


@pytest.mark.parametrize("curve", ["weibull", "loglogistic", "gamma"])
def test_posterior_matches_scoring_per_draw(curve):
    """Draws spread as a forecast's are (parameter uncertainty and an unseen group level: sd 0.3 on the level, 0.2
    on timing, 0.1 on the log shape): every draw's mode within 0.01 posterior sd of the converged one, its sds
    within 0.5%, and deals without collections at their prior."""
    rng = np.random.default_rng(7)
    rates, mask, weight = _pools(curve, rng)
    draws, deals = 200, len(weight)
    eta_L = -1.6 + rng.normal(0, 0.3, (draws, 1)) + rng.normal(0, 0.05, (draws, deals))
    eta_S = np.log(12.0) + rng.normal(0, 0.2, (draws, 1))
    log_k = np.log(0.8) + rng.normal(0, 0.1, (draws, 1))
    eta_S, log_k = np.broadcast_to(eta_S, eta_L.shape), np.broadcast_to(log_k, eta_L.shape)
    mode, cov = deal_posterior(curve, eta_L, eta_S, log_k, rates, mask, weight, PRIOR_VAR)

    seen = mask.any(axis=1)
    prior = 1.0 / np.array(PRIOR_VAR)
    terms = _Terms(curve, rates[seen], weight[seen][:, None] * mask[seen], prior)
    etas = np.stack([eta_L[:, seen], eta_S[:, seen], log_k[:, seen]], -1)
    exact, exact_cov = terms.scoring(etas, np.zeros(etas.shape[:2] + (2,)), MAX_ITER)
    sd = np.sqrt(np.stack([exact_cov[..., 0, 0], exact_cov[..., 1, 1]], -1))
    err = np.abs(mode[:, seen] - exact) / sd
    assert err.max() < 0.01
    got_sd = np.sqrt(np.stack([cov[:, seen][..., 0, 0], cov[:, seen][..., 1, 1]], -1))
    assert np.max(np.abs(got_sd / sd - 1)) < 0.005
    assert np.all(mode[:, ~seen] == 0) and np.allclose(cov[:, ~seen], np.diag(PRIOR_VAR))
