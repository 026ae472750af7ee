"""Random numbers by purpose: parameter draws, a group level's unseen effect, a deal's own effects and noise.

Each purpose has its own stream, seeded by (random_state, purpose, key). Draw k of the parameters is then the same
for every deal whatever else is forecast with it, so forecasts can be made in chunks of deals (identical to one
call), a deal's forecast never moves because another deal was added, and sums over deals of draw k are honest
draws of the sum.

Normal and uniform numbers come in antithetic pairs along the draws: draw 2j + 1 takes -z (or 1 - u) wherever draw
2j takes z (u), in every stream, so the pair mirrors all of a forecast's random numbers at once. Each draw keeps its
distribution; a mean over draws cancels the part of the Monte Carlo error that is linear in the random numbers,
which for a pool's expected curve is most of it (on the demo a pool's mean expected cum_rate moves over seeds about
a tenth as much as with independent draws: tests/models/test_random.py). The gamma process noise of realized cash
is drawn independently.
"""
from __future__ import annotations

import zlib

import numpy as np


def stream(random_state: int, purpose: str, *key) -> np.random.Generator:
    words = [zlib.crc32(str(part).encode("utf-8")) for part in (purpose, *key)]
    return np.random.default_rng([int(random_state) & 0xFFFFFFFF, *words])


def per_deal(random_state: int, purpose: str, deal_ids, draw) -> np.ndarray:
    """``draw(rng)`` for each deal from its own stream, stacked on axis 1: (draws, deals, ...)."""
    parts = [draw(stream(random_state, purpose, deal)) for deal in deal_ids]
    return np.stack(parts, axis=1) if parts else np.empty((0, 0))


def _paired(draw, mirror, size) -> np.ndarray:
    """Shape ``size``: rows 2j from ``draw`` (half the rows, rounded up), row 2j + 1 ``mirror`` of row 2j."""
    shape = (int(size),) if np.ndim(size) == 0 else tuple(int(n) for n in size)
    half = draw(((shape[0] + 1) // 2, *shape[1:]))
    return np.stack([half, mirror(half)], axis=1).reshape(-1, *shape[1:])[: shape[0]]


def standard_normal(rng: np.random.Generator, size) -> np.ndarray:
    """Standard normals of shape ``size`` in antithetic pairs along axis 0 (row 2j + 1 is minus row 2j)."""
    return _paired(rng.standard_normal, np.negative, size)


def uniform(rng: np.random.Generator, size) -> np.ndarray:
    """Uniforms on [0, 1) of shape ``size`` in antithetic pairs along axis 0 (row 2j + 1 is 1 minus row 2j)."""
    return _paired(rng.random, lambda half: 1.0 - half, size)


def covariance_root(cov: np.ndarray) -> np.ndarray:
    """R with R R' = cov, so z @ R.T has covariance cov for standard normal rows z; cov symmetric positive
    semi-definite (eigenvalues below zero from rounding are 0)."""
    values, vectors = np.linalg.eigh((cov + cov.T) / 2)
    return vectors * np.sqrt(np.clip(values, 0.0, None))


def normal_draws(rng: np.random.Generator, mean: np.ndarray, cov: np.ndarray, n: int) -> np.ndarray:
    """n draws of N(mean, cov), in antithetic pairs around the mean (``covariance_root``)."""
    if len(mean) == 0:
        return np.zeros((n, 0))
    return mean + standard_normal(rng, (n, len(mean))) @ covariance_root(cov).T


def new_levels(random_state: int, deals, groups, unseen: np.ndarray):
    """Each group level not seen at fit, as (the group's position in ``groups``, which ``deals`` are at the level,
    the level's own stream): one stream per level, so its pools share its draws and a forecast of some of them
    draws what a forecast of all would. ``unseen``: (deals, groups), from ``Design.random``."""
    for g, group in enumerate(groups):
        values = deals[group].astype(str).to_numpy()
        for level in np.unique(values[unseen[:, g]]):
            yield g, values == level, stream(random_state, "new-level", group, level)
