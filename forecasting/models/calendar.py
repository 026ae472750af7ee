"""Calendar-period effects: a multiplicative shock per calendar period shared by every pool, and its future risk.

Two stages (docs/models.md, "Calendar effects"). After the fit, each calendar period k's actual collections A_k
(summed over the pools observed in it, CNY) are set against the fitted model's expected E_k, its pools' own effects
included. With y_k = log(A_k / E_k),

    y_k = mu + c_k + e_k,   c_k ~ t_4(0, scale^2),   e_k ~ N(0, v_k),   v_k = Var(A_k) / E_k^2 (the model's noise)

a random-effects meta-analysis: mu and the scale maximise the marginal likelihood of the y_k, and each period's
effect is its posterior mean (shrinkage.t_effects). The t prior shrinks an ordinary period toward 0 as a normal
would and a shock far beyond the others hardly at all (a normal prior pulls it toward 0 and leaves the rest to the
pools' own effects); sigma is the effects' sd, scale x sqrt(2). The cohort (vintage) and age structure are the fitted
model's, so a calendar effect is what is common to a calendar period after them (the age-period-cohort trend is not
identified: mu absorbs any level, and a linear drift in k is read by the model as a vintage or timing effect first).
Forecast paths draw each future period's factor exp(c - sigma^2 / 2), c ~ N(0, sigma^2) (the effects' sd; a t in log
space would give collections of unbounded mean), one per period and draw shared by every pool: a single pool's band
widens little, a portfolio's as it should. The future c follow a stationary AR(1) whose coefficient is the
effects' persistence (``persistence``): a shock lasts, so a year's collections vary more than twelve independent
months would.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
import pandas as pd

from forecasting.data.dataset import Dataset
from forecasting.data.periods import end_months, month_end, month_index
from forecasting.models import random
from forecasting.models.base import FitError
from forecasting.models.shrinkage import ShrunkEffects, random_effects
from forecasting.models.summary import value_rows


class Cells(Protocol):
    """Observed deal-periods: the deal's position in the dataset, the period t (1-based) and the rate r of opb."""

    deal: np.ndarray
    t: np.ndarray
    r: np.ndarray


@dataclass(frozen=True)
class PeriodCells:
    """``Cells`` of a dataset's observed deal-periods (or of any deal positions and periods, r left at 0)."""

    deal: np.ndarray
    t: np.ndarray
    r: np.ndarray

    @classmethod
    def observed(cls, dataset: Dataset) -> PeriodCells:
        amounts = dataset.history.amounts.reindex(dataset.deal_ids).to_numpy()
        deal, period = np.nonzero(np.isfinite(amounts))
        return cls(deal, period + 1.0, amounts[deal, period] / dataset.deals["opb"].to_numpy(float)[deal])


TAIL_DF = 4.0  # the effects' t prior: heavy tails (a shock is not shrunk away), a finite variance for future risk
SPAN = 100_000  # a cell's key is group x SPAN + its calendar month (months since year 0 stay below SPAN)


