"""Decay-curve model: pool-level per-period recovery rates falling with pool age, with partial pooling.

For deal d and period t (DEVELOPERS' docs/models.md has the full statement):

    E[rate_dt] = m_dt = L_d * (G(t; lam_d, k) - G(t - 1; lam_d, k))
    logit L_d  = x_d' beta_L + sum_g a_g[level_g(d)] + u_d        (level = eventual gross recovery)
    log lam_d  = x_d' beta_S + sum_g c_g[level_g(d)] + v_d        (timing: the curve's scale in periods)
    a_g ~ N(0, tau_a_g^2), c_g ~ N(0, tau_c_g^2), u_d ~ N(0, tau_u^2), v_d ~ N(0, tau_v^2)
                                                                   (originator, vintage and deal effects)
    an ordered group (vintage by default): a_g[v] = sum of steps s_j, j <= v, each s_j ~ N(0, tau^2), so its effects
    are a random walk, shrunk toward the previous level, and a new vintage starts from the last one seen; with
    agency_prior, s_j ~ N(agency's step into j, tau^2) and a new vintage starts one agency step away (agency.py)
    Var(rate_dt) = phi * m_dt / n_borrowers_d                      (overdispersed Poisson quasi-likelihood)

A borrower's instalments fall in neighbouring periods, so a run of periods tells less than independent periods
would: inference and forecasts use the dispersion phi * c, with c (``cum_dispersion_``) the ratio of the variance of a
pool's cumulative cash to the sum of its per-period variances, measured on the loan tape when one is given
(``forecasting/models/dispersion.py``; 1 without loans).

Estimation maximises the penalised quasi-likelihood for given variances, and re-estimates the variances (and phi,
from Pearson residuals) by the Laplace-EM update tau^2 = mean(effect^2 + its posterior variance), until they settle:
the amount of shrinkage is learned from the data. Standard errors come from the Fisher information plus the penalty.

Forecasts integrate over parameter uncertainty (draws from the estimates' normal approximation), over the unknown
effects of new groups and of the deal itself, and add process noise shrinking with n_borrowers: a gamma process whose
increment in each period has the quasi-likelihood's mean and variance, independent across periods. A seasoned pool's
deal effects (u_d, v_d) are conditioned on its own collections (their posterior given the observed periods): a
credibility weight that grows with the observed share of the curve and with pool size, and that does not mistake a
fast start for a high level, since early collections inform timing as much as level.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import minimize
from scipy.special import expit, logit

from forecasting.data.history import RecoveryHistory
from forecasting.models import curves
from forecasting.models.agency import AgencySteps
from forecasting.models.base import CurveForecast, gamma_process
from forecasting.models.design import Design
from forecasting.models.dispersion import cum_dispersion

FD_STEP = 1e-5
MIN_MEAN = 1e-12
DEAL = "deal"


class FitError(RuntimeError):
    """The optimiser failed or never left its starting values: the fit must not be used. The message says what
    went wrong; whoever reports it (CLI, backtest) names the model."""


class DecayCurveModel:
    """Pool-level decay-curve model with empirical-Bayes group effects (see module docstring)."""

    kind = "decay_curve"

    def __init__(self, name: str = "decay", curve: str = "weibull",
                 covariates: tuple[str, ...] = ("log_avg_balance", "wa_delinquency_months"),
                 groups: tuple[str, ...] = ("originator", "vintage"), ordered_groups: tuple[str, ...] = ("vintage",),
                 timing_effects: bool = True, agency_prior: bool = False, max_em_iter: int = 500, tol: float = 1e-4):
        self.name = name
        self.curve = curve
        self.covariates = list(covariates)
        self.groups = list(groups)
        self.ordered_groups = list(ordered_groups)
        self.timing_effects = timing_effects
        self.agency_prior = agency_prior
        self.max_em_iter = max_em_iter
        self.tol = tol

    # ----------------------------------------------------------------------------------------------- layout
    @property
    def _has_shape(self) -> bool:
        return curves.HAS_SHAPE[self.curve]

    def _layout(self, n_deals: int) -> None:
        q = 1 + len(self.covariates)
        n_rand = len(self.design_.random_names())
        self.n_level_ = q + n_rand + n_deals
        self.n_timing_ = q + (n_rand if self.timing_effects else 0) + n_deals
        # variance component of each parameter: -1 fixed, else index into tau2_
        rg = self.design_.group_of_random()
        G = len(self.groups)
        level_vc = np.r_[np.full(q, -1), rg, np.full(n_deals, G)]
        timing_vc = np.r_[np.full(q, -1), (rg + G + 1) if self.timing_effects else np.empty(0, int),
                          np.full(n_deals, self.timing_deal_vc)]
        self.vc_ = np.r_[level_vc, timing_vc, [-1] if self._has_shape else []].astype(int)
        self.vc_names_ = [f"level:{g}" for g in self.groups] + [f"level:{DEAL}"] + \
            ([f"timing:{g}" for g in self.groups] if self.timing_effects else []) + [f"timing:{DEAL}"]

    @property
    def _n_fixed(self) -> int:
        """Parameters without a variance component: covariate coefficients, intercepts and the log shape."""
        return int(np.sum(self.vc_ < 0))

    @property
    def level_deal_vc(self) -> int:
        return len(self.groups)

    @property
    def timing_deal_vc(self) -> int:
        return 2 * len(self.groups) + 1 if self.timing_effects else len(self.groups) + 1

    @property
    def _level_groups(self) -> slice:
        """Where the level block's group-level effects sit in theta (after the intercept and covariates)."""
        q = 1 + len(self.covariates)
        return slice(q, q + len(self.design_.random_names()))

    def _split(self, theta: np.ndarray):
        a, b = self.n_level_, self.n_level_ + self.n_timing_
        return theta[:a], theta[a:b], (theta[b] if self._has_shape else 0.0)

    # ------------------------------------------------------------------------------------------ likelihood
    def _delta_g(self, t, scale, shape):
        shape = np.exp(shape) if self._has_shape else 1.0
        return curves.cdf(self.curve, t, scale, shape) - curves.cdf(self.curve, t - 1, scale, shape)

    def _delta_g_by_log_scale(self, level, t, scale, shape):
        """level * d(G(t) - G(t-1)) / d log(scale), by central differences."""
        e = np.exp(FD_STEP)
        return level * (self._delta_g(t, scale * e, shape) - self._delta_g(t, scale / e, shape)) / (2 * FD_STEP)

    def _cells(self, theta, Z_L, Z_S, d, t):
        """Per cell: mean m and its derivatives by eta_L, eta_S (log scale) and log shape."""
        th_L, th_S, log_k = self._split(theta)
        L = expit(Z_L @ th_L)
        lam = np.exp(Z_S @ th_S)[d]
        dg = self._delta_g(t, lam, log_k)
        m = np.maximum(L[d] * dg, MIN_MEAN)
        dm_L = dg * (L * (1 - L))[d]
        dm_S = self._delta_g_by_log_scale(L[d], t, lam, log_k)
        dm_k = L[d] * (self._delta_g(t, lam, log_k + FD_STEP) - self._delta_g(t, lam, log_k - FD_STEP)) / (2 * FD_STEP) \
            if self._has_shape else None
        return m, dm_L, dm_S, dm_k

    def _objective(self, theta, data, phi, precision):
        Z_L, Z_S, d, t, r, w = data
        m, dm_L, dm_S, dm_k = self._cells(theta, Z_L, Z_S, d, t)
        loglik = np.sum(w * (r * np.log(m) - m))
        score = w * (r / m - 1.0)
        n = Z_L.shape[0]
        grad = [Z_L.T @ np.bincount(d, score * dm_L, n), Z_S.T @ np.bincount(d, score * dm_S, n)]
        if self._has_shape:
            grad.append([np.sum(score * dm_k)])
        shrunk = theta - self.prior_mean_
        grad = -np.concatenate(grad) / phi + precision * shrunk
        return -loglik / phi + 0.5 * np.sum(precision * shrunk**2), grad

    def _fisher(self, theta, data, phi):
        Z_L, Z_S, d, t, r, w = data
        m, dm_L, dm_S, dm_k = self._cells(theta, Z_L, Z_S, d, t)
        W = w / (phi * m)
        n = Z_L.shape[0]
        s = lambda a, b: np.bincount(d, W * a * b, n)  # noqa: E731 - per-deal sums of the information
        blocks = [[Z_L.T @ (s(dm_L, dm_L)[:, None] * Z_L), Z_L.T @ (s(dm_L, dm_S)[:, None] * Z_S)],
                  [None, Z_S.T @ (s(dm_S, dm_S)[:, None] * Z_S)]]
        blocks[1][0] = blocks[0][1].T
        info = np.block(blocks)
        if self._has_shape:
            cross = np.r_[Z_L.T @ s(dm_L, dm_k), Z_S.T @ s(dm_S, dm_k)]
            info = np.block([[info, cross[:, None]], [cross[None, :], np.array([[np.sum(W * dm_k**2)]])]])
        return info

    # ------------------------------------------------------------------------------------------------- fit
    def fit(self, deals: pd.DataFrame, collections: pd.DataFrame, loans: pd.DataFrame | None = None,
            loan_collections: pd.DataFrame | None = None) -> "DecayCurveModel":
        """Estimate from pool-level collections; the loan tables, when given, only measure ``cum_dispersion_``."""
        if self.curve not in curves.CURVES:
            raise ValueError(f"unknown curve {self.curve!r}; choose from {', '.join(curves.CURVES)}")
        deals = deals.reset_index(drop=True)
        self.design_ = Design(self.covariates, self.groups, self.ordered_groups).fit(deals)
        self.deal_ids_ = deals["deal_id"].astype(str).tolist()
        self._layout(len(deals))
        self.prior_mean_ = np.zeros(len(self.vc_))  # effects are shrunk toward it: 0, or the agency's vintage steps
        self.agency_ = AgencySteps.fit(self.design_, deals) if self.agency_prior else None
        if self.agency_ is not None:
            self.prior_mean_[self._level_groups] = self.agency_.step_means(self.design_)
        data = self._data(deals, collections)
        Z_L, Z_S, d, t, r, w = data
        if len(r) == 0:
            raise FitError("no collections to fit on")
        self.n_cells_ = len(r)
        c = self.cum_dispersion_ = cum_dispersion(loans, loan_collections, self.deal_ids_)
        start = self._start(data)
        tau2 = np.full(len(self.vc_names_), 0.1)
        theta, phi = start, 1.0
        edf = float(self._n_fixed)  # effective number of parameters; random effects add theirs below
        for iteration in range(1, self.max_em_iter + 1):
            precision = np.where(self.vc_ >= 0, 1.0 / tau2[np.maximum(self.vc_, 0)], 0.0)
            res = minimize(self._objective, theta, args=(data, phi * c, precision), jac=True, method="L-BFGS-B",
                           options={"maxiter": 5000})
            if not res.success and not np.isfinite(res.fun):
                raise FitError(f"optimiser failed: {res.message}")
            theta = res.x
            m = self._cells(theta, *data[:4])[0]
            phi = max(float(np.sum(w * (r - m) ** 2 / m) / max(len(r) - edf, 1.0)), 1e-6)
            cov = np.linalg.inv(self._fisher(theta, data, phi * c) + np.diag(precision))
            # a shrunk effect uses up 1 - (posterior variance / prior variance) of a degree of freedom
            edf = float(self._n_fixed + np.sum(1.0 - np.diag(cov) * precision))
            new = np.array([np.mean((theta - self.prior_mean_)[self.vc_ == g] ** 2 + np.diag(cov)[self.vc_ == g])
                            for g in range(len(tau2))])
            new = np.maximum(new, 1e-8)
            done = np.max(np.abs(np.sqrt(new) - np.sqrt(tau2))) < self.tol  # effect sds settled
            tau2 = new
            if done:
                break
        if np.allclose(theta[self.vc_ < 0], start[self.vc_ < 0]):
            raise FitError(f"the optimiser stopped at its starting values ({res.message})")
        self.converged_ = bool(done)
        self.em_iterations_ = iteration
        self.warnings_ = [] if self.converged_ else [
            f"{self.name}: variance components did not settle in {iteration} EM iterations; estimates may be unreliable"]
        if len(deals) <= self._n_fixed:
            self.warnings_.append(f"{self.name}: {len(deals)} deals for {self._n_fixed} fixed parameters: "
                                  f"the covariate effects are not identified (t intervals on 1 df); use fewer "
                                  f"covariates or more deals")
        for message in self.warnings_:
            warnings.warn(message, RuntimeWarning, stacklevel=2)
        precision = np.where(self.vc_ >= 0, 1.0 / tau2[np.maximum(self.vc_, 0)], 0.0)
        self.theta_, self.phi_, self.tau2_ = theta, phi, tau2
        self.cov_ = np.linalg.inv(self._fisher(theta, data, phi * c) + np.diag(precision))
        self.optimizer_message_ = str(res.message)
        return self

    def _data(self, deals: pd.DataFrame, collections: pd.DataFrame):
        F = self.design_.fixed(deals)
        R, _ = self.design_.random(deals)
        Z_L = np.hstack([F, R, np.eye(len(deals))])
        Z_S = np.hstack([F, R, np.eye(len(deals))] if self.timing_effects else [F, np.eye(len(deals))])
        index = pd.Series(np.arange(len(deals)), index=deals["deal_id"].astype(str))
        coll = collections[collections["deal_id"].astype(str).isin(index.index)]
        d = index[coll["deal_id"].astype(str)].to_numpy()
        opb = deals["opb"].to_numpy(dtype=float)
        r = coll["gross_collections"].to_numpy(dtype=float) / opb[d]
        w = deals["n_borrowers"].to_numpy(dtype=float)[d]
        return Z_L, Z_S, d, coll["period"].to_numpy(dtype=float), r, w

    def _start(self, data) -> np.ndarray:
        """Level from the pooled observed rate, scale of a year: a neutral start the fit must move away from."""
        _, _, d, t, r, w = data
        theta = np.zeros(len(self.vc_))
        theta[0] = logit(np.clip(2.0 * np.sum(w * r) / np.sum(w) * t.max() / 2, 0.02, 0.6))
        theta[self.n_level_] = np.log(12.0)
        return theta

    # ------------------------------------------------------------------------------------------- predict
    def _fixed_and_group_draws(self, deals, n_draws, rng):
        """eta_L (without the deal effect) and eta_S per draw and deal, from parameter and new-level uncertainty."""
        keep = np.ones(len(self.theta_), bool)
        keep[np.isin(self.vc_, [self.level_deal_vc, self.timing_deal_vc])] = False  # training deals' own effects
        mean, cov = self.theta_[keep], self.cov_[np.ix_(keep, keep)]
        theta = rng.multivariate_normal(mean, cov, size=n_draws, method="cholesky")
        full = np.zeros((n_draws, len(self.theta_)))
        full[:, keep] = theta
        F = self.design_.fixed(deals)
        R, unseen = self.design_.random(deals)
        q = F.shape[1]
        n_rand = R.shape[1]
        th_L = full[:, : self.n_level_]
        th_S = full[:, self.n_level_: self.n_level_ + self.n_timing_]
        eta_L = th_L[:, :q] @ F.T + th_L[:, q: q + n_rand] @ R.T
        eta_S = th_S[:, :q] @ F.T + (th_S[:, q: q + n_rand] @ R.T if self.timing_effects else 0.0)
        for g in range(len(self.groups)):  # a level not seen at fit: its effect is a fresh draw
            eta_L += unseen[:, g] * rng.normal(0, np.sqrt(self.tau2_[g]), (n_draws, len(deals)))
            if self.timing_effects:
                eta_S += unseen[:, g] * rng.normal(0, np.sqrt(self.tau2_[len(self.groups) + 1 + g]),
                                                   (n_draws, len(deals)))
        if self.agency_ is not None:  # a vintage not seen at fit: from the last one, moved as the agency moved
            step, variance = self.agency_.new_level_steps(self.design_, deals)
            eta_L += step + rng.normal(0, 1, (n_draws, len(deals))) * np.sqrt(variance)
        log_k = full[:, -1] if self._has_shape else np.zeros(n_draws)
        return eta_L, eta_S, log_k

    def _deal_posterior(self, eta_L, eta_S, log_k, rate_obs, mask, n_borrowers):
        """Posterior mode and covariance of each draw's deal effects (u: level, v: timing) given observed rates.

        Vectorised Fisher scoring over draws and deals; a deal with no observed period keeps its prior.
        """
        prior = np.array([1.0 / self.tau2_[self.level_deal_vc], 1.0 / self.tau2_[self.timing_deal_vc]])
        t = np.arange(1, rate_obs.shape[-1] + 1, dtype=float)
        w = (n_borrowers[None, :, None] / (self.phi_ * self.cum_dispersion_)) * mask
        k = log_k[:, None, None]
        uv = np.zeros(eta_L.shape + (2,))
        for _ in range(50):
            L = expit(eta_L + uv[..., 0])[..., None]
            lam = np.exp(eta_S + uv[..., 1])[..., None]
            dg = self._delta_g(t, lam, k)
            m = np.maximum(L * dg, MIN_MEAN)
            d_u = m * (1 - L)
            d_v = self._delta_g_by_log_scale(L, t, lam, k)
            score = w * (rate_obs / m - 1.0)
            grad = np.stack([np.sum(score * d_u, -1), np.sum(score * d_v, -1)], -1) - prior * uv
            W = w / m
            a = np.sum(W * d_u * d_u, -1) + prior[0]
            b = np.sum(W * d_u * d_v, -1)
            c = np.sum(W * d_v * d_v, -1) + prior[1]
            det = a * c - b * b
            step = np.stack([(c * grad[..., 0] - b * grad[..., 1]) / det, (a * grad[..., 1] - b * grad[..., 0]) / det], -1)
            uv += np.clip(step, -1.0, 1.0)
            if np.max(np.abs(step)) < 1e-8:
                break
        cov = np.stack([np.stack([c / det, -b / det], -1), np.stack([-b / det, a / det], -1)], -2)
        return uv, cov

    def predict_curves(self, deals: pd.DataFrame, horizon: int, observed: RecoveryHistory | None = None,
                       n_draws: int = 1000, seed: int = 0, loans: pd.DataFrame | None = None,
                       loan_collections: pd.DataFrame | None = None) -> CurveForecast:
        deals = deals.reset_index(drop=True)
        rng = np.random.default_rng(seed)
        ids = pd.Index(deals["deal_id"].astype(str))
        eta_L, eta_S, log_k = self._fixed_and_group_draws(deals, n_draws, rng)
        n_obs, amounts = np.zeros(len(ids), int), np.zeros((len(ids), horizon))
        if observed is not None:
            seen = observed.amounts.reindex(ids)
            n_obs = np.minimum(seen.notna().sum(axis=1).to_numpy(), horizon)
            rates = seen.div(deals["opb"].to_numpy(dtype=float), axis=0).to_numpy()
            width = min(rates.shape[1], horizon)
            amounts[:, :width] = np.nan_to_num(rates[:, :width])
        mask = (np.arange(1, horizon + 1)[None, :] <= n_obs[:, None]).astype(float)
        n_borrowers = deals["n_borrowers"].to_numpy(dtype=float)
        width = max(int(n_obs.max()), 1)
        mode, cov = self._deal_posterior(eta_L, eta_S, log_k, amounts[None, :, :width], mask[None, :, :width],
                                         n_borrowers)
        chol = np.linalg.cholesky(cov)
        uv = mode + np.einsum("sdij,sdj->sdi", chol, rng.standard_normal(mode.shape))
        L = expit(eta_L + uv[..., 0])
        periods = np.arange(0, horizon + 1, dtype=float)
        shape = np.exp(log_k)[:, None, None] if self._has_shape else 1.0
        G = curves.cdf(self.curve, periods[None, None, :], np.exp(eta_S + uv[..., 1])[..., None], shape)

        cum_obs = np.cumsum(amounts * mask, axis=1)
        base = cum_obs[np.arange(len(ids)), np.maximum(n_obs - 1, 0)] * (n_obs > 0)
        G_obs = np.take_along_axis(G, np.broadcast_to(n_obs[None, :, None], G.shape[:2] + (1,)), axis=-1)
        future = L[..., None] * (G[..., 1:] - G_obs)  # (S, D, H): expected collections after the observed periods
        unit = self.phi_ * self.cum_dispersion_ / n_borrowers[None, :, None]
        collected = gamma_process(rng, future, unit)  # process noise
        paths = np.where(mask[None] > 0, cum_obs[None], base[None, :, None] + collected)
        paths = np.minimum(np.maximum.accumulate(paths, axis=-1), 1.0)
        return CurveForecast(ids, paths.mean(axis=0), paths, n_obs, expected=L[..., None] * G[..., 1:])

    # ------------------------------------------------------------------------------------------- report
    def _original_scale(self) -> np.ndarray:
        """Matrix taking parameters to the covariates' original units (the fit works on standardised ones)."""
        A = np.eye(len(self.theta_))
        center, scale = self.design_.center_, self.design_.scale_
        for start in (0, self.n_level_):  # level block, then timing block: intercept, covariates
            k = len(self.covariates)
            A[start + 1: start + 1 + k, start + 1: start + 1 + k] = np.diag(1.0 / scale)
            A[start, start + 1: start + 1 + k] = -center / scale
        return A

    @property
    def df_(self) -> int:
        """Degrees of freedom of the summary's t intervals: deals minus fixed parameters. The covariates vary between
        deals, so what identifies them is a few dozen deals whose own effects have an estimated variance, not the
        thousands of deal-periods; a normal interval that plugs that variance in is too narrow (the between-within
        rule of mixed models)."""
        return max(len(self.deal_ids_) - self._n_fixed, 1)

    def summary(self) -> pd.DataFrame:
        """Estimates in the covariates' own units with standard errors, t, p and 95% intervals (t with ``df_``
        degrees of freedom); then the standard deviations of the group and deal effects, the dispersion phi and its
        cumulative factor c; with ``agency_prior``, the agency's step into each vintage, where the fitted step is
        shrunk toward."""
        A = self._original_scale()
        coef = A @ self.theta_
        se = np.sqrt(np.diag(A @ self.cov_ @ A.T))
        names = ["intercept"] + self.covariates
        rand = [f"{g}={lvl}" for g, lvl in self.design_.random_names()]
        labels = [f"level:{n}" for n in names] + [f"level:{n}" for n in rand] + \
            [f"level:deal={d}" for d in self.deal_ids_] + [f"timing:{n}" for n in names]
        if self.timing_effects:
            labels += [f"timing:{n}" for n in rand]
        labels += [f"timing:deal={d}" for d in self.deal_ids_]
        if self._has_shape:
            labels.append("timing:log_shape")
        table = pd.DataFrame({"coef": coef, "se": se}, index=pd.Index(labels, name="parameter"))
        table["t"] = table["coef"] / table["se"]
        table["p"] = 2 * stats.t.sf(np.abs(table["t"]), self.df_)
        half = stats.t.ppf(0.975, self.df_) * table["se"]
        table["lower_95"], table["upper_95"] = table["coef"] - half, table["coef"] + half
        table = table.drop(index=[lbl for lbl in labels if ":deal=" in lbl])
        extra = pd.DataFrame({"coef": np.r_[np.sqrt(self.tau2_), self.phi_, self.cum_dispersion_]},
                             index=pd.Index([f"sd({n})" for n in self.vc_names_] + ["phi", "cum_dispersion"],
                                            name="parameter"))
        if self.agency_ is not None:  # where each vintage step is centred (the t and p above test it against 0)
            centre = self.prior_mean_[self._level_groups]
            extra = pd.concat([extra, pd.DataFrame({"coef": centre[centre != 0]}, index=pd.Index(
                [f"agency_step({r})" for r, c in zip(rand, centre) if c != 0], name="parameter"))])
        return pd.concat([table, extra])

    def print_summary(self) -> None:
        print(f"<{type(self).__name__} {self.name!r}: curve={self.curve}, {len(self.deal_ids_)} deals, "
              f"{self.n_cells_} deal-periods, EM iterations={self.em_iterations_}, converged={self.converged_}, "
              f"t intervals on {self.df_} df>")
        print("level: logit of eventual gross recovery; timing: log of the curve's scale (periods)")
        print(self.summary().to_string(float_format=lambda x: f"{x:.4f}"))
