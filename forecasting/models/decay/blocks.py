"""The decay model's Hessian is nested-sparse: solve it in time linear in the number of pools and of group levels.

Three kinds of parameters: r, the few dense shared ones (intercepts, covariates, effects of small or ordered groups,
the log shape); g, the effects of one unordered group (the nesting group: originator), one small block per level;
b_d = (u_d, v_d), each deal's own effects. A deal's predictors load on r, on its own level of the nesting group
and on its own effects only, so given r the levels are independent, and given r and its level a deal is too:

    H = [[H_rr, H_rg, B_r], [H_gr, H_gg, B_g], [B_r', B_g', D]]    H_gg and D block-diagonal (a block per level,
                                                                   a 2x2 block per deal)

Eliminating the deals, then the levels:

    S_rr = H_rr - sum_d B_rd D_d^-1 B_rd'      S_g,o = H_gg,o - sum_(d in o) B_gd D_d^-1 B_gd'
    S_rg,o = H_rg,o - sum_(d in o) B_rd D_d^-1 B_gd'      T = S_rr - sum_o S_rg,o S_g,o^-1 S_rg,o'

so a Newton step, log|H| = sum log|D_d| + sum log|S_g,o| + log|T| and every variance the estimation and the
forecasts use cost O(n R^2 + levels R^2 + R^3), R the dense parameters (a few dozen), instead of the O((P + 2n)^3)
of a dense inverse or the O(n P^2) of eliminating the deals alone (P grows with the levels: 790 on the CAS
triangles' 384 company-lines).

Each deal d enters through its information ``info`` over its predictors e = (eta_L, eta_S[, log shape]) and
``J`` (how those predictors load on r); the nesting group's effects load on the predictors ``sel`` picks.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.sparse import csc_matrix


class SingularInformation(ValueError):
    """The information matrix is not positive definite: some parameter is not identified by the data."""


def inverse_2x2(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverses and determinants of (n, 2, 2) symmetric blocks."""
    a, b, c = blocks[:, 0, 0], blocks[:, 0, 1], blocks[:, 1, 1]
    det = a * c - b * b
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.stack([np.stack([c, -b], -1), np.stack([-b, a], -1)], -2) / det[:, None, None]
    return inv, det


def level_sum(group: np.ndarray, levels: int) -> csc_matrix:
    """The (levels, n) indicator whose product with per-deal arrays sums them by level (a sparse product: 15x
    faster than np.add.at on the CAS triangles' 3,840 pools); one entry per deal's column, built directly."""
    return csc_matrix((np.ones(len(group)), group, np.arange(len(group) + 1)), shape=(levels, len(group)))


def _sum_by(indicator, values: np.ndarray) -> np.ndarray:
    return (indicator @ values.reshape(len(values), -1)).reshape((indicator.shape[0],) + values.shape[1:])


