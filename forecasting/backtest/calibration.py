"""Calibration of forecast distributions against what happened: PIT, interval coverage, KS, CRPS.

Each forecast is a set of simulated paths; an actual outcome y is scored against the draws X_1..X_S of its period:
the probability integral transform PIT = (#{X < y} + #{X = y} / 2) / S (mid-rank, so ties at a bound or an exactly
repeated value do not bias it; equal means equal to rounding, ``same``), which is uniform on (0, 1) when the
forecasts are calibrated and have no mass at single values. Where they do (a pool that stops paying, whose paths stop
too), the PIT is the interval [#{X < y}, #{X <= y}] / S, and calibration means that the mean over forecasts of the
uniform distributions on those intervals is uniform (Czado, Gneiting and Held 2009, the non-randomized PIT): the
KS distance is that mean's from uniform (``ks_statistic`` with ``tied``), not the midpoints', which crowd at the
centre of each tie even when the forecasts are right (measured: 5,000 calibrated forecasts with 0-80% of their mass
at zero, KS 0.020 from the intervals, 0.121 from the midpoints). And the continuous ranked probability score
CRPS = E|X - y| - E|X - X'| / 2 of the ensemble's empirical distribution, in the units of cum_rate, lower is better,
rewarding sharpness and calibration together.

The CRPS is computed here rather than by ``scoringrules``: that library compiles its numba kernels whenever it is
imported (4.8 s a process on the development machine, more than the demo's model fits, paid again by every backtest
worker), and the ensemble form is a sort and two sums. Its values equal scoringrules' ``crps_ensemble`` (estimators
``qd`` and ``nrg``), weighted or not, to rounding (tests/backtest/test_pit_crps.py).
"""
from __future__ import annotations

import numpy as np
from scipy import stats

KS_LEVEL = 0.05
TIE_RTOL, TIE_ATOL = 1e-9, 1e-12


def same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether two cum_rates are the same amount: equal to 1e-9 of their size (or 1e-12 of opb). A path that
    collects nothing more ends at its last observed cum_rate, summed in another order than the actual's, so the two
    differ in the last bits; counted as different, a pool that stopped paying scores PIT 0 or 1 at random."""
    return np.isclose(a, b, rtol=TIE_RTOL, atol=TIE_ATOL)


def pit(draws: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Mid-rank PIT of ``actual`` (...,) within ``draws`` (S, ...), ties by ``same``; NaN where the actual is
    missing."""
    return pit_with_ties(draws, actual)[0]


