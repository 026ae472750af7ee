"""What the waterfall means for each tranche: repayment, payoff time, expected loss, WAL, the residual's IRR, and the
break-even recovery."""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.structure import waterfall
from forecasting.structure.terms import Terms

QUANTILES = (0.1, 0.5, 0.9)
BISECTION_STEPS = 50  # a bracket of width <= 2^k to 1e-15 relative: a cent on any balance
IRR_STEPS = 60  # Newton steps at most: each path stops when its step is below 1e-12
MAX_LOG_POWER = 600.0  # the largest log x^j the IRR's Newton steps may form (float64 overflows past 709)


def tranche_summary(terms: Terms, w: waterfall.Waterfall, price: float = 1.0) -> pd.DataFrame:
    """One row per real tranche: balance, p_repaid, payoff_months_p10/p50/p90 (from closing; empty where that share
    of paths is not repaid by legal maturity), expected_loss, wal_years, and for the residual tranche its IRR
    quantiles (annual) at ``price`` x its balance. Vectorised over paths, deals and tranches."""
    repaid = w.repaid_on > 0  # (paths, deals, tranches)
    payoff = np.where(repaid, w.repaid_on * terms.frequency[None, :, None], np.inf)
    with np.errstate(invalid="ignore"):  # between two unrepaid paths: inf - inf, empty either way
        payoff_q = np.quantile(payoff, QUANTILES, axis=0)
    months = terms.frequency[:, None] * np.arange(1, w.principal.shape[-1] + 1)[None, :]  # (deals, dates)
    paid = w.principal.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        wal = (w.principal * months[None, :, None, :]).sum(axis=-1) / paid / 12.0
        loss = (w.outstanding + w.arrears).mean(axis=0) / terms.balance
    seen = np.isfinite(wal)
    wal_mean = np.where(seen.any(axis=0), np.where(seen, wal, 0).sum(axis=0) / np.maximum(seen.sum(axis=0), 1), np.nan)
    irr = np.quantile(residual_irr(terms, w, price), QUANTILES, axis=0)  # (3, deals)
    real = np.arange(terms.balance.shape[1])[None, :] <= terms.residual[:, None]
    d, k = np.nonzero(real)
    residual = k == terms.residual[d]
    out = pd.DataFrame({"deal_id": terms.deal_ids.to_numpy()[d], "tranche": terms.names[d, k], "priority_rank": k + 1,
                        "balance": terms.balance[d, k], "coupon": terms.coupon[d, k], "residual": residual,
                        "p_repaid": repaid.mean(axis=0)[d, k]})
    for q, values in zip(QUANTILES, payoff_q):
        out[f"payoff_months_p{round(q * 100):02d}"] = np.where(np.isfinite(values[d, k]), values[d, k], np.nan)
    out["expected_loss"] = np.where(terms.balance[d, k] > 0, np.nan_to_num(loss[d, k]), 0.0)
    out["wal_years"] = wal_mean[d, k]
    for q, values in zip(QUANTILES, irr):
        out[f"irr_p{round(q * 100):02d}"] = np.where(residual, values[d], np.nan)
    return out


