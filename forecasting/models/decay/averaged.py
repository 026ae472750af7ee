"""Decay-curve models of several timing families, their forecasts mixed with weights stacked on held-out periods.

One timing family is a guess about the shape of the tail, and a wrong guess biases every seasoned pool's forecast
in the same direction: on the CAS triangles the Weibull under-forecasts what insurers pay after year 5 and the
log-normal and log-logistic over-forecast it. Each family's model (``DecayCurveModel``, every option shared) is
fitted to the whole dataset; the mixture weights w minimise the CRPS of the mixture's predictive distribution of
each pool's last observed period, forecast from the periods before it with the pool's own effects re-estimated on
them (stacking, Yao et al. 2018, with the CRPS as the score):

    w = argmin_{w in simplex} mean_d CRPS(sum_k w_k F_kd, y_d)

The weights depend on how long a pool has been seen (hierarchical stacking by a known input, Yao et al. 2021):
the held-out pools are split into ``age_groups`` groups of about equal size by their age at the forecast origin
(periods seen before the held-out one), cut at the age quantiles j / groups, and each group gets its own weights
(one group when fewer than MIN_GROUP_POOLS pools would fall in each). A young pool's forecast is mostly its tail
and a seasoned pool's its last years, and one family need not serve both: on the CAS triangles the young pools'
weights go to the log-logistic's heavy tail, the seasoned pools' to the Weibull and the log-normal. A pool being
forecast takes the weights of its group by the periods it has been seen.

The shared parameters are the full fit's (a refit per family without the last periods would double the fit's
cost), so the held-out score flatters every family alike; the weights compare families, they are not a
calibration figure. Age effects are the exception: the corrections at the oldest ages rest on few cells, the
held-out ones among them, so each family's held-out forecast takes age effects re-estimated without the held-out
cells (``DecayCurveModel.held_out_age``), or a family whose tail errs there would be scored with its error mended.

A forecast's draw k comes from one family for every deal of an age group (the first round(w_1 n) draws from the
first family, and so on), so sums over a group's deals of draw k are still draws of the sum; across groups draw k
takes the families in the same order, so the sum couples them comonotonically.
"""
from __future__ import annotations

import itertools
import warnings
from dataclasses import replace

import numpy as np

from forecasting.data.dataset import Dataset
from forecasting.models import random, spread
from forecasting.models.base import Diagnostics, EstimatorTags, RecoveryEstimator
from forecasting.models.curve_forecast import CurveForecast
from forecasting.models.decay.model import DecayCurveModel
from forecasting.models.options import Columns, Curves, Holdout, Name, PositiveInt
from forecasting.models.registry import register
from forecasting.models.summary import value_rows

WEIGHT_STEP = 0.05  # the simplex grid the weights are chosen on: finer than the CRPS can tell apart
MIN_GROUP_POOLS = 100  # held-out pools per age group at least: the weights of fewer move with a few pools' luck
HOLDOUT_CELLS = 20_000_000  # draws x pools x periods of one held-out forecast call: the pools go in chunks


