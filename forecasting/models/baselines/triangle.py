"""Development patterns from chainladder-python: the triangle of a set of pools and its fitted factors.

The pools are summed by age (periods observed) into one origin row each (collections in CNY, cumulative), the
triangle the reserving methods are defined on: each row's latest cell is on the valuation diagonal whatever the
pools' cut-off dates and the data's period length (a quarterly pool cut off in February and one cut off in March
are not one calendar origin, but both seen for five quarters are one row). chainladder fits the volume-weighted
development factors f_k (age k to k + 1), Mack's sigma_k and the factors' standard errors, and an exponential tail
curve, f_k - 1 = exp(a + b k), which continues the factors past the triangle's last age. A pool's projection then
needs only its own latest cumulative amount and age, so every pool of every origin is projected with one shared
pattern.
"""
from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.data.dataset import Dataset
from forecasting.models.base import FitError

GRAIN = {1: "M", 3: "Q", 12: "Y"}
BASE = "2000-01"  # the triangle's first origin: any month that starts a month, a quarter and a year
TAIL_PERIODS = 600  # periods the tail curve is carried past the horizon: what is left beyond is below 1e-9
MIN_ORIGINS = 2


def origin_start(observed_periods: pd.Series, months: int) -> pd.Series:
    """Each pool's origin in the triangle: the row of its age, dated on a grid of the data's periods so that every
    row's latest cell falls on one valuation date (the oldest row first). The dates are the triangle's own, not the
    pools' cut-offs."""
    width = int(observed_periods.max())
    first = pd.Period(BASE, freq="M").ordinal + (width - observed_periods.to_numpy(np.int64)) * months
    return pd.Series(pd.PeriodIndex.from_ordinals(first, freq="M").to_timestamp(), index=observed_periods.index)


def origin_triangle(dataset: Dataset, exposure: pd.Series | None = None):
    """The dataset's pools summed by age: (cumulative collections Triangle, exposure Triangle or None).

    ``exposure`` (per deal, CNY) is summed the same way, as the sample_weight of Cape Cod or BF."""
    import chainladder as cl
    h = dataset.history
    months = h.period_months
    observed = h.observed_periods[h.observed_periods > 0]
    if observed.nunique() < MIN_ORIGINS:  # one row per age: fewer ages, no development to read
        raise FitError(f"a triangle needs at least {MIN_ORIGINS} ages with collections; got {observed.nunique()}")
    start = origin_start(observed, months)
    long = h.amounts.loc[observed.index].stack().rename("collections").reset_index()
    long.columns = ["deal_id", "period", "collections"]
    long["origin"] = long["deal_id"].map(start)
    last_month = pd.PeriodIndex(long["origin"], freq="M").asi8 + long["period"].to_numpy(np.int64) * months - 1
    long["valuation"] = pd.PeriodIndex.from_ordinals(last_month, freq="M").to_timestamp(how="end").normalize()
    grouped = long.groupby(["origin", "valuation"], as_index=False)["collections"].sum()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tri = cl.Triangle(grouped, origin="origin", development="valuation", columns="collections",
                          cumulative=False, origin_format=None).incr_to_cum()
        weight = None
        if exposure is not None:
            seen = exposure.index.intersection(long["deal_id"].unique())
            per_origin = exposure[seen].groupby(start.reindex(seen)).sum().rename("exposure").reset_index()
            per_origin.columns = ["origin", "exposure"]
            per_origin["valuation"] = tri.valuation_date
            weight = cl.Triangle(per_origin, origin="origin", development="valuation", columns="exposure",
                                 cumulative=True)
    if tri.development_grain != GRAIN[months] or tri.origin_grain != GRAIN[months]:
        raise FitError(f"the triangle's grain ({tri.origin_grain}/{tri.development_grain}) is not the data's "
                       f"{months}-month periods")
    return tri, weight


