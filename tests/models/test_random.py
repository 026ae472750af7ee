"""Antithetic draws: every normal and uniform number of a forecast comes paired with its mirror, each draw keeps its
distribution, and a forecast's mean varies with the seed far less than independent draws would make it."""
import numpy as np
import pytest

from forecasting.models import random


@pytest.mark.parametrize("size", [6, 7, (6, 3), (7, 2, 2)])
def test_normals_come_in_mirrored_pairs_along_the_draws(size):
    z = random.standard_normal(random.stream(0, "test"), size)
    n = size if isinstance(size, int) else size[0]
    assert z.shape == ((size,) if isinstance(size, int) else size)
    np.testing.assert_array_equal(z[1::2], -z[0: 2 * (n // 2): 2])
    assert len(np.unique(np.round(np.abs(z[0::2]), 12))) == z[0::2].size  # the pairs are not repeats of each other


def test_uniforms_come_in_mirrored_pairs_and_stay_in_the_unit_interval():
    u = random.uniform(random.stream(3, "test"), (9, 4))
    np.testing.assert_allclose(u[1::2], 1.0 - u[0:8:2])
    assert u.shape == (9, 4) and ((u >= 0) & (u <= 1)).all()


def test_each_draw_keeps_its_distribution():
    z = random.standard_normal(random.stream(1, "test"), 200_000)
    assert abs(z.mean()) < 1e-12 and abs(z.std() - 1) < 0.01
    assert abs(np.mean(z[0::2] < -1.2816) - 0.1) < 0.004  # the 10th percentile of a normal
    u = random.uniform(random.stream(1, "test"), 200_000)
    assert abs(np.mean(u[0::2] < 0.25) - 0.25) < 0.005


def test_parameter_draws_have_the_covariance_asked_and_the_mean_exactly():
    mean, cov = np.array([1.0, -2.0]), np.array([[1.0, 0.6], [0.6, 2.0]])
    x = random.normal_draws(random.stream(2, "params"), mean, cov, 100_000)
    np.testing.assert_allclose(x.mean(axis=0), mean, atol=1e-12)
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.03)


@pytest.mark.parametrize("fixture", ["decay_weibull", "survival_pool"])
def test_a_forecasts_mean_moves_with_the_seed_less_than_independent_draws_would_move_it(fixture, request, demo,
                                                                                       pool_level):
    """Independent draws put the mean's sd over seeds at sd(draws) / sqrt(n); the pairs cancel its linear part."""
    model = request.getfixturevalue(fixture)
    data = demo if fixture == "decay_weibull" else pool_level
    n = 200
    forecasts = [model.predict(data, 60, n_draws=n, random_state=k) for k in range(6)]
    means = np.array([fc.expected_mean[:, -1] for fc in forecasts])
    independent = np.mean([fc.expected[:, :, -1].std(axis=0) for fc in forecasts], axis=0) / np.sqrt(n)
    spread = independent > 1e-4  # pools whose expected curve is uncertain at all
    ratio = means.std(axis=0, ddof=1)[spread] / independent[spread]
    assert spread.sum() >= 10 and np.median(ratio) < 0.5
