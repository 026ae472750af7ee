"""A seasoned pool's own effects given its collections so far, per parameter draw: what its forecast conditions on.

For each draw of the shared parameters, the deal effects (u: level, v: timing) have the posterior
N(0, diag(tau_u^2, tau_v^2)) x quasi-likelihood of the observed periods; its mode is found by Fisher scoring,
vectorised over draws and deals, and its covariance is the inverse information at the mode (Laplace). A deal with
no observed period keeps its prior. This is a credibility weighting: with few periods or few borrowers the
posterior stays near the prior, and early collections inform timing as well as level, so a fast start is not read
as a high level.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit

from forecasting.models import curves
from forecasting.models.decay.likelihood import MIN_MEAN

MAX_ITER = 50
TOL = 1e-8


def deal_posterior(curve: str, eta_L: np.ndarray, eta_S: np.ndarray, log_k: np.ndarray, rates: np.ndarray,
                   mask: np.ndarray, weight: np.ndarray, prior_var: tuple[float, float]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Mode (draws, deals, 2) and covariance (draws, deals, 2, 2) of (u, v). ``rates`` and ``mask`` (deals,
    periods): observed period rates and where they are observed; ``weight``: n_borrowers / (phi c) per deal."""
    prior = np.array([1.0 / prior_var[0], 1.0 / prior_var[1]])
    t = np.arange(1, rates.shape[-1] + 1, dtype=float)
    w = (weight[:, None] * mask)[None]
    k = np.exp(log_k)[..., None]  # (draws, deals, 1)
    uv = np.zeros(eta_L.shape + (2,))
    for _ in range(MAX_ITER):
        L = expit(eta_L + uv[..., 0])[..., None]
        lam = np.exp(eta_S + uv[..., 1])[..., None]
        g = curves.cdf(curve, t, lam, k) - curves.cdf(curve, t - 1, lam, k)
        m = np.maximum(L * g, MIN_MEAN)
        d_u = m * (1 - L)
        d_v = L * (curves.dcdf_dlogscale(curve, t, lam, k) - curves.dcdf_dlogscale(curve, t - 1, lam, k))
        score = w * (rates[None] / m - 1.0)
        grad = np.stack([np.sum(score * d_u, -1), np.sum(score * d_v, -1)], -1) - prior * uv
        W = w / m
        a = np.sum(W * d_u * d_u, -1) + prior[0]
        b = np.sum(W * d_u * d_v, -1)
        c = np.sum(W * d_v * d_v, -1) + prior[1]
        det = a * c - b * b
        step = np.stack([(c * grad[..., 0] - b * grad[..., 1]) / det, (a * grad[..., 1] - b * grad[..., 0]) / det], -1)
        uv += np.clip(step, -1.0, 1.0)
        if np.max(np.abs(step), initial=0.0) < TOL:
            break
    cov = np.stack([np.stack([c / det, -b / det], -1), np.stack([-b / det, a / det], -1)], -2)
    return uv, cov
