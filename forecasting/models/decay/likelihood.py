"""The decay model's penalised quasi-likelihood, its gradient and its information, by deal.

For deal d and period t, m_dt = L_d (G(t) - G(t - 1)) with logit L_d = eta_L,d + u_d and log lam_d = eta_S,d + v_d;
the quasi-log-likelihood of the overdispersed Poisson with weight n_borrowers and dispersion phi c is
sum n_d (r_dt log m_dt - m_dt) / (phi c). The penalty is each effect's normal prior: (effect - centre)^2 / (2 tau^2).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from forecasting.models import curves
from forecasting.models.decay.blocks import BlockSystem
from forecasting.models.decay.layout import Layout

MIN_MEAN = 1e-12


@dataclass(frozen=True)
class Cells:
    """One row per observed deal-period: the deal's position, period t, rate r = collections / opb, weight w."""

    deal: np.ndarray
    t: np.ndarray
    r: np.ndarray
    w: np.ndarray
    n_deals: int


@dataclass(frozen=True)
class QuasiLikelihood:
    """The fit's data: designs of the level (Z_L) and timing (Z_S) linear predictors, one row per deal, and cells."""

    curve: str
    layout: Layout
    Z_L: np.ndarray
    Z_S: np.ndarray
    cells: Cells

    def _per_cell(self, theta: np.ndarray, b: np.ndarray):
        th_L, th_S, log_k = self.layout.split(theta)
        eta_L = self.Z_L @ th_L + b[:, 0]
        log_scale = self.Z_S @ th_S + b[:, 1]
        c = self.cells
        L = expit(eta_L)
        lam = np.exp(log_scale)[c.deal]
        k = np.exp(log_k)
        g = curves.cdf(self.curve, c.t, lam, k) - curves.cdf(self.curve, c.t - 1.0, lam, k)
        Ld = L[c.deal]
        m = np.maximum(Ld * g, MIN_MEAN)
        dm_L = g * (L * (1.0 - L))[c.deal]
        dm_S = Ld * (curves.dcdf_dlogscale(self.curve, c.t, lam, k) - curves.dcdf_dlogscale(self.curve, c.t - 1.0, lam, k))
        dm_k = Ld * (curves.dcdf_dlogshape(self.curve, c.t, lam, k) - curves.dcdf_dlogshape(self.curve, c.t - 1.0, lam, k)) \
            if self.layout.has_shape else None
        return m, dm_L, dm_S, dm_k

    def means(self, theta: np.ndarray, b: np.ndarray) -> np.ndarray:
        """m per cell (without the derivatives: what the line search and the dispersion need)."""
        th_L, th_S, log_k = self.layout.split(theta)
        c = self.cells
        L = expit(self.Z_L @ th_L + b[:, 0])[c.deal]
        lam = np.exp(self.Z_S @ th_S + b[:, 1])[c.deal]
        k = np.exp(log_k)
        return np.maximum(L * (curves.cdf(self.curve, c.t, lam, k) - curves.cdf(self.curve, c.t - 1.0, lam, k)),
                          MIN_MEAN)

    def loglik(self, theta: np.ndarray, b: np.ndarray, phi_c: float) -> float:
        m = self.means(theta, b)
        c = self.cells
        return float(np.sum(c.w * (c.r * np.log(m) - m)) / phi_c)

    def penalised(self, theta, b, phi_c, prior) -> float:
        """The objective maximised for given variances (``prior``: centres and precisions of theta and b)."""
        return self.loglik(theta, b, phi_c) - prior.penalty(theta, b)

    def system(self, theta, b, phi_c, prior) -> tuple[np.ndarray, np.ndarray, BlockSystem]:
        """Gradient of the penalised objective (theta part, deal part) and its expected information H (Fisher
        information plus the prior precisions), in block form."""
        m, dm_L, dm_S, dm_k = self._per_cell(theta, b)
        c, lay, n = self.cells, self.layout, self.cells.n_deals
        score = c.w * (c.r / m - 1.0) / phi_c
        W = c.w / (phi_c * m)
        per_deal = lambda x: np.bincount(c.deal, x, n)  # noqa: E731
        s_L, s_S = per_deal(score * dm_L), per_deal(score * dm_S)
        a11, a12, a22 = per_deal(W * dm_L * dm_L), per_deal(W * dm_L * dm_S), per_deal(W * dm_S * dm_S)
        P = lay.size
        g_theta = np.zeros(P)
        g_theta[lay.level] = self.Z_L.T @ s_L
        g_theta[lay.timing] = self.Z_S.T @ s_S
        border = np.zeros((P, P))
        border[lay.level, lay.level] = self.Z_L.T @ (a11[:, None] * self.Z_L)
        border[lay.level, lay.timing] = self.Z_L.T @ (a12[:, None] * self.Z_S)
        border[lay.timing, lay.level] = border[lay.level, lay.timing].T
        border[lay.timing, lay.timing] = self.Z_S.T @ (a22[:, None] * self.Z_S)
        cross = np.zeros((n, P, 2))
        cross[:, lay.level, 0] = self.Z_L * a11[:, None]
        cross[:, lay.timing, 0] = self.Z_S * a12[:, None]
        cross[:, lay.level, 1] = self.Z_L * a12[:, None]
        cross[:, lay.timing, 1] = self.Z_S * a22[:, None]
        if lay.has_shape:
            k = lay.shape
            g_theta[k] = np.sum(score * dm_k)
            e1, e2 = per_deal(W * dm_L * dm_k), per_deal(W * dm_S * dm_k)
            border[lay.level, k] = border[k, lay.level] = self.Z_L.T @ e1
            border[lay.timing, k] = border[k, lay.timing] = self.Z_S.T @ e2
            border[k, k] = np.sum(W * dm_k * dm_k)
            cross[:, k, 0], cross[:, k, 1] = e1, e2
        g_deals = np.stack([s_L, s_S], axis=1)
        g_theta -= prior.theta_precision * (theta - prior.theta_mean)
        g_deals -= prior.deal_precision * b
        border[np.diag_indices(P)] += prior.theta_precision
        blocks = np.stack([np.stack([a11 + prior.deal_precision[0], a12], -1),
                           np.stack([a12, a22 + prior.deal_precision[1]], -1)], -2)
        return g_theta, g_deals, BlockSystem(border, cross, blocks)


@dataclass(frozen=True)
class Prior:
    """Normal priors of the effects: centres (0, or the agency's vintage steps) and precisions 1 / tau^2 (0 for
    fixed effects)."""

    theta_mean: np.ndarray
    theta_precision: np.ndarray
    deal_precision: np.ndarray  # (2,): 1 / tau_u^2, 1 / tau_v^2

    @classmethod
    def from_variances(cls, layout: Layout, tau2: np.ndarray, theta_mean: np.ndarray) -> Prior:
        vc = layout.theta_vc
        precision = np.where(vc >= 0, 1.0 / tau2[np.maximum(vc, 0)], 0.0)
        u, v = layout.deal_vc
        return cls(theta_mean, precision, np.array([1.0 / tau2[u], 1.0 / tau2[v]]))

    def penalty(self, theta: np.ndarray, b: np.ndarray) -> float:
        return 0.5 * float(np.sum(self.theta_precision * (theta - self.theta_mean) ** 2)
                           + np.sum(self.deal_precision * b**2))
