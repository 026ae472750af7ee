"""The forecast spread a model's own variances miss, learnt from the training data's latest periods.

Off our simulator (the CAS triangles, an independent generator's markets: docs/validation.md) the error of a pool's
future grows with the distance forecast faster than process noise and parameter uncertainty make it grow: each
pool's payment rate wanders, and a timing family read through a shape it does not have errs by more the further it
extrapolates. The future part of each path (what it adds after the pool's last observed period, F_s(h) at h periods
ahead) is stretched around its mean over the draws and scaled by a relative noise of its own,

    F'_s(h) = [mean_s F(h) + k(h) (F_s(h) - mean_s F(h))] x max(0, 1 + b sqrt(h) z_s),
    k(h) = 1 + a (sqrt(h) - 1),   a >= 0,  b >= 0,  z_s ~ N(0, 1) per path and pool (the same for every h),

then kept non-negative, non-decreasing in h and at most 1 - what was seen. The stretch (a) widens what the model
already says is uncertain; the noise (b) adds an error in proportion to what is still to come, which a model sure
of a pool (many borrowers, a long history) misses: stretching a narrow spread leaves it narrow. k(1) = 1 and the
noise is symmetric with mean one (but for the floor at 0, which adds Phi(1/s) + s phi(1/s) - 1 to it, s = b
sqrt(h): 0.4% at s = 0.5): the centre of the forecast is the model's own. A log-normal factor (mean one, median
below it) was tried: it lowers each pool's median and the triangle totals' (CAS: Meyers' KS 9.3 against 8.9).

a and b are learnt at fit: the same model (``_cut_refit``: no spread learning of its own, its variances solved to
CUT_TOL) is refitted on the data as of ``holdout`` periods earlier (``Dataset.truncate``), forecasts the cut cells
(h = 1..holdout, each pool seasoned at the cut), and (a, b) minimise their summed CRPS, with the noise's normals
fixed (common random numbers). A refit, not the full fit's parameters: a score that has seen the held-out periods
flatters the model (docs/models.md). a = b = 0 where the model's own spread is right; neither ever narrows a band (a
narrowing learnt from a few periods would be extrapolated over the whole horizon). The square roots keep a spread
learnt over a year from running away over five.

The expected curve's future takes the noise (the same z_s, from each draw's own value at the last observed
period), not the growth: the noise is an error that persists over a pool's future (one z per path), which is the
expected curve's when a pool's shape or payment rate is not the model's; the growth stretches the model's own
spread, process noise included, which the expected curve does not carry.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.base import clone

from forecasting.data.dataset import Dataset
from forecasting.data.periods import periods_per_year
from forecasting.data.problems import InputError
from forecasting.models import random
from forecasting.models.base import FitError
from forecasting.models.curve_forecast import CurveForecast
from forecasting.models.paths import observed_state
from forecasting.models.summary import value_rows

MAX_GROWTH = 2.0  # the largest a searched: k(60 months) = 15, beyond any spread the CAS data show
MAX_NOISE = 0.5  # the largest b searched: an sd of 0.5 per sqrt(period), 3.9 five years of months ahead
GRID = (np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0]),  # where the search starts: a, then b
        np.array([0.0, 0.02, 0.04, 0.07, 0.1, 0.15, 0.2, 0.3]))
SEARCH_CELLS = 5_000  # cut cells the search scores at most (a fixed random subset beyond: 1-2 s per search)
MIN_CELLS = 20  # fewer cut cells than this cannot tell one growth from another
CHUNK = 2_000_000  # draws x deals x periods stretched at once
HOLDOUT_DRAWS = 200  # per cut cell: the growth moved by 0.01-0.03 between 200 and 400 on CAS
CUT_TOL = 1e-2  # the cut fit's variance tolerance at most: on CAS the growth moved by 0.02 from 1e-4


def default_holdout(period_months: int) -> int:
    """Periods held out when the config leaves it open: a year's worth, and at least three (the growth is seen from
    h = 2 on)."""
    return max(3, periods_per_year(period_months))


def growth_factor(h: np.ndarray, a: float) -> np.ndarray:
    """k(h) for h >= 1 periods ahead (1 where h < 1: observed periods are not stretched)."""
    return 1.0 + a * (np.sqrt(np.maximum(h, 1.0)) - 1.0)


def relative_noise(h: np.ndarray, b: float, z: np.ndarray) -> np.ndarray:
    """max(0, 1 + b sqrt(h) z): sd b sqrt(h) around one (h >= 1 periods ahead; ``z`` broadcast against h)."""
    return np.maximum(1.0 + b * np.sqrt(np.maximum(h, 1.0)) * z, 0.0)


def widened(future: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``future`` (draws, ...) stretched by ``k`` (...) around its mean over the draws, not yet bounded."""
    centre = future.mean(axis=0)
    return centre + k[None] * (future - centre)