@register("decay_average")
class DecayAverageModel(spread.LearntSpread, RecoveryEstimator):
    """A stacked mixture of decay-curve models, one per timing family (module docstring)."""

    def __init__(self, name: Name = "decay_average", curves: Curves = ("weibull", "lognormal", "loglogistic"),
                 covariates: Columns = ("log_avg_balance", "wa_delinquency_months"),
                 groups: Columns = ("originator", "vintage"), ordered_groups: Columns = ("vintage",),
                 agency_prior: bool = False, timing_effects: bool = True, shape_effects: bool = True,
                 calendar_effects: bool = False, calendar_by: str | None = None, age_effects: bool = False,
                 age_by: str | None = None, max_iter: PositiveInt = 500, tol: float = 1e-4,
                 holdout_draws: PositiveInt = 1000, spread_holdout: Holdout = None, age_groups: PositiveInt = 3):
        self.name = name
        self.curves = curves
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
        self.holdout_draws = holdout_draws
        self.spread_holdout = spread_holdout
        self.age_groups = age_groups

    _tags = DecayCurveModel._tags

    @property
    def tags(self) -> EstimatorTags:
        return replace(self._tags, uses_agency=self.agency_prior)

    @classmethod
    def check_options(cls, options) -> list[tuple[str, str]]:
        problems = DecayCurveModel.check_options(options)
        if len(options.curves) < 2:
            problems.append(("curves", "name at least two timing families (one is kind: decay_curve)"))
        return problems

    def _member(self, curve: str) -> DecayCurveModel:
        shared = {k: v for k, v in self.get_params().items()
                  if k not in ("name", "curves", "holdout_draws", "spread_holdout", "age_groups")}
        return DecayCurveModel(name=f"{self.name}.{curve}", curve=curve, spread_holdout=0, **shared)

    # ------------------------------------------------------------------------------------------------ fit
    def _fit(self, dataset: Dataset) -> Diagnostics:
        members = []
        with warnings.catch_warnings():  # each member's warnings are collected into this fit's diagnostics
            warnings.simplefilter("ignore", RuntimeWarning)
            for curve in self.curves:
                members.append(self._member(curve).fit(dataset))
        held = _holdout(dataset)
        self.age_edges_, self.weights_ = grouped_weights(
            [_holdout_draws(m.held_out_age(held), dataset, held, self.holdout_draws) for m in members],
            _holdout_actual(dataset), _last_index(dataset), self.age_groups)
        self.member_states_ = [m.fitted_state() for m in members]
        self._members = members
        # the cut refit stacks its weights again on the cut data: the full data's were measured to hide a quarter of
        # the growth on CAS (a = 0.20 against 0.26)
        notes = [w for m in members for w in m.diagnostics_.warnings] + self._learn_spread(dataset)
        shown = "; ".join(f"{label} " + ", ".join(f"{c} {w:.2f}" for c, w in zip(self.curves, row))
                          for label, row in zip(self.age_labels(), self.weights_))
        return Diagnostics(all(m.diagnostics_.converged for m in members),
                           sum(m.diagnostics_.iterations or 0 for m in members), tuple(notes),
                           {**members[0].diagnostics_.counts, "weights": shown},
                           "; ".join(m.diagnostics_.message for m in members if m.diagnostics_.message))

    @property
    def members_(self) -> list[DecayCurveModel]:
        """The fitted family models (rebuilt from ``member_states_`` after an artifact is loaded)."""
        if getattr(self, "_members", None) is None:
            self._check_fitted()
            self._members = []
            for curve, state in zip(self.curves, self.member_states_):
                member = self._member(curve)
                for key, value in state.items():
                    setattr(member, key, value)
                member.check_state()
                self._members.append(member)
        return self._members

    # -------------------------------------------------------------------------------------------- predict
    def _predict(self, dataset: Dataset, horizon: int, n_draws: int, seed: int) -> CurveForecast:
        """Draw k of a deal from the family whose share of the draws (by the deal's age group) holds k; each family
        forecasts from the first to the last draw any group takes from it."""
        seen = _seen(dataset)
        group = age_group(self.age_edges_, seen)
        counts = np.array([draw_counts(w, n_draws) for w in self.weights_])  # (groups, families)
        ends = np.cumsum(counts, axis=1)
        starts = ends - counts
        family = np.empty((n_draws, len(seen)), int)  # the family of draw k for each deal
        for g in range(len(self.weights_)):
            for f in range(len(self.curves)):
                family[starts[g, f]:ends[g, f], group == g] = f
        first = draws = expected = None
        for f, member in enumerate(self.members_):
            mine = family == f
            used = np.flatnonzero(mine.any(axis=1))
            if not len(used):
                continue
            fc = member.predict(dataset, horizon, n_draws=int(used[-1] - used[0]) + 1,
                                random_state=_member_seed(seed, member.curve))
            if first is None:
                first, shape = fc, (n_draws,) + fc.draws.shape[1:]
                draws, expected = np.empty(shape), np.empty(shape)
            k, d = np.nonzero(mine)
            draws[k, d], expected[k, d] = fc.draws[k - used[0], d], fc.expected[k - used[0], d]
        return self._widened(CurveForecast(first.deal_ids, draws.mean(axis=0), draws, first.observed_periods,
                                           expected=expected), seed)

    def age_labels(self) -> list[str]:
        """The age groups' names by periods seen: 'seen <= 3', 'seen 4-6', 'seen > 6' ('all' for one group)."""
        edges = np.asarray(self.age_edges_).astype(int)
        if not len(edges):
            return ["all"]
        inner = [f"seen {lo + 1}-{hi}" if hi > lo + 1 else f"seen {hi}" for lo, hi in zip(edges[:-1], edges[1:])]
        return [f"seen <= {edges[0]}", *inner, f"seen > {edges[-1]}"]

    # --------------------------------------------------------------------------------------------- report
    def _summary_rows(self, alpha: float):
        """The weights, then each family's own summary with its curve before the block (``weibull:level``)."""
        import pandas as pd
        rows = [*(value_rows("weight" if label == "all" else f"weight ({label})", list(self.curves), w)
                  for label, w in zip(self.age_labels(), self.weights_)),
                self._spread_rows()]
        for member in self.members_:
            table = member.summary(alpha)
            rows.append(table.assign(block=member.curve + ":" + table["block"]))
        return pd.concat(rows, ignore_index=True)

    def check_state(self) -> None:
        super().check_state()
        w, edges = np.asarray(self.weights_, float), np.asarray(self.age_edges_, float)
        if (edges.ndim != 1 or np.any(np.diff(edges) <= 0) or np.any(edges != np.round(edges))
                or w.shape != (len(edges) + 1, len(self.curves)) or np.any(w < 0) or np.any(np.abs(w.sum(axis=1) - 1) > 1e-9)):
            raise ValueError("weights do not match the age groups and curves or do not sum to 1")
        if len(self.member_states_) != len(self.curves):
            raise ValueError("one fitted state per curve is needed")
        self._check_spread()
        self._members = None
        self.members_  # noqa: B018 - rebuilding checks every member's state


