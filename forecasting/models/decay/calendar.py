"""Calendar-period effects: a multiplicative shock per calendar period shared by every pool, and its future risk.

Two stages (docs/models.md, "Calendar effects"). After the fit, each calendar period k's actual collections A_k
(summed over the pools observed in it, CNY) are set against the fitted model's expected E_k, its pools' own effects
included. With y_k = log(A_k / E_k),

    y_k = mu + c_k + e_k,   c_k ~ N(0, sigma^2),   e_k ~ N(0, v_k),   v_k = Var(A_k) / E_k^2 (the ODP noise)

a random-effects meta-analysis: mu and sigma^2 maximise the marginal likelihood of the y_k, and each period's
effect is its posterior c_k = sigma^2 / (sigma^2 + v_k) (y_k - mu), variance sigma^2 v_k / (sigma^2 + v_k). The
cohort (vintage) and age structure are the fitted model's, so a calendar effect is what is common to a calendar
period after them (the age-period-cohort trend is not identified: mu absorbs any level, and a linear drift in k is
read by the model as a vintage or timing effect first). Forecast paths draw each future period's factor
exp(c - sigma^2 / 2), c ~ N(0, sigma^2), one per period and draw shared by every pool: a single pool's band widens
little, a portfolio's as it should.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.data.periods import end_months
from forecasting.models import random
from forecasting.models.decay.shrinkage import ShrunkEffects, random_effects

SPAN = 100_000  # a cell's key is group x SPAN + its calendar month (months since year 0 stay below SPAN)


@dataclass(frozen=True)
class CalendarEffects(ShrunkEffects):
    """Fitted calendar effects: per observed key (group x SPAN + month index of the period's end; group 0 when the
    effects are common to every pool) the shrunk effect (``ShrunkEffects``); and the groups' names (empty when
    common)."""

    groups: tuple[str, ...] = ()

    def table(self, alpha: float = 0.05) -> pd.DataFrame:
        """period_end, effect, se, lower, upper (the factor exp(effect) is the period's collections against the
        model's expectation), log_ratio (before shrinkage)."""
        group, month = np.divmod(self.key, SPAN)
        years, month0 = np.divmod(month, 12)
        ends = pd.to_datetime({"year": years, "month": month0 + 1, "day": np.ones_like(years)}) + pd.offsets.MonthEnd(0)
        named = {"group": np.asarray(self.groups, dtype=object)[group]} if self.groups else {}
        return pd.DataFrame({**named, "period_end": ends.to_numpy(), **self.bands(alpha)})

    def window(self, start, end, group: str | None = None, alpha: float = 0.05) -> pd.Series:
        """How far collections fell (or rose) in the calendar periods ending in [start, end] (months or dates)
        against the other observed periods: the size of a shock, with its (1 - alpha) interval.

        The effects' common level is not identified (it trades with the model's level, module docstring), so the
        size is a contrast against the other periods: their y_k are N(mu, s^2 + v_k), mu and s^2 a random-effects
        fit without the window (s: how much a period's log ratio varies beyond its noise: the model's own error and
        ordinary calendar risk), and the window's y_k are N(mu + size, s^2 + v_k). So size = their weighted mean
        (weights 1 / (s^2 + v_k); not shrunk, so a large shock is not pulled toward 0) less mu, with variance
        1 / sum_in 1 / (s^2 + v_k) + Var(mu). ``group``: the level of ``calendar_by`` (required when the effects are
        per group)."""
        from scipy.stats import norm
        codes = self._group_keys(group)
        first, last = (pd.Period(pd.Timestamp(x), "M") for x in (start, end))
        month = self.key % SPAN
        mine = np.isin(self.key // SPAN, codes)
        inside = mine & (month >= first.year * 12 + first.month - 1) & (month <= last.year * 12 + last.month - 1)
        outside = mine & ~inside
        if not inside.any() or outside.sum() < 3:
            raise ValueError(f"the window {first}..{last} needs observed periods inside it and at least three outside")
        reference, spread, reference_var = random_effects(self.log_ratio[outside], self.noise_var[outside])
        weight = 1 / (spread + self.noise_var[inside])
        size = float(np.sum(self.log_ratio[inside] * weight) / np.sum(weight)) - reference
        se = float(np.sqrt(1 / np.sum(weight) + reference_var))
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
        calendar period (and group, the deals' names in ``group``) and draw, from a stream keyed by them, so every
        pool of the group (and chunk) shares it."""
        months = end_months(cutoff, horizon, period_months)
        factors = np.ones((n_draws,) + months.shape)
        if self.sigma <= 0:
            return factors
        future = np.arange(1, horizon + 1)[None, :] > n_obs[:, None]
        names = np.full(len(months), "") if group is None else np.asarray(group, dtype=str)
        for name in np.unique(names):
            mine = (names == name)[:, None] & future
            for key in np.unique(months[mine]):
                c = random.stream(seed, "calendar", name, int(key)).normal(0.0, self.sigma, n_draws)
                factors[:, mine & (months == key)] = np.exp(c - self.sigma ** 2 / 2)[:, None]
        return factors
