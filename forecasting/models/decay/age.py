"""Development-age effects: a multiplicative correction per period of age on every pool's curve, where the
parametric timing family does not have the market's shape.

A timing family is a guess: on a market whose cash comes in a quick phase and a slow one, a Weibull fitted to it
is 20% too high at some ages and 20% too low at others, the same for every pool, and its forecasts of the tail are
biased. After the fit, each age t's actual collections A_t (summed over the pools observed at that age, CNY) are
set against the model's expected E_t, and

    y_t = mu + a_t + e_t,   a_t = w_t + u_t,   e_t ~ N(0, v_t),   v_t = Var(A_t) / E_t^2 (the ODP noise)
    w_t - w_s ~ N(0, step_sd^2 (t - s)),  w_0 = 0     (a random walk over ages: the smooth part)
    u_t ~ N(0, sigma^2)                                (each age's own: a bump at a few ages)

the random-effects meta-analysis of the calendar effects (``shrinkage.py``) with a smooth part added: the two sds
by restricted likelihood, so the data say how smooth the correction is. A family read through a shape it does not
have errs smoothly over ages (a Weibull's tail on a market with a slow second phase is too thin at every age from
three years on); with the independent part alone an age that few pools have reached is shrunk to no correction,
just where the tail needs it, while the walk lets it keep the correction of the ages before. The curve takes the
shape it can, the a_t the rest; with both, age and calendar effects are estimated in turn (backfitting). A forecast
multiplies each future period's expected collections by exp(a_t) of its age, like a chain ladder's development
factors on top of the curve, each path with its own draw of the factors from their joint posterior, log-normal with
mean exp(a_t) (shared by the pools of that path: an age's correction is common to every pool). Past the oldest age
seen the model extrapolates itself: the walk keeps its last value, its variance growing by step_sd^2 a period, and
the age's own part has mean 0 and variance sigma^2.

By group (``age_by``: a deal column such as the line of business or the originator), each group g has its own
correction on top of the common one, shrunk toward it as the data say:

    y_gt = mu_g + a_t + d_gt + e_gt,   d_gt = w_gt + u_gt,   w_gt - w_gs ~ N(0, group_step_sd^2 (t - s)),
    u_gt ~ N(0, group_sd^2)

with the four sds by restricted likelihood (each group's mu_g integrated out). A group whose shape the families
miss its own way (workers' compensation's long tail among the CAS lines) keeps its correction; groups that share
one pull the group parts' sds to 0 and the effects back to the common form. A group not seen at fit takes the
common correction with the group part's prior around it.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import minimize

from forecasting.models import random
from forecasting.models.shrinkage import MAX_LOG_SD, ShrunkEffects, log_ratios, random_effects

LOWEST = -12.0  # log sd: the bound that means no such part
SPAN = 100_000  # a key is level x SPAN + age (periods), level 0 when the effects are common to every pool


def _prior(group_a: np.ndarray, age_a: np.ndarray, group_b: np.ndarray, age_b: np.ndarray,
           var: np.ndarray) -> np.ndarray:
    """The prior covariance of a between (group, age) points: ``var`` the variances of the common independent and
    walk parts and, by group, of each group's own two parts (module docstring)."""
    same_age = (age_a[:, None] == age_b[None, :]).astype(float)
    walk = np.minimum.outer(age_a, age_b).astype(float)
    cov = var[0] * same_age + var[1] * walk
    if len(var) > 2:
        cov = cov + (group_a[:, None] == group_b[None, :]) * (var[2] * same_age + var[3] * walk)
    return cov


def _marginal(group: np.ndarray, age: np.ndarray, y: np.ndarray, v: np.ndarray,
              var: np.ndarray) -> tuple[tuple, np.ndarray, np.ndarray, float]:
    """With the parts' variances ``var``: the Cholesky factor of the log ratios' marginal covariance Sigma, each y's
    mu (its group's GLS estimate), Sigma^-1 (y - mu) and log det Sigma + log det X' Sigma^-1 X (X: the groups)."""
    levels, level_of = np.unique(group, return_inverse=True)
    X = np.eye(len(levels))[level_of]
    factor = cho_factor(_prior(group, age, group, age, var) + np.diag(v), lower=True)
    to_x, to_y = np.hsplit(cho_solve(factor, np.column_stack([X, y])), [len(levels)])
    information = X.T @ to_x
    mu = np.linalg.solve(information, X.T @ to_y[:, 0])
    logdet = 2 * np.sum(np.log(np.diag(factor[0]))) + np.linalg.slogdet(information)[1]
    return factor, X @ mu, to_y[:, 0] - to_x @ mu, logdet


