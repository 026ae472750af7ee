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
    """(deals, levels) indicators of group levels.

    Unordered: one-hot, so each level has its own effect. Ordered (levels sorted, e.g. issue years): column j is
    1 when the deal's level is at or after level j, so an effect is the step from the previous level and a level's
    total effect is a random walk; a level after the last one seen (a new vintage) starts from the last one.
    """
    levels = np.asarray(levels)
    if not ordered:
        return (values[:, None] == levels[None, :]).astype(float)
    return (_order_key(values)[:, None] >= _order_key(levels)[None, :]).astype(float)


def group_levels(values: pd.Series, ordered: bool) -> list[str]:
    """The distinct levels of a group column as strings: in their natural order (years as numbers) when ordered."""
    distinct = values.astype(str).unique()
    return [distinct[i] for i in np.argsort(_order_key(distinct), kind="stable")] if ordered else sorted(distinct)


def _order_key(values: np.ndarray) -> np.ndarray:
    numeric = pd.to_numeric(pd.Series(values), errors="coerce")
    return numeric.to_numpy(float) if numeric.notna().all() else pd.Series(values).astype(str).to_numpy()


@dataclass
class Design:
    """Standardised covariates plus indicators of group levels (random effects); see ``level_indicators``."""

    covariates: list[str]
    groups: list[str]
    ordered: list[str] = field(default_factory=list)
    center_: np.ndarray = field(default=None)
    scale_: np.ndarray = field(default=None)
    levels_: dict[str, list] = field(default_factory=dict)

    def fit(self, deals: pd.DataFrame) -> "Design":
        x = self._raw(deals)
        self.center_ = x.mean(axis=0) if len(x) else np.zeros(len(self.covariates))
        sd = x.std(axis=0) if len(x) else np.ones(len(self.covariates))
        self.scale_ = np.where(sd > 0, sd, 1.0)
        for g in self.groups:
            if g not in deals:
                raise InputError(Problem("config", None, "groups", f"group {g!r} is not a deals column"))
            self.levels_[g] = group_levels(deals[g], g in self.ordered)
        return self

    def _raw(self, deals: pd.DataFrame) -> np.ndarray:
        return np.column_stack([covariate_values(deals, c) for c in self.covariates]) if self.covariates \
            else np.zeros((len(deals), 0))

    def fixed(self, deals: pd.DataFrame) -> np.ndarray:
        """Intercept and standardised covariates, (deals, 1 + covariates)."""
        return np.column_stack([np.ones(len(deals)), (self._raw(deals) - self.center_) / self.scale_])

    def random(self, deals: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Indicators of known levels (deals, levels), and per deal and group whether its level was unseen at fit."""
        blocks, unseen = [], []
        for g in self.groups:
            values = deals[g].astype(str).to_numpy()
            blocks.append(level_indicators(values, self.levels_[g], g in self.ordered))
            unseen.append(~np.isin(values, self.levels_[g]))
        one_hot = np.hstack(blocks) if blocks else np.zeros((len(deals), 0))
        return one_hot, np.column_stack(unseen) if unseen else np.zeros((len(deals), 0), bool)

    def random_names(self) -> list[tuple[str, str]]:
        return [(g, level) for g in self.groups for level in self.levels_[g]]

    def group_of_random(self) -> np.ndarray:
        return np.array([i for i, g in enumerate(self.groups) for _ in self.levels_[g]], dtype=int)
