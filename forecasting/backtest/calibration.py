"""Calibration of forecast distributions against what happened: PIT, interval coverage, KS, CRPS.

Each forecast is a set of simulated paths; an actual outcome y is scored against the draws X_1..X_S of its
period: the probability integral transform PIT = (#{X < y} + #{X = y} / 2) / S (mid-rank, so ties at a bound or an
exactly repeated value do not bias it), which is uniform on (0, 1) when the forecasts are calibrated; and the
continuous ranked probability score CRPS = E|X - y| - E|X - X'| / 2 (scoringrules' ensemble form), in the units
of cum_rate, lower is better, rewarding sharpness and calibration together.
"""
from __future__ import annotations

import numpy as np
import scoringrules
from scipy import stats

KS_LEVEL = 0.05


def pit(draws: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Mid-rank PIT of ``actual`` (...,) within ``draws`` (S, ...); NaN where the actual is missing."""
    below = (draws < actual[None]).mean(axis=0)
    tied = (draws == actual[None]).mean(axis=0)
    return np.where(np.isfinite(actual), below + 0.5 * tied, np.nan)


def crps(draws: np.ndarray, actual: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """CRPS of ``actual`` (...,) against the ensemble ``draws`` (S, ...), its members weighted by ``weights`` (S,)
    where given (a mixture of ensembles); NaN where the actual is missing."""
    filled = np.where(np.isfinite(actual), actual, 0.0)
    fct = np.moveaxis(draws, 0, -1)
    score = scoringrules.crps_ensemble(filled, fct, ens_w=None if weights is None else np.broadcast_to(weights, fct.shape))
    return np.where(np.isfinite(actual), score, np.nan)


def ks_statistic(values: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance of PIT values from the uniform distribution."""
    values = values[np.isfinite(values)]
    return float(stats.kstest(values, "uniform").statistic) if len(values) else np.nan


def ks_critical(n: int, level: float = KS_LEVEL) -> float:
    """The KS distance beyond which uniformity is rejected at ``level`` for n independent values (1.36 / sqrt(n)
    at 5% for large n: Meyers' bar)."""
    return float(stats.kstwo.ppf(1 - level, n)) if n > 0 else np.nan
