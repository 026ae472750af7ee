"""Pool features and group levels as design matrices, learned at fit and re-applied at predict."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.data.problems import InputError, Problem


def covariate_values(deals: pd.DataFrame, name: str) -> np.ndarray:
    """A covariate by name: a numeric deals column, or ``log_<column>`` for its logarithm."""
    column = name[4:] if name.startswith("log_") and name not in deals else name
    if column not in deals:
        raise InputError(Problem("config", None, "covariates", f"covariate {name!r} is not in the deals table "
                                                                f"(columns: {', '.join(map(str, deals.columns))})"))
    values = pd.to_numeric(deals[column], errors="coerce").to_numpy(dtype=float)
    if column != name:
        values = np.log(np.where(values > 0, values, np.nan))
    if not np.isfinite(values).all():
        raise InputError(Problem("deals", None, column, f"covariate {name!r} has missing or invalid values"))
    return values


def level_indicators(values: np.ndarray, levels: list[str], ordered: bool) -> np.ndarray:
    """Indicators of group levels: (deals, levels) unordered, (deals, levels - 1) ordered.

    Unordered: one-hot, so each level has its own effect. Ordered (levels sorted, e.g. issue years): column j is
    1 when the deal's level is at or after level j + 1, so an effect is the step from the previous level and a
    level's total effect is a random walk from the first level, which is the baseline the intercept carries (a
    column for it would be the intercept's, identified by its prior alone); a level after the last one seen (a new
    vintage) starts from the last one.
    """
    levels = np.asarray(levels)
    if not ordered:
        return (values[:, None] == levels[None, :]).astype(float)
    return (_order_key(values)[:, None] >= _order_key(levels[1:])[None, :]).astype(float)


def group_levels(values: pd.Series, ordered: bool) -> list[str]:
    """The distinct levels of a group column as strings: in their natural order (years as numbers) when ordered."""
    distinct = values.astype(str).unique()
    return [distinct[i] for i in np.argsort(_order_key(distinct), kind="stable")] if ordered else sorted(distinct)


def _order_key(values: np.ndarray) -> np.ndarray:
    numeric = pd.to_numeric(pd.Series(values), errors="coerce")
    return numeric.to_numpy(float) if numeric.notna().all() else pd.Series(values).astype(str).to_numpy()


@dataclass
class Design:
    """Standardised covariates plus indicators of group levels (random effects); see ``level_indicators``.

    A covariate that does not vary across the fit's deals cannot be told from the intercept: it is left out
    (``dropped_`` says which and why) and the estimator warns."""

    covariates: tuple[str, ...]
    groups: tuple[str, ...]
    ordered: tuple[str, ...] = ()
    center_: np.ndarray = field(default=None)
    scale_: np.ndarray = field(default=None)
    levels_: dict[str, list] = field(default_factory=dict)
    active_: list[str] = field(default_factory=list)
    dropped_: list[str] = field(default_factory=list)

    def fit(self, deals: pd.DataFrame) -> Design:
        x = self._raw(deals, list(self.covariates))
        sd = x.std(axis=0) if len(x) > 1 else np.zeros(x.shape[1])
        spread = sd > 1e-12 * np.maximum(np.abs(x).max(axis=0, initial=0.0), 1.0)
        self.active_ = [c for c, keep in zip(self.covariates, spread) if keep]
        self.dropped_ = [c for c, keep in zip(self.covariates, spread) if not keep]
        self.center_ = x[:, spread].mean(axis=0) if len(x) else np.zeros(len(self.active_))
        self.scale_ = sd[spread]
        for g in self.groups:
            if g not in deals:
                raise InputError(Problem("config", None, "groups", f"group {g!r} is not a deals column"))
            self.levels_[g] = group_levels(deals[g], g in self.ordered)
        return self

    def dropped_reason(self, n_deals: int) -> str:
        names = ", ".join(map(repr, self.dropped_))
        if len(self.dropped_) == 1:
            return f"covariate {names} does not vary across the {n_deals} deal(s); fitted without it"
        return f"covariates {names} do not vary across the {n_deals} deal(s); fitted without them"

    @staticmethod
    def _raw(deals: pd.DataFrame, names: list[str]) -> np.ndarray:
        return np.column_stack([covariate_values(deals, c) for c in names]) if names else np.zeros((len(deals), 0))

    def standardised(self, deals: pd.DataFrame) -> np.ndarray:
        """The active covariates, centred and scaled by their fit-time mean and sd: (deals, active covariates)."""
        return (self._raw(deals, self.active_) - self.center_) / self.scale_

    def fixed(self, deals: pd.DataFrame) -> np.ndarray:
        """Intercept and standardised covariates, (deals, 1 + active covariates)."""
        return np.column_stack([np.ones(len(deals)), self.standardised(deals)])

    def random(self, deals: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Indicators of known levels (deals, levels), and per deal and group whether its level was unseen at fit."""
        blocks, unseen = [], []
        for g in self.groups:
            values = deals[g].astype(str).to_numpy()
            blocks.append(level_indicators(values, self.levels_[g], g in self.ordered))
            unseen.append(~np.isin(values, self.levels_[g]))
        one_hot = np.hstack(blocks) if blocks else np.zeros((len(deals), 0))
        return one_hot, np.column_stack(unseen) if unseen else np.zeros((len(deals), 0), bool)

    def effect_levels(self, group: str) -> list[str]:
        """The levels of ``group`` that have an effect (a column): all of an unordered group's, an ordered group's
        after its first (level_indicators)."""
        return self.levels_[group][1:] if group in self.ordered else self.levels_[group]

    def random_names(self) -> list[tuple[str, str]]:
        return [(g, level) for g in self.groups for level in self.effect_levels(g)]

    def group_of_random(self) -> np.ndarray:
        return np.array([i for i, g in enumerate(self.groups) for _ in self.effect_levels(g)], dtype=int)

    def to_original_units(self) -> np.ndarray:
        """Matrix taking (intercept, standardised coefficients) to (intercept, coefficients per unit of each
        covariate)."""
        k = len(self.active_)
        A = np.eye(1 + k)
        A[1:, 1:] = np.diag(1.0 / self.scale_)
        A[0, 1:] = -self.center_ / self.scale_
        return A
