"""Persistent calendar risk: the AR(1) future factors and the persistence read off the fitted effects."""
import numpy as np
import pytest

from forecasting.models import random
from forecasting.models.calendar import SPAN, CalendarEffects, ar1_paths, persistence


def test_without_persistence_each_period_draws_its_own_normal():
    keys = 2026 * 12 + np.arange(5)
    c = ar1_paths(keys, 1, 0.2, 0.0, 300, 7, "")
    for key, row in zip(keys, c):
        np.testing.assert_allclose(row, 0.2 * random.standard_normal(random.stream(7, "calendar", "", int(key)), 300))


@pytest.mark.parametrize("step", [1, 3])
def test_ar1_paths_have_the_sd_and_the_autocorrelation(step):
    keys = 2026 * 12 + step * np.arange(6)
    c = ar1_paths(keys, step, 0.25, 0.8, 40_000, 3, "a")
    assert c.std(axis=1) == pytest.approx(np.full(6, 0.25), rel=0.02)
    assert np.corrcoef(c[0], c[1])[0, 1] == pytest.approx(0.8, abs=0.01)
    assert np.corrcoef(c[0], c[3])[0, 1] == pytest.approx(0.8 ** 3, abs=0.015)
    assert abs(c.mean()) < 0.01


def test_ar1_paths_agree_across_calls_with_other_months():
    """Two chunks of deals whose future months differ draw the same factor at a month both have."""
    keys = 2026 * 12 + np.arange(24)
    whole = ar1_paths(keys, 1, 0.2, 0.7, 50, 11, "x")
    part = ar1_paths(keys[10:15], 1, 0.2, 0.7, 50, 11, "x")
    np.testing.assert_allclose(part, whole[10:15])
    assert not np.allclose(ar1_paths(keys[10:15], 1, 0.2, 0.7, 50, 11, "y"), part)  # groups draw their own


def effects_of(key: np.ndarray, log_ratio: np.ndarray, sigma: float) -> CalendarEffects:
    zero = np.zeros(len(key))
    return CalendarEffects(key, log_ratio, zero + 0.01, log_ratio, zero + 0.1, sigma, float(log_ratio.mean()))


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.8])
def test_persistence_recovers_the_coefficient_through_the_noise(phi):
    """Log ratios y_k = c_k + e_k, c an AR(1) of sd 0.1 and the noise as large: the effects' own lag-one
    correlation would be about phi / 2; the estimate is phi."""
    rng = np.random.default_rng(5)
    c = np.zeros(20_000)  # the estimate's sd is about 2 / sqrt(n): 0.014
    c[0] = rng.normal(0, 0.1)
    for k in range(1, len(c)):
        c[k] = phi * c[k - 1] + rng.normal(0, 0.1 * np.sqrt(1 - phi ** 2))
    y = 0.3 + c + rng.normal(0, 0.1, len(c))
    estimate = persistence(effects_of(24_000 + 3 * np.arange(len(c)), y, 0.1), 3)
    assert estimate == pytest.approx(phi, abs=0.05)


def test_persistence_is_zero_for_alternating_or_constant_effects():
    """Two groups' series each alternate in sign (their lag-one covariance is negative, held at 0); a model without
    calendar variation (sigma 0) has none."""
    month = 24_000 + np.r_[np.arange(10), np.arange(12, 20)]
    y = np.tile([0.1, -0.1], 9)
    assert persistence(effects_of(np.r_[month, SPAN + month], np.r_[y, y], 0.1), 1) == 0.0
    assert persistence(effects_of(month, y, 0.0), 1) == 0.0
