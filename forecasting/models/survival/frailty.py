"""Deal frailties of the mixture model: each pool's own effect on its never-pay share (u) and on its speed (v).

    logit pi_i = x_i' gamma + u_d        log lam_i = z_i' beta + v_d        u_d ~ N(0, sd_u^2), v_d ~ N(0, sd_v^2)

What a pool's first t0 periods say about (u_d, v_d) factorises exactly. Loan i pays by t0 with probability
p_i = (1 - pi_i) F_i(t0), F the Weibull CDF of the payers' time to first payment; a payer's period of first payment
has probability (F_i(t) - F_i(t - 1)) / F_i(t0) given that it paid by t0, which does not involve u. So

    log-lik(u, v) = sum_i [paid_i log p_i + (1 - paid_i) log(1 - p_i)]      (how many paid: u and v)
                  + sum_payers log[(F_i(t_i) - F_i(t_i - 1)) / F_i(t0)]      (when they paid: v only)

The first term is taken, as a binomial in the deal's n units, at the deal's mean p over its loans (its cells of
identical features): exact for identical loans, and the share paid is what the pool reports. Without the second
term a slow pool looks like a poor one: its few early payers are read as few payers in all, and its forecast falls
(measured before this was built: 60-month error -0.031 per unit of the simulator's speed effect at loan level).

At pool level the units are the pool's principal in average-balance units: the "payers" are the units collected
in each period.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

U_GRID = np.linspace(-4.0, 4.0, 41)  # posterior grids, in units of the frailty sds
V_GRID = np.linspace(-4.0, 4.0, 25)
MLE_U = np.linspace(-3.0, 3.0, 121)  # logit units, for estimating sd_u
MLE_V = np.linspace(-1.5, 1.5, 121)  # log-scale units, for estimating sd_v
FLOOR = 0.05  # smallest frailty sd: a pool is never taken as exactly average
MIN_PERIODS = 6  # a training pool informs the sds once it has this many periods


@dataclass(frozen=True)
class Evidence:
    """A pool's first t0 periods, as the frailty likelihood uses them.

    Cells (identical features within a deal): timing design ``X_scale``, never-pay design ``X_never``, units ``count``,
    their ``deal``. Per deal: ``t0``, the share ``paid`` by t0 and the units ``n``. Payments: rows of first payments
    (``pay_X_scale``, ``pay_deal``, ``pay_period``, ``pay_weight`` in units)."""

    X_scale: np.ndarray
    X_never: np.ndarray
    count: np.ndarray
    deal: np.ndarray
    t0: np.ndarray
    paid: np.ndarray
    n: np.ndarray
    pay_X_scale: np.ndarray
    pay_deal: np.ndarray
    pay_period: np.ndarray
    pay_weight: np.ndarray

    @property
    def n_deals(self) -> int:
        return len(self.t0)


def _weibull_cdf(theta: np.ndarray, X_scale: np.ndarray, t: np.ndarray, v: np.ndarray) -> np.ndarray:
    """F(t) of the payers' time to first payment per row and speed v: shape (rows, len(v))."""
    k = X_scale.shape[1]
    lam = np.exp(X_scale @ theta[:k])[:, None] * np.exp(v)[None, :]
    return -np.expm1(-(np.maximum(t, 0.0)[:, None] / lam) ** np.exp(theta[k]))


def timing_loglik(theta: np.ndarray, ev: Evidence, v: np.ndarray) -> np.ndarray:
    """When a deal's payers first paid, given they paid by t0: log-likelihood per deal and speed v, (deals, len(v))."""
    out = np.zeros((ev.n_deals, len(v)))
    if len(ev.pay_period) == 0:
        return out
    t0 = ev.t0[ev.pay_deal].astype(float)
    F_t = _weibull_cdf(theta, ev.pay_X_scale, ev.pay_period, v)
    F_prev = _weibull_cdf(theta, ev.pay_X_scale, ev.pay_period - 1.0, v)
    F_0 = _weibull_cdf(theta, ev.pay_X_scale, t0, v)
    ll = ev.pay_weight[:, None] * (np.log(np.maximum(F_t - F_prev, 1e-300)) - np.log(np.maximum(F_0, 1e-300)))
    for j in range(len(v)):
        out[:, j] = np.bincount(ev.pay_deal, ll[:, j], ev.n_deals)
    return out


