"""Survival at pool level (no loan tape): each unit of principal is an individual.

A unit is collected in period t (weight: that period's collections in average-balance units, so a pool counts as
many individuals as it has borrowers) or censored at the last observed period (the rest of the pool). x = the
config's covariates and group levels; cum_rate(t) = 1 - S(t), and a seasoned pool continues from its own:
cum(t) = cum(t0) + (1 - cum(t0)) (S(t0) - S(t)) / S(t0).

With ``calendar_effects``, backfitting as in the decay model (docs/models.md, Calendar effects): each observed cell's
expected collections are its one-step forecast from the period before, (1 - cum(t - 1)) (S(t - 1) - S(t)) / S(t - 1)
at the fitted parameters with the pool's frailties at their posterior; the calendar periods' shrunk effects come from
those against the actual collections (Poisson noise on the pool's units); the model is refitted with each period's
collected units divided by its factor, and a pool's frailties read its collections divided the same way (in the fit
and in forecasts: a pool that lived through a shock is not taken for a worse pool); until no effect moves by 0.005.
Forecast paths draw future calendar factors shared by every pool.

Overdispersion: collections vary more from one period to the next than independent units would make them vary
where the timing family misses the pools' shape or the calendar moves them. phi = max(1, X^2 / df), the Pearson
statistic of each observed cell's one-step forecast (_cell_means, times the cell's calendar factor) against what the
pool collected, X^2 = sum n_d (r_dt - m_dt)^2 / m_dt, df = cells - parameters - 2 deals (each pool's two frailties).
A pool's evidence about its frailties counts n_d / phi units (its posterior widens by sqrt(phi)). Its future
collections keep the units' own noise, unscaled: scaled by phi, a small pool's paths turn so skewed that the CAS CRPS rose
13% while the independent market's did not move (docs/models.md); the learnt spread widens them instead. As the
decay models' (docs/models.md, Process noise), that noise is a compound Poisson of the same mean and variance, whose
payment shape is learnt from the observed cells that collected nothing (``payment_shape_``; 0, the Gamma, when none
did).

The expected curve draws each pool's frailties anchored to each parameter draw (frailty.py, by the pool's
credibility): the pool's latent curve given its history, the parameters' uncertainty counted once. Realized-cash
paths draw them unanchored, the parameters' uncertainty added on top: the pool-level model takes a pool's cash as
first payments of independent units, while a borrower's instalments land in many periods, and measured anchored its
cash bands were too narrow (docs/models.md). Realized-cash paths carry the spread's growth and noise learnt from a
held-out year, as the decay models' do (``spread_holdout``; models/spread.py, docs/models.md).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from forecasting.data.dataset import Dataset
from forecasting.models import spread
from forecasting.models.base import Diagnostics, EstimatorTags
from forecasting.models.calendar import CalendarReport, PeriodCells, calendar_effects, cell_keys, with_future_risk
from forecasting.models.curve_forecast import CurveForecast
from forecasting.models.fit_checks import check_recovered
from forecasting.models.options import Columns, Holdout, Name, PositiveFloat
from forecasting.models.paths import fit_payment_shape, observed_rates, observed_state, realized_paths
from forecasting.models.registry import register
from forecasting.models.shrinkage import BACKFIT_ROUNDS, settled
from forecasting.models.summary import value_rows
from forecasting.models.survival.base import MixtureSurvival
from forecasting.models.survival.cells import DEAL, observed_periods, pool_units
from forecasting.models.survival.fitter import survival
from forecasting.models.survival.frailty import Evidence, frailty_sds


@register("survival_pool")
class SurvivalPoolModel(CalendarReport, spread.LearntSpread, MixtureSurvival):
    """Weibull mixture model of when each unit of a pool's principal is collected (module docstring)."""

    level = "pool"

    def __init__(self, name: Name = "survival",
                 covariates: Columns = ("log_avg_balance", "wa_delinquency_months"),
                 groups: Columns = ("originator", "vintage"), ordered_groups: Columns = ("vintage",),
                 group_sd: PositiveFloat = 1.0, calendar_effects: bool = False, spread_holdout: Holdout = None):
        super().__init__(name, covariates, groups, ordered_groups, group_sd, calendar_effects)
        self.spread_holdout = spread_holdout

    @property
    def tags(self) -> EstimatorTags:
        return replace(self._tags, gives_calendar_effects=self.calendar_effects)

    def _fit(self, dataset: Dataset) -> Diagnostics:
        self.dispersion_ = 1.0
        diagnostics = self._fit_history(dataset)
        self.dispersion_, self.payment_shape_ = self._cell_noise(dataset)
        if self.dispersion_ > 1.0:  # the frailties' spread beyond the tempered evidence's noise
            self.frailty_sd_, self.timing_frailty_sd_ = frailty_sds(
                self.fit_.params, self._training_evidence(dataset))
        return replace(diagnostics, warnings=diagnostics.warnings + tuple(self._learn_spread(dataset)))

    def _cell_noise(self, dataset: Dataset) -> tuple[float, float]:
        """phi (module docstring): at least 1, so a pool's evidence never counts more units than it has; and the
        payment shape of the future collections' compound Poisson, from which observed cells collected nothing given
        each cell's expected units (paths.fit_payment_shape)."""
        cells = PeriodCells.observed(dataset)
        mean = self._cell_means(dataset, cells)
        if self.calendar_ is not None:
            mean = mean * self.calendar_.factors(cell_keys(dataset, cells, (), None))
        n = dataset.deals["n_borrowers"].to_numpy(float)[cells.deal]
        ok = mean > 0
        shape = fit_payment_shape(n[ok] * mean[ok], cells.r[ok] <= 0)
        df = int(ok.sum()) - len(self.fit_.params) - 2 * len(dataset.deals)
        if df < 1:
            return 1.0, shape
        return max(1.0, float(np.sum(n[ok] * (cells.r[ok] - mean[ok]) ** 2 / mean[ok]) / df)), shape

    def _fit_history(self, dataset: Dataset) -> Diagnostics:
        """The mixture, frailty sds and (with ``calendar_effects``) the calendar's effects, by backfitting."""
        check_recovered(dataset)
        units = pool_units(dataset)
        rows = dataset.deals.set_index("deal_id").loc[units["deal_id"]].reset_index()
        rows = pd.concat([rows, units[["duration", "event", "weight"]]], axis=1).assign(**{DEAL: units["deal_id"]})
        evidence = lambda: self._training_evidence(dataset)  # noqa: E731
        counts = {"deals": len(dataset.deals)}
        self.calendar_ = None
        if not self.calendar_effects:
            return self._fit_rows(rows, evidence, counts)
        cells = PeriodCells.observed(dataset)
        collected = rows["event"].to_numpy() == 1
        keys = cell_keys(dataset, PeriodCells(dataset.deal_ids.get_indexer(rows[DEAL]), rows["duration"].to_numpy(float),
                                              np.zeros(len(rows))), (), None)
        weight, factor = rows["weight"].to_numpy(), np.ones(len(rows))
        for _ in range(BACKFIT_ROUNDS):
            diagnostics = self._fit_rows(rows.assign(weight=np.where(collected, weight / factor, weight)), evidence,
                                         counts)
            previous = self.calendar_
            self.calendar_ = calendar_effects(dataset, cells, self._cell_means(dataset, cells),
                                              np.ones(len(dataset.deals)), None)
            factor = self.calendar_.factors(keys)
            if settled(previous, self.calendar_):
                break
        return diagnostics

    def _calendar_factors(self, dataset: Dataset, width: int) -> np.ndarray:
        """(deals, width): the fitted calendar factor of each deal's periods 1..width (1 without effects)."""
        if self.calendar_ is None:
            return np.ones((len(dataset.deals), width))
        deal, t = np.divmod(np.arange(len(dataset.deals) * width), width)
        keys = cell_keys(dataset, PeriodCells(deal, t + 1.0, np.zeros(len(deal))), (), None)
        return self.calendar_.factors(keys).reshape(len(dataset.deals), width)

    def _cell_means(self, dataset: Dataset, cells: PeriodCells, draws: int = 64) -> np.ndarray:
        """Each observed cell's expected rate: its one-step forecast from the period before (module docstring),
        the pool's frailties averaged over ``draws`` of their posterior."""
        n_obs = observed_periods(dataset).to_numpy()
        params = self._split(np.repeat(self.fit_.params[None], draws, axis=0))
        frailty = self._frailty_draws(self._training_evidence(dataset), params, dataset.deal_ids, 0)  # seed 0: a fit
        S = survival(params, *self._designs(dataset.deals), np.arange(0, int(n_obs.max()) + 1), offset=frailty.u,
                     scale_offset=frailty.v)
        hazard = ((S[..., :-1] - S[..., 1:]) / S[..., :-1]).mean(axis=0)  # (deals, periods)
        cum = np.nan_to_num(dataset.history.cum_rate.reindex(dataset.deal_ids).to_numpy(float))[:, :hazard.shape[1]]
        before = np.hstack([np.zeros((len(cum), 1)), cum[:, :-1]])
        t = cells.t.astype(int) - 1
        return (1.0 - before[cells.deal, t]) * hazard[cells.deal, t]

    def _training_evidence(self, dataset: Dataset) -> Evidence:
        """Every observed period of each pool as evidence (what the fit reads)."""
        return self._pool_evidence(dataset, observed_periods(dataset).to_numpy())

    def _pool_evidence(self, dataset: Dataset, t0: np.ndarray) -> Evidence:
        """A pool's units collected in each observed period are its payers (frailty.py)."""
        X_scale, X_never = self._designs(dataset.deals)
        rates = dataset.history.period_rate.reindex(dataset.deal_ids).to_numpy()
        rates = np.nan_to_num(rates)[:, : max(int(t0.max(initial=0)), 1)] if rates.size else np.zeros((len(t0), 1))
        rates = rates / self._calendar_factors(dataset, rates.shape[1])  # what the pool paid, the calendar's part out
        seen = np.arange(1, rates.shape[1] + 1)[None, :] <= t0[:, None]
        n = dataset.deals["n_borrowers"].to_numpy(float) / self.dispersion_  # units the evidence counts
        deal, period = np.nonzero(seen & (rates > 0))
        return Evidence(X_scale, X_never, np.ones(len(t0)), np.arange(len(t0)), t0, np.sum(rates * seen, 1), n,
                        X_scale[deal], deal, period + 1.0, rates[deal, period] * n[deal])

    def _predict(self, dataset: Dataset, horizon: int, n_draws: int, seed: int) -> CurveForecast:
        ids = dataset.deal_ids
        params = self._param_draws(n_draws, seed)
        _, cum_obs, n_obs = observed_rates(dataset, horizon)
        evidence, t = self._pool_evidence(dataset, n_obs), np.arange(0, horizon + 1)
        # realized cash: frailties unanchored, expected curve: anchored (module docstring)
        frailty = self._frailty_draws(evidence, params, ids, seed).with_levels(
            self._new_levels(dataset.deals, n_draws, seed))
        S = survival(params, *self._designs(dataset.deals), t, offset=frailty.u, scale_offset=frailty.v)
        S0 = np.take_along_axis(S, np.broadcast_to(n_obs[None, :, None], S.shape[:2] + (1,)), -1)
        base = observed_state(cum_obs, n_obs)
        future = (1.0 - base)[None, :, None] * (S0 - S[..., 1:]) / S0
        if self.calendar_ is not None:
            future = with_future_risk(self.calendar_, future, np.ones((1, 1, horizon)), dataset, ids, n_obs, seed)
        paths = realized_paths(cum_obs, n_obs, future, 1.0 / dataset.deals["n_borrowers"].to_numpy(float), ids, seed,
                               self.payment_shape_)
        u, v = frailty.anchored(self._shift(evidence, params))
        expected = 1.0 - survival(params, *self._designs(dataset.deals), t[1:], offset=u, scale_offset=v)
        return self._widened(CurveForecast(ids, paths.mean(axis=0), paths, n_obs, expected=np.minimum(expected, 1.0)),
                             seed)

    def _summary_rows(self, alpha: float) -> pd.DataFrame:
        return pd.concat([super()._summary_rows(alpha), value_rows("dispersion", ["phi", "payment_shape"],
                                                                    [self.dispersion_, self.payment_shape_]),
                          *self._calendar_rows(), self._spread_rows()],
                         ignore_index=True)

    def check_state(self) -> None:
        super().check_state()
        self._check_spread()
        if not self.dispersion_ >= 1.0:
            raise ValueError("dispersion_ must be at least 1")
        if not 0 <= self.payment_shape_ < np.inf:
            raise ValueError("payment_shape_ must be finite and not negative")

    def never_pay_share(self, dataset: Dataset) -> pd.Series:
        self._check_fitted()
        return pd.Series(self._never_pay(dataset.deals), index=dataset.deal_ids, name="never_pay_share")