def stretch_future(draws: np.ndarray, n_obs: np.ndarray, a: float, b: float = 0.0,
                   z: np.ndarray | None = None) -> np.ndarray:
    """Paths (draws, deals, horizon) with their future (what each draw adds after its value at the deal's last
    observed period) stretched by k(h) and scaled by the relative noise with normals ``z`` (draws, deals) (module
    docstring); a copy."""
    out = np.array(draws, dtype=float, copy=True)
    if a <= 0 and b <= 0:
        return out
    S, D, H = out.shape
    step = max(1, CHUNK // max(S * H, 1))
    for start in range(0, D, step):
        part = slice(start, start + step)
        n = n_obs[part]
        seen = observed_state(out[:, part], n)[..., None]  # per draw: an expected curve differs by draw there
        h = np.arange(1, H + 1)[None, :] - n[:, None]  # periods ahead, <= 0 where observed
        future = np.where(h[None] > 0, out[:, part] - seen, 0.0)
        wider = np.maximum(widened(future, growth_factor(h, a)), 0.0)
        if b > 0:
            wider = wider * relative_noise(h[None], b, z[:, part, None])
        wider = np.minimum(np.maximum.accumulate(wider, axis=-1), 1.0 - seen)
        out[:, part] = np.where(h[None] > 0, seen + wider, out[:, part])
    return out


def stretched(forecast: CurveForecast, a: float, b: float = 0.0, random_state: int = 0) -> CurveForecast:
    """The forecast with its realized-cash paths stretched and given the relative noise, and its expected curve given
    the same noise (module docstring), each pool's normals from its own stream (a pool's forecast is the same in any
    batch of pools)."""
    if a <= 0 and b <= 0:
        return forecast
    S = forecast.draws.shape[0]
    z = random.per_deal(random_state, "spread-noise", forecast.deal_ids, lambda rng: random.standard_normal(rng, S)) \
        if b > 0 else None
    draws = stretch_future(forecast.draws, forecast.observed_periods, a, b, z)
    expected = forecast.expected
    if b > 0 and expected is not None:
        expected = stretch_future(expected, forecast.observed_periods, 0.0, b, z)
    return CurveForecast(forecast.deal_ids, draws.mean(axis=0), draws, forecast.observed_periods,
                         expected=expected)


@dataclass(frozen=True)
class HeldOutCells:
    """The cut cells a growth is scored on: each forecast's draws (draws, cells), the pool's cum_rate at the cut
    (cells,), the periods ahead (cells,) and what was collected by then (cells,)."""

    draws: np.ndarray
    seen: np.ndarray
    ahead: np.ndarray
    actual: np.ndarray

    def crps(self, a: float, b: float = 0.0, z: np.ndarray | None = None) -> float:
        """Summed CRPS of the cells with growth a and noise b (normals ``z`` (draws, cells))."""
        from forecasting.backtest.calibration import crps
        wider = np.maximum(widened(self.draws - self.seen[None], growth_factor(self.ahead, a)), 0.0)
        if b > 0:
            wider = wider * relative_noise(self.ahead[None], b, z)
        return float(np.sum(crps(self.seen[None] + np.minimum(wider, 1.0 - self.seen[None]), self.actual)))

    def subset(self, size: int, seed: int = 0) -> HeldOutCells:
        """At most ``size`` cells, a fixed random choice."""
        if len(self.actual) <= size:
            return self
        keep = np.sort(np.random.default_rng(seed).choice(len(self.actual), size, replace=False))
        return HeldOutCells(self.draws[:, keep], self.seen[keep], self.ahead[keep], self.actual[keep])


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


def learn_terms(cells: HeldOutCells) -> tuple[float, float]:
    """The (a, b) in [0, MAX_GROWTH] x [0, MAX_NOISE] minimising the cut cells' summed CRPS: the best point of GRID,
    then Nelder-Mead from it; (0, 0) when no spread scores better than the model's own."""
    cells = cells.subset(SEARCH_CELLS)
    z = np.random.default_rng(0).standard_normal(cells.draws.shape)
    score = lambda x: cells.crps(float(x[0]), float(x[1]), z)  # noqa: E731
    grid = {(a, b): score((a, b)) for a in GRID[0] for b in GRID[1]}
    start = min(grid, key=grid.get)
    best = minimize(score, np.array(start), method="Nelder-Mead", bounds=[(0.0, MAX_GROWTH), (0.0, MAX_NOISE)],
                    options={"xatol": 1e-3, "fatol": 1e-9 * abs(grid[start])})
    x, fun = (best.x, best.fun) if best.fun < grid[start] else (np.array(start), grid[start])
    return (float(x[0]), float(x[1])) if fun < grid[(0.0, 0.0)] else (0.0, 0.0)


def learn_spread(estimator, dataset: Dataset, holdout: int | None) -> tuple[tuple[float, float], list[str]]:
    """The growth a and noise b for ``estimator`` (fitted on ``dataset`` but for this; its ``spread_holdout``
    option: periods held out, None for ``default_holdout``, 0 for none), and what its fit should warn.
    ``estimator._cut_refit()`` gives the unfitted model refitted on the cut data."""
    periods = default_holdout(dataset.meta.period_months) if holdout is None else holdout
    if periods == 0:
        return (0.0, 0.0), []
    try:
        cells = held_out_cells(estimator._cut_refit(), dataset, periods)
    except (FitError, InputError) as exc:  # the full data fitted, so the cut's failure is its lack of pools
        why = "; ".join(p.reason for p in exc.problems) if isinstance(exc, InputError) else str(exc)
        return (0.0, 0.0), [f"{estimator.name}: the spread's growth could not be learnt, the fit {periods} periods "
                            f"back failed ({why}); the forecast carries the model's own spread only"]
    if cells is None:
        return (0.0, 0.0), [f"{estimator.name}: fewer than {MIN_CELLS} pool-periods in the last {periods} periods to "
                            f"learn the spread's growth from; the forecast carries the model's own spread only"]
    return learn_terms(cells), []


def check_terms(a: float, b: float) -> None:
    """A fitted state's spread terms are inside the ranges the search allows."""
    if not (0 <= a <= MAX_GROWTH and 0 <= b <= MAX_NOISE):
        raise ValueError("the spread's growth or noise is outside [0, MAX_GROWTH] x [0, MAX_NOISE]")


class LearntSpread:
    """What an estimator with a ``spread_holdout`` option does with it: learns the growth and noise at fit
    (``spread_growth_``, ``spread_noise_``), widens its forecasts by them (``stretched``), reports and checks them."""

    def _learn_spread(self, dataset: Dataset) -> list[str]:
        """Learn the terms on ``dataset`` (the estimator otherwise fitted); what the fit should warn."""
        (self.spread_growth_, self.spread_noise_), notes = learn_spread(self, dataset, self.spread_holdout)
        return notes

    def _cut_refit(self):
        """The unfitted model the terms are learnt with: this one without spread learning, its variance tolerance
        (where it has one) loosened to CUT_TOL at most (the terms are coarse quantities; the cut fit costs half)."""
        params = {"spread_holdout": 0}
        if "tol" in self.get_params():
            params["tol"] = max(self.tol, CUT_TOL)
        return clone(self).set_params(**params)

    def _widened(self, forecast: CurveForecast, seed: int) -> CurveForecast:
        return stretched(forecast, self.spread_growth_, self.spread_noise_, seed)

    def _spread_rows(self):
        return value_rows("spread", ["growth", "noise"], [self.spread_growth_, self.spread_noise_])

    def _check_spread(self) -> None:
        check_terms(self.spread_growth_, self.spread_noise_)