def paid_loglik(theta: np.ndarray, ev: Evidence, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """How many of a deal's units paid by t0: binomial log-likelihood per deal, (deals, len(u), len(v))."""
    k = ev.X_scale.shape[1]
    payer = 1.0 / (1.0 + np.exp((ev.X_never @ theta[k + 1:])[:, None] + u[None, :]))  # 1 - pi, (cells, U)
    F0 = _weibull_cdf(theta, ev.X_scale, ev.t0[ev.deal].astype(float), v)  # (cells, V)
    out = np.zeros((ev.n_deals, len(u), len(v)))
    if len(ev.deal) == ev.n_deals and np.array_equal(ev.deal, np.arange(ev.n_deals)):  # one cell per deal (pool level)
        p = np.clip(payer[:, :, None] * F0[:, None, :], 1e-12, 1 - 1e-12)
        paid = ev.paid[:, None, None]
        return np.where(ev.n[:, None, None] > 0, ev.n[:, None, None] * (paid * np.log(p) + (1.0 - paid) * np.log1p(-p)), 0.0)
    order = np.argsort(ev.deal, kind="stable")
    bounds = np.searchsorted(ev.deal[order], np.arange(ev.n_deals + 1))
    for d in range(ev.n_deals):
        rows = order[bounds[d]: bounds[d + 1]]
        if len(rows) == 0 or ev.n[d] <= 0:
            continue
        p = (payer[rows] * ev.count[rows, None]).T @ F0[rows] / ev.count[rows].sum()
        p = np.clip(p, 1e-12, 1 - 1e-12)
        out[d] = ev.n[d] * (ev.paid[d] * np.log(p) + (1.0 - ev.paid[d]) * np.log1p(-p))
    return out


def _spread(ll: np.ndarray, grid: np.ndarray, keep: np.ndarray) -> float:
    """sd of the deals' effects beyond their sampling noise: mean squared most-likely effect minus the mean of its
    variance (inverse curvature of the log-likelihood at its maximum), over the deals in ``keep``."""
    if keep.sum() < 3:
        return FLOOR
    best = np.clip(np.argmax(ll, axis=1), 1, len(grid) - 2)
    rows = np.arange(len(best))
    step = grid[1] - grid[0]
    curvature = (ll[rows, best + 1] - 2 * ll[rows, best] + ll[rows, best - 1]) / step**2
    variance = 1.0 / np.maximum(-curvature, 1e-9)
    effect = grid[best]
    return float(np.sqrt(max(np.mean(effect[keep] ** 2) - np.mean(variance[keep]), FLOOR**2)))


def frailty_sds(theta: np.ndarray, ev: Evidence) -> tuple[float, float]:
    """(sd_u, sd_v) by the method of moments over the training pools with MIN_PERIODS periods or more: sd_v from
    when their payers paid, then sd_u from how many paid, each pool's speed integrated over its N(0, sd_v^2) prior
    (so a poorly measured speed does not move u)."""
    keep = (ev.t0 >= MIN_PERIODS) & (ev.n > 0)
    sd_v = _spread(timing_loglik(theta, ev, MLE_V), MLE_V, keep & (np.bincount(ev.pay_deal, ev.pay_weight, ev.n_deals) > 0))
    v = sd_v * V_GRID
    ll_uv = paid_loglik(theta, ev, MLE_U, v) + timing_loglik(theta, ev, v)[:, None, :] - 0.5 * V_GRID**2
    return _spread(logsumexp(ll_uv, axis=2), MLE_U, keep), sd_v


@dataclass(frozen=True)
class FrailtyDraws:
    """Each deal's (u, v) per draw, (draws, deals) each, from its posterior at theta; and its credibilities
    (``z_u``, ``z_v``, per deal) for anchoring them to parameter draws (``anchored``)."""

    u: np.ndarray
    v: np.ndarray
    z_u: np.ndarray
    z_v: np.ndarray

    def anchored(self, shift: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """``shift`` (never-pay, timing), each (draws, deals): how far each parameter draw moves the deal's mean
        linear predictors from theta's. The posterior is computed at theta; under a draw the deal's own periods still
        say what they say about its total, so its frailty moves against the shift by its credibility Z = 1 -
        posterior var / prior var (the normal approximation of conditioning on each draw): a pool whose collections
        pin its level keeps it whatever the draw, and a new pool (Z = 0) carries the parameters' whole
        uncertainty."""
        return self.u - self.z_u * shift[0], self.v - self.z_v * shift[1]

    def with_levels(self, new: tuple[np.ndarray, np.ndarray]) -> FrailtyDraws:
        """Plus the effects of group levels not seen at fit (``new``: never-pay, timing; (draws, deals) each), as a
        parameter draw's shift is taken: discounted by the deal's credibility, so a pool whose own periods pin its
        level keeps it and a new pool carries the new level's whole uncertainty."""
        return FrailtyDraws(self.u + (1.0 - self.z_u) * new[0], self.v + (1.0 - self.z_v) * new[1], self.z_u,
                            self.z_v)


def frailty_posterior(theta: np.ndarray, ev: Evidence, sd_u: float, sd_v: float,
                      uniforms: np.ndarray) -> FrailtyDraws:
    """Draws of each deal's (u, v) from its posterior on a grid given its first t0 periods (its prior when t0 = 0),
    jittered within a grid step, and the deal's credibilities. ``uniforms`` (draws, deals, 3): uniform numbers on
    [0, 1) that pick the grid point and the jitter (each deal's from its own stream)."""
    u, v = sd_u * U_GRID, sd_v * V_GRID
    prior = -0.5 * (U_GRID[:, None] ** 2 + V_GRID[None, :] ** 2)
    log_post = paid_loglik(theta, ev, u, v) + timing_loglik(theta, ev, v)[:, None, :] + prior[None]
    log_post[ev.t0 == 0] = prior
    flat = log_post.reshape(ev.n_deals, -1)
    weights = np.exp(flat - flat.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    cdf = np.cumsum(weights, axis=1)
    picks = np.minimum((uniforms[..., :1] > cdf[None]).sum(axis=-1), flat.shape[1] - 1)
    iu, iv = np.divmod(picks, len(v))
    grid = weights.reshape(log_post.shape)
    return FrailtyDraws(u[iu] + (uniforms[..., 1] - 0.5) * (u[1] - u[0]),
                        v[iv] + (uniforms[..., 2] - 0.5) * (v[1] - v[0]),
                        _credibility(grid.sum(axis=2), U_GRID), _credibility(grid.sum(axis=1), V_GRID))


def _credibility(posterior: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Z = 1 - posterior variance / prior variance per deal (rows of ``posterior`` over ``grid``, in sd units; the
    prior is the standard normal on the same grid, so a deal with no evidence gets exactly 0)."""
    prior = np.exp(-0.5 * grid**2)
    return np.clip(1.0 - _variance(posterior, grid) / _variance(prior / prior.sum(), grid), 0.0, 1.0)


def _variance(p: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Variance of the distribution ``p`` over ``grid`` (per row when p is 2-D)."""
    mean = p @ grid
    return p @ grid**2 - mean**2
