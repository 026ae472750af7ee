"""The forecast spread a model's own variances miss, learnt from the training data's latest periods.

Off our simulator (the CAS triangles, docs/validation.md) the error of a pool's future grows with the distance
forecast faster than process noise and parameter uncertainty make it grow: each pool's payment rate wanders. The
future part of each path (what it adds after the pool's last observed period, F_s(h) at h periods ahead) is
stretched around its mean over the draws,

    F'_s(h) = mean_s F(h) + k(h) (F_s(h) - mean_s F(h)),    k(h) = 1 + a (sqrt(h) - 1),   a >= 0,

then kept non-negative, non-decreasing in h and at most 1 - what was seen. k(1) = 1: the first period's spread is
the model's own. The growth a is learnt at fit: the same model (``_cut_refit``: no spread learning of its own, its
variances solved to CUT_TOL) is refitted on the data as of ``holdout`` periods earlier (``Dataset.truncate``),
forecasts the cut cells (h = 1..holdout, each pool seasoned at the cut), and a minimises their summed CRPS. A refit,
not the full fit's parameters: a score that has seen the held-out periods flatters the model (docs/models.md).
a = 0 where the model's own spread is right; it never narrows a band (a narrowing learnt from a few periods would
be extrapolated over the whole horizon). The square root keeps a spread learnt over a year from running away over
five.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

from forecasting.data.dataset import Dataset
from forecasting.data.problems import InputError
from forecasting.models.base import FitError
from forecasting.models.curve_forecast import CurveForecast
from forecasting.models.paths import observed_state

MAX_GROWTH = 2.0  # the largest a searched: k(60 months) = 15, beyond any spread the CAS data show
MIN_CELLS = 20  # fewer cut cells than this cannot tell one growth from another
CHUNK = 2_000_000  # draws x deals x periods stretched at once
HOLDOUT_DRAWS = 200  # per cut cell: the growth moved by 0.01-0.03 between 200 and 400 on CAS
CUT_TOL = 1e-2  # the cut fit's variance tolerance at most: on CAS the growth moved by 0.02 from 1e-4


def default_holdout(period_months: int) -> int:
    """Periods held out when the config leaves it open: a year's worth, and at least three (the growth is seen from
    h = 2 on)."""
    return max(3, round(12 / period_months))


def growth_factor(h: np.ndarray, a: float) -> np.ndarray:
    """k(h) for h >= 1 periods ahead (1 where h < 1: observed periods are not stretched)."""
    return 1.0 + a * (np.sqrt(np.maximum(h, 1.0)) - 1.0)


def widened(future: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``future`` (draws, ...) stretched by ``k`` (...) around its mean over the draws, not yet bounded."""
    centre = future.mean(axis=0)
    return centre + k[None] * (future - centre)


