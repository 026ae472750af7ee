"""Timing curves G(t; scale, shape): the share of a pool's eventual gross recovery collected by period t.

Every family is a CDF on t > 0, so cum_rate(t) = L * G(t) is non-decreasing and never exceeds the level L <= 1.
The per-period rate L * (G(t) - G(t-1)) falls with age when the density is decreasing: always for the exponential,
for Weibull and gamma when shape <= 1 (with a slowing fall), and for the log-logistic when shape <= 1.

| curve       | G(t)                                      | parameters        |
|-------------|-------------------------------------------|-------------------|
| exponential | 1 - exp(-t / scale)                       | scale             |
| weibull     | 1 - exp(-(t / scale) ** shape)            | scale, shape      |
| loglogistic | (t / scale) ** shape / (1 + (t/scale)**shape) | scale, shape  |
| gamma       | P(shape, t / scale) (regularised lower incomplete gamma) | scale, shape |
"""
from __future__ import annotations

import numpy as np
from scipy.special import gammainc


def _exponential(t, scale, shape):
    return -np.expm1(-t / scale)


def _weibull(t, scale, shape):
    return -np.expm1(-((t / scale) ** shape))


def _loglogistic(t, scale, shape):
    z = (t / scale) ** shape
    return z / (1.0 + z)


def _gamma(t, scale, shape):
    return gammainc(shape, t / scale)


CURVES = {"exponential": _exponential, "weibull": _weibull, "loglogistic": _loglogistic, "gamma": _gamma}
HAS_SHAPE = {"exponential": False, "weibull": True, "loglogistic": True, "gamma": True}


def cdf(curve: str, t: np.ndarray, scale: np.ndarray, shape: np.ndarray | float) -> np.ndarray:
    """G(t) for broadcastable t, scale, shape; G(0) = 0."""
    t = np.maximum(np.asarray(t, dtype=float), 0.0)
    return CURVES[curve](t, scale, shape)
