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
TOL = 1e-7  # largest Newton step left (logit / log units): far below any effect's posterior sd


def deal_posterior(curve: str, eta_L: np.ndarray, eta_S: np.ndarray, log_k: np.ndarray, rates: np.ndarray,
                   mask: np.ndarray, weight: np.ndarray, prior_var: tuple[float, float],
                   start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mode (draws, deals, 2) and covariance (draws, deals, 2, 2) of (u, v). ``rates`` and ``mask`` (deals,
    periods): observed period rates and where they are observed; ``weight``: n_borrowers / (phi c) per deal;
    ``start`` (deals, 2): where the scoring starts (the fit's own posterior modes converge in a few steps).
    Only deals with an observed period are iterated; the others keep the prior."""
    prior = np.array([1.0 / prior_var[0], 1.0 / prior_var[1]])
    uv = np.zeros(eta_L.shape + (2,))
    cov = np.broadcast_to(np.diag(1.0 / prior), eta_L.shape + (2, 2)).copy()
    seen = mask.any(axis=1)
    if not seen.any():
        return uv, cov
    if start is not None:
        uv[:, seen] = start[seen][None]
    sub_uv, sub_cov = _scoring(curve, eta_L[:, seen], eta_S[:, seen], log_k[:, seen], rates[seen], mask[seen],
                               weight[seen], prior, uv[:, seen])
    uv[:, seen], cov[:, seen] = sub_uv, sub_cov
    return uv, cov


def _scoring(curve, eta_L, eta_S, log_k, rates, mask, weight, prior, uv):
    """Fisher scoring on (u, v), vectorised over draws and deals; G and its scale derivative are evaluated once per
    step on the period ends 0..T and differenced."""
    t = np.arange(0, rates.shape[-1] + 1, dtype=float)
    w = (weight[:, None] * mask)[None]
    k = np.exp(log_k)[..., None]  # (draws, deals, 1)
    for _ in range(MAX_ITER):
        L = expit(eta_L + uv[..., 0])[..., None]
        lam = np.exp(eta_S + uv[..., 1])[..., None]
        g = np.diff(curves.cdf(curve, t, lam, k), axis=-1)
        m = np.maximum(L * g, MIN_MEAN)
        d_u = m * (1 - L)
        d_v = L * np.diff(curves.dcdf_dlogscale(curve, t, lam, k), axis=-1)
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
