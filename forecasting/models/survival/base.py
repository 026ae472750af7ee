"""What the loan-level and pool-level survival models share: features, the mixture fit, frailties, summaries.

Both fit the Weibull mixture model of fitter.py, each unit's first payment the event:

    S(t | x) = pi(x) + (1 - pi(x)) exp(-(t / lam(z)) ^ rho)      logit pi = x' gamma + u_d,  log lam = z' beta + v_d

pi is the share that never pays (``never_pay_share``). x = the covariates and one indicator per group level (ordered
groups as steps from the previous level, as in the decay model), each level with a N(0, group_sd^2) prior (a ridge
penalty): shrunk toward the intercept by a fixed prior. z = the covariates and the unordered group levels
(originator: servicers collect at their own speed), each group's levels shrunk by an sd learnt from them: the model
is fitted under the fixed prior, the levels' spread beyond their cluster-robust noise read by a random-effects
meta-analysis, and the model refitted under that prior (``timing_level_ridge``). Learnt, because the fixed prior
hardly shrinks a speed that a few pools measure in thousands of units: a new originator's one young pool moved its
speed too far (docs/models.md). u_d and v_d are the deal's frailties (frailty.py).
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy.special import expit

from forecasting.data.dataset import Dataset
from forecasting.models import random
from forecasting.models.base import Diagnostics, EstimatorTags, FitError, RecoveryEstimator
from forecasting.models.design import Design
from forecasting.models.options import Columns, Name, PositiveFloat
from forecasting.models.shrinkage import random_effects
from forecasting.models.summary import estimate_rows, value_rows
from forecasting.models.survival.cells import DEAL
from forecasting.models.survival.covariance import sum_by
from forecasting.models.survival.fitter import MixtureFit, fit_mixture
from forecasting.models.survival.frailty import MIN_PERIODS, Evidence, FrailtyDraws, frailty_posterior, frailty_sds

LEVEL_SD_FLOOR = 0.01  # levels whose speeds (log scale) or never-pay shares (logit) differ by less are held at one


class MixtureSurvival(RecoveryEstimator):
    """Base of SurvivalLoanModel and SurvivalPoolModel (module docstring)."""

    _tags = EstimatorTags(gives_expected_curve=True, gives_never_pay_share=True)
    level: ClassVar[str] = ""

    def __init__(self, name: Name = "survival",
                 covariates: Columns = ("log_avg_balance", "wa_delinquency_months"),
                 groups: Columns = ("originator", "vintage"), ordered_groups: Columns = ("vintage",),
                 group_sd: PositiveFloat = 1.0, calendar_effects: bool = False):
        self.name = name
        self.covariates = covariates
        self.groups = groups
        self.ordered_groups = ordered_groups
        self.group_sd = group_sd
        self.calendar_effects = calendar_effects

    @classmethod
    def check_options(cls, options) -> list[tuple[str, str]]:
        unknown = [g for g in options.ordered_groups if g not in options.groups]
        return [("ordered_groups", f"{', '.join(map(repr, unknown))} not in the model's groups")] if unknown else []

    # ------------------------------------------------------------------------------------------- features
    def _row_covariates(self) -> tuple[str, ...]:
        return tuple(self.covariates)

    def _timing_columns(self) -> np.ndarray:
        """Which group-level columns enter the timing: the unordered groups'."""
        return np.array([g not in self.ordered_groups for g, _ in self.design_.random_names()], dtype=bool)

    def _designs(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(X_scale, X_never) of rows that carry the covariates and group columns."""
        F = self.design_.fixed(frame)
        R = self.design_.random(frame)[0]
        return np.hstack([F, R[:, self.timing_mask_]]), np.hstack([F, R])

    def _split(self, draws: np.ndarray) -> dict[str, np.ndarray]:
        """Parameter vectors (draws, coefficients) by block: log scale, log shape, logit never-pay share."""
        a = 1 + len(self.design_.active_) + int(self.timing_mask_.sum())
        return {"scale": draws[:, :a], "shape": draws[:, a:a + 1], "never_pay": draws[:, a + 1:]}

    # ------------------------------------------------------------------------------------------------ fit
    def _fit_rows(self, rows: pd.DataFrame, evidence: Callable[[], Evidence], counts: dict) -> Diagnostics:
        """Fit on ``rows`` (the covariates, group columns, duration, event, weight and the deal, DEAL); then the
        frailty sds from ``evidence()``, what each training deal's periods say about its frailties."""
        if not (rows["event"] > 0).any():
            raise FitError("no first payments to fit on: no unit of any pool has paid")
        self.design_ = Design(self._row_covariates(), tuple(self.groups), tuple(self.ordered_groups)).fit(rows)
        self.timing_mask_ = self._timing_columns()
        notes = [f"{self.name}: {self.design_.dropped_reason(counts['deals'])}"] if self.design_.dropped_ else []
        X_scale, X_never = self._designs(rows)
        ridge = 0.5 / self.group_sd**2
        q = 1 + len(self.design_.active_)
        ridge_never = np.r_[np.zeros(q), np.full(X_never.shape[1] - q, ridge)]
        ridge_scale = np.r_[np.zeros(q), np.full(X_scale.shape[1] - q, ridge)]

        def fit_with(ridge_scale: np.ndarray, start: np.ndarray | None = None) -> MixtureFit:
            return fit_mixture(X_scale, X_never, rows["duration"], rows["event"], rows["weight"],
                               rows[DEAL].to_numpy(), ridge_scale, ridge_never, start=start)

        fit = fit_with(ridge_scale)
        level_groups = np.array([g for g, _ in self.design_.random_names()])  # X_never's level columns
        pools = seasoned_pools(rows, X_never[:, q:])  # the timing's level columns are those under timing_mask_
        self.timing_sds_ = {}
        if self.timing_mask_.any():
            self.timing_sds_, ridge_scale[q:] = timing_level_ridge(fit, q, level_groups[self.timing_mask_],
                                                                   pools[self.timing_mask_], ridge_scale[q:])
            fit = fit_with(ridge_scale, start=fit.params)
        self.never_pay_sds_ = never_pay_level_sds(fit, X_scale.shape[1] + 1 + q, level_groups, pools,
                                                  self.ordered_groups)
        self.fit_ = fit
        if not fit.converged:
            notes.append(f"{self.name}: the optimiser stopped before full convergence ({fit.message})")
        if fit.cov_type != "cluster-robust":
            notes.append(f"{self.name}: {fit.n_clusters} deals for {fit.n_free} unpenalised parameters, too few for "
                         f"cluster-robust standard errors; the model-based ones, which take a deal's loans as "
                         f"independent, are too narrow")
        self.frailty_sd_, self.timing_frailty_sd_ = frailty_sds(fit.params, evidence())
        return Diagnostics(fit.converged, None, tuple(notes), {**counts, "cells": len(rows)}, fit.message)

    # -------------------------------------------------------------------------------------------- predict
    def _param_draws(self, n: int, seed: int) -> dict[str, np.ndarray]:
        return self._split(random.normal_draws(random.stream(seed, "params"), self.fit_.params, self.fit_.cov, n))

    def _new_levels(self, deals: pd.DataFrame, n_draws: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Per draw and deal (never-pay logit, log scale): the unknown effects of group levels not seen at fit, one
        draw per level shared by its deals, from the sds the fit learnt (``never_pay_sds_``, ``timing_sds_``; none
        where the group had too few seasoned levels to learn one). An ordered group's new level is one step on from
        the last level seen."""
        never, scale = np.zeros((n_draws, len(deals))), np.zeros((n_draws, len(deals)))
        for g, at, rng in random.new_levels(seed, deals, self.groups, self.design_.random(deals)[1]):
            z = random.standard_normal(rng, (n_draws, 2))
            never[:, at] += self.never_pay_sds_.get(self.groups[g], 0.0) * z[:, :1]
            scale[:, at] += self.timing_sds_.get(self.groups[g], 0.0) * z[:, 1:]
        return never, scale

    def _frailty_draws(self, evidence: Evidence, params: dict[str, np.ndarray], deal_ids, seed: int) -> FrailtyDraws:
        """Each deal's frailties (u, v) per draw, from its posterior given its first t0 periods; ``.anchored(
        self._shift(evidence, params))`` moves them against each parameter draw (frailty.FrailtyDraws), so a deal
        whose evidence pins its level keeps it whatever the draw."""
        n = len(params["shape"])
        uniforms = random.per_deal(seed, "frailty", deal_ids, lambda rng: random.uniform(rng, (n, 3)))
        return frailty_posterior(self.fit_.params, evidence, self.frailty_sd_, self.timing_frailty_sd_, uniforms)

    def _shift(self, evidence: Evidence, params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """How far each parameter draw moves each deal's mean linear predictors (never-pay, timing) from the fit's,
        (draws, deals) each: the mean over the deal's cells, weighted by their units."""
        hat = self._split(self.fit_.params[None, :])
        units = np.maximum(sum_by(evidence.deal, evidence.count[:, None], evidence.n_deals), 1e-300)
        mean_design = lambda X: sum_by(evidence.deal, evidence.count[:, None] * X, evidence.n_deals) / units  # noqa: E731
        return ((params["never_pay"] - hat["never_pay"]) @ mean_design(evidence.X_never).T,
                (params["scale"] - hat["scale"]) @ mean_design(evidence.X_scale).T)

    # --------------------------------------------------------------------------------------------- report
    def never_pay_share(self, dataset: Dataset) -> pd.Series:  # pragma: no cover - abstract
        """Estimated share of each deal's principal that never pays (the fitted pi, frailty at its prior mean)."""
        raise NotImplementedError

    def _never_pay(self, frame: pd.DataFrame) -> np.ndarray:
        return expit(self._designs(frame)[1] @ self._split(self.fit_.params[None])["never_pay"][0])

    def _summary_rows(self, alpha: float) -> pd.DataFrame:
        """scale: log Weibull scale of time to first payment; shape: log Weibull shape; never_pay: logit of the
        never-pay share; coefficients in the covariates' own units, standard errors cluster-robust by deal;
        frailty_sd: the sds of the deals' own effects on never_pay and scale (method of moments, no standard
        error); timing_sd: per group whose levels enter the scale, the sd they are shrunk with (timing_level_ridge);
        never_pay_sd: per group, the sd of its levels' never-pay logits, what a level not seen at fit is drawn from."""
        d = self.design_
        q = 1 + len(d.active_)
        A_scale = np.eye(len(self.fit_.params))
        names = ["intercept"] + d.active_
        rand = [f"{g}={level}" for g, level in d.random_names()]
        scale_terms = names + [r for r, keep in zip(rand, self.timing_mask_) if keep]
        start_never = len(scale_terms) + 1
        for start in (0, start_never):
            A_scale[start:start + q, start:start + q] = d.to_original_units()
        coef, se = A_scale @ self.fit_.params, np.sqrt(np.diag(A_scale @ self.fit_.cov @ A_scale.T))
        blocks = ["scale"] * len(scale_terms) + ["shape"] + ["never_pay"] * (q + len(rand))
        terms = scale_terms + ["log_shape"] + names + rand
        rows = [estimate_rows(blocks, terms, coef, se, alpha),
                value_rows("frailty_sd", ["never_pay (deal)", "scale (deal)"],
                           [self.frailty_sd_, self.timing_frailty_sd_]),
                value_rows("timing_sd", list(self.timing_sds_), list(self.timing_sds_.values())),
                value_rows("never_pay_sd", list(self.never_pay_sds_), list(self.never_pay_sds_.values()))]
        return pd.concat(rows, ignore_index=True)

    def check_state(self) -> None:
        super().check_state()
        p = len(self.fit_.params)
        a = 1 + len(self.design_.active_) + int(np.sum(self.timing_mask_))
        if self.fit_.cov.shape != (p, p) or p != a + 2 + len(self.design_.active_) + len(self.design_.random_names()):
            raise ValueError("parameter arrays do not match the model's design")
        if not (self.frailty_sd_ > 0 and self.timing_frailty_sd_ > 0):
            raise ValueError("frailty sds must be positive")
        if not all(sd >= LEVEL_SD_FLOOR for sds in (self.timing_sds_, self.never_pay_sds_) for sd in sds.values()):
            raise ValueError("group level sds must be at least their floor")


def level_spread(fit: MixtureFit, index: np.ndarray, pools: np.ndarray, centred: bool
                 ) -> tuple[float, np.ndarray, np.ndarray] | None:
    """The sd of one group's levels (columns ``index`` of ``fit``) beyond their noise, each level's design effect
    (cluster-robust over model-based variance) and which levels informed the sd: those with two or more of their
    ``pools`` (per level: pools seen MIN_PERIODS periods or more). None when fewer than two levels do.

    The levels as the fit estimates them, centred for an unordered group (an originator's speed against the others';
    the intercept takes their mean), as they are for an ordered one (a vintage's step from the one before, whose
    prior mean is no step), with the cluster-robust variances of those contrasts (V_k: a level is known by its pools,
    not its borrowers; times G_k / (G_k - 1) for its G_k pools), are a random-effects meta-analysis
    (shrinkage.random_effects): sigma^2 maximises the marginal likelihood of theta_k ~ N(mu, sigma^2 + V_k), mu = 0
    for steps. A level with one such pool cannot show how its pools vary (its cluster-robust variance is 0: the
    pool's score is the level's, nil at the optimum), so it does not inform sigma."""
    G = pools.astype(float)
    seen = G >= 2
    if seen.sum() < 2:
        return None
    centre = np.eye(len(index)) - (1.0 / len(index) if centred else 0.0)
    robust, model = (np.diag(centre @ cov[np.ix_(index, index)] @ centre) for cov in (fit.cov, fit.model_cov))
    robust = robust * np.where(seen, G / np.maximum(G - 1.0, 1.0), 1.0)
    theta = centre @ fit.params[index]
    sigma2 = random_effects(theta[seen], robust[seen], None if centred else 0.0)[1]
    design_effect = np.maximum(robust / model, 1.0)
    design_effect[~seen] = np.median(design_effect[seen])  # its own is no estimate: the others' typical one
    return max(float(np.sqrt(sigma2)), LEVEL_SD_FLOOR), design_effect, seen


def timing_level_ridge(fit: MixtureFit, start: int, groups: np.ndarray, pools: np.ndarray, ridge: np.ndarray
                       ) -> tuple[dict[str, float], np.ndarray]:
    """Each timing group's sd over its levels' log scales (``level_spread``), and the ridge that puts that prior on
    the levels (the columns of ``fit``'s scale block from ``start``; ``groups``: each column's group; ``pools``: each
    level's pools seen MIN_PERIODS periods or more; ``ridge``: the first fit's, kept for a group with fewer than two
    such levels). The penalty that shrinks theta_k by sigma^2 / (sigma^2 + V_k) in a likelihood counting every unit
    as independent (contrast variance M_k) is (V_k / M_k) theta_k^2 / (2 sigma^2): the prior in that likelihood's
    units. A level that did not inform sigma is held near the intercept, the common speed (prior sd LEVEL_SD_FLOOR,
    with the others' median design effect)."""
    sds, ridge = {}, ridge.copy()
    for group, mine, (sd, design_effect, seen) in group_spreads(fit, start, groups, pools):
        sds[group] = sd
        ridge[mine] = 0.5 * design_effect / np.where(seen, sd, LEVEL_SD_FLOOR) ** 2
    return sds, ridge


def never_pay_level_sds(fit: MixtureFit, start: int, groups: np.ndarray, pools: np.ndarray, ordered
                        ) -> dict[str, float]:
    """Each group's sd over its levels' logits of the never-pay share (``group_spreads``; ``ordered``: the groups
    whose columns are steps): what a level not seen at fit is drawn from."""
    return {group: spread[0] for group, _, spread in group_spreads(fit, start, groups, pools, ordered)}


def group_spreads(fit: MixtureFit, start: int, groups: np.ndarray, pools: np.ndarray, ordered=()):
    """Per group with a ``level_spread``: (group, its columns' mask, the spread). The columns of ``fit`` from
    ``start``; ``groups``: each column's group; ``pools``: each level's pools seen MIN_PERIODS periods or more;
    ``ordered``: the groups whose columns are steps (not centred)."""
    cols = start + np.arange(len(groups))
    for group in dict.fromkeys(groups):
        mine = groups == group
        spread = level_spread(fit, cols[mine], pools[mine], centred=group not in ordered)
        if spread is not None:
            yield str(group), mine, spread


def seasoned_pools(rows: pd.DataFrame, levels: np.ndarray) -> np.ndarray:
    """Per level column, its pools seen MIN_PERIODS periods or more (a pool's rows share its levels; a unit's
    duration is at most the pool's last observed period, which a still unpaid unit reaches)."""
    seen = rows.groupby(DEAL)["duration"].transform("max").to_numpy() >= MIN_PERIODS
    first = ~rows[DEAL].duplicated().to_numpy()
    return ((levels[first & seen] != 0).sum(axis=0)).astype(int)


def warn_quietly(message: str) -> None:
    warnings.warn(message, RuntimeWarning, stacklevel=3)