def posterior(group: np.ndarray, age: np.ndarray, y: np.ndarray, v: np.ndarray, var: np.ndarray,
              grid: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each y's mu and the posterior mean and covariance of a at the (group, age) points of ``grid``, given the
    parts' variances: at an age past the oldest seen the walk carries its last value on, its variance growing by
    the step's each period; a group not among ``group`` has the common part only, with its own part's prior."""
    factor, mu, scaled, _ = _marginal(group, age, y, v, var)
    cross = _prior(*grid, group, age, var)
    cov = _prior(*grid, *grid, var) - cross @ cho_solve(factor, cross.T)
    return mu, cross @ scaled, (cov + cov.T) / 2


def smooth_effects(age: np.ndarray, y: np.ndarray, v: np.ndarray, group: np.ndarray | None = None,
                   grid: tuple[np.ndarray, np.ndarray] | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The sds (common independent, common walk and, with ``group``, each group's own independent and walk), each
    y's mu (its group's), and the posterior mean and covariance of a at the (group, age) points of ``grid`` (default:
    the observed points): the sds maximise the restricted likelihood (the mus integrated out under a flat prior),
    the mus are their GLS estimates (module docstring)."""
    group = np.zeros(len(y), int) if group is None else np.asarray(group)
    levels = np.unique(group)
    parts = 2 if len(levels) == 1 else 4

    def restricted(log_sds: np.ndarray) -> float:  # -log restricted likelihood
        _, mu, scaled, logdet = _marginal(group, age, y, v, np.exp(2 * log_sds))
        return 0.5 * (logdet + (y - mu) @ scaled)

    low = LOWEST + 6
    centred = y - np.array([np.mean(y[group == g]) for g in levels])[np.searchsorted(levels, group)]
    _, sigma2_0, _ = random_effects(centred if parts == 4 else y, v)  # the independent part alone: a start
    sd0 = np.log(max(np.sqrt(sigma2_0), 1e-3))
    starts = [[sd0, low], [low, np.log(0.02)]]
    if parts == 4:
        starts = [s + [low, low] for s in starts] + [[low, low, sd0, low], [low, low, low, np.log(0.02)]]
    best = min((minimize(restricted, np.array(x0), method="L-BFGS-B", bounds=[(LOWEST, np.log(MAX_LOG_SD))] * parts)
                for x0 in starts), key=lambda r: r.fun)
    if not best.success:
        warnings.warn(f"age effects: the sds' fit did not converge ({best.message}); the effects are the last "
                      "iterate's", RuntimeWarning, stacklevel=2)
    sds = np.exp(np.where(best.x > LOWEST + 0.5, best.x, -np.inf))  # at the bound: no such part
    return (sds, *posterior(group, age, y, v, sds ** 2, (group, age) if grid is None else grid))


@dataclass(frozen=True)
class AgeEffects(ShrunkEffects):
    """Fitted age effects: per key (level x SPAN + age in periods since cut-off; level 0 when common to every pool)
    the shrunk effect (``ShrunkEffects``; ``sigma`` the common independent part's sd), ``step_sd`` the common walk's
    and ``effect_cov`` the effects' posterior covariance (the walk ties neighbouring ages' errors together). By
    group (``groups``, the levels' names): ``group_sd`` and ``group_step_sd`` are each group's own parts' sds, the
    keys cover every level at every age any level was seen at, the last level (len(groups)) is a group not seen at
    fit (the common part and its own prior), ``log_ratio`` is centred on its group's mean (``mu`` 0) and NaN where
    the group was not seen at that age."""

    step_sd: float
    effect_cov: np.ndarray
    groups: tuple[str, ...] = ()
    group_sd: float = 0.0
    group_step_sd: float = 0.0

    @classmethod
    def fit(cls, keys: np.ndarray, actual: np.ndarray, expected: np.ndarray, variance: np.ndarray,
            groups: tuple[str, ...] = ()) -> AgeEffects:
        """From per-cell keys (``level_keys``), actual and expected collections and the expected's noise variance."""
        key, y, v = log_ratios(keys, actual, expected, variance)
        if len(y) < 3:
            return cls(key, y, v, np.zeros(len(y)), np.zeros(len(y)), 0.0, 0.0, 0.0, np.zeros((len(y), len(y))),
                       groups)
        level, age = np.divmod(key, SPAN)
        if not groups:
            sds, mu, effect, cov = smooth_effects(age, y, v)
            return cls(key, y, v, effect, _sd(cov), sds[0], float(mu[0]), sds[1], cov)
        ages = np.unique(age)
        grid_level, grid_age = (a.ravel() for a in np.meshgrid(np.arange(len(groups) + 1), ages, indexing="ij"))
        sds, mu, effect, cov = smooth_effects(age, y, v, level, (grid_level, grid_age))
        grid = grid_level * SPAN + grid_age
        at = np.searchsorted(grid, key)
        centred, noise = np.full(len(grid), np.nan), np.full(len(grid), np.nan)
        centred[at], noise[at] = y - mu, v
        return cls(grid, centred, noise, effect, _sd(cov), sds[0], 0.0, sds[1], cov, groups, sds[2], sds[3])

    @property
    def n_levels(self) -> int:
        """Levels a forecast draws corrections for: one when common, else each group and a group not seen at fit."""
        return len(self.groups) + 1 if self.groups else 1

    def levels(self, values: np.ndarray) -> np.ndarray:
        """Each value's level (its position in ``groups``; len(groups) for a group not seen at fit; 0 when the
        effects are common)."""
        if not self.groups:
            return np.zeros(len(values), int)
        at = pd.Index(self.groups).get_indexer(np.asarray(values).astype(str))
        return np.where(at < 0, len(self.groups), at)

    def posterior(self, level: np.ndarray, age: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The effects' posterior mean and covariance at (level, age) points (``posterior``): at fitted points the
        stored ones; past the oldest age seen the walk's extrapolation."""
        seen = np.isfinite(self.log_ratio)
        group, ages = np.divmod(self.key[seen], SPAN)
        sds = [self.sigma, self.step_sd] + ([self.group_sd, self.group_step_sd] if self.groups else [])
        return posterior(group, ages, self.log_ratio[seen], self.noise_var[seen], np.square(sds),
                         (np.asarray(level), np.asarray(age)))[1:]

    def factor_draws(self, ages: np.ndarray, z: np.ndarray) -> np.ndarray:
        """exp(effect + e - sd^2 / 2) per draw, level and age (draws, levels, len(ages)), e drawn from the effects'
        joint posterior with ``z`` standard normals of that shape: each age's correction spread around the point
        factor exp(effect), which stays its mean (the centre of the forecast is the fitted one's), neighbouring
        ages' errors together as the posterior ties them, shared by every pool of a level in a draw. Past the
        oldest age seen the walk carries its last value on with a growing spread (``posterior``); 1 without any
        estimate. Levels: ``n_levels``."""
        if len(self.key) < 3 or not (self.sigma or self.step_sd or self.group_sd or self.group_step_sd):
            return np.ones(z.shape)
        level = np.repeat(np.arange(z.shape[1]), len(ages))
        mean, cov = self.posterior(level, np.tile(np.asarray(ages), z.shape[1]))
        error = z.reshape(len(z), -1) @ random.covariance_root(cov).T
        return np.exp(mean + error - np.diag(cov) / 2).reshape(z.shape)

    def table(self, alpha: float = 0.05) -> pd.DataFrame:
        """period (age), effect, se, lower, upper (exp(effect): collections at that age against the curve's),
        log_ratio (before shrinkage, centred); by group a first column, group ('(new)' for a group not seen at
        fit)."""
        level, age = np.divmod(self.key, SPAN)
        named = {"group": np.asarray([*self.groups, "(new)"], dtype=object)[level]} if self.groups else {}
        return pd.DataFrame({**named, "period": age, **self.bands(alpha)})


def _sd(cov: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(np.diag(cov), 0.0))


def level_keys(effects_groups: tuple[str, ...], values: np.ndarray | None, age: np.ndarray) -> np.ndarray:
    """Each cell's key: its level (position of its ``values`` in ``effects_groups``; 0 when common) x SPAN + its
    age."""
    if not effects_groups:
        return np.asarray(age, int)
    return pd.Index(effects_groups).get_indexer(np.asarray(values).astype(str)) * SPAN + np.asarray(age, int)