def stacking_weights(draws: list[np.ndarray], actual: np.ndarray) -> np.ndarray:
    """Weights on the simplex grid (step WEIGHT_STEP) minimising the mean CRPS of the mixture of the families'
    predictive draws (each (S_k, pools)) for ``actual`` (pools,); ties go to the earlier family.

    A mixture's CRPS is linear in the weights through E|X - y| and quadratic through E|X - X'|:
    CRPS(sum_k w_k F_k, y) = sum_k w_k a_k - sum_kl w_k w_l B_kl / 2, a_k = E|X_k - y|, B_kl = E|X_k - X_l'|,
    so the family terms are computed once (a sort per pair of families) and each grid point costs a K x K product.
    B_kl comes from the even mixture of k and l: E|M - M'| = (B_kk + B_ll + 2 B_kl) / 4."""
    from forecasting.backtest.calibration import mean_abs_difference
    K = len(draws)
    a = np.stack([np.mean(np.abs(d - actual[None]), axis=0) for d in draws])  # (K, pools), NaN where no actual
    B = np.empty((K, K, len(actual)))
    for k in range(K):
        B[k, k] = mean_abs_difference(draws[k])
    for k, j in itertools.combinations(range(K), 2):
        even = np.concatenate([np.full(len(draws[k]), 0.5 / len(draws[k])), np.full(len(draws[j]), 0.5 / len(draws[j]))])
        mixed = mean_abs_difference(np.concatenate([draws[k], draws[j]]), even)
        B[k, j] = B[j, k] = 2.0 * mixed - 0.5 * (B[k, k] + B[j, j])
    steps = round(1 / WEIGHT_STEP)
    best, best_score = None, np.inf
    for cut in itertools.product(range(steps + 1), repeat=K - 1):
        if sum(cut) > steps:
            continue
        w = np.array([*cut, steps - sum(cut)]) / steps
        score = float(np.nanmean(w @ a - 0.5 * np.einsum("k,kld,l->d", w, B, w)))
        if score < best_score - 1e-15:
            best, best_score = w, score
    return best