def residual_irr(terms: Terms, w: waterfall.Waterfall, price: float) -> np.ndarray:
    """Annual IRR (paths, deals) of each deal's residual tranche bought at price x balance at closing (-1: nothing
    back; NaN for a residual tranche of no balance). With y = log of the discount factor per payment period and the
    flows c_j as shares of the cost, the log present value g(y) = log sum_j c_j x^j, x = e^y, is increasing and
    convex, its slope the cash-weighted mean date index (at least 1), so Newton's method from y = max(0, log(cost /
    cash)), right of the root, converges monotonically in a few steps. The powers x^j are a running product (an exp
    per path, not per date); y starts at most at MAX_LOG_POWER / dates, so no power overflows, and a path whose root
    lies beyond it (it returns less than e^-600 of its price in present value there) is given that bound: its IRR
    is -100% to within e^(-7200 / months to the last date)."""
    deals = np.arange(len(terms.residual))
    flows = (w.interest[:, deals, terms.residual] + w.principal[:, deals, terms.residual]
             + w.excess)  # (paths, deals, dates)
    cost = price * terms.balance[deals, terms.residual][None]
    total = flows.sum(axis=-1)
    J = flows.shape[-1]
    j = np.arange(1, J + 1)
    total_flat, cost_flat = total.reshape(-1), np.broadcast_to(cost, total.shape).reshape(-1)
    y = np.zeros(total.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        active = np.flatnonzero((total_flat > 0) & (cost_flat > 0))  # paths x deals still moving
        shares = (flows / cost[..., None]).reshape(-1, J)[active]
        y_active = np.clip(np.log(cost_flat[active] / total_flat[active]), 0.0, MAX_LOG_POWER / J)
        for _ in range(IRR_STEPS):
            weighted = shares * np.cumprod(np.broadcast_to(np.exp(y_active)[:, None], shares.shape), axis=1)
            pv = weighted.sum(axis=1)
            step = np.log(pv) / ((weighted * j).sum(axis=1) / pv)
            step = np.where(step < 0, 0.0, step)  # at the bound with the root beyond it: stay there
            y_active = y_active - step
            moving = np.abs(step) >= 1e-12
            y[active[~moving]] = y_active[~moving]
            active, shares, y_active = active[moving], shares[moving], y_active[moving]
            if not len(active):
                break
        y[active] = y_active
    y = y.reshape(total.shape)
    annual = np.expm1(-y * 12.0 / terms.frequency[None])
    return np.where(cost > 0, np.where(total > 0, annual, -1.0), np.nan)


def breakeven(terms: Terms, observed_cash: np.ndarray, future_cash: np.ndarray, observed_rate: np.ndarray,
              future_rate: np.ndarray) -> pd.DataFrame:
    """Per deal and non-residual tranche, the lowest lifetime gross recovery at which the tranche is still repaid by
    legal maturity: the pool's expected future collections (``future_cash`` (deals, dates), ``future_rate`` its
    cum_rate) scaled by s (timing unchanged) on top of what was observed; s is bracketed by doubling, then found by
    bisection, every deal at once. ``multiple`` = base / break-even."""
    frames = []
    base = observed_rate + future_rate
    for k in range(terms.balance.shape[1]):
        deals = np.flatnonzero(k < terms.residual)
        if not len(deals):
            continue
        repaid = _repaid_at(terms.subset(deals), observed_cash[deals], future_cash[deals], k)
        hi = np.ones(len(deals))
        for _ in range(40):  # widen until repaid (a tranche the whole principal could not repay stays unbounded)
            short = ~repaid(hi[None])[0]
            if not short.any():
                break
            hi = np.where(short, hi * 2, hi)
        possible, at_zero = repaid(np.stack([hi, np.zeros(len(deals))]))
        lo = np.zeros(len(deals))
        for _ in range(BISECTION_STEPS):
            mid = (lo + hi) / 2
            ok = repaid(mid[None])[0]
            lo, hi = np.where(ok, lo, mid), np.where(ok, mid, hi)
        scale = np.where(at_zero, 0.0, np.where(possible, hi, np.nan))
        level = observed_rate[deals] + scale * future_rate[deals]
        with np.errstate(divide="ignore", invalid="ignore"):
            multiple = np.where(level > 0, base[deals] / level, np.inf)
        frames.append(pd.DataFrame({"deal_id": terms.deal_ids.to_numpy()[deals], "tranche": terms.names[deals, k],
                                    "priority_rank": k + 1, "balance": terms.balance[deals, k], "scale": scale,
                                    "breakeven_gross_recovery": level, "base_gross_recovery": base[deals],
                                    "multiple": multiple}))
    return pd.concat(frames, ignore_index=True).sort_values(["deal_id", "priority_rank"], key=_deal_order(terms)
                                                             ).reset_index(drop=True)


def _deal_order(terms: Terms):
    order = {deal: i for i, deal in enumerate(terms.deal_ids)}
    return lambda column: column.map(order) if column.name == "deal_id" else column


def _repaid_at(terms: Terms, observed_cash: np.ndarray, future_cash: np.ndarray, k: int):
    """s (candidates, deals) -> whether tranche k of each deal is repaid by legal maturity with s x the future
    collections, each candidate run as a path."""
    return lambda s: waterfall.repaid_on(terms, observed_cash[None] + s[..., None] * future_cash[None])[:, :, k] > 0