@dataclass(frozen=True)
class CalendarEffects(ShrunkEffects):
    """Fitted calendar effects: per observed key (group x SPAN + month index of the period's end; group 0 when the
    effects are common to every pool) the shrunk effect (``ShrunkEffects``); and the groups' names (empty when
    common)."""

    groups: tuple[str, ...] = ()
    persistence: float = 0.0

    def table(self, alpha: float = 0.05) -> pd.DataFrame:
        """period_end, effect, se, lower, upper (the factor exp(effect) is the period's collections against the
        model's expectation), log_ratio (before shrinkage)."""
        group, month = np.divmod(self.key, SPAN)
        named = {"group": np.asarray(self.groups, dtype=object)[group]} if self.groups else {}
        return pd.DataFrame({**named, "period_end": month_end(month).to_numpy(), **self.bands(alpha)})

    def window(self, start, end, group: str | None = None, alpha: float = 0.05) -> pd.Series:
        """How far collections fell (or rose) in the calendar periods ending in [start, end] (months or dates)
        against the other observed periods: the size of a shock, with its (1 - alpha) interval.

        The effects' common level is not identified (it trades with the model's level, module docstring), so the
        size is a contrast against the other periods: their y_k are N(mu, s^2 + v_k), mu and s^2 a random-effects
        fit without the window (s: how much a period's log ratio varies beyond its noise: the model's own error and
        ordinary calendar risk), and the window's y_k are N(mu + size, s^2 + v_k). So size = their weighted mean
        (weights 1 / (s^2 + v_k); not shrunk, so a large shock is not pulled toward 0) less mu. Its variance adds
        the two means' variances, each with the errors of periods l apart correlated rho^l, rho the outside periods'
        lag-one correlation (``lag_correlation``). ``group``: the level of ``calendar_by`` (required when the
        effects are per group)."""
        from scipy.stats import norm
        codes = self._group_keys(group)
        first, last = (pd.Period(pd.Timestamp(x), "M") for x in (start, end))
        lo, hi = month_index([first.to_timestamp(), last.to_timestamp()])
        month = self.key % SPAN
        mine = np.isin(self.key // SPAN, codes)
        inside = mine & (month >= lo) & (month <= hi)
        outside = mine & ~inside
        if not inside.any() or outside.sum() < 3:
            raise ValueError(f"the window {first}..{last} needs observed periods inside it and at least three outside")
        reference, spread, _ = random_effects(self.log_ratio[outside], self.noise_var[outside])
        total = spread + self.noise_var
        step = np.diff(month[mine]).min()  # months from one period to the next
        lag_out, lag_in = (np.subtract.outer(month[part], month[part]) // step for part in (outside, inside))
        rho = lag_correlation((self.log_ratio[outside] - reference) / np.sqrt(total[outside]), lag_out)
        weight = 1 / total[inside]
        size = float(np.sum(self.log_ratio[inside] * weight) / np.sum(weight)) - reference
        se = float(np.sqrt(mean_var(1 / total[outside], lag_out, rho) + mean_var(weight, lag_in, rho)))
        z = norm.ppf(1 - alpha / 2)
        return pd.Series({"start": str(first), "end": str(last), "periods": int(inside.sum()), "log_effect": size,
                          "se": se, "lower": size - z * se, "upper": size + z * se, "factor": np.exp(size),
                          "factor_lower": np.exp(size - z * se), "factor_upper": np.exp(size + z * se)})

    def _group_keys(self, group: str | None) -> list[int]:
        if not self.groups:
            return [0]
        if group not in self.groups:
            raise ValueError(f"name the group: one of {', '.join(self.groups)}")
        return [self.groups.index(group)]

    def future_factors(self, cutoff: pd.Series, n_obs: np.ndarray, horizon: int, period_months: int, n_draws: int,
                       seed: int, group: np.ndarray | None = None) -> np.ndarray:
        """(draws, deals, horizon) factors on each future period's expected collections: exp(c - sigma^2 / 2) per
        calendar period (and group, the deals' names in ``group``) and draw, c a stationary AR(1) in the periods
        with coefficient ``persistence`` (``ar1_paths``), so every pool of the group (and chunk) shares it."""
        months = end_months(cutoff, horizon, period_months)
        factors = np.ones((n_draws,) + months.shape)
        if self.sigma <= 0:
            return factors
        future = np.arange(1, horizon + 1)[None, :] > n_obs[:, None]
        names = np.full(len(months), "") if group is None else np.asarray(group, dtype=str)
        for name in np.unique(names):
            mine = (names == name)[:, None] & future
            keys = np.unique(months[mine])
            if not len(keys):
                continue
            c = ar1_paths(keys, period_months, self.sigma, self.persistence, n_draws, seed, name)
            for key, path in zip(keys, c):
                factors[:, mine & (months == key)] = np.exp(path - self.sigma ** 2 / 2)[:, None]
        return factors


def ar1_paths(keys: np.ndarray, step: int, sigma: float, phi: float, n_draws: int, seed: int, name: str) -> np.ndarray:
    """(keys, draws) draws of a stationary AR(1) with sd sigma and coefficient phi at the calendar months ``keys``
    (``step`` months apart): c_k = s sum_{j<=J} phi^j z_{k - j step}, z_k ~ N(0, 1) from a stream keyed by (name, k),
    J where phi^J < 0.001 and s so that Var(c_k) = sigma^2. The truncated sum is a function of k alone, so two
    chunks of deals (or two calls) draw the same c at the same month; phi = 0 gives sigma z_k."""
    depth = 0 if phi <= 0 else int(np.ceil(np.log(1e-3) / np.log(phi)))
    weight = phi ** np.arange(depth + 1)
    scale = sigma / np.sqrt(np.sum(weight ** 2))
    lags = np.arange(keys.min() - depth * step, keys.max() + 1, step)
    z = {int(k): random.standard_normal(random.stream(seed, "calendar", name, int(k)), n_draws) for k in lags}
    return np.array([scale * sum(w * z[int(k) - j * step] for j, w in enumerate(weight)) for k in keys])


def persistence(effects: CalendarEffects, step: int) -> float:
    """The AR(1) coefficient of the effects from periods ``step`` months apart (of one group), held in [0, 0.9]:
    how long a calendar shock lasts, carried into the future factors (``ar1_paths``). A moment estimate: the log
    ratios' lag-one autocovariance over the effects' variance sigma^2 (the periods' noise e_k is independent, so it
    adds to the variance and not to the autocovariance; the posterior means' own autocorrelation is shrunk toward 0
    by it)."""
    order = np.argsort(effects.key)
    key, y = effects.key[order], effects.log_ratio[order] - effects.mu
    after = np.minimum(np.searchsorted(key, key + step), len(key) - 1)
    first = np.flatnonzero(key[after] == key + step)  # periods whose next period (of the group) is observed
    if not len(first) or effects.sigma <= 0:
        return 0.0
    return float(np.clip(np.mean(y[first] * y[after[first]]) / effects.sigma ** 2, 0, 0.9))


def lag_correlation(residual: np.ndarray, lag: np.ndarray) -> float:
    """The correlation of standardised residuals one period apart (``lag``: periods between each pair), held in
    [0, 0.9]: the model's error persists from one calendar period to the next (a timing shape it misses, the pools'
    effects), so the mean of adjacent periods varies more than their count says."""
    pairs = lag == 1
    if not pairs.any():
        return 0.0
    return float(np.clip(np.sum(np.outer(residual, residual)[pairs]) / pairs.sum() / np.mean(residual ** 2), 0, 0.9))


def mean_var(weight: np.ndarray, lag: np.ndarray, rho: float) -> float:
    """The variance of sum(w_k y_k) / sum(w_k) when Var(y_k) = 1 / w_k and Corr(y_j, y_k) = rho^|lag| (AR(1))."""
    sd = 1 / np.sqrt(weight)
    return float(weight @ (rho ** np.abs(lag) * np.outer(sd, sd)) @ weight / weight.sum() ** 2)


def cell_keys(dataset: Dataset, cells: Cells, groups: tuple[str, ...], by: str | None) -> np.ndarray:
    """Each cell's calendar key (calendar.py): its group's position x SPAN + the month (since year 0) in which its
    period ends."""
    t = cells.t.astype(int)
    month = end_months(dataset.history.cutoff.reindex(dataset.deal_ids), int(t.max(initial=1)),
                       dataset.meta.period_months)[cells.deal, t - 1]
    if by is None:
        return month
    level = pd.Index(groups).get_indexer(dataset.deals[by].astype(str).to_numpy())[cells.deal]
    return level * SPAN + month


def calendar_effects(dataset: Dataset, cells: Cells, means: np.ndarray, scale: np.ndarray, by: str | None) -> CalendarEffects:
    """Calendar effects from the fitted means (calendar.py): per cell its key, actual and expected collections in
    CNY, and the expected's ODP variance (scale per deal: phi c psi_d)."""
    if by is not None and by not in dataset.deals:
        raise FitError(f"calendar_by: the deals table has no column {by!r}")
    groups = () if by is None else tuple(sorted(dataset.deals[by].astype(str).unique()))
    effects = CalendarEffects.fit(cell_keys(dataset, cells, groups, by), *money(dataset, cells, means, scale),
                                  df=TAIL_DF, groups=groups)
    return replace(effects, persistence=persistence(effects, dataset.meta.period_months))


def money(dataset: Dataset, cells: Cells, means: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per cell, actual and expected collections in CNY and the expected's ODP variance (scale per deal: phi c
    psi_d), what calendar and age effects are estimated from."""
    opb = dataset.deals["opb"].to_numpy(float)[cells.deal]
    n = dataset.deals["n_borrowers"].to_numpy(float)[cells.deal]
    return cells.r * opb, means * opb, scale[cells.deal] * means / n * opb ** 2


def with_future_risk(calendar: CalendarEffects | None, future: np.ndarray, factors: np.ndarray, dataset: Dataset,
                     ids: pd.Index, n_obs: np.ndarray, seed: int, by: str | None = None) -> np.ndarray:
    """Future cum_rate paths (draws, deals, horizon) with each period's increment times ``factors`` (1, or the
    model's own correction by age) and, with calendar effects, a draw of its calendar period's factor shared by
    every pool (of the ``by`` group) in that draw."""
    if calendar is not None:
        draws, _, horizon = future.shape
        factors = factors * calendar.future_factors(
            dataset.history.cutoff.reindex(ids), n_obs, horizon, dataset.meta.period_months, draws, seed,
            None if by is None else dataset.deals.set_index("deal_id")[by].reindex(ids).astype(str).to_numpy())
    return np.cumsum(np.diff(np.maximum(future, 0.0), axis=-1, prepend=0.0) * factors, axis=-1)


class CalendarReport:
    """What a model with ``calendar_`` (None when fitted without calendar effects) shows of it."""

    calendar_: CalendarEffects | None
    name: str

    def _calendar_rows(self) -> list[pd.DataFrame]:
        if self.calendar_ is None:
            return []
        return [value_rows("calendar", ["sd", "persistence", "mean_log_ratio", "periods"],
                           [self.calendar_.sigma, self.calendar_.persistence, self.calendar_.mu,
                            len(self.calendar_.key)])]

    def calendar_table(self, alpha: float = 0.05) -> pd.DataFrame:
        """Each observed calendar period's effect with its (1 - alpha) band (CalendarEffects.table)."""
        if self.calendar_ is None:
            raise ValueError(f"{self.name} was fitted without calendar_effects")
        return self.calendar_.table(alpha)

    def plot_calendar(self, ax=None, alpha: float = 0.05):
        """The calendar effect of each observed period with its (1 - alpha) band (calendar_effects: true)."""
        import matplotlib.pyplot as plt
        table = self.calendar_table(alpha)
        if ax is None:
            ax = plt.subplots(figsize=(8, 3.5))[1]
        ax.fill_between(table["period_end"], np.exp(table["lower"]), np.exp(table["upper"]), alpha=0.3, color="#4a7ab0")
        ax.plot(table["period_end"], np.exp(table["effect"]), color="#123", lw=1.2)
        ax.axhline(1.0, color="grey", lw=0.8)
        # the effects' common level trades with the model's (not identified): periods are read against each other
        ax.axhline(np.exp(np.median(table["effect"])), color="#b03a2e", lw=0.8, ls="--", label="the median period")
        ax.legend(fontsize=7, loc="lower left", frameon=False)
        ax.set_ylabel("collections / model's expectation")
        ax.set_title(f"{self.name}: calendar effect by period (sd {self.calendar_.sigma:.3f}), {1 - alpha:.0%} band")
        return ax
