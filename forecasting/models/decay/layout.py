"""Where each parameter of the decay model sits, stated once.

theta (the shared parameters) = [level: intercept and covariates | level: group effects |
                                 timing: intercept and covariates | timing: group effects | log shape]
b (per deal) = (u_d, v_d): the deal's own level and timing effects.

Every group effect and deal effect has a variance component (an effect sd, estimated); the intercepts, covariate
coefficients and the log shape have none (fixed effects).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEAL = "deal"


@dataclass(frozen=True)
class Layout:
    n_fixed_cols: int  # intercept + covariates
    group_of_random: tuple[int, ...]  # for each group-level column, its group's position in ``groups``
    groups: tuple[str, ...]
    timing_effects: bool
    has_shape: bool

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

    @property
    def size(self) -> int:
        return self.timing.stop + int(self.has_shape)

    @property
    def vc_names(self) -> list[str]:
        """The variance components, in order: level groups, level deal, timing groups, timing deal."""
        return ([f"level:{g}" for g in self.groups] + [f"level:{DEAL}"]
                + ([f"timing:{g}" for g in self.groups] if self.timing_effects else []) + [f"timing:{DEAL}"])

    @property
    def deal_vc(self) -> tuple[int, int]:
        """Variance components of the deal effects (u, v)."""
        g = len(self.groups)
        return g, (2 * g + 1 if self.timing_effects else g + 1)

    @property
    def theta_vc(self) -> np.ndarray:
        """Variance component of each shared parameter; -1 for fixed effects."""
        g = len(self.groups)
        rg = np.asarray(self.group_of_random, dtype=int)
        fixed = np.full(self.n_fixed_cols, -1)
        parts = [fixed, rg, fixed, (rg + g + 1) if self.timing_effects else np.empty(0, int)]
        if self.has_shape:
            parts.append(np.array([-1]))
        return np.concatenate(parts).astype(int)

    @property
    def n_fixed(self) -> int:
        """Parameters without a variance component: intercepts, covariate coefficients, the log shape."""
        return int(np.sum(self.theta_vc < 0))

    def split(self, theta: np.ndarray):
        """(level coefficients, timing coefficients, log shape) of theta (or of draws, theta on the last axis)."""
        log_k = theta[..., self.shape] if self.has_shape else np.zeros(theta.shape[:-1])
        return theta[..., self.level], theta[..., self.timing], log_k
