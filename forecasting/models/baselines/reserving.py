"""The reserving methods actuaries use on development triangles, as baselines, on chainladder-python's fits.

Every method projects a pool from its latest cumulative collections C_a at age a with one development pattern
(models/baselines/triangle.py; p(t) = 1 / CDF(t) is the share of the ultimate collected by age t):
- chain ladder (Mack): C(t) = C_a x f_a ... f_{t-1}; its spread is Mack's standard error (process and parameter);
- bootstrap ODP chain ladder: the same projection on each of chainladder's bootstrap triangles, with gamma
  process noise of the ODP scale phi (Var = phi x mean);
- Cape Cod: C(t) = C_a + ELR x opb x (p(t) - p(a)), the expected loss ratio ELR = sum C / sum opb x p fitted
  across the pools (chainladder's CapeCod, opb as exposure), spread from the bootstrap as above;
- Bornhuetter-Ferguson: C(t) = C_a + prior x (p(t) - p(a)) with the agency's est_gross_recovery x opb as prior.
A pool with no collections starts from the pooled first-period rate (chain ladder) or from age 0 (the others).
With ``by`` (a deals column such as originator) each group gets its own pattern where it has at least two
cut-off periods; the other groups use the pattern of all pools (counted in diagnostics_).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.dataset import Dataset
from forecasting.models import random
from forecasting.models.base import Diagnostics, EstimatorTags, FitError, RecoveryEstimator
from forecasting.models.baselines import triangle
from forecasting.models.curve_forecast import CurveForecast
from forecasting.models.options import Name, PositiveInt
from forecasting.models.paths import observed_rates, realized_paths
from forecasting.models.registry import register
from forecasting.models.summary import value_rows

POOLED = "(all pools)"


class TriangleBaseline(RecoveryEstimator):
    """Shared by the reserving methods: one fitted state per group, projections per group."""

    _tags = EstimatorTags(is_baseline=True)

    def __init__(self, name: Name = "baseline", by: str | None = None, tail: bool = True):
        self.name = name
        self.by = by
        self.tail = tail

    def _fit(self, dataset: Dataset) -> Diagnostics:
        groups = self._groups(dataset)
        self.states_ = {POOLED: self._fit_group(dataset)}
        pooled = 0
        for key, ids in (groups.groupby(groups).groups.items() if groups is not None else []):
            try:
                self.states_[str(key)] = self._fit_group(dataset.subset(list(ids)))
            except FitError:
                pooled += 1
        return Diagnostics(True, None, (), {"deals": len(dataset.deals), "groups": len(self.states_) - 1,
                                            "groups_on_pooled_pattern": pooled})

    def _groups(self, dataset: Dataset) -> pd.Series | None:
        if self.by is None:
            return None
        if self.by not in dataset.deals.columns:
            raise FitError(f"by: the deals table has no column {self.by!r}")
        return dataset.deals.set_index("deal_id")[self.by].astype(str)

    def _predict(self, dataset: Dataset, horizon: int, n_draws: int, seed: int) -> CurveForecast:
        _, cum_obs, n_obs = observed_rates(dataset, horizon)
        groups = self._groups(dataset)
        keys = pd.Series(POOLED, index=dataset.deal_ids) if groups is None else \
            groups.reindex(dataset.deal_ids).where(groups.reindex(dataset.deal_ids).isin(self.states_), POOLED)
        mean, draws = np.zeros((len(n_obs), horizon)), np.zeros((n_draws, len(n_obs), horizon))
        opb = dataset.deals.set_index("deal_id")["opb"].reindex(dataset.deal_ids).to_numpy(float)
        for key in keys.unique():
            rows = np.flatnonzero((keys == key).to_numpy())
            part = dataset.subset(list(dataset.deal_ids[rows]))
            mean[rows], draws[:, rows] = self._project(self.states_[key], part, cum_obs[rows], n_obs[rows],
                                                       opb[rows], horizon, n_draws, seed)
        seen = np.arange(1, horizon + 1)[None, :] <= n_obs[:, None]
        mean = np.minimum(np.where(seen, cum_obs, mean), 1.0)
        draws = np.minimum(np.maximum.accumulate(np.where(seen[None], cum_obs[None], draws), axis=-1), 1.0)
        return CurveForecast(dataset.deal_ids, mean, draws, n_obs)

    def _summary_rows(self, alpha: float) -> pd.DataFrame:
        rows = []
        for key, state in self.states_.items():
            ldf = state["pattern"].ldf
            terms = [f"{key}: {k}-{k + 1}" for k in range(1, min(len(ldf), 12) + 1)]
            rows.append(value_rows("factor", terms, ldf[:len(terms)]))
            rows.append(value_rows("tail", [f"{key}: to ultimate"], [np.exp(state["pattern"].log_cdf(len(ldf) + 1)[-1])]))
        return pd.concat(rows, ignore_index=True)


def _first_rate(dataset: Dataset) -> tuple[float, float]:
    """The pooled first-period rate of the pools and the sd of its log across pools (a new pool's start)."""
    first = dataset.history.period_rate.iloc[:, 0].dropna()
    opb = dataset.history.opb.reindex(first.index)
    pooled = float((first * opb).sum() / opb.sum()) if len(first) else 0.0
    positive = first[first > 0]
    return pooled, float(np.std(np.log(positive), ddof=1)) if len(positive) >= 3 else 0.0


@register("chain_ladder")
class MackChainLadder(TriangleBaseline):
    """Chain ladder with Mack's standard errors; paths lognormal around the projection, their parameter part
    shared by every pool of a draw."""

    def __init__(self, name: Name = "baseline_chainladder", by: str | None = None, tail: bool = True):
        super().__init__(name, by, tail)

    def _fit_group(self, dataset: Dataset) -> dict:
        tri, _ = triangle.origin_triangle(dataset)
        first, first_sd = _first_rate(dataset)
        return {"pattern": triangle.fit_pattern(tri, self.tail), "first_rate": first, "first_log_sd": first_sd}

    def projection(self, state: dict, latest: np.ndarray, age: np.ndarray, horizon: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mack's projection (deals, horizon) in CNY from each deal's latest amount at its age (>= 1), and its
        process and parameter mean squared errors (Mack 1993, eq. 7, per deal)."""
        pattern = state["pattern"]
        f = pattern.factors(horizon)
        sigma2, se2 = pattern.variances(horizon)
        log_c = np.concatenate([[0.0], np.cumsum(np.log(f))])[:horizon]  # log C(t) / C(1)
        periods = np.arange(1, horizon + 1)
        after = periods[None, :] >= age[:, None]
        c = np.where(after, latest[:, None] * np.exp(log_c[None, :] - log_c[age - 1][:, None]), np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            proc = np.where(after & (c > 0), sigma2[None, :] / f[None, :] ** 2 / c, 0.0)
        param = np.where(after, (se2 / f ** 2)[None, :], 0.0)
        # the sums run over ages a..t-1: shift by one so column t holds the sum up to t - 1
        shift = lambda x: np.concatenate([np.zeros((len(x), 1)), np.cumsum(np.nan_to_num(x), axis=1)[:, :-1]], 1)
        c = np.nan_to_num(c)
        return c, c ** 2 * shift(proc), c ** 2 * shift(param)

    def _project(self, state, dataset, cum_obs, n_obs, opb, horizon, n_draws, seed):
        idx = np.arange(len(n_obs)), np.maximum(n_obs - 1, 0)
        latest = np.where(n_obs > 0, cum_obs[idx], state["first_rate"]) * opb
        age = np.maximum(n_obs, 1)
        c, mse_proc, mse_param = self.projection(state, latest, age, horizon)
        future = np.maximum(c - latest[:, None], 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            s2 = np.where(future > 0, np.log1p((mse_proc + mse_param) / future ** 2), 0.0)
            share = np.where(mse_proc + mse_param > 0, mse_param / (mse_proc + mse_param), 0.0)
        z = random.standard_normal(random.stream(seed, "params"), n_draws)[:, None, None]
        e = random.per_deal(seed, "process", dataset.deal_ids, lambda rng: random.standard_normal(rng, n_draws))[..., None]
        growth = np.exp(np.sqrt(share * s2) * z + np.sqrt((1 - share) * s2) * e - s2 / 2)
        start = np.ones((n_draws, len(n_obs), 1))
        new = n_obs == 0
        if new.any():
            sd = state["first_log_sd"]
            level = random.per_deal(seed, "level", dataset.deal_ids[new],
                                    lambda rng: random.standard_normal(rng, n_draws))
            start[:, new, 0] = np.exp(sd * level - sd ** 2 / 2)
        paths = start * (latest[None, :, None] + future[None] * growth) / opb[None, :, None]
        return c / opb[:, None], paths


class BootstrapBaseline(TriangleBaseline):
    """The methods whose spread comes from chainladder's bootstrap ODP triangles; subclasses set the level."""

    def __init__(self, name: Name = "baseline", by: str | None = None, tail: bool = True, n_sims: PositiveInt = 500):
        super().__init__(name, by, tail)
        self.n_sims = n_sims

    def _fit_group(self, dataset: Dataset) -> dict:
        tri, weight = triangle.origin_triangle(dataset, dataset.deals.set_index("deal_id")["opb"])
        ldf, curve, latest, phi = triangle.bootstrap_patterns(tri, self.n_sims, 0, self.tail)
        values = np.nan_to_num(np.asarray(tri.values, float)[0, 0])  # chainladder leaves a zero cumulative empty
        exposure = np.nan_to_num(np.asarray(weight.values, float).ravel())
        # origin i's age at the valuation date (the first origin's is the triangle's width); an origin row without
        # exposure is an age no pool has
        ages = values.shape[1] - np.arange(len(values))
        rows = np.flatnonzero(exposure > 0)
        state = {"pattern": triangle.fit_pattern(tri, self.tail), "ldf": ldf, "curve": curve, "phi": phi,
                 "ages": ages[rows], "latest": np.nan_to_num(latest[:, rows]), "exposure": exposure[rows],
                 "point_latest": values[rows, ages[rows] - 1]}
        state["level"] = self._level(state, dataset)
        return state

    def _level(self, state: dict, dataset: Dataset):  # pragma: no cover - abstract
        raise NotImplementedError

    def _rates(self, state, dataset, latest, n_obs, opb, share) -> np.ndarray:
        """Expected cum collections (sims, deals, horizon) in CNY given the share p(t) (sims, horizon + 1, from
        age 0) collected by each age."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _project(self, state, dataset, cum_obs, n_obs, opb, horizon, n_draws, seed):
        idx = np.arange(len(n_obs)), np.maximum(n_obs - 1, 0)
        latest = np.where(n_obs > 0, cum_obs[idx], 0.0) * opb
        sims = random.stream(seed, "params").choice(len(state["ldf"]), n_draws)
        point = {**state, "sim": None}
        mean = self._rates(point, dataset, latest, n_obs, opb, _share(state["pattern"].log_cdf(horizon)[None]))[0]
        shares = _share(triangle.log_cdf(state["ldf"][sims], None if state["curve"] is None else state["curve"][sims],
                                         horizon))
        expected = self._rates({**state, "sim": sims}, dataset, latest, n_obs, opb, shares)
        future = (expected - latest[None, :, None]) / opb[None, :, None]
        paths = realized_paths(cum_obs, n_obs, future, state["phi"] / opb, dataset.deal_ids, seed)
        return mean / opb[:, None], paths


def _share(log_cdf: np.ndarray) -> np.ndarray:
    """p(t) = 1 / CDF(t) for t = 0..horizon (p(0) = 0): (sims, horizon + 1)."""
    return np.concatenate([np.zeros((len(log_cdf), 1)), np.exp(-log_cdf)], axis=1)


def _at_age(share: np.ndarray, n_obs: np.ndarray) -> np.ndarray:
    """(sims, horizon + 1) shares -> (sims, deals, horizon) of p(t) - p(a) for t >= a, else 0."""
    gained = share[:, None, 1:] - share[:, n_obs][..., None]
    return np.maximum(gained, 0.0)


@register("bootstrap_odp")
class BootstrapODP(BootstrapBaseline):
    """The chain ladder on chainladder's bootstrap ODP triangles (England and Verrall), with ODP process noise."""

    def __init__(self, name: Name = "baseline_bootstrap_odp", by: str | None = None, tail: bool = True,
                 n_sims: PositiveInt = 500):
        super().__init__(name, by, tail, n_sims)

    def _level(self, state, dataset):
        """The pooled first-period rate: where a pool with no collections starts."""
        return _first_rate(dataset)[0]

    def _rates(self, state, dataset, latest, n_obs, opb, share):
        """Each bootstrap triangle's chain ladder: the pool's latest amount scaled as its origin's latest diagonal
        is in that triangle (England and Verrall project the pseudo data, so the uncertainty of a young origin's
        level is kept), developed by the triangle's factors."""
        level = latest
        if state["sim"] is not None:
            row = pd.Index(state["ages"]).get_indexer(n_obs)  # a pool's origin row is the row of its age
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = state["latest"][state["sim"]][:, row] / state["point_latest"][row]
            level = latest * np.where((row >= 0) & np.isfinite(ratio), ratio, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ultimate = np.where(n_obs > 0, level / share[:, n_obs], state["level"] * opb / share[:, 1:2])
        return latest[None, :, None] + np.nan_to_num(ultimate)[..., None] * _at_age(share, n_obs)


@register("cape_cod")
class CapeCod(BootstrapBaseline):
    """Cape Cod with opb as exposure: one expected recovery rate (ELR) across the pools of a pattern."""

    def __init__(self, name: Name = "baseline_cape_cod", by: str | None = None, tail: bool = True,
                 n_sims: PositiveInt = 500):
        super().__init__(name, by, tail, n_sims)

    def _level(self, state, dataset):
        """(point ELR, ELR per bootstrap triangle): sum of latest / sum of exposure x p(age), chainladder's
        CapeCod with no trend and no decay."""
        def elr(latest, log_cdf):
            p = np.exp(-log_cdf[..., state["ages"] - 1])
            return latest.sum(axis=-1) / (state["exposure"] * p).sum(axis=-1)
        n = int(state["ages"].max())
        return elr(state["point_latest"], state["pattern"].log_cdf(n)), elr(state["latest"],
                                                                             triangle.log_cdf(state["ldf"], state["curve"], n))

    def _rates(self, state, dataset, latest, n_obs, opb, share):
        point, boot = state["level"]
        elr = np.array([point]) if state["sim"] is None else boot[state["sim"]]
        return latest[None, :, None] + (elr[:, None, None] * opb[None, :, None]) * _at_age(share, n_obs)


@register("bornhuetter_ferguson")
class BornhuetterFerguson(BootstrapBaseline):
    """Bornhuetter-Ferguson with the agency's est_gross_recovery x opb as each pool's a-priori recovery."""

    _tags = EstimatorTags(is_baseline=True, uses_agency=True)

    def __init__(self, name: Name = "baseline_bf", by: str | None = None, tail: bool = True,
                 n_sims: PositiveInt = 500):
        super().__init__(name, by, tail, n_sims)

    def _level(self, state, dataset):
        return None  # each pool's own prior, read at predict

    def _rates(self, state, dataset, latest, n_obs, opb, share):
        prior = dataset.agency_estimates.reindex(dataset.deal_ids).to_numpy(float) * opb
        return latest[None, :, None] + prior[None, :, None] * _at_age(share, n_obs)