@dataclass
class BlockSystem:
    """H of the module docstring. ``r_index`` / ``g_index`` (levels, k): where r and g sit in the full parameter
    vector theta (the order the likelihood uses); ``group``: each deal's level (None without a nesting group)."""

    info: np.ndarray  # (n, e, e)
    J: np.ndarray  # (n, e, R)
    r_index: np.ndarray  # (R,)
    prec_r: np.ndarray  # (R,)
    prec_b: np.ndarray  # (2,)
    group: np.ndarray | None = None  # (n,)
    g_index: np.ndarray | None = None  # (L, k)
    sel: np.ndarray | None = None  # (e, k)
    prec_g: np.ndarray | None = None  # (L, k)
    levels: csc_matrix | None = None  # level_sum(group, L), when the caller keeps one
    _chol: tuple = field(init=False, repr=False)

    def __post_init__(self):
        A, J = self.info, self.J
        n, e, R = J.shape
        D = A[:, :2, :2] + np.diag(self.prec_b)
        self.d_inv, det = inverse_2x2(D)
        if not (np.all(det > 0) and np.all(D[:, 0, 0] > 0)):
            bad = int(np.flatnonzero(~((det > 0) & (D[:, 0, 0] > 0)))[0])
            raise SingularInformation(f"the effects of deal {bad} are not identified")
        self.logdet_blocks = float(np.sum(np.log(det)))
        # batched matmul, not einsum: numpy's einsum loops over these small blocks 3-7x slower
        AJ = A @ J
        self.B_r = AJ[:, :2, :].transpose(0, 2, 1)  # (n, R, 2) = J' A[:, :2]
        self.M_r = self.d_inv @ AJ[:, :2, :]  # (n, 2, R) = D^-1 B_r'
        h_rr = J.reshape(n * e, R).T @ AJ.reshape(n * e, R) + np.diag(self.prec_r)
        T = h_rr - self.B_r.transpose(0, 2, 1).reshape(2 * n, R).T @ self.M_r.reshape(2 * n, R)
        if self.group is not None:
            self._levels = level_sum(self.group, len(self.g_index)) if self.levels is None else self.levels
            Asel = A @ self.sel  # (n, e, k)
            self.B_g = Asel[:, :2, :].transpose(0, 2, 1)  # (n, k, 2)
            self.M_g = self.d_inv @ Asel[:, :2, :]  # (n, 2, k)
            h_gg = _sum_by(self._levels, self.sel.T @ Asel)
            h_gg[:, np.arange(h_gg.shape[1]), np.arange(h_gg.shape[1])] += self.prec_g
            self.S_g = h_gg - _sum_by(self._levels, self.B_g @ self.M_g)
            self.S_rg = _sum_by(self._levels, J.transpose(0, 2, 1) @ Asel - self.B_r @ self.M_g)  # (L, R, k)
            sign, logdet_g = np.linalg.slogdet(self.S_g)
            if not np.all(sign > 0):
                raise SingularInformation("the effects of some group level are not identified")
            self.logdet_blocks += float(np.sum(logdet_g))
            self.S_g_inv = np.linalg.inv(self.S_g)
            self.K = self.S_g_inv @ self.S_rg.transpose(0, 2, 1)  # (L, k, R) = S_g^-1 S_rg'
            T = T - self.S_rg.transpose(1, 0, 2).reshape(R, -1) @ self.K.reshape(-1, R)
        try:
            self._chol = cho_factor(T, lower=True, check_finite=True)
        except (np.linalg.LinAlgError, ValueError):
            raise SingularInformation("the shared parameters are not identified (singular information)") from None
        self.size = len(self.r_index) + (0 if self.g_index is None else self.g_index.size)

    # ------------------------------------------------------------------------------------------ solving
    def solve(self, g_theta: np.ndarray, g_deals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """H^-1 g for g = (g_theta (P,) in theta order, g_deals (n, 2))."""
        r = g_theta[self.r_index] - np.einsum("dir,di->r", self.M_r, g_deals)
        if self.group is not None:
            rg = g_theta[self.g_index] - _sum_by(self._levels, np.einsum("dik,di->dk", self.M_g, g_deals))
            r = r - np.einsum("lkr,lk->r", self.K, rg)
        x_r = cho_solve(self._chol, r)
        step = np.zeros(len(g_theta))
        step[self.r_index] = x_r
        deal_step = np.einsum("dij,dj->di", self.d_inv, g_deals) - np.einsum("dir,r->di", self.M_r, x_r)
        if self.group is not None:
            x_g = np.einsum("lkj,lj->lk", self.S_g_inv, rg - np.einsum("lrk,r->lk", self.S_rg, x_r))
            step[self.g_index] = x_g
            deal_step -= np.einsum("dik,dk->di", self.M_g, x_g[self.group])
        return step, deal_step

    @property
    def logdet(self) -> float:
        return self.logdet_blocks + 2.0 * float(np.sum(np.log(np.diag(self._chol[0]))))

    # ------------------------------------------------------------------------------------------ variances
    def theta_cov(self) -> np.ndarray:
        """Cov(theta) with every deal effect integrated out, in theta order."""
        c_rr = cho_solve(self._chol, np.eye(len(self.r_index)))
        cov = np.zeros((self.size, self.size))
        cov[np.ix_(self.r_index, self.r_index)] = c_rr
        if self.group is not None:
            g = self.g_index.ravel()
            Kf = self.K.reshape(-1, len(self.r_index))  # (L k, R)
            c_rg = -c_rr @ Kf.T
            c_gg = Kf @ c_rr @ Kf.T
            k = self.g_index.shape[1]
            for o in range(len(self.g_index)):
                c_gg[o * k:(o + 1) * k, o * k:(o + 1) * k] += self.S_g_inv[o]
            cov[np.ix_(self.r_index, g)] = c_rg
            cov[np.ix_(g, self.r_index)] = c_rg.T
            cov[np.ix_(g, g)] = c_gg
        return cov

    def deal_cov(self, theta_cov: np.ndarray | None = None) -> np.ndarray:
        """Cov(b_d) for every deal, (n, 2, 2)."""
        cov = self.theta_cov() if theta_cov is None else theta_cov
        c_rr = cov[np.ix_(self.r_index, self.r_index)]
        out = self.d_inv + (self.M_r @ c_rr) @ self.M_r.transpose(0, 2, 1)
        if self.group is not None:
            gi = self.g_index[self.group]  # (n, k): each deal's level's parameters
            c_rg = cov[self.r_index[None, :, None], gi[:, None, :]]  # (n, R, k)
            c_gg = cov[gi[:, :, None], gi[:, None, :]]  # (n, k, k)
            cross = (self.M_r @ c_rg) @ self.M_g.transpose(0, 2, 1)
            out = out + cross + cross.transpose(0, 2, 1) + (self.M_g @ c_gg) @ self.M_g.transpose(0, 2, 1)
        return out

    def dense(self) -> np.ndarray:
        """The whole H as one dense matrix, theta first (in its order), then (u_1, v_1, u_2, ...): for tests."""
        n, e, R = self.J.shape
        P = self.size
        Jf = np.zeros((n, e, P))
        Jf[:, :, self.r_index] = self.J
        if self.group is not None:
            for d in range(n):
                Jf[d][:, self.g_index[self.group[d]]] = self.sel
        prec = np.zeros(P)
        prec[self.r_index] = self.prec_r
        if self.group is not None:
            prec[self.g_index.ravel()] = self.prec_g.ravel()
        full = np.zeros((P + 2 * n, P + 2 * n))
        full[:P, :P] = np.einsum("dep,def,dfq->pq", Jf, self.info, Jf) + np.diag(prec)
        for d in range(n):
            s = P + 2 * d
            full[:P, s:s + 2] = Jf[d].T @ self.info[d][:, :2]
            full[s:s + 2, :P] = full[:P, s:s + 2].T
            full[s:s + 2, s:s + 2] = self.info[d][:2, :2] + np.diag(self.prec_b)
        return full
