"""Process noise: the compound Poisson's moments and empty periods, and its payment shape learnt from the zeros."""
from __future__ import annotations

import numpy as np
import pytest

from forecasting.models.paths import collections, fit_payment_shape, realized_paths, zero_probability


@pytest.mark.parametrize("shape", [0.0, 0.3, 1.0, 5.0])
def test_collections_have_the_odp_mean_and_variance_and_the_shapes_empty_periods(shape):
    rng = np.random.default_rng(0)
    unit, n = 0.02, 400_000
    for mean in (0.005, 0.02, 0.1):
        x = collections(rng, np.full(n, mean), unit, shape)
        assert x.mean() == pytest.approx(mean, rel=0.02)
        assert x.var() == pytest.approx(unit * mean, rel=0.03)
        expected_zero = float(zero_probability(np.array([mean / unit]), shape)[0])
        assert np.mean(x == 0) == pytest.approx(expected_zero, abs=0.003)
    assert shape > 0 or not np.any(x == 0)  # the Gamma (shape 0) has no empty period


@pytest.mark.parametrize("shape", [0.3, 1.0, 4.0])
def test_payment_shape_is_recovered_from_which_cells_are_zero(shape):
    rng = np.random.default_rng(int(shape * 10))
    k = rng.uniform(0.05, 3.0, 20_000)
    zero = rng.uniform(size=k.size) < zero_probability(k, shape)
    assert fit_payment_shape(k, zero) == pytest.approx(shape, rel=0.15)


def test_no_empty_cell_gives_the_gamma():
    assert fit_payment_shape(np.array([0.5, 1.0, 2.0]), np.array([False, False, False])) == 0.0


def test_a_path_stays_flat_with_the_probability_of_every_period_empty():
    """Observed 2 periods of 5, then expected increments 0.01 a period with unit 0.02 (k = 0.5 a period)."""
    shape, draws = 1.0, 200_000
    future = np.broadcast_to(np.array([0.0, 0.0, 0.01, 0.02, 0.03]), (draws, 1, 5)).copy()
    cum_obs = np.array([[0.1, 0.2, 0.0, 0.0, 0.0]])
    paths = realized_paths(cum_obs, np.array([2]), future, np.array([0.02]), ["d"], 0, shape)
    flat = np.mean(paths[:, 0, -1] == 0.2)
    assert flat == pytest.approx(float(zero_probability(np.array([1.5]), shape)[0]), abs=0.005)
    assert paths[:, 0, -1].mean() == pytest.approx(0.2 + 0.03, rel=0.01)
