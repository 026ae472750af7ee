"""Calendar arithmetic of collection periods: period p ends ``p * period_months`` month-ends after the cut-off."""
from __future__ import annotations

import numpy as np
import pandas as pd

PERIOD_UNITS = {1: "month", 3: "quarter", 12: "year"}  # months in a period (dataset.yaml's period_months): its name
PERIOD_LENGTHS = tuple(PERIOD_UNITS)


def periods_per_year(period_months: int) -> int:
    """A year's worth of periods (12, 4 or 1): the unit of the defaults that must not depend on the period length."""
    return round(12 / period_months)


def period_unit(period_months: int) -> str:
    """The name of one period: "month", "quarter" or "year"."""
    return PERIOD_UNITS[period_months]


def span(periods: int, period_months: int) -> str:
    """A number of periods as a reader says it: "24 months", "8 quarters (24 months)", "5 years"."""
    text = f"{periods} {period_unit(period_months)}{'' if periods == 1 else 's'}"
    return f"{text} ({periods * 3} months)" if period_months == 3 else text


def month_index(dates: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Months since year 0 of each date (its calendar month), as integers."""
    d = pd.DatetimeIndex(dates)
    return (d.year * 12 + d.month - 1).to_numpy()


def observed_periods(cutoff: pd.Series, as_of: pd.Timestamp, period_months: int) -> np.ndarray:
    """Number of whole periods that have ended by ``as_of`` for each cut-off date (0 if none, never negative).

    A period ends at the month end ``p * period_months`` months after the cut-off month, so it has ended by
    ``as_of`` when that month end is on or before ``as_of``.
    """
    as_of = pd.Timestamp(as_of)
    last_full_month = as_of.year * 12 + as_of.month - 1
    if as_of != as_of + pd.offsets.MonthEnd(0):
        last_full_month -= 1  # as_of is inside a month: that month's end has not come yet
    months = last_full_month - month_index(cutoff)
    return np.maximum(months // period_months, 0)


def end_months(cutoff: pd.Series, horizon: int, period_months: int) -> np.ndarray:
    """(deals, horizon): the month (since year 0) in which each deal's periods 1..horizon end."""
    return month_index(cutoff)[:, None] + np.arange(1, horizon + 1)[None, :] * period_months


def period_end(cutoff: pd.Series, period: pd.Series | np.ndarray, period_months: int) -> pd.DatetimeIndex:
    """Month-end date on which each (cut-off, period) ends."""
    return month_end(month_index(cutoff) + np.asarray(period, dtype=np.int64) * period_months)


def month_end(months: np.ndarray) -> pd.DatetimeIndex:
    """The last day of each month given as months since year 0 (``month_index``'s inverse, at the month's end)."""
    years, month0 = np.divmod(np.asarray(months, dtype=np.int64), 12)
    first = pd.to_datetime({"year": years, "month": month0 + 1, "day": np.ones_like(years)})
    return pd.DatetimeIndex(first + pd.offsets.MonthEnd(0))
