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
| lognormal   | Phi(shape * log(t / scale))               | scale, shape      |

The tails differ: at late ages the Weibull's and the gamma's per-period rate falls like exp(-t^k), the
log-logistic's like a power t^-(k+1); the log-normal's falls in between (like exp(-k^2 log(t)^2 / 2)), which is where
insurers' paid development lies (the CAS benchmark: the Weibull under-forecasts the tail, the log-logistic over).
"""
from __future__ import annotations

import numpy as np
from scipy.special import gammainc, ndtr


def _exponential(t, scale, shape):
    return -np.expm1(-t / scale)


def _weibull(t, scale, shape):
    return -np.expm1(-((t / scale) ** shape))


def _loglogistic(t, scale, shape):
    z = (t / scale) ** shape
    return z / (1.0 + z)


def _gamma(t, scale, shape):
    return gammainc(shape, t / scale)


def _lognormal(t, scale, shape):
    return ndtr(shape * _log_ratio(t, scale))


def _log_ratio(t, scale):
    """log(t / scale), with -inf at t = 0 (G(0) = 0)."""
    with np.errstate(divide="ignore"):
        return np.log(t / scale)


CURVES = {"exponential": _exponential, "weibull": _weibull, "loglogistic": _loglogistic, "gamma": _gamma,
          "lognormal": _lognormal}
HAS_SHAPE = {"exponential": False, "weibull": True, "loglogistic": True, "gamma": True, "lognormal": True}


def cdf(curve: str, t: np.ndarray, scale: np.ndarray, shape: np.ndarray | float) -> np.ndarray:
    """G(t) for broadcastable t, scale, shape; G(0) = 0."""
    t = np.maximum(np.asarray(t, dtype=float), 0.0)
    return CURVES[curve](t, scale, shape)


def dcdf_dlogscale(curve: str, t: np.ndarray, scale: np.ndarray, shape: np.ndarray | float) -> np.ndarray:
    """dG(t)/d log(scale): -x G0'(x) at x = t / scale (every family is G0(t / scale)); 0 at t = 0."""
    t = np.maximum(np.asarray(t, dtype=float), 0.0)
    x = t / scale
    if curve == "exponential":
        return -x * np.exp(-x)
    if curve == "weibull":
        z = x**shape
        return -shape * z * np.exp(-z)
    if curve == "loglogistic":
        z = x**shape
        return -shape * z / (1.0 + z) ** 2
    if curve == "lognormal":
        return -shape * _std_normal_pdf(shape * _log_ratio(t, scale))
    return -x * _gamma_pdf(x, shape)


def dcdf_dlogshape(curve: str, t: np.ndarray, scale: np.ndarray, shape: np.ndarray | float) -> np.ndarray:
    """dG(t)/d log(shape); 0 at t = 0 and for the exponential (no shape). Gamma by central differences (the
    incomplete gamma's derivative in its shape has no closed form)."""
    t = np.maximum(np.asarray(t, dtype=float), 0.0)
    if curve == "exponential":
        return np.zeros(np.broadcast_shapes(t.shape, np.shape(scale)))
    if curve == "gamma":
        h = 1e-5
        return (gammainc(shape * np.exp(h), t / scale) - gammainc(shape * np.exp(-h), t / scale)) / (2 * h)
    if curve == "lognormal":
        z = shape * _log_ratio(t, scale)
        return np.where(np.isfinite(z), np.nan_to_num(z) * _std_normal_pdf(z), 0.0)
    x = t / scale
    log_x = np.log(np.where(x > 0, x, 1.0))
    z = x**shape
    if curve == "weibull":
        return shape * z * np.exp(-z) * log_x
    return shape * z * log_x / (1.0 + z) ** 2


def _gamma_pdf(x: np.ndarray, shape) -> np.ndarray:
    from scipy.special import gammaln
    safe = np.where(x > 0, x, 1.0)
    return np.where(x > 0, np.exp((shape - 1) * np.log(safe) - safe - gammaln(shape)), 0.0)


def _std_normal_pdf(z: np.ndarray) -> np.ndarray:
    """phi(z), 0 at z = -inf."""
    return np.exp(-0.5 * np.square(z)) / np.sqrt(2 * np.pi)
