"""Decay-curve model: pool-level per-period recovery rates falling with pool age, with partial pooling.

For deal d and period t (docs/models.md has the full statement):

    E[rate_dt] = m_dt = L_d * (G(t; lam_d, k) - G(t - 1; lam_d, k))
    logit L_d  = x_d' beta_L + sum_g a_g[level_g(d)] + u_d        (level = eventual gross recovery)
    log lam_d  = x_d' beta_S + sum_g c_g[level_g(d)] + v_d        (timing: the curve's scale in periods)
    a_g ~ N(0, tau_a_g^2), c_g ~ N(0, tau_c_g^2), u_d ~ N(0, tau_u^2), v_d ~ N(0, tau_v^2)
    an ordered group (vintage by default): effects are a random walk over its levels, so a new vintage starts from
    the last one seen; with agency_prior the steps are centred on the agency's (agency.py)
    Var(rate_dt) = phi * c * m_dt / n_borrowers_d     (overdispersed Poisson; c from the loan tape, dispersion.py)

Estimation (estimation.py) is linear in the number of pools (blocks.py). Forecasts integrate over parameter
uncertainty, the unknown effects of new group levels and the deal's own effects (their posterior given its
collections, posterior.py), and add process noise (models/paths.py): a compound Poisson whose payment shape is
learnt from how many fitted cells collected nothing (``payment_shape_``).
"""
from __future__ import annotations

from copy import copy
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from forecasting.data.dataset import Dataset
from forecasting.models import curves, random, spread
from forecasting.models.base import Diagnostics, EstimatorTags, FitError, RecoveryEstimator
from forecasting.models.calendar import CalendarReport, calendar_effects, cell_keys, money, with_future_risk
from forecasting.models.curve_forecast import CurveForecast
from forecasting.models.decay.age import SPAN, AgeEffects, level_keys
from forecasting.models.decay.agency import AgencySteps
from forecasting.models.decay.cells import fit_cells
from forecasting.models.decay.dispersion import cum_dispersion
from forecasting.models.decay.estimation import SD_FLOOR, VarianceEstimation
from forecasting.models.decay.layout import DEAL, Layout
from forecasting.models.decay.likelihood import Cells, QuasiLikelihood
from forecasting.models.decay.posterior import deal_posterior
from forecasting.models.design import Design
from forecasting.models.fit_checks import check_recovered
from forecasting.models.options import Columns, Curve, Holdout, Name, PositiveInt
from forecasting.models.paths import fit_payment_shape, observed_rates, realized_paths
from forecasting.models.registry import register
from forecasting.models.shrinkage import BACKFIT_ROUNDS, settled
from forecasting.models.summary import estimate_rows, value_rows

START_TAU2 = 0.1
OVERDISPERSED = 10.0  # a pool whose dispersion factor exceeds this is named in the fit's warnings
CHUNK_CELLS = 4_000_000  # draws x deals x periods handled at once in predict