@dataclass(frozen=True)
class Pattern:
    """A fitted development pattern: per age k = 1..K-1 the factor, Mack's sigma and the factor's standard error
    (chainladder's ldf_, sigma_, std_err_), and the tail curve's intercept and slope (None: no tail)."""

    ldf: np.ndarray
    sigma: np.ndarray
    std_err: np.ndarray
    tail: tuple[float, float] | None

    def factors(self, n: int) -> np.ndarray:
        """Factors for ages 1..n: the fitted ones, then the tail curve (1 with no tail)."""
        return extend_factors(self.ldf[None], None if self.tail is None else np.array([self.tail]), n)[0]

    def log_cdf(self, n: int) -> np.ndarray:
        """log of the cumulative factor from age t to ultimate, t = 1..n (ultimate: n + TAIL_PERIODS)."""
        return log_cdf(self.ldf[None], None if self.tail is None else np.array([self.tail]), n)[0]

    def variances(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """sigma_k^2 and std_err_k^2 for ages 1..n: chainladder's, then extended log-linearly in k (as chainladder
        extrapolates the last sigma), zero where the pattern has no tail."""
        return extend_log_linear(self.sigma ** 2, n, self.tail is not None), \
            extend_log_linear(self.std_err ** 2, n, self.tail is not None)


def extend_factors(ldf: np.ndarray, tail: np.ndarray | None, n: int) -> np.ndarray:
    """(sims, K-1) fitted factors and per sim (intercept, slope) -> (sims, n) factors for ages 1..n."""
    sims, k = ldf.shape
    out = np.ones((sims, n))
    out[:, :min(k, n)] = ldf[:, :n]
    if tail is not None and n > k:
        ages = np.arange(k + 1, n + 1)
        grow = tail[:, 1:2] < 0  # a tail curve that does not decay is no tail
        out[:, k:] = np.where(grow, 1.0 + np.exp(tail[:, 0:1] + tail[:, 1:2] * ages), 1.0)
    return out


def log_cdf(ldf: np.ndarray, tail: np.ndarray | None, n: int) -> np.ndarray:
    """(sims, K-1) factors and tail curves -> (sims, n) log cumulative factors from age t = 1..n to ultimate (the
    tail carried TAIL_PERIODS past n)."""
    return log_to_ultimate(extend_factors(ldf, tail, n + TAIL_PERIODS), n)


def log_to_ultimate(factors: np.ndarray, n: int) -> np.ndarray:
    """(sims, N) factors -> (sims, n) log cumulative factors from age t = 1..n to age N + 1."""
    rest = np.cumsum(np.log(factors)[:, ::-1], axis=1)[:, ::-1]
    return rest[:, :n]


def extend_log_linear(values: np.ndarray, n: int, extrapolate: bool) -> np.ndarray:
    out = np.zeros(n)
    k = min(len(values), n)
    out[:k] = values[:k]
    if extrapolate and n > len(values):
        ok = values > 0
        if ok.sum() >= 2:
            slope, intercept = np.polyfit(np.flatnonzero(ok) + 1.0, np.log(values[ok]), 1)
            out[len(values):] = np.exp(intercept + slope * np.arange(len(values) + 1, n + 1))
    return out


def fit_pattern(tri, tail: bool) -> Pattern:
    """chainladder's Development (volume-weighted) and, with ``tail``, its exponential TailCurve."""
    import chainladder as cl
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # chainladder warns on the empty cells of a monthly triangle
        dev = cl.Development().fit(tri)
        ldf, sigma, std_err = (np.nan_to_num(np.asarray(getattr(dev, a).values, float).ravel()) for a in
                               ("ldf_", "sigma_", "std_err_"))
        curve = None
        if tail:
            fitted = cl.TailCurve(curve="exponential").fit(dev.transform(tri))
            curve = (float(np.ravel(fitted.intercept_.values)[0]), float(np.ravel(fitted.slope_.values)[0]))
    if not np.isfinite(ldf).all() or (ldf <= 0).any():
        raise FitError("development factors are not finite and positive (a cut-off period with no collections "
                       "at its first age?)")
    return Pattern(np.where(ldf > 0, ldf, 1.0), sigma, std_err, curve)


_BOOTSTRAPS: dict[tuple, tuple] = {}  # the last few bootstraps: the bootstrap baselines of one fold share theirs
MAX_CACHED = 4


def bootstrap_patterns(tri, n_sims: int, seed: int, tail: bool) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, float]:
    """chainladder's BootstrapODPSample: per simulated triangle, its factors (sims, K-1), tail curve (sims, 2) and
    latest diagonal (sims, origins); and the ODP scale phi (Var = phi x mean). The same triangle bootstrapped with
    the same settings gives the same arrays (read-only), computed once."""
    values = np.nan_to_num(np.asarray(tri.values, float))
    key = (hashlib.sha256(values.tobytes()).hexdigest(), values.shape, str(tri.origin[0]), str(tri.development_grain),
           n_sims, seed, tail)
    if key not in _BOOTSTRAPS:
        if len(_BOOTSTRAPS) >= MAX_CACHED:
            _BOOTSTRAPS.pop(next(iter(_BOOTSTRAPS)))
        result = _bootstrap(tri, n_sims, seed, tail)
        for array in result[:3]:
            if array is not None:
                array.flags.writeable = False
        _BOOTSTRAPS[key] = result
    return _BOOTSTRAPS[key]


def _bootstrap(tri, n_sims: int, seed: int, tail: bool):
    import chainladder as cl
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        boot = cl.BootstrapODPSample(n_sims=n_sims, random_state=seed).fit(tri)
        sims = boot.resampled_triangles_
        dev = cl.Development().fit(sims)
        ldf = np.asarray(dev.ldf_.values, float)[:, 0, 0, :]
        curve = None
        if tail:
            fitted = cl.TailCurve(curve="exponential").fit(dev.transform(sims))
            curve = np.column_stack([np.asarray(fitted.intercept_.values, float).ravel(),
                                     np.asarray(fitted.slope_.values, float).ravel()])
        latest = np.asarray(sims.latest_diagonal.values, float)[:, 0, :, 0]
    ldf = np.where(np.isfinite(ldf) & (ldf > 0), ldf, 1.0)
    return ldf, curve, latest, float(np.ravel(boot.scale_)[0])