def stretch_future(draws: np.ndarray, n_obs: np.ndarray, a: float) -> np.ndarray:
    """Paths (draws, deals, horizon) with their future stretched by k(h) (module docstring); a copy."""
    out = np.array(draws, dtype=float, copy=True)
    if a <= 0:
        return out
    S, D, H = out.shape
    step = max(1, CHUNK // max(S * H, 1))
    for start in range(0, D, step):
        part = slice(start, start + step)
        n = n_obs[part]
        seen = observed_state(out[0, part], n)
        h = np.arange(1, H + 1)[None, :] - n[:, None]  # periods ahead, <= 0 where observed
        future = np.where(h[None] > 0, out[:, part] - seen[None, :, None], 0.0)
        wider = widened(future, growth_factor(h, a))
        wider = np.minimum(np.maximum.accumulate(np.maximum(wider, 0.0), axis=-1), 1.0 - seen[None, :, None])
        out[:, part] = np.where(h[None] > 0, seen[None, :, None] + wider, out[:, part])
    return out


def stretched(forecast: CurveForecast, a: float) -> CurveForecast:
    """The forecast with its realized-cash paths stretched (the expected curve is left as the model gave it: the
    stretch is learnt from, and scored on, realized collections)."""
    if a <= 0:
        return forecast
    draws = stretch_future(forecast.draws, forecast.observed_periods, a)
    return CurveForecast(forecast.deal_ids, draws.mean(axis=0), draws, forecast.observed_periods,
                         expected=forecast.expected)


@dataclass(frozen=True)
class HeldOutCells:
    """The cut cells a growth is scored on: each forecast's draws (draws, cells), the pool's cum_rate at the cut
    (cells,), the periods ahead (cells,) and what was collected by then (cells,)."""

    draws: np.ndarray
    seen: np.ndarray
    ahead: np.ndarray
    actual: np.ndarray

    def crps(self, a: float) -> float:
        from forecasting.backtest.calibration import crps
        wider = np.clip(widened(self.draws - self.seen[None], growth_factor(self.ahead, a)), 0.0, 1.0 - self.seen[None])
        return float(np.sum(crps(self.seen[None] + wider, self.actual)))


def cut_back(dataset: Dataset, holdout: int) -> Dataset:
    """The dataset as known ``holdout`` periods before its as-of date."""
    months = holdout * dataset.meta.period_months
    return dataset.truncate(pd.Timestamp(dataset.as_of) - pd.DateOffset(months=months))


def held_out_cells(model, dataset: Dataset, holdout: int) -> HeldOutCells | None:
    """``model`` (unfitted, no spread learning of its own) fitted on the dataset cut ``holdout`` periods back, its
    forecasts of each seasoned pool's next ``holdout`` cum_rates against what was collected (None when the cut
    leaves fewer than MIN_CELLS of them)."""
    cut = cut_back(dataset, holdout)
    n_cut = cut.history.observed_periods.reindex(cut.deal_ids).fillna(0).to_numpy().astype(int)
    seasoned = n_cut > 0
    if seasoned.sum() < 2:
        return None
    cut = cut.subset(cut.deal_ids[seasoned])
    n_cut = n_cut[seasoned]
    known = dataset.history.cum_rate.reindex(cut.deal_ids).to_numpy(float)
    width = known.shape[1]
    at = n_cut[:, None] + np.arange(holdout)[None, :]  # 0-based period index of each cut cell
    inside = at < width
    actual = np.where(inside, known[np.arange(len(n_cut))[:, None], np.minimum(at, width - 1)], np.nan)
    if np.isfinite(actual).sum() < MIN_CELLS:
        return None
    with warnings.catch_warnings():  # the cut fit's warnings are the full fit's, said once there
        warnings.simplefilter("ignore", RuntimeWarning)
        fc = model.fit(cut).predict(cut, int(at.max()) + 1, n_draws=HOLDOUT_DRAWS, random_state=1)
    deal, ahead = np.nonzero(np.isfinite(actual))
    period = at[deal, ahead]
    return HeldOutCells(fc.draws[:, deal, period], observed_state(fc.draws[0], n_cut)[deal], ahead + 1.0,
                        actual[deal, ahead])


def learn_growth(cells: HeldOutCells) -> float:
    """The a >= 0 minimising the cut cells' summed CRPS (0 when no stretch scores better than none)."""
    best = minimize_scalar(cells.crps, bounds=(0.0, MAX_GROWTH), method="bounded", options={"xatol": 1e-3})
    return float(best.x) if best.fun < cells.crps(0.0) else 0.0


def learn_spread(estimator, dataset: Dataset, holdout: int | None) -> tuple[float, list[str]]:
    """The growth a for ``estimator`` (fitted on ``dataset`` but for this; its ``spread_holdout`` option: periods
    held out, None for ``default_holdout``, 0 for none), and what its fit should warn. ``estimator._cut_refit()``
    gives the unfitted model refitted on the cut data."""
    periods = default_holdout(dataset.meta.period_months) if holdout is None else holdout
    if periods == 0:
        return 0.0, []
    try:
        cells = held_out_cells(estimator._cut_refit(), dataset, periods)
    except (FitError, InputError) as exc:  # the full data fitted, so the cut's failure is its lack of pools
        return 0.0, [f"{estimator.name}: the spread's growth could not be learnt, the fit {periods} periods back "
                     f"failed ({exc}); the forecast carries the model's own spread only"]
    if cells is None:
        return 0.0, [f"{estimator.name}: fewer than {MIN_CELLS} pool-periods in the last {periods} periods to learn "
                     f"the spread's growth from; the forecast carries the model's own spread only"]
    return learn_growth(cells), []
