"""The simulated market's common calendar risk: a factor per calendar month on every pool's collections.

Two optional parts of ``RecoveryProcess`` (both off in the demo): a known shock, ``calendar_shock`` = (start month,
end month, factor), and random common risk, ``calendar_sd``: each month m of the whole simulated span (observed and
future) gets exp(c_m - calendar_sd^2 / 2), c_m ~ N(0, calendar_sd^2), independently or, with
``calendar_persistence`` phi, a stationary AR(1) c_m = phi c_(m-1) + sqrt(1 - phi^2) e_m; drawn from a stream of its
own (the market's other draws are those of the same seed without it). A payment falling in month m is multiplied by
the product of the two: what the models' calendar effects are tested against.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.periods import month_end, month_index
from forecasting.simulation.process import RecoveryProcess


def calendar_factors(process: RecoveryProcess, cutoff_month: np.ndarray, periods: int, seed: int) -> pd.Series:
    """Factor by month index (months since year 0) over every month a pool's periods 1..``periods`` end in; empty
    when the process has no calendar risk."""
    if process.calendar_shock is None and process.calendar_sd <= 0:
        return pd.Series(dtype=float)
    months = np.arange(int(cutoff_month.min()) + 1, int(cutoff_month.max()) + periods + 1)
    factor = np.ones(len(months))
    if process.calendar_sd > 0:
        sd = process.calendar_sd
        c = np.random.default_rng([seed, 18]).normal(0.0, sd, len(months))
        phi = process.calendar_persistence
        for m in range(1, len(c) if phi else 0):
            c[m] = phi * c[m - 1] + np.sqrt(1 - phi ** 2) * c[m]
        factor *= np.exp(c - sd ** 2 / 2)
    if process.calendar_shock is not None:
        start, end, shock = process.calendar_shock
        lo, hi = month_index(pd.to_datetime([start, end]))
        factor *= np.where((months >= lo) & (months <= hi), shock, 1.0)
    return pd.Series(factor, index=months)


def shocked(pay: pd.DataFrame, loan_deal: np.ndarray, cutoff_month: np.ndarray, factors: pd.Series) -> pd.DataFrame:
    """Payments (row, period, amount) times the factor of the calendar month they fall in."""
    if factors.empty:
        return pay
    month = cutoff_month[loan_deal[pay["row"].to_numpy()]] + pay["period"].to_numpy()
    return pay.assign(amount=pay["amount"].to_numpy() * factors.reindex(month).fillna(1.0).to_numpy())


def log_factors_by_period_end(factors: pd.Series) -> pd.Series:
    """The truth as the models report it: log factor indexed by the month's end date."""
    return pd.Series(np.log(factors.to_numpy()), index=month_end(factors.index.to_numpy()).rename("period_end"),
                     name="log_factor")
