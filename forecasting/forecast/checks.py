"""The last check on every forecast before it is written, scored or run through a waterfall: a number a user
sees is never NaN or out of order.

Paths and expected curves finite, within [0, 1] and non-decreasing (``check_paths``: every forecast written, scored
or run through a waterfall); the point forecast within the range of its paths too (``check_forecast``: what ``npas
forecast`` and the report write; a baseline's point need not be its paths' mean). Not within the band of the outer
quantiles: a pool that has stopped paying has more than 90% of its paths collect nothing more and the rest a
payment, so its mean is above its P90, rightly. A failure is our bug, not the user's input: it raises
ForecastError naming the deal (exit code 1).
"""
from __future__ import annotations

import numpy as np

from forecasting.models.curve_forecast import CurveForecast

TOL = 1e-9
RANGE_TOL = 1e-6  # the point forecast is a mean of paths: it may sit a rounding error outside them


class ForecastError(RuntimeError):
    """A forecast that failed its final check."""


def check_paths(fc: CurveForecast, model: str) -> None:
    """Paths and expected curves finite, within [0, 1] and non-decreasing, the point forecast finite: what every
    forecast scored or written must be (a NaN left in would drop its pool from a score or a total unsaid)."""
    for what, paths in (("paths", fc.draws), ("expected curve", fc.expected)):
        if paths is None:
            continue
        problems = {"not finite": ~np.isfinite(paths).all(axis=(0, 2)),
                    "outside [0, 1]": ((paths < -TOL) | (paths > 1 + TOL)).any(axis=(0, 2)),
                    "falling": (np.diff(paths, axis=-1) < -TOL).any(axis=(0, 2))}
        for reason, bad in problems.items():
            if bad.any():
                raise ForecastError(f"{model}: the {what} of deal {fc.deal_ids[np.flatnonzero(bad)[0]]!r} are {reason}")
    if not np.isfinite(fc.mean).all():
        raise ForecastError(f"{model}: the forecast of deal {fc.deal_ids[np.flatnonzero(~np.isfinite(fc.mean).all(1))[0]]!r} "
                            f"is not finite")


def check_forecast(fc: CurveForecast, model: str) -> None:
    """``check_paths``, and the point forecast between the lowest and the highest path."""
    check_paths(fc, model)
    lo, hi = fc.draws.min(axis=0), fc.draws.max(axis=0)
    outside = ((fc.mean < lo - RANGE_TOL) | (fc.mean > hi + RANGE_TOL)).any(axis=1)
    if outside.any():
        deal = np.flatnonzero(outside)[0]
        raise ForecastError(f"{model}: the point forecast of deal {fc.deal_ids[deal]!r} is outside the range of its "
                            f"paths")
