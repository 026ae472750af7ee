"""The decay model's Hessian is block-sparse: solve it in time linear in the number of pools.

Given the shared parameters theta (covariate coefficients, group effects, the curve's shape), the deals' own
effects b_d = (u_d, v_d) are independent, so the information matrix of (theta, b) is

    H = [[H_tt, B_1 ... B_n], [B_1', D_1, 0 ...], ..., [B_n', 0 ..., D_n]]

with H_tt the border (P x P, P the shared parameters: a few dozen), D_d one 2x2 block per deal and B_d (P x 2) the
coupling. Eliminating the deal blocks gives the Schur complement S = H_tt - sum_d B_d D_d^-1 B_d' (P x P), so a
Newton step, log |H| and every variance the estimation and the forecasts need cost O(n P^2) instead of the
O((P + 2n)^3) of a dense inverse:

    theta step   = S^-1 (g_t - sum_d B_d D_d^-1 g_d)        deal step  = D_d^-1 (g_d - B_d' theta step)
    Cov(theta)   = S^-1                                     Cov(b_d)   = D_d^-1 + M_d S^-1 M_d',  M_d = D_d^-1 B_d'
    log |H|      = log |S| + sum_d log |D_d|
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import cho_factor, cho_solve


class SingularInformation(ValueError):
    """The information matrix is not positive definite: some parameter is not identified by the data."""


def inverse_2x2(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverses and determinants of (n, 2, 2) symmetric blocks."""
    a, b, c = blocks[:, 0, 0], blocks[:, 0, 1], blocks[:, 1, 1]
    det = a * c - b * b
    inv = np.stack([np.stack([c, -b], -1), np.stack([-b, a], -1)], -2) / det[:, None, None]
    return inv, det


@dataclass
class BlockSystem:
    """H of the module docstring, from its border, couplings (n, P, 2) and deal blocks (n, 2, 2)."""

    border: np.ndarray
    cross: np.ndarray
    blocks: np.ndarray
    _chol: tuple = field(init=False, repr=False)

    def __post_init__(self):
        self.d_inv, det = inverse_2x2(self.blocks)
        if not (np.all(det > 0) and np.all(self.blocks[:, 0, 0] > 0)):
            bad = int(np.flatnonzero(~((det > 0) & (self.blocks[:, 0, 0] > 0)))[0])
            raise SingularInformation(f"the effects of deal {bad} are not identified")
        self.m = np.einsum("dij,dpj->dip", self.d_inv, self.cross)  # M_d = D_d^-1 B_d', (n, 2, P)
        self.schur = self.border - np.einsum("dpi,diq->pq", self.cross, self.m)
        self.logdet_blocks = float(np.sum(np.log(det)))
        try:
            self._chol = cho_factor(self.schur, lower=True, check_finite=True)
        except (np.linalg.LinAlgError, ValueError):
            raise SingularInformation("the shared parameters are not identified (singular information)") from None

    def solve(self, g_theta: np.ndarray, g_deals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """H^-1 g for g = (g_theta (P,), g_deals (n, 2))."""
        reduced = g_theta - np.einsum("dip,di->p", self.m, g_deals)
        step = cho_solve(self._chol, reduced)
        deal_step = np.einsum("dij,dj->di", self.d_inv, g_deals) - np.einsum("dip,p->di", self.m, step)
        return step, deal_step

    @property
    def logdet(self) -> float:
        return self.logdet_blocks + 2.0 * float(np.sum(np.log(np.diag(self._chol[0]))))

    def theta_cov(self) -> np.ndarray:
        """Cov(theta) = S^-1: the shared parameters with every deal effect integrated out."""
        return cho_solve(self._chol, np.eye(len(self.schur)))

    def deal_cov(self, theta_cov: np.ndarray | None = None) -> np.ndarray:
        """Cov(b_d) for every deal, (n, 2, 2)."""
        cov = self.theta_cov() if theta_cov is None else theta_cov
        return self.d_inv + np.einsum("dip,pq,djq->dij", self.m, cov, self.m)

    def dense(self) -> np.ndarray:
        """The whole H as one dense matrix, shared parameters first, then (u_1, v_1, u_2, ...): for tests."""
        n, p = len(self.blocks), len(self.border)
        full = np.zeros((p + 2 * n, p + 2 * n))
        full[:p, :p] = self.border
        for d in range(n):
            s = p + 2 * d
            full[:p, s:s + 2] = self.cross[d]
            full[s:s + 2, :p] = self.cross[d].T
            full[s:s + 2, s:s + 2] = self.blocks[d]
        return full
