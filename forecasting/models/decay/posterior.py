"""A seasoned pool's own effects given its collections so far, per parameter draw: what its forecast conditions on.

The deal effects (u: level, v: timing) have the posterior N(0, diag(tau_u^2, tau_v^2)) x quasi-likelihood of the
observed periods. It depends on a parameter draw only through the deal's three linear predictors
eta = (eta_L, eta_S, log_k). The mode is found once, by Fisher scoring at the draws' mean eta; each draw's mode is
then that mode moved along its first-order path, du = -I^-1 J d(eta) (I: the posterior information, J: its cross
information with eta), and polished by Fisher steps until a deal's steps in every draw are below 0.01 of its
posterior sd (one or two steps for almost every deal). The covariance is the inverse information there (Laplace).
Scoring from a near start instead of from the fit's modes is what keeps the forecast of thousands of pools in
seconds. A deal with no observed period keeps its prior.
This is a credibility weighting: with few periods or few borrowers the posterior stays near the prior, and early
collections inform timing as well as level, so a fast start is not read as a high level.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit

from forecasting.models import curves
from forecasting.models.decay.likelihood import MIN_MEAN

MAX_ITER = 50
TOL = 1e-7  # largest Newton step left at the centre (logit / log units): far below any effect's posterior sd
DRAW_TOL = 0.01  # a draw's last step, in posterior sds: Newton's error after it is of the order of its square


def deal_posterior(curve: str, eta_L: np.ndarray, eta_S: np.ndarray, log_k: np.ndarray, rates: np.ndarray,
                   mask: np.ndarray, weight: np.ndarray, prior_var: tuple[float, float],
                   start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mode (draws, deals, 2) and covariance (draws, deals, 2, 2) of (u, v). ``eta_*`` (draws, deals): the draws'
    linear predictors without the deal's own effects; ``rates`` and ``mask`` (deals, periods): observed period
    rates and where they are observed; ``weight``: n_borrowers / (phi c) per deal; ``start`` (deals, 2): where the
    scoring starts (the fit's own posterior modes converge in a few steps). Only deals with an observed period are
    computed; the others keep the prior."""
    prior = np.array([1.0 / prior_var[0], 1.0 / prior_var[1]])
    uv = np.zeros(eta_L.shape + (2,))
    cov = np.broadcast_to(np.diag(1.0 / prior), eta_L.shape + (2, 2)).copy()
    seen = mask.any(axis=1)
    if not seen.any():
        return uv, cov
    etas = np.stack([eta_L[:, seen], eta_S[:, seen], log_k[:, seen]], -1)  # (draws, seen deals, 3)
    centre = etas.mean(axis=0, keepdims=True)
    first = np.zeros((1, int(seen.sum()), 2)) if start is None else start[seen][None].astype(float)
    terms = _Terms(curve, rates[seen], weight[seen][:, None] * mask[seen], prior)
    mode, _ = terms.scoring(centre, first, MAX_ITER)
    info, cross = terms.information(centre, mode)
    shifted = mode - np.linalg.solve(info, np.einsum("sdij,sdj->sdi", cross, etas - centre)[..., None])[..., 0]
    uv[:, seen], cov[:, seen] = terms.scoring(etas, shifted, MAX_ITER, DRAW_TOL, relative=True)
    return uv, cov


class _Terms:
    """The posterior's score and Fisher information in (u, v) for given eta, vectorised over draws and deals; G and
    its derivatives are evaluated on the period ends 0..T and differenced."""

    def __init__(self, curve: str, rates: np.ndarray, weight: np.ndarray, prior: np.ndarray):
        self.curve, self.rates, self.w, self.prior = curve, rates[None], weight[None], prior
        self.t = np.arange(0, rates.shape[-1] + 1, dtype=float)

    def _parts(self, etas: np.ndarray, uv: np.ndarray):
        L = expit(etas[..., 0] + uv[..., 0])[..., None]
        lam = np.exp(etas[..., 1] + uv[..., 1])[..., None]
        k = np.exp(etas[..., 2])[..., None]
        m = np.maximum(L * np.diff(curves.cdf(self.curve, self.t, lam, k), axis=-1), MIN_MEAN)
        d_u = m * (1 - L)
        d_v = L * np.diff(curves.dcdf_dlogscale(self.curve, self.t, lam, k), axis=-1)
        return L, lam, k, m, d_u, d_v

    def scoring(self, etas: np.ndarray, uv: np.ndarray, max_iter: int, tol: float = TOL,
                relative: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Fisher steps from ``uv`` until every draw's step of a deal is below ``tol`` (in posterior sds where
        ``relative``), at most ``max_iter``; a deal stops iterating as soon as its own steps are that small. Returns
        the mode and the inverse information of the last step."""
        uv = uv.copy()
        cov = np.empty(uv.shape + (2,))
        active = np.arange(uv.shape[1])
        for _ in range(max_iter):
            step, cov[:, active] = self._step(etas[:, active], uv[:, active], active)
            uv[:, active] += np.clip(step, -1.0, 1.0)
            size = np.abs(step)
            if relative:
                size = size / np.sqrt(np.stack([cov[:, active, 0, 0], cov[:, active, 1, 1]], -1))
            active = active[np.max(size, axis=(0, 2)) >= tol]
            if not active.size:
                break
        return uv, cov

    def _step(self, etas: np.ndarray, uv: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One Fisher step on the deals ``cols`` and the inverse information where it starts."""
        w, rates, prior = self.w[:, cols], self.rates[:, cols], self.prior
        _, _, _, m, d_u, d_v = self._parts(etas, uv)
        score = w * (rates / m - 1.0)
        grad = np.stack([np.sum(score * d_u, -1), np.sum(score * d_v, -1)], -1) - prior * uv
        W = w / m
        a = np.sum(W * d_u * d_u, -1) + prior[0]
        b = np.sum(W * d_u * d_v, -1)
        c = np.sum(W * d_v * d_v, -1) + prior[1]
        det = a * c - b * b
        step = np.stack([(c * grad[..., 0] - b * grad[..., 1]) / det, (a * grad[..., 1] - b * grad[..., 0]) / det], -1)
        cov = np.stack([np.stack([c / det, -b / det], -1), np.stack([-b / det, a / det], -1)], -2)
        return step, cov

    def information(self, etas: np.ndarray, uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The posterior information in (u, v) (..., 2, 2) and its cross information with eta (..., 2, 3): u and v
        enter as eta_L + u and eta_S + v, so their columns are the likelihood's part of the information."""
        L, lam, k, m, d_u, d_v = self._parts(etas, uv)
        d_k = L * np.diff(curves.dcdf_dlogshape(self.curve, self.t, lam, k), axis=-1)
        W = self.w / m
        grads = (d_u, d_v, d_k)
        lik = np.stack([np.stack([np.sum(W * g * h, -1) for h in grads], -1) for g in grads[:2]], -2)
        return lik[..., :2] + np.diag(self.prior), lik
