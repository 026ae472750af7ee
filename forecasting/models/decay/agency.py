"""The rating agency's view of each vintage, read from ``est_gross_recovery``: where a vintage's step is centred.

The report's stylised facts 1 and 2: the agencies' estimated gross recovery declines by issue year, and so does
realised recovery. The agency rates every pool before it pays anything, so its estimates carry news about a vintage
that the vintage's own collections show only later, and never for a vintage not yet seen. The agency's step into
vintage v is read off its estimates, net of the pool features and originators:

    logit est_d = x_d' g + sum_g b_g[level_g(d)] + e_d          (least squares on the training deals)

so the agency's step into a seen vintage is its coefficient b[v], and into a vintage not seen at fit the mean over
that vintage's pools of their residual against the last seen vintage. The decay model centres its vintage steps
there instead of at zero (``DecayCurveModel(agency_prior=True)``, docs/models.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import logit

from forecasting.data.problems import InputError, Problem
from forecasting.models.design import Design

COLUMN = "est_gross_recovery"
RIDGE = 1e-6  # only to pick one of the equivalent solutions when levels are collinear with the intercept


def agency_logit(deals: pd.DataFrame) -> np.ndarray:
    """logit of each deal's agency estimate; every deal must have one strictly between 0 and 1."""
    values = pd.to_numeric(deals[COLUMN], errors="coerce") if COLUMN in deals else pd.Series(np.nan, deals.index)
    bad = ~((values > 0) & (values < 1))
    if bad.any():
        names = ", ".join(deals.loc[bad, "deal_id"].astype(str).head(5))
        raise InputError(Problem("deals", None, COLUMN, f"agency_prior needs every pool's {COLUMN} strictly between 0 "
                                                        f"and 1; missing or out of range for {int(bad.sum())} "
                                                        f"pool(s): {names}"))
    return logit(values.to_numpy(dtype=float))


@dataclass
class AgencySteps:
    """The agency's estimates regressed on the model's design (fixed columns, then group-level columns)."""

    group: str  # the ordered group whose steps the agency informs (vintage)
    coef_: np.ndarray
    resid_var_: float  # variance of a pool's agency estimate around the regression: the noise in a new step

    @classmethod
    def fit(cls, design: Design, deals: pd.DataFrame) -> AgencySteps:
        ordered = [g for g in design.groups if g in design.ordered]
        if len(ordered) != 1:
            raise InputError(Problem("config", None, "agency_prior", f"agency_prior needs exactly one ordered group "
                                                                     f"(vintage) among the groups; got {ordered}"))
        X, y = np.hstack([design.fixed(deals), design.random(deals)[0]]), agency_logit(deals)
        coef = np.linalg.solve(X.T @ X + RIDGE * np.eye(X.shape[1]), X.T @ y)
        df = len(y) - np.linalg.matrix_rank(X)
        if df < 1:
            raise InputError(Problem("config", None, "agency_prior", f"{len(y)} pool(s) cannot estimate the "
                                                                     f"agency's view of {X.shape[1]} design columns; "
                                                                     f"use fewer covariates or groups, or more pools"))
        return cls(ordered[0], coef, float(np.sum((y - X @ coef) ** 2) / df))

    def _columns(self, design: Design) -> slice:
        start = sum(len(design.effect_levels(g)) for g in design.groups[: design.groups.index(self.group)])
        return slice(start, start + len(design.effect_levels(self.group)))

    def step_means(self, design: Design) -> np.ndarray:
        """Prior mean of every group-level effect: the agency's step into each level of the ordered group after its
        first (the first is the baseline the intercept carries), zero for all other effects."""
        means = np.zeros(len(design.random_names()))
        cols = self._columns(design)
        means[cols] = self.coef_[len(design.active_) + 1:][cols]
        return means

    def new_level_steps(self, design: Design, deals: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Per deal, the agency's step from the last seen level to the deal's unseen level and its variance (0 and 0
        for deals at seen levels): the mean, over the deals at that unseen level, of their residuals against the
        last seen level, whose variance is the residual variance over their number."""
        R, unseen = design.random(deals)
        new = unseen[:, design.groups.index(self.group)]
        steps, variances = np.zeros(len(deals)), np.zeros(len(deals))
        if new.any():
            resid = pd.Series(agency_logit(deals[new]) - np.hstack([design.fixed(deals), R])[new] @ self.coef_)
            by_level = resid.groupby(deals[self.group].astype(str).to_numpy()[new])
            steps[new] = by_level.transform("mean").to_numpy()
            variances[new] = self.resid_var_ / by_level.transform("size").to_numpy()
        return steps, variances
