"""Where each parameter of the decay model sits, stated once.

theta (the shared parameters) = [level: intercept and covariates | level: group effects |
                                 timing: intercept and covariates | timing: group effects | log shape |
                                 shape: the nesting group's effects on the log shape]
b (per deal) = (u_d, v_d): the deal's own level and timing effects.

Every group effect and deal effect has a variance component (an effect sd, estimated); the intercepts, covariate
coefficients and the log shape have none (fixed effects).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

DEAL = "deal"


@dataclass(frozen=True)
class Layout:
    """The positions (module docstring); the index arrays are computed once per layout (the fit reads them in every
    Newton step) and must not be written to."""

    n_fixed_cols: int  # intercept + covariates
    group_of_random: tuple[int, ...]  # for each group-level column, its group's position in ``groups``
    groups: tuple[str, ...]
    timing_effects: bool
    has_shape: bool
    nested: int | None = None  # the unordered group whose effects blocks.py eliminates level by level
    shape_effects: bool = False  # each level of the nesting group has its own effect on the log shape

    @staticmethod
    def nesting_group(groups: tuple[str, ...], ordered: tuple[str, ...], levels: dict) -> int | None:
        """The unordered group with the most levels (each deal has exactly one of them), or None."""
        unordered = [i for i, g in enumerate(groups) if g not in ordered and len(levels[g]) > 1]
        return max(unordered, key=lambda i: len(levels[groups[i]])) if unordered else None

    @cached_property
    def nested_index(self) -> np.ndarray | None:
        """(levels, 1 or 2): where the nesting group's level effects (and timing effects) sit in theta."""
        if self.nested is None:
            return None
        cols = np.flatnonzero(np.asarray(self.group_of_random) == self.nested)
        parts = [self.level_groups.start + cols]
        if self.timing_effects:
            parts.append(self.timing.start + self.n_fixed_cols + cols)
        if self.shape_effects:
            parts.append(np.arange(self.shape_groups.start, self.shape_groups.stop))
        return _read_only(np.stack(parts, axis=1))

    @property
    def nested_predictors(self) -> list[int]:
        """Which of a deal's predictors (0 eta_L, 1 eta_S, 2 log shape) each column of ``nested_index`` moves."""
        return [0] + ([1] if self.timing_effects else []) + ([2] if self.shape_effects else [])

    def log_shape(self, theta: np.ndarray, level: np.ndarray | None) -> np.ndarray:
        """Each deal's log shape: the common one plus its nesting level's effect (theta or draws of it; ``level``
        per deal, -1 for a level the effects do not cover, which gets 0 here)."""
        common = theta[..., self.shape] if self.has_shape else np.zeros(theta.shape[:-1])
        if not self.shape_effects or level is None:
            return common[..., None] if np.ndim(common) else common
        effects = theta[..., self.shape_groups]
        own = np.where(level >= 0, np.take(effects, np.maximum(level, 0), axis=-1), 0.0)
        return np.asarray(common)[..., None] + own

    @cached_property
    def dense_index(self) -> np.ndarray:
        """Every other parameter of theta."""
        nested = set() if self.nested is None else set(self.nested_index.ravel())
        return _read_only(np.array([i for i in range(self.size) if i not in nested], dtype=int))

    @property
    def n_random(self) -> int:
        return len(self.group_of_random)

    @property
    def level(self) -> slice:
        return slice(0, self.n_fixed_cols + self.n_random)

    @property
    def level_groups(self) -> slice:
        return slice(self.n_fixed_cols, self.n_fixed_cols + self.n_random)

    @property
    def timing(self) -> slice:
        start = self.level.stop
        return slice(start, start + self.n_fixed_cols + (self.n_random if self.timing_effects else 0))

    @property
    def shape(self) -> int | None:
        return self.timing.stop if self.has_shape else None

    @cached_property
    def n_nested(self) -> int:
        return 0 if self.nested is None else int(np.sum(np.asarray(self.group_of_random) == self.nested))

    @property
    def shape_groups(self) -> slice:
        start = self.timing.stop + int(self.has_shape)
        return slice(start, start + (self.n_nested if self.shape_effects else 0))

    @property
    def size(self) -> int:
        return self.shape_groups.stop

    @property
    def vc_names(self) -> list[str]:
        """The variance components, in order: level groups, level deal, timing groups, timing deal."""
        return ([f"level:{g}" for g in self.groups] + [f"level:{DEAL}"]
                + ([f"timing:{g}" for g in self.groups] if self.timing_effects else []) + [f"timing:{DEAL}"]
                + ([f"shape:{self.groups[self.nested]}"] if self.shape_effects else []))

    @property
    def deal_vc(self) -> tuple[int, int]:
        """Variance components of the deal effects (u, v)."""
        g = len(self.groups)
        return g, (2 * g + 1 if self.timing_effects else g + 1)

    @cached_property
    def theta_vc(self) -> np.ndarray:
        """Variance component of each shared parameter; -1 for fixed effects."""
        g = len(self.groups)
        rg = np.asarray(self.group_of_random, dtype=int)
        fixed = np.full(self.n_fixed_cols, -1)
        parts = [fixed, rg, fixed, (rg + g + 1) if self.timing_effects else np.empty(0, int)]
        if self.has_shape:
            parts.append(np.array([-1]))
        if self.shape_effects:
            parts.append(np.full(self.n_nested, len(self.vc_names) - 1))
        return _read_only(np.concatenate(parts).astype(int))

    @property
    def n_fixed(self) -> int:
        """Parameters without a variance component: intercepts, covariate coefficients, the log shape."""
        return int(np.sum(self.theta_vc < 0))

    def split(self, theta: np.ndarray):
        """(level coefficients, timing coefficients, log shape) of theta (or of draws, theta on the last axis)."""
        log_k = theta[..., self.shape] if self.has_shape else np.zeros(theta.shape[:-1])
        return theta[..., self.level], theta[..., self.timing], log_k


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array
