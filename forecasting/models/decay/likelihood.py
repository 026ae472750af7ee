"""The decay model's penalised quasi-likelihood, its gradient and its information, by deal.

For deal d and period t, m_dt = L_d (G(t) - G(t - 1)) with logit L_d = eta_L,d + u_d and log lam_d = eta_S,d + v_d;
the quasi-log-likelihood of the overdispersed Poisson with weight n_borrowers and dispersion phi c is
sum n_d (r_dt log m_dt - m_dt) / (phi c). The penalty is each effect's normal prior: (effect - centre)^2 / (2 tau^2).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.special import expit

from forecasting.models import curves
from forecasting.models.decay.blocks import BlockSystem, level_sum
from forecasting.models.decay.layout import Layout

MIN_MEAN = 1e-12
FD_STEP = 1e-4  # log units, for the curve's second derivatives


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
    """The fit's data: designs of the level (Z_L) and timing (Z_S) linear predictors, one row per deal, and cells;
    ``psi``: each deal's dispersion factor (its cells weigh n_borrowers / psi; estimation.py)."""

    curve: str
    layout: Layout
    Z_L: np.ndarray
    Z_S: np.ndarray
    cells: Cells
    psi: np.ndarray | None = None

    @property
    def weight(self) -> np.ndarray:
        """Each cell's weight n_borrowers / psi."""
        return self.cells.w if self.psi is None else self.cells.w / self.psi[self.cells.deal]

    def _per_cell(self, theta: np.ndarray, b: np.ndarray):
        th_L, th_S, _ = self.layout.split(theta)
        eta_L = self.Z_L @ th_L + b[:, 0]
        log_scale = self.Z_S @ th_S + b[:, 1]
        c = self.cells
        L = expit(eta_L)
        lam = np.exp(log_scale)[c.deal]
        k = self._shape(theta)
        g = curves.cdf(self.curve, c.t, lam, k) - curves.cdf(self.curve, c.t - 1.0, lam, k)
        Ld = L[c.deal]
        m = np.maximum(Ld * g, MIN_MEAN)
        dm_L = g * (L * (1.0 - L))[c.deal]
        dm_S = Ld * (curves.dcdf_dlogscale(self.curve, c.t, lam, k) - curves.dcdf_dlogscale(self.curve, c.t - 1.0, lam, k))
        dm_k = Ld * (curves.dcdf_dlogshape(self.curve, c.t, lam, k) - curves.dcdf_dlogshape(self.curve, c.t - 1.0, lam, k)) \
            if self.layout.has_shape else None
        return m, dm_L, dm_S, dm_k

    def _shape(self, theta: np.ndarray):
        """The curve's shape per cell (one for all, or with its deal's nesting level's effect)."""
        log_k = self.layout.log_shape(theta, self.nested_level)
        return np.exp(log_k)[self.cells.deal] if np.ndim(log_k) else np.exp(log_k)

    def _curvature(self, theta: np.ndarray, b: np.ndarray):
        """Second derivatives of m per cell by (eta_L, eta_S, log shape): LL, LS, SS, Lk, Sk, kk (the curve's by
        central differences of its analytic first derivatives)."""
        th_L, th_S, _ = self.layout.split(theta)
        c, curve = self.cells, self.curve
        L = expit(self.Z_L @ th_L + b[:, 0])[c.deal]
        lam = np.exp(self.Z_S @ th_S + b[:, 1])[c.deal]
        k = self._shape(theta)
        delta = lambda f, lam_, k_: f(curve, c.t, lam_, k_) - f(curve, c.t - 1.0, lam_, k_)  # noqa: E731
        e = np.exp(FD_STEP)
        g = delta(curves.cdf, lam, k)
        g_S = delta(curves.dcdf_dlogscale, lam, k)
        g_SS = (delta(curves.dcdf_dlogscale, lam * e, k) - delta(curves.dcdf_dlogscale, lam / e, k)) / (2 * FD_STEP)
        v = L * (1.0 - L)
        out = {"LL": g * v * (1.0 - 2.0 * L), "LS": v * g_S, "SS": L * g_SS}
        if self.layout.has_shape:
            g_k = delta(curves.dcdf_dlogshape, lam, k)
            out["Lk"] = v * g_k
            out["Sk"] = L * (delta(curves.dcdf_dlogscale, lam, k * e) - delta(curves.dcdf_dlogscale, lam, k / e)) / (2 * FD_STEP)
            out["kk"] = L * (delta(curves.dcdf_dlogshape, lam, k * e) - delta(curves.dcdf_dlogshape, lam, k / e)) / (2 * FD_STEP)
        return out

    def means(self, theta: np.ndarray, b: np.ndarray) -> np.ndarray:
        """m per cell (without the derivatives: what the line search and the dispersion need)."""
        th_L, th_S, _ = self.layout.split(theta)
        c = self.cells
        L = expit(self.Z_L @ th_L + b[:, 0])[c.deal]
        lam = np.exp(self.Z_S @ th_S + b[:, 1])[c.deal]
        k = self._shape(theta)
        return np.maximum(L * (curves.cdf(self.curve, c.t, lam, k) - curves.cdf(self.curve, c.t - 1.0, lam, k)),
                          MIN_MEAN)

    def loglik(self, theta: np.ndarray, b: np.ndarray, phi_c: float) -> float:
        m = self.means(theta, b)
        return float(np.sum(self.weight * (self.cells.r * np.log(m) - m)) / phi_c)

    def penalised(self, theta, b, phi_c, prior) -> float:
        """The objective maximised for given variances (``prior``: centres and precisions of theta and b)."""
        return self.loglik(theta, b, phi_c) - prior.penalty(theta, b)

    @cached_property
    def loadings(self) -> np.ndarray:
        """J (deals, predictors, dense parameters): how each deal's eta_L, eta_S (and log shape) load on the dense
        shared parameters (blocks.py); the nesting group's columns are left out."""
        lay = self.layout
        dense = lay.dense_index
        J = np.zeros((self.cells.n_deals, 3 if lay.has_shape else 2, len(dense)))
        for row, block, Z in ((0, lay.level, self.Z_L), (1, lay.timing, self.Z_S)):
            inside = (dense >= block.start) & (dense < block.stop)
            J[:, row, inside] = Z[:, dense[inside] - block.start]
        if lay.has_shape:
            J[:, 2, dense == lay.shape] = 1.0
        return J

    @cached_property
    def nested_level(self) -> np.ndarray | None:
        """Each deal's level of the nesting group (its one-hot column among that group's)."""
        idx = self.layout.nested_index
        return None if idx is None else np.argmax(self.Z_L[:, idx[:, 0]], axis=1)

    @cached_property
    def level_indicator(self):
        """The nesting group's level-sum matrix (blocks.level_sum), built once per likelihood."""
        idx = self.layout.nested_index
        return None if idx is None else level_sum(self.nested_level, len(idx))

    def system(self, theta, b, phi_c, prior, observed: bool = False) -> tuple[np.ndarray, np.ndarray, BlockSystem]:
        """Gradient of the penalised objective (theta part, deal part) and its information H plus the prior
        precisions, in block form: the expected (Fisher) information, or with ``observed`` the negative Hessian,
        sum n (r / m^2) dm dm' - n (r / m - 1) d2m, whose Newton steps converge quadratically where the model does
        not fit the data exactly (and which need not be positive definite away from the optimum)."""
        m, dm_L, dm_S, dm_k = self._per_cell(theta, b)
        c, lay, n = self.cells, self.layout, self.cells.n_deals
        w = self.weight
        score = w * (c.r / m - 1.0) / phi_c
        W = w * (c.r / m if observed else 1.0) / (phi_c * m)
        second = self._curvature(theta, b) if observed else None
        per_deal = lambda x: np.bincount(c.deal, x, n)  # noqa: E731

        def info(x, y, key):
            return per_deal(W * x * y - (score * second[key] if observed else 0.0))
        a11, a12, a22 = info(dm_L, dm_L, "LL"), info(dm_L, dm_S, "LS"), info(dm_S, dm_S, "SS")
        rows = [[a11, a12], [a12, a22]]
        s_ext = [per_deal(score * dm_L), per_deal(score * dm_S)]
        kk = None
        if lay.has_shape:
            e1, e2 = info(dm_L, dm_k, "Lk"), info(dm_S, dm_k, "Sk")
            kk = info(dm_k, dm_k, "kk")
            rows = [[a11, a12, e1], [a12, a22, e2], [e1, e2, kk]]
            s_ext.append(per_deal(score * dm_k))
        A = np.stack([np.stack(r, -1) for r in rows], -2)  # (n, e, e)
        s_ext = np.stack(s_ext, -1)  # (n, e)
        J, dense, nested = self.loadings, lay.dense_index, lay.nested_index
        g_theta = np.zeros(lay.size)
        g_theta[dense] = np.einsum("der,de->r", J, s_ext)
        sel = group = prec_g = None
        if nested is not None:
            sel = np.zeros((A.shape[1], nested.shape[1]))
            sel[lay.nested_predictors, np.arange(nested.shape[1])] = 1.0
            group = self.nested_level
            np.add.at(g_theta, nested[group], s_ext @ sel)
            prec_g = prior.theta_precision[nested]
        g_theta -= prior.theta_precision * (theta - prior.theta_mean)
        g_deals = s_ext[:, :2] - prior.deal_precision * b
        system = BlockSystem(A, J, dense, prior.theta_precision[dense], prior.deal_precision, group, nested, sel,
                             prec_g, self.level_indicator)
        return g_theta, g_deals, system


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