@register("decay_curve")
class DecayCurveModel(CalendarReport, spread.LearntSpread, RecoveryEstimator):
    """Pool-level decay-curve model with empirical-Bayes group and deal effects (module docstring)."""

    def __init__(self, name: Name = "decay", curve: Curve = "weibull",
                 covariates: Columns = ("log_avg_balance", "wa_delinquency_months"),
                 groups: Columns = ("originator", "vintage"), ordered_groups: Columns = ("vintage",),
                 agency_prior: bool = False, timing_effects: bool = True, shape_effects: bool = True,
                 calendar_effects: bool = False, calendar_by: str | None = None, age_effects: bool = False,
                 age_by: str | None = None, max_iter: PositiveInt = 500, tol: float = 1e-4,
                 spread_holdout: Holdout = None):
        self.name = name
        self.curve = curve
        self.covariates = covariates
        self.groups = groups
        self.ordered_groups = ordered_groups
        self.agency_prior = agency_prior
        self.timing_effects = timing_effects
        self.shape_effects = shape_effects
        self.calendar_effects = calendar_effects
        self.calendar_by = calendar_by
        self.age_effects = age_effects
        self.age_by = age_by
        self.max_iter = max_iter
        self.tol = tol
        self.spread_holdout = spread_holdout

    _tags = EstimatorTags(uses_loans=True, gives_expected_curve=True)

    @property
    def tags(self) -> EstimatorTags:
        return replace(self._tags, uses_agency=self.agency_prior, gives_calendar_effects=self.calendar_effects)

    @classmethod
    def check_options(cls, options) -> list[tuple[str, str]]:
        problems = []
        unknown = [g for g in options.ordered_groups if g not in options.groups]
        if unknown:
            problems.append(("ordered_groups", f"{', '.join(map(repr, unknown))} not in the model's groups"))
        if options.agency_prior and len([g for g in options.ordered_groups if g in options.groups]) != 1:
            problems.append(("agency_prior", "needs exactly one ordered group (vintage) among the groups"))
        if options.calendar_by is not None and not options.calendar_effects:
            problems.append(("calendar_by", "needs calendar_effects: true"))
        if options.age_by is not None and not options.age_effects:
            problems.append(("age_by", "needs age_effects: true"))
        if not 0 < options.tol <= 0.1:
            problems.append(("tol", "must be in (0, 0.1]"))
        return problems

    # ------------------------------------------------------------------------------------------------ fit
    def _fit(self, dataset: Dataset) -> Diagnostics:
        check_recovered(dataset)
        whole, notes = dataset, []
        seasoned = dataset.history.observed_periods.reindex(dataset.deal_ids).to_numpy() > 0
        if not seasoned.all():  # a pool with nothing observed cannot inform the fit; it is forecast from the others
            notes.append(f"{self.name}: fitted on the {int(seasoned.sum())} pool(s) with collections; "
                         f"{int((~seasoned).sum())} without any are forecast as new pools")
            dataset = dataset.subset(dataset.deal_ids[seasoned])
        deals = dataset.deals
        design = Design(tuple(self.covariates), tuple(self.groups), tuple(self.ordered_groups)).fit(deals)
        notes += [f"{self.name}: {design.dropped_reason(len(deals))}"] if design.dropped_ else []
        layout = Layout(1 + len(design.active_), tuple(int(g) for g in design.group_of_random()), tuple(self.groups),
                        self.timing_effects, curves.HAS_SHAPE[self.curve],
                        nested := Layout.nesting_group(tuple(self.groups), tuple(self.ordered_groups), design.levels_),
                        shape_effects=self.shape_effects and curves.HAS_SHAPE[self.curve] and nested is not None)
        F, R = design.fixed(deals), design.random(deals)[0]
        Z_L, Z_S = self._designs(F, R)
        cells = fit_cells(dataset)
        theta_mean = np.zeros(layout.size)
        agency = AgencySteps.fit(design, deals) if self.agency_prior else None
        if agency is not None:
            theta_mean[layout.level_groups] = agency.step_means(design)
        c = cum_dispersion(dataset.loans, dataset.loan_collections, dataset.deal_ids)
        start = _start(layout, cells)
        calendar, age = None, None
        by_calendar, by_age = np.ones(len(cells.r)), np.ones(len(cells.r))
        age_levels, age_keys = self._age_keys(dataset, cells)
        backfit = self.calendar_effects or self.age_effects
        for _ in range(BACKFIT_ROUNDS if backfit else 1):
            # with calendar or age effects, backfitting: the model refitted with each cell's factor as a known
            # offset (rate / f, weight x f: the same quasi-likelihood with mean f m), the effects re-estimated
            offset = by_calendar * by_age
            lik = QuasiLikelihood(self.curve, layout, Z_L, Z_S, replace(cells, r=cells.r / offset, w=cells.w * offset))
            est = VarianceEstimation(lik, theta_mean, c).run(start, np.zeros((len(deals), 2)),
                                                             np.full(len(layout.vc_names), START_TAU2), self.max_iter,
                                                             self.tol)
            if not backfit:
                break
            means, scale = lik.means(est.theta, est.deal_effects), est.phi * c * est.psi
            previous = calendar, age
            if self.age_effects:
                age = AgeEffects.fit(age_keys, *money(dataset, cells, means * by_calendar, scale), groups=age_levels)
                by_age = age.factors(age_keys)
            if self.calendar_effects:
                calendar = calendar_effects(dataset, cells, means * by_age, scale, self.calendar_by)
                by_calendar = calendar.factors(cell_keys(dataset, cells, calendar.groups, self.calendar_by))
            if all(settled(b, a) for b, a in zip(previous, (calendar, age)) if a is not None):
                break
        fixed = layout.theta_vc < 0
        if np.allclose(est.theta[fixed], start[fixed]):
            raise FitError("the fit stopped at its starting values: the data do not move it")
        self.design_, self.layout_, self.agency_ = design, layout, agency
        self.theta_, self.cov_, self.tau2_, self.phi_ = est.theta, est.theta_cov, est.tau2, est.phi
        self.theta_mean_, self.cum_dispersion_ = theta_mean, c
        self.deal_ids_ = list(dataset.deal_ids)
        self.deal_effects_ = est.deal_effects
        self.deal_dispersion_ = est.psi
        self.nesting_levels_ = ([] if layout.nested is None else
                                list(deals[self.groups[layout.nested]].astype(str)))
        self.calendar_, self.age_ = calendar, age
        expected = lik.means(est.theta, est.deal_effects) * by_calendar * by_age  # the fitted cells' mean rates
        self.payment_shape_ = fit_payment_shape(expected * cells.w / (est.phi * c * est.psi)[cells.deal], cells.r <= 0)
        own = np.flatnonzero(est.psi > OVERDISPERSED)
        if len(own):
            shown = ", ".join(f"{self.deal_ids_[i]} x{est.psi[i]:.1f}" for i in own[np.argsort(-est.psi[own])][:3])
            notes.append(f"{self.name}: {len(own)} pool(s) vary over {OVERDISPERSED:g} times more than their borrower "
                         f"counts imply ({shown}); their weight and forecast noise follow their own dispersion")
        if not est.converged:
            notes.append(f"{self.name}: variance components did not settle ({est.message}); estimates may be "
                         f"unreliable")
        if len(deals) <= layout.n_fixed:
            notes.append(f"{self.name}: {len(deals)} deals for {layout.n_fixed} fixed parameters: the covariate "
                         f"effects are not identified (t intervals on 1 df); use fewer covariates or more deals")
        notes += self._learn_spread(whole)
        return Diagnostics(est.converged, est.iterations, tuple(notes), {"deals": len(deals), "cells": len(cells.r)},
                           est.message)

    def _designs(self, F: np.ndarray, R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The level (Z_L) and timing (Z_S) designs from the fixed and random columns: the timing has the group
        effects only with ``timing_effects``."""
        return np.hstack([F, R]), np.hstack([F, R]) if self.timing_effects else F

    def _age_keys(self, dataset: Dataset, cells: Cells) -> tuple[tuple[str, ...], np.ndarray]:
        """The levels of ``age_by`` (none when the age effects are common) and each cell's age-effect key."""
        if self.age_by is None:
            return (), level_keys((), None, cells.t)
        if self.age_by not in dataset.deals:
            raise FitError(f"age_by: the deals table has no column {self.age_by!r}")
        values = dataset.deals[self.age_by].astype(str).to_numpy()
        levels = tuple(sorted(set(values)))
        return levels, level_keys(levels, values[cells.deal], cells.t)

    def held_out_age(self, dataset: Dataset) -> DecayCurveModel:
        """A copy whose age effects are re-estimated on ``dataset`` (a cut of the fitted data), the curve and every
        other fitted part kept: forecasts scored on the cut-off cells (stacking) then use no age correction fitted
        to those very cells, as a real forecast of unseen periods does not."""
        if self.age_ is None:
            return self
        dataset = dataset.subset(dataset.deal_ids[dataset.deal_ids.isin(self.deal_ids_)])
        deals, cells = dataset.deals, fit_cells(dataset)
        lik = QuasiLikelihood(self.curve, self.layout_,
                              *self._designs(self.design_.fixed(deals), self.design_.random(deals)[0]), cells)
        at = pd.Index(self.deal_ids_).get_indexer(dataset.deal_ids)
        means = lik.means(self.theta_, self.deal_effects_[at])
        if self.calendar_ is not None:
            means = means * self.calendar_.factors(cell_keys(dataset, cells, self.calendar_.groups, self.calendar_by))
        levels, keys = self._age_keys(dataset, cells)
        scale = self.phi_ * self.cum_dispersion_ * self.deal_dispersion_[at]
        held = copy(self)
        held.age_ = AgeEffects.fit(keys, *money(dataset, cells, means, scale), groups=levels)
        return held

    def _age_levels(self, dataset: Dataset) -> np.ndarray:
        """Each deal's level of the age effects (0 when they are common to every pool)."""
        if self.age_ is None or self.age_by is None:
            return np.zeros(len(dataset.deal_ids), int)
        if self.age_by not in dataset.deals:
            raise ValueError(f"{self.name}: the deals table has no column {self.age_by!r} (age_by)")
        return self.age_.levels(dataset.deals[self.age_by].to_numpy())

    @property
    def df_(self) -> int:
        """Degrees of freedom of the summary's t intervals: deals minus fixed parameters (the covariates vary between
        deals, so a few dozen deals whose own effects have an estimated variance identify them, not the thousands
        of deal-periods: the between-within rule of mixed models)."""
        return max(len(self.deal_ids_) - self.layout_.n_fixed, 1)

    # -------------------------------------------------------------------------------------------- predict
    def _shared_draws(self, dataset: Dataset, n_draws: int, seed: int):
        """Per draw and deal: eta_L (without the deal's own effect), eta_S and the log shape, from the parameters'
        uncertainty and the unknown effects of group levels not seen at fit (one draw per level, shared by its
        deals)."""
        lay, design, deals = self.layout_, self.design_, dataset.deals
        theta = random.normal_draws(random.stream(seed, "params"), self.theta_, self.cov_, n_draws)
        th_L, th_S, _ = lay.split(theta)
        R, unseen = design.random(deals)
        Z_L, Z_S = self._designs(design.fixed(deals), R)
        eta_L, eta_S = th_L @ Z_L.T, th_S @ Z_S.T
        log_k = self._deal_log_shape(theta, deals, R, unseen, seed)
        G = len(self.groups)
        for g, at, rng in random.new_levels(seed, deals, self.groups, unseen):
            eta_L[:, at] += np.sqrt(self.tau2_[g]) * random.standard_normal(rng, (n_draws, 1))
            if self.timing_effects:
                eta_S[:, at] += np.sqrt(self.tau2_[G + 1 + g]) * random.standard_normal(rng, (n_draws, 1))
        if self.agency_ is not None:  # a vintage not seen at fit: from the last one, moved as the agency moved
            step, variance = self.agency_.new_level_steps(design, deals)
            values = deals[self.agency_.group].astype(str).to_numpy()
            z = np.zeros((n_draws, len(deals)))
            for level in np.unique(values[variance > 0]):
                z[:, values == level] = random.standard_normal(random.stream(seed, "agency-level", level), (n_draws, 1))
            eta_L += step + z * np.sqrt(variance)
        return eta_L, eta_S, log_k

    def _deal_log_shape(self, theta: np.ndarray, deals, R: np.ndarray, unseen: np.ndarray, seed: int) -> np.ndarray:
        """Per draw and deal, the curve's log shape: the common one plus the deal's originator's effect (a fresh
        draw of it, one per level, for an originator not seen at fit)."""
        lay = self.layout_
        if not lay.shape_effects:  # log_shape gives (draws, 1): the common shape
            return np.broadcast_to(lay.log_shape(theta, None), (len(theta), len(deals))).copy()
        cols = lay.nested_index[:, 0] - lay.level_groups.start
        level = np.where(unseen[:, lay.nested], -1, np.argmax(R[:, cols], axis=1))
        log_k = lay.log_shape(theta, level)
        group = self.groups[lay.nested]
        values = deals[group].astype(str).to_numpy()
        sd = np.sqrt(self.tau2_[len(lay.vc_names) - 1])
        for name in np.unique(values[level < 0]):
            rng = random.stream(seed, "new-level-shape", group, name)
            log_k[:, values == name] += sd * random.standard_normal(rng, (len(theta), 1))
        return log_k

    def _predict(self, dataset: Dataset, horizon: int, n_draws: int, seed: int) -> CurveForecast:
        ids = dataset.deal_ids
        eta_L, eta_S, log_k = self._shared_draws(dataset, n_draws, seed)
        rates, cum_obs, n_obs = observed_rates(dataset, horizon)
        scale = self.phi_ * self.cum_dispersion_ * self._psi(dataset)  # variance per unit of expected cash x borrowers
        weight = dataset.deals["n_borrowers"].to_numpy(float) / scale
        u, v = self.layout_.deal_vc
        prior = (self.tau2_[u], self.tau2_[v])
        draws = np.empty((n_draws, len(ids), horizon))
        expected = np.empty_like(draws)
        start_uv = pd.DataFrame(self.deal_effects_, index=self.deal_ids_).reindex(ids).fillna(0.0).to_numpy()
        chunk = max(1, CHUNK_CELLS // (n_draws * max(horizon, 1)))
        ages = np.arange(1, max(horizon, int(n_obs.max(initial=0))) + 1)
        level = self._age_levels(dataset)  # the curve's age correction: per deal and age, and per draw, level, age
        if self.age_ is None:
            age_factor, age_draws = np.ones((len(ids), len(ages))), np.ones((1, 1, horizon))
        else:
            age_factor = self.age_.factors(level[:, None] * SPAN + ages[None, :])
            age_draws = self.age_.factor_draws(ages[:horizon], random.standard_normal(
                random.stream(seed, "age-effects"), (n_draws, self.age_.n_levels, horizon)))
        by_age = np.argsort(n_obs, kind="stable")  # chunks of like ages: the posterior's arrays are as wide as the oldest
        for start in range(0, len(ids), chunk):
            part = by_age[start:start + chunk]
            width = max(int(n_obs[part].max(initial=0)), 1)
            mask = (np.arange(1, width + 1)[None, :] <= n_obs[part, None]).astype(float)
            mode, cov = deal_posterior(self.curve, eta_L[:, part], eta_S[:, part], log_k[:, part],
                                       rates[part, :width] / age_factor[part, :width], mask,
                                       weight[part], prior, start_uv[part])
            z = random.per_deal(seed, "deal-effects", ids[part], lambda rng: random.standard_normal(rng, (n_draws, 2)))
            uv = mode + np.einsum("sdij,sdj->sdi", np.linalg.cholesky(cov), z)
            L = expit(eta_L[:, part] + uv[..., 0])
            G = curves.cdf(self.curve, np.arange(0, horizon + 1, dtype=float)[None, None, :],
                           np.exp(eta_S[:, part] + uv[..., 1])[..., None], np.exp(log_k[:, part])[..., None])
            G_obs = np.take_along_axis(G, np.broadcast_to(n_obs[part][None, :, None], G.shape[:2] + (1,)), axis=-1)
            future = L[..., None] * (G[..., 1:] - G_obs)
            future = with_future_risk(self.calendar_, future, age_draws[:, level[part]], dataset, ids[part], n_obs[part],
                                      seed, self.calendar_by)
            unit = scale[part] / dataset.deals["n_borrowers"].to_numpy(float)[part]
            draws[:, part] = realized_paths(cum_obs[part], n_obs[part], future, unit, ids[part], seed,
                                             self.payment_shape_)
            expected[:, part] = L[..., None] * np.cumsum(np.diff(G, axis=-1) * age_draws[:, level[part]], axis=-1)
        return self._widened(CurveForecast(ids, draws.mean(axis=0), draws, n_obs, expected=expected), seed)

    def _psi(self, dataset: Dataset) -> np.ndarray:
        """Each deal's dispersion factor: its own where it was fitted; for a new pool the mean of its originator's
        (the nesting group's level's) fitted pools, or of every fitted pool."""
        known = pd.Series(self.deal_dispersion_, index=self.deal_ids_)
        factor = known.reindex(dataset.deal_ids)
        if factor.isna().any() and self.layout_.nested is not None:
            group = self.groups[self.layout_.nested]
            by_level = known.groupby(np.asarray(self.nesting_levels_)).mean()
            factor = factor.fillna(pd.Series(dataset.deals[group].astype(str).map(by_level).to_numpy(),
                                             index=dataset.deal_ids))
        return factor.fillna(float(np.mean(self.deal_dispersion_))).to_numpy()

    # --------------------------------------------------------------------------------------------- report
    def _summary_rows(self, alpha: float):
        """Level (logit of eventual gross recovery) and timing (log of the curve's scale, periods) coefficients in
        the covariates' own units, group effects, the log shape; then effect sds, dispersion phi and its cumulative
        factor c, and with agency_prior the agency's step into each vintage (where the fitted step is centred). A
        group's effects whose sd sits at its floor are held at their prior mean: se 0, no statistic."""
        lay, design = self.layout_, self.design_
        A = np.eye(lay.size)
        q = lay.n_fixed_cols
        for block in (lay.level, lay.timing):
            A[block.start:block.start + q, block.start:block.start + q] = design.to_original_units()
        coef, se = A @ self.theta_, np.sqrt(np.diag(A @ self.cov_ @ A.T))
        vc = lay.theta_vc  # an effect whose group's sd sits at its floor is held at its prior mean: no se to test
        se[(vc >= 0) & (self.tau2_[np.maximum(vc, 0)] <= SD_FLOOR ** 2 * (1 + 1e-6))] = 0.0
        names = ["intercept"] + design.active_
        rand = [f"{g}={level}" for g, level in design.random_names()]
        terms = [("level", n) for n in names + rand] + [("timing", n) for n in names]
        terms += [("timing", n) for n in rand] if self.timing_effects else []
        terms += [("timing", "log_shape")] if lay.has_shape else []
        if lay.shape_effects:
            group = self.groups[lay.nested]
            terms += [("shape", f"{group}={level}") for level in design.effect_levels(group)]
        rows = [estimate_rows([b for b, _ in terms], [t for _, t in terms], coef, se, alpha, df=self.df_),
                value_rows("sd", lay.vc_names, np.sqrt(self.tau2_)),
                value_rows("dispersion", ["phi", "cum_dispersion", "pool_factor_median", "pool_factor_max",
                                          "payment_shape"],
                           [self.phi_, self.cum_dispersion_, np.median(self.deal_dispersion_),
                            np.max(self.deal_dispersion_), self.payment_shape_]),
                self._spread_rows()]
        rows += self._calendar_rows()
        if self.age_ is not None:
            names, values = ["sd", "step sd"], [self.age_.sigma, self.age_.step_sd]
            if self.age_.groups:
                names += [f"{self.age_by} sd", f"{self.age_by} step sd"]
                values += [self.age_.group_sd, self.age_.group_step_sd]
            rows.append(value_rows("age", [*names, "periods"], [*values, len(np.unique(self.age_.key % SPAN))]))
        if self.agency_ is not None:
            centre = self.theta_mean_[lay.level_groups]
            rows.append(value_rows("agency_step", [r for r, c in zip(rand, centre) if c != 0], centre[centre != 0]))
        return pd.concat(rows, ignore_index=True)

    def check_state(self) -> None:
        super().check_state()
        P = self.layout_.size
        if self.theta_.shape != (P,) or self.cov_.shape != (P, P) or len(self.tau2_) != len(self.layout_.vc_names):
            raise ValueError("parameter arrays do not match the model's layout")
        if len(self.design_.center_) != len(self.design_.active_) or self.layout_.n_fixed_cols != 1 + len(
                self.design_.active_) or self.layout_.n_random != len(self.design_.random_names()):
            raise ValueError("the design does not match the parameter layout")
        if np.any(self.tau2_ <= 0) or self.phi_ <= 0 or self.cum_dispersion_ <= 0:
            raise ValueError("variances must be positive")
        if not 0 <= self.payment_shape_ < np.inf:
            raise ValueError("payment_shape_ must be finite and not negative")
        self._check_spread()


def _start(layout: Layout, cells: Cells) -> np.ndarray:
    """Level from the pooled observed rate, scale of a year: a neutral start the fit must move away from."""
    theta = np.zeros(layout.size)
    pooled = np.sum(cells.w * cells.r) / np.sum(cells.w) * cells.t.max() / 2
    theta[0] = logit(np.clip(2.0 * pooled, 0.02, 0.6))
    theta[layout.timing.start] = np.log(12.0)
    return theta


__all__ = ["DEAL", "DecayCurveModel", "FitError"]