def pit_with_ties(draws: np.ndarray, actual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mid-rank PIT (``pit``) and the share of ``draws`` that are ``same`` as ``actual``, the width of its PIT
    interval (module docstring), from one comparison of the draws; NaN where the actual is missing."""
    tied = same(draws, actual[None])
    below = ((draws < actual[None]) & ~tied).mean(axis=0)
    share = tied.mean(axis=0)
    known = np.isfinite(actual)
    return np.where(known, below + 0.5 * share, np.nan), np.where(known, share, np.nan)


def inside(lower: np.ndarray, actual: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """lower <= actual <= upper, a bound that is ``same`` as the actual holding it."""
    return ((lower <= actual) | same(lower, actual)) & ((actual <= upper) | same(upper, actual))


def crps(draws: np.ndarray, actual: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """CRPS of ``actual`` (...,) against the ensemble ``draws`` (S, ...), its members weighted by ``weights`` (S,)
    where given (a mixture of ensembles); NaN where the actual is missing."""
    draws = np.asarray(draws, float)
    w = _member_weights(draws, weights)
    filled = np.where(np.isfinite(actual), actual, 0.0)
    score = np.sum(w * np.abs(draws - filled[None]), axis=0) - 0.5 * mean_abs_difference(draws, weights)
    return np.where(np.isfinite(actual), score, np.nan)


def mean_abs_difference(draws: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """E|X - X'| (...,) of two independent members of the ensemble ``draws`` (S, ...), weighted by ``weights``.

    With the members sorted, x_1 <= ... <= x_S, weights w_i summing to 1 and W_i = w_1 + ... + w_i,
    E|X - X'| = 2 sum_i w_i x_i (2 W_i - w_i - 1), so it costs a sort instead of S^2 differences."""
    draws = np.asarray(draws, float)
    if weights is None:
        x = np.sort(draws, axis=0)
        w = _member_weights(x, None)
    else:
        order = np.argsort(draws, axis=0)
        x = np.take_along_axis(draws, order, axis=0)
        w = (np.asarray(weights, float) / np.sum(weights))[order]
    cum = np.cumsum(np.broadcast_to(w, x.shape), axis=0)
    return 2.0 * np.sum(w * x * (2.0 * cum - w - 1.0), axis=0)


def _member_weights(draws: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Each member's weight, summing to 1, shaped to broadcast against ``draws``."""
    shape = (len(draws),) + (1,) * (draws.ndim - 1)
    if weights is None:
        return np.full(shape, 1.0 / len(draws))
    return (np.asarray(weights, float) / np.sum(weights)).reshape(shape)


def ks_statistic(values: np.ndarray, tied: np.ndarray | None = None) -> float:
    """Kolmogorov-Smirnov distance of PIT values from the uniform distribution; with ``tied`` (``pit_with_ties``), of
    the mean of the uniform distributions on [pit - tied / 2, pit + tied / 2] (module docstring)."""
    values = np.asarray(values, float)
    tied = np.zeros_like(values) if tied is None else np.asarray(tied, float)
    keep = np.isfinite(values) & np.isfinite(tied)
    if not keep.any():
        return np.nan
    if not np.any(tied[keep] > 0):
        return float(stats.kstest(values[keep], "uniform").statistic)
    return _interval_ks(values[keep] - tied[keep] / 2, values[keep] + tied[keep] / 2)


def pit_coverage(values: np.ndarray, tied: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """Per forecast, the probability that its PIT (uniform on [pit - tied / 2, pit + tied / 2], a point without
    ties) falls in [lower, upper]: the central interval's coverage that is ``upper - lower`` on average when the
    forecasts are calibrated. A closed band of paths with mass at the actual holds it more often than that (a pool
    that pays nothing more, where a tenth of the paths do not either, sits on the P10 and counts as inside), so the
    band's own coverage overstates calibration wherever forecasts have ties; NaN where the PIT is."""
    values, tied = np.asarray(values, float), np.asarray(tied, float)
    lo, hi = values - tied / 2, values + tied / 2
    overlap = np.clip(np.minimum(hi, upper) - np.maximum(lo, lower), 0.0, None) / np.where(tied > 0, tied, 1.0)
    share = np.where(tied > 0, overlap, (lower <= values) & (values <= upper))
    return np.where(np.isfinite(values), share, np.nan)


def _interval_ks(lower: np.ndarray, upper: np.ndarray) -> float:
    """sup_u |F(u) - u|, F the mean of the uniform distributions on [lower_i, upper_i] (a point mass where the two
    are equal): F is linear between the intervals' ends and jumps at the points, so the sup is at an end, from one
    side or the other."""
    point = upper <= lower
    ends = np.unique(np.concatenate([lower, upper, [0.0, 1.0]]))
    points = np.sort(lower[point])
    at_or_below, below = np.searchsorted(points, ends, side="right"), np.searchsorted(points, ends, side="left")
    width = (upper - lower)[~point]

    def ramp(edge: np.ndarray) -> np.ndarray:
        """sum over the spread intervals whose ``edge`` lies below each end u of (u - edge) / width"""
        order = np.argsort(edge)
        slope = np.concatenate([[0.0], np.cumsum(1.0 / width[order])])
        offset = np.concatenate([[0.0], np.cumsum(edge[order] / width[order])])
        j = np.searchsorted(edge[order], ends, side="left")
        return ends * slope[j] - offset[j]

    spread = ramp(lower[~point]) - ramp(upper[~point])  # sum of clip((u - lower) / width, 0, 1)
    n = len(lower)
    return float(max(np.abs((at_or_below + spread) / n - ends).max(), np.abs((below + spread) / n - ends).max()))


def ks_critical(n: int, level: float = KS_LEVEL) -> float:
    """The KS distance beyond which uniformity is rejected at ``level`` for n independent values (1.36 / sqrt(n)
    at 5% for large n: Meyers' bar)."""
    return float(stats.kstwo.ppf(1 - level, n)) if n > 0 else np.nan