def grouped_weights(draws: list[np.ndarray], actual: np.ndarray, origin_age: np.ndarray,
                    groups: int) -> tuple[np.ndarray, np.ndarray]:
    """The age groups' upper edges (``age_edges``) and each group's stacking weights (groups, families), from the
    families' held-out draws (each (S_k, pools)), the held-out actuals and each pool's age at the forecast origin
    (periods seen before the held-out one)."""
    edges = age_edges(origin_age[np.isfinite(actual)], groups)
    group = age_group(edges, origin_age)
    return edges, np.array([stacking_weights([d[:, group == g] for d in draws], actual[group == g])
                            for g in range(len(edges) + 1)])


def age_group(edges: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Each pool's age group: a group holds the ages up to its upper edge (``age_edges``)."""
    return np.searchsorted(edges, age, side="left")


def age_edges(origin_age: np.ndarray, groups: int) -> np.ndarray:
    """Upper edges of the age groups (``age_group``): the quantiles j / n of the held-out pools' ages (taken at an
    observed age, so no group is empty), n = groups or fewer so that each group expects MIN_GROUP_POOLS pools;
    repeated quantiles (many pools of one age) merge their groups."""
    n = int(min(groups, len(origin_age) // MIN_GROUP_POOLS))
    if n <= 1:
        return np.empty(0)
    edges = np.unique(np.quantile(origin_age, np.arange(1, n) / n, method="lower"))
    return edges[edges < origin_age.max()]


def draw_counts(weights: np.ndarray, n_draws: int) -> np.ndarray:
    """Draws per family: n x weights rounded by largest remainder, so they sum to n."""
    raw = np.asarray(weights, float) * n_draws
    counts = np.floor(raw).astype(int)
    counts[np.argsort(counts - raw, kind="stable")[:n_draws - counts.sum()]] += 1
    return counts


def _holdout(dataset: Dataset) -> Dataset:
    """The dataset without each pool's last observed period."""
    c = dataset.collections
    last = c.groupby("deal_id")["period"].transform("max")
    return Dataset(dataset.meta, dataset.deals, c[c["period"] < last].reset_index(drop=True))


def _seen(dataset: Dataset) -> np.ndarray:
    """Periods observed per deal, in dataset order (0 for a pool with none)."""
    return dataset.history.observed_periods.reindex(dataset.deal_ids).fillna(0).to_numpy().astype(int)


def _last_index(dataset: Dataset) -> np.ndarray:
    return _seen(dataset) - 1


def _holdout_actual(dataset: Dataset) -> np.ndarray:
    """Each pool's cum_rate at its last observed period (NaN for a pool without one)."""
    last = _last_index(dataset)
    cum = dataset.history.cum_rate.reindex(dataset.deal_ids).to_numpy()
    return np.where(last >= 0, cum[np.arange(len(last)), np.maximum(last, 0)], np.nan)


def _holdout_draws(model: DecayCurveModel, dataset: Dataset, held: Dataset, n_draws: int) -> np.ndarray:
    """(draws, pools): the family's predictive draws of each pool's last observed cum_rate from the periods before
    (``held``: the dataset without them, ``_holdout``).
    Only one cell per pool is kept, so the pools are forecast in chunks (one call's draws to rounding: random streams
    are keyed by deal, and every chunk has the same horizon), and memory does not grow with draws x pools."""
    last = _last_index(dataset)
    horizon = max(int(last.max(initial=0)) + 1, 1)
    ids = dataset.deal_ids
    out = np.empty((n_draws, len(ids)))
    size = max(1, HOLDOUT_CELLS // (n_draws * horizon))
    for start in range(0, len(ids), size):
        part = slice(start, start + size)
        fc = model.predict(held.subset(ids[part]), horizon, n_draws=n_draws, random_state=1)
        at = fc.deal_ids.get_indexer(ids[part])
        out[:, part] = fc.draws[:, at, np.maximum(last[part], 0)]
    return out


def _member_seed(seed: int, curve: str) -> int:
    """Each family's own random numbers, fixed by the forecast's seed."""
    return int(random.stream(seed, "family", curve).integers(2**31))
