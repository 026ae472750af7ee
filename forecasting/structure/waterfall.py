"""The priority of payments on every path at once (numpy over paths and deals; loops over dates and tranches only).

On each payment date j, the collections since the last date (less the senior fees, ``fee_rate`` of them) pay, in
priority order, each tranche's interest due (coupon x outstanding balance x months between dates / 12, plus any
interest unpaid before), then each tranche's principal in priority order; whatever is left after every balance
is paid goes to the residual tranche. A tranche is repaid on the first date its balance and arrears are both nil
(within half a cent).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecasting.structure.terms import Terms

CENT = 0.005  # CNY: a balance below half a cent is paid


@dataclass(frozen=True)
class Waterfall:
    """What each tranche received on each date, per path: (paths, deals, tranches, dates), and per path and deal the
    residual excess by date, each tranche's balance and unpaid interest at legal maturity and the date index on
    which it was repaid (0: not by legal maturity)."""

    interest: np.ndarray
    principal: np.ndarray
    excess: np.ndarray  # (paths, deals, dates)
    outstanding: np.ndarray  # (paths, deals, tranches) at legal maturity
    arrears: np.ndarray  # (paths, deals, tranches) at legal maturity
    repaid_on: np.ndarray  # (paths, deals, tranches) int


def run(terms: Terms, cash: np.ndarray) -> Waterfall:
    """``cash``: collections (paths, deals, dates) in CNY falling due on each payment date."""
    S, D, J = cash.shape
    T = terms.balance.shape[1]
    # stored date-major (each date's and tranche's payments contiguous), returned as (paths, deals, tranches, dates)
    interest, principal, excess = np.zeros((J, T, S, D)), np.zeros((J, T, S, D)), np.zeros((J, S, D))
    balance, arrears, repaid_on = _pay(terms, cash, (interest, principal, excess))
    return Waterfall(interest.transpose(2, 3, 1, 0), principal.transpose(2, 3, 1, 0), excess.transpose(1, 2, 0), balance,
                     arrears, repaid_on)


def repaid_on(terms: Terms, cash: np.ndarray) -> np.ndarray:
    """The date index on which each tranche was repaid (paths, deals, tranches; 0: not by legal maturity), without
    recording the payments: what the break-even search and the haircut sweep need, at a fraction of the memory."""
    return _pay(terms, cash, None)[2]


def _pay(terms: Terms, cash: np.ndarray, record: tuple | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The priority of payments (module docstring); each date's payments go into ``record`` (interest, principal,
    excess, date-major) where given. Returns balance and arrears at legal maturity and repaid_on."""
    S, D, J = cash.shape
    T = terms.balance.shape[1]
    # tranche-major (T, S, D), so each tranche's state is contiguous; returned as (paths, deals, tranches)
    balance = np.broadcast_to(terms.balance.T[:, None, :], (T, S, D)).copy()
    arrears = np.zeros((T, S, D))
    repaid_on = np.where(balance <= CENT, -1, 0)  # -1: nothing was ever owed (padding)
    rate = (terms.coupon * terms.frequency[:, None] / 12.0).T  # (T, D)
    live = np.arange(1, J + 1)[None, :] <= terms.n_dates[:, None]  # (deals, dates): a date up to legal maturity
    net = (1.0 - terms.fee_rate)[:, None] * live  # (deals, dates): the share of cash left after fees
    cash_by_date = np.moveaxis(cash, -1, 0)  # (J, S, D) view
    for j in range(J):  # after a deal's legal maturity nothing is paid and nothing accrues: its state stays final
        available = cash_by_date[j] * net[:, j]
        for k in range(T):
            due = arrears[k] + balance[k] * (rate[k] * live[:, j])
            paid = np.minimum(available, due)
            np.subtract(due, paid, out=arrears[k])
            available -= paid
            if record is not None:
                record[0][j, k] = paid
        for k in range(T):
            paid = np.minimum(available, balance[k])
            balance[k] -= paid
            available -= paid
            if record is not None:
                record[1][j, k] = paid
        if record is not None:
            record[2][j] = available
        done = (balance <= CENT) & (arrears <= CENT) & (repaid_on == 0) & live[:, j]
        repaid_on[done] = j + 1
    return balance.transpose(1, 2, 0), arrears.transpose(1, 2, 0), np.maximum(repaid_on, 0).transpose(1, 2, 0)
