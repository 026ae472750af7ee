"""Survival models of time to recovery with a never-recovering share (mixture cure), loan level or pool level.

Loan level (loans and loan_collections given). For loan i, T_i = period of its first payment, right-censored at
its deal's last observed period:

    S(t | x) = P(T > t) = pi(x) + (1 - pi(x)) exp(-(t / lam(x)) ^ rho)
    logit pi(x) = x' gamma            (pi: the share that never pays)
    log lam(z)  = z' beta,  log rho = const       (z: x without group levels; at loan level with originator's)

x = log(balance / 100,000), months delinquent (the loan's own, in place of the pool averages), any other deal-level
covariate of the config (e.g. a vintage trend), and one-hot levels of the config's groups (originator, vintage).
A paying loan repays a share s(x) of its balance (fractional logit GLM on loans whose payments are complete), spread
after its first payment by K(k), the empirical share of a paying loan's cash arriving k periods after its first
payment. A pool's expected cum_rate is then

    sum_i B_i s(x_i) sum_k K(k) P(T_i in (t0, t - k]) / opb   (+ its observed collections and the rest of the
                                                              kernel of loans already paying at t0)

with P(T in (t0, u] | T > t0) = (S(t0) - S(u)) / S(t0) for loans that had not paid by the last observed period t0.

Pool level (no loans). Each unit of principal is an individual: collected in period t (weight: collections of t in
average-balance units, so a pool counts as many individuals as it has borrowers) or censored at t0 (the rest of the
pool). The same cure model with the config's deal-level covariates gives cum_rate(t) = 1 - S(t), and a seasoned pool
continues from its own cum_rate: cum(t) = cum(t0) + (1 - cum(t0)) (S(t0) - S(t)) / S(t0).

Each deal also has its own effects (frailties): u_d ~ N(0, frailty_sd^2) on the logit of its never-paying share and
v_d ~ N(0, timing_frailty_sd^2) on the log of its scale (its speed). A pool's forecast draws them from their posterior
given how many of its loans (or how much principal) paid by its last observed period and when, so a pool with fewer
payers than expected is forecast to recover less, and a slow one is not taken for a poor one (forecasting/models/
frailty.py).

Every group level enters as a one-hot covariate with a ridge penalty equal to a N(0, group_sd^2) prior (group_sd = 1
on the logit and log scales): each level is shrunk toward the intercept by a fixed prior, not by an amount estimated
from the data as in the decay model. Fits run on aggregated cells (unique
covariate values x duration x event, with weights); balances are binned on the log scale (step 0.2) for that. The
likelihood is the exact one for whole periods (DiscreteCureFitter); lifelines gives the Kaplan-Meier curves.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from autograd import grad, hessian
from autograd import numpy as anp
from scipy import stats
from scipy.optimize import minimize

from forecasting.data.history import RecoveryHistory
from forecasting.models.base import CurveForecast, gamma_process
from forecasting.models.decay import FitError
from forecasting.models.design import covariate_values, group_levels, level_indicators
from forecasting.models.frailty import Evidence, frailty_sds, posterior_draws

BALANCE_STEP = 0.2
KERNEL_LAGS = 36
MIN_KERNEL_LOANS = 50
DEAL = "_deal"  # the cells' cluster column: a deal's rows share its frailty
N_PARAM_DRAWS = 200
# At loan level a loan's own balance and months delinquent replace these pool averages
LOAN_ANALOGUES = {"log_avg_balance", "avg_balance", "wa_delinquency_months"}


NEWTON_TOL = 1e-12  # mean log-likelihood per unit of weight still to gain at an accepted optimum


class DiscreteCureFitter:
    """Weibull mixture cure model for durations counted in whole periods, fitted by maximum likelihood.

    An event in period t contributes log(S(t - 1) - S(t)) (it happened some time in (t - 1, t]); a loan still
    unpaid after t contributes log S(t). lifelines' ParametricRegressionFitter cannot express this for a cure model
    (its interval-censored likelihood assumes S(infinity) = 0, false when a share never pays), and treating period
    numbers as exact event times biases the shape: on simulated loans with known parameters the continuous fit
    covered the true shape 0% and the cure slope 58% of the time, this one 95-98% (tests/models/test_survival.py).
    Gradient and Hessian by autograd; standard errors from the inverse Hessian of the penalised likelihood.
    """

    def __init__(self, penalty: np.ndarray | None = None, max_iter: int = 5000,
                 scale_penalty: np.ndarray | None = None):
        self.penalty = penalty  # ridge weight per coefficient of X_cure, on the total log-likelihood
        self.scale_penalty = scale_penalty  # the same per coefficient of X_scale
        self.max_iter = max_iter

    def fit(self, X_scale: np.ndarray, X_cure: np.ndarray, duration: np.ndarray, event: np.ndarray,
            weight: np.ndarray, cluster: np.ndarray | None = None) -> "DiscreteCureFitter":
        """Parameters: log scale on X_scale, log shape, logit cure on X_cure (in that order in ``params_``).

        ``cluster`` (a deal per row): rows of one deal share its frailty, so they are not independent, and the
        covariance is the cluster-robust sandwich (``_cluster_robust``) instead of the inverse Hessian."""
        X_scale, X_cure = np.asarray(X_scale, float), np.asarray(X_cure, float)
        t, e, w = np.asarray(duration, float), np.asarray(event, bool), np.asarray(weight, float)
        a, b = X_scale.shape[1], X_cure.shape[1]
        ridge = np.r_[np.zeros(a) if self.scale_penalty is None else np.asarray(self.scale_penalty, float), 0.0,
                      np.zeros(b) if self.penalty is None else np.asarray(self.penalty, float)]

        def nll(theta):
            ll = _row_loglik(anp.dot(X_scale, theta[:a]), theta[a], anp.dot(X_cure, theta[a + 1:]), t, e)
            return -anp.sum(w * ll) / w.sum() + anp.sum(ridge * theta**2) / w.sum()

        start = np.zeros(a + 1 + b)
        start[0] = np.log(max(np.median(t), 1.0))
        res = minimize(nll, start, jac=grad(nll), method="BFGS", options={"gtol": 1e-9, "maxiter": self.max_iter})
        if not np.isfinite(res.fun) or np.allclose(res.x, start):
            raise FitError(f"the cure model did not converge ({res.message})")
        self.params_ = res.x
        H = hessian(nll)(res.x)
        self.cov_ = np.linalg.pinv(H * w.sum())
        # the summed scores of G clusters span at most G - 1 directions of the unpenalised parameters: with fewer
        # clusters than that the sandwich would claim certainty it does not have, so the model-based one stays
        self.n_free_ = int(np.sum(ridge == 0))
        index = None if cluster is None else np.unique(np.asarray(cluster), return_inverse=True)[1]
        self.n_clusters_ = 0 if index is None else int(index.max()) + 1
        robust = self.n_clusters_ > self.n_free_
        if robust:
            self.cov_ = _cluster_robust(self.cov_, _row_scores(res.x, X_scale, X_cure, t, e, w), index, 2 * ridge)
        self.cov_type_ = "cluster-robust" if robust else "model"
        # BFGS may stop on "precision loss" at the optimum, when rounding noise in the gradient exceeds gtol: the
        # Newton decrement (the log-likelihood still to gain, per unit of weight) says whether there is more to gain
        g = grad(nll)(res.x)
        self.newton_decrement_ = float(0.5 * g @ np.linalg.pinv(H) @ g)
        self.converged_ = bool(res.success) or self.newton_decrement_ < NEWTON_TOL
        self.message_ = f"{res.message}; Newton decrement {self.newton_decrement_:.1e}"
        return self


def _row_loglik(eta_scale, log_shape, eta_cure, t, e):
    """Each row's log-likelihood from its linear predictors (autograd-differentiable): log(S(t - 1) - S(t)) for a
    first payment in period t, log S(t) for a loan still unpaid after t."""
    lam, rho = anp.exp(eta_scale), anp.exp(log_shape)
    cure = 1.0 / (1.0 + anp.exp(-eta_cure))
    s_t = cure + (1.0 - cure) * anp.exp(-((t / lam) ** rho))
    s_prev = cure + (1.0 - cure) * anp.exp(-((anp.maximum(t - 1.0, 1e-12) / lam) ** rho))
    return anp.where(e, anp.log(anp.maximum(s_prev - s_t, 1e-300)), anp.log(s_t))


def _row_scores(theta, X_scale, X_cure, t, e, w) -> np.ndarray:
    """Each row's weighted score (rows x parameters): the derivative of its log-likelihood by its three linear
    predictors (rows are independent given theta, so one gradient of the sum gives them all) times its design."""
    a = X_scale.shape[1]
    eta = (X_scale @ theta[:a], np.full(len(t), theta[a]), X_cure @ theta[a + 1:])
    total = lambda *predictors: anp.sum(_row_loglik(*predictors, t, e))  # noqa: E731
    d_scale, d_shape, d_cure = (grad(total, i)(*eta) for i in range(3))
    return w[:, None] * np.hstack([d_scale[:, None] * X_scale, d_shape[:, None], d_cure[:, None] * X_cure])


def _cluster_robust(bread: np.ndarray, scores: np.ndarray, index: np.ndarray, prior_precision: np.ndarray) -> np.ndarray:
    """bread (G/(G-1) sum_g s_g s_g' + P) bread: the sandwich with each cluster's summed score s_g (``index``: each
    row's cluster, 0..G-1; the CR1 factor for G clusters), plus the ridge's prior precision P, so a penalised
    coefficient keeps its prior's uncertainty where the data say little (with P = 0, the usual cluster-robust
    covariance)."""
    G = int(index.max()) + 1
    summed = _sum_by(index, scores, G)
    meat = G / max(G - 1, 1) * summed.T @ summed + np.diag(prior_precision)
    return bread @ meat @ bread


def _sum_by(index: np.ndarray, X: np.ndarray, n: int) -> np.ndarray:
    """Column sums of the rows of X by group (``index``: each row's group, 0..n-1): shape (n, columns)."""
    return np.stack([np.bincount(index, X[:, j], n) for j in range(X.shape[1])], axis=1)


def survival(params: dict[str, np.ndarray], X_scale: np.ndarray, X_cure: np.ndarray, t: np.ndarray,
             offset: np.ndarray | float = 0.0, scale_offset: np.ndarray | float = 0.0) -> np.ndarray:
    """S(t) for parameter draws (arrays (draws, coefficients)); designs (cells, coefficients); t (periods,);
    ``offset`` (draws, cells) is added to the logit of the never-paying share and ``scale_offset`` to the log scale
    (a deal's frailties u and v)."""
    lam = np.exp(params["lambda_"] @ X_scale.T + scale_offset)[..., None]
    rho = np.exp(params["rho_"][:, 0])[:, None, None]  # a single shape parameter
    cure = 1.0 / (1.0 + np.exp(-(params["cure_"] @ X_cure.T + offset)))[..., None]
    t = np.asarray(t, dtype=float)[None, None, :]
    return cure + (1.0 - cure) * np.exp(-((t / lam) ** rho))


def aggregate(frame: pd.DataFrame, weight: str | None = None) -> pd.DataFrame:
    """Unique rows with their total weight (count of rows when ``weight`` is None): the likelihood is unchanged."""
    keys = [c for c in frame.columns if c != weight]
    grouped = frame.groupby(keys, sort=False)
    cells = (grouped[weight].sum() if weight else grouped.size()).rename("weight").reset_index()
    return cells[cells["weight"] > 0]


def loan_durations(deals: pd.DataFrame, loans: pd.DataFrame, loan_collections: pd.DataFrame,
                   n_obs: pd.Series) -> pd.DataFrame:
    """Per loan: duration (first payment period, or its deal's last observed period), event, total paid."""
    key = pd.MultiIndex.from_frame(loans[["deal_id", "loan_id"]].astype(str))
    lc = loan_collections.assign(deal_id=loan_collections["deal_id"].astype(str),
                                 loan_id=loan_collections["loan_id"].astype(str))
    paid = lc[lc["amount"] > 0].groupby(["deal_id", "loan_id"])
    first = paid["period"].min().reindex(key).to_numpy()
    total = paid["amount"].sum().reindex(key).fillna(0.0).to_numpy()
    event = ~np.isnan(first)
    horizon = n_obs.reindex(loans["deal_id"].astype(str)).to_numpy()
    return pd.DataFrame({"deal_id": loans["deal_id"].astype(str).to_numpy(), "loan_id": loans["loan_id"].astype(str).to_numpy(),
                         "duration": np.where(event, first, horizon),
                         "event": event.astype(int), "paid": total, "balance": loans["balance"].to_numpy(float),
                         "months_delinquent": loans["months_delinquent"].to_numpy(float), "observed": horizon})


class SurvivalModel:
    """Mixture cure survival model, loan level where loans exist, else pool level (see module docstring)."""

    kind = "survival"

    def __init__(self, name: str = "cure", covariates: tuple[str, ...] = ("log_avg_balance", "wa_delinquency_months"),
                 groups: tuple[str, ...] = ("originator", "vintage"), ordered_groups: tuple[str, ...] = ("vintage",),
                 level: str = "auto", group_sd: float = 1.0):
        self.name = name
        self.covariates = list(covariates)
        self.groups = list(groups)
        self.ordered_groups = list(ordered_groups)
        self.level = level
        self.group_sd = group_sd  # prior sd of each group level's effect: N(0, group_sd^2), a ridge penalty

    # ------------------------------------------------------------------------------------------ features
    def _group_dummies(self, deal_ids: pd.Series, deals: pd.DataFrame) -> pd.DataFrame:
        info = deals.assign(deal_id=deals["deal_id"].astype(str)).set_index("deal_id")
        cols = {}
        for g in self.groups:
            values = info[g].astype(str).reindex(deal_ids).to_numpy()
            # every level has a column: the ridge shrinks each toward the intercept (ordered: toward the previous level)
            indicators = level_indicators(values, self.levels_[g], g in self.ordered_groups)
            for j, level in enumerate(self.levels_[g]):
                cols[f"{g}_{level}"] = indicators[:, j]
        return pd.DataFrame(cols, index=range(len(deal_ids)))

    def _loan_features(self, table: pd.DataFrame, deals: pd.DataFrame) -> pd.DataFrame:
        x = pd.DataFrame({"log_balance": np.round(np.log(table["balance"].to_numpy() / 1e5) / BALANCE_STEP) * BALANCE_STEP,
                          "months_delinquent": np.round(table["months_delinquent"].to_numpy())})
        deal_level = [c for c in self.covariates if c not in LOAN_ANALOGUES]  # e.g. a vintage trend
        if deal_level:
            info = deals.assign(deal_id=deals["deal_id"].astype(str)).set_index("deal_id")
            per_deal = pd.DataFrame({c: covariate_values(info, c) for c in deal_level}, index=info.index)
            x = pd.concat([x, per_deal.loc[table["deal_id"]].reset_index(drop=True)], axis=1)
        return pd.concat([x, self._group_dummies(table["deal_id"].reset_index(drop=True), deals)], axis=1)

    def _pool_features(self, deal_ids: pd.Series, deals: pd.DataFrame) -> pd.DataFrame:
        info = deals.assign(deal_id=deals["deal_id"].astype(str)).set_index("deal_id").loc[deal_ids]
        x = pd.DataFrame({c: covariate_values(info, c) for c in self.covariates}, index=range(len(deal_ids)))
        return pd.concat([x, self._group_dummies(deal_ids.reset_index(drop=True), deals)], axis=1)

    # ------------------------------------------------------------------------------------------------ fit
    def fit(self, deals: pd.DataFrame, collections: pd.DataFrame, loans: pd.DataFrame | None = None,
            loan_collections: pd.DataFrame | None = None) -> "SurvivalModel":
        deals = deals.reset_index(drop=True)
        self.levels_ = {g: group_levels(deals[g], g in self.ordered_groups) for g in self.groups}
        has_loans = loans is not None and loan_collections is not None
        if self.level == "loan" and not has_loans:
            raise FitError("level 'loan' needs loans and loan_collections")
        self.level_ = "loan" if has_loans and self.level != "pool" else "pool"
        n_obs = collections.groupby(collections["deal_id"].astype(str))["period"].max()
        ids = deals["deal_id"].astype(str)
        table = None
        if self.level_ == "loan":
            cells, table, x = self._fit_loan_level(deals, loans, loan_collections, n_obs)
        else:
            cells = self._fit_pool_level(deals, collections, n_obs)
            x = self._standardise(self._pool_features(ids, deals))
        self.features_ = [c for c in cells.columns if c not in ("duration", "event", "weight", DEAL)]
        ridge = 0.5 / self.group_sd**2
        dummies = np.array([0.0] + [ridge if self._is_dummy(c) else 0.0 for c in self.features_])
        timing_dummies = np.array([0.0] + [ridge if self._is_dummy(c) else 0.0 for c in self.timing_features])
        X_scale, X_cure = self._designs(cells)
        self.fitter_ = DiscreteCureFitter(penalty=dummies, scale_penalty=timing_dummies).fit(
            X_scale, X_cure, cells["duration"], cells["event"], cells["weight"], cluster=cells[DEAL].to_numpy())
        self.warnings_ = [] if self.fitter_.converged_ else [
            f"{self.name}: the optimiser stopped before full convergence ({self.fitter_.message_})"]
        if self.fitter_.cov_type_ != "cluster-robust":
            self.warnings_.append(f"{self.name}: {self.fitter_.n_clusters_} deals for {self.fitter_.n_free_} "
                                  f"unpenalised parameters, too few for cluster-robust standard errors; the "
                                  f"model-based ones, which take a deal's loans as independent, are too narrow")
        for message in self.warnings_:
            warnings.warn(message, RuntimeWarning, stacklevel=2)
        self.n_cells_ = len(cells)
        t0 = n_obs.reindex(ids).fillna(0).astype(int).to_numpy()
        rates = None if table is not None else RecoveryHistory.from_tables(
            deals.assign(deal_id=ids), collections.assign(deal_id=collections["deal_id"].astype(str)),
            pd.Timestamp.max).period_rate.reindex(ids).to_numpy()
        evidence = self._evidence(ids, t0, x, deals["n_borrowers"].to_numpy(float), table, rates)
        self.frailty_sd_, self.timing_frailty_sd_ = frailty_sds(self.fitter_.params_, evidence)
        return self

    def _fit_loan_level(self, deals, loans, loan_collections, n_obs) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Aggregated cells, the loan table (duration, event, ...) and its standardised features."""
        table = loan_durations(deals, loans, loan_collections, n_obs)
        table = table[table["duration"] > 0].reset_index(drop=True)
        self.n_loans_ = len(table)
        x = self._loan_features(table, deals)
        self._fit_payment_shape(table, loan_collections, x)
        x = self._standardise(x, fit=True)
        return aggregate(pd.concat([x, table[["duration", "event"]]], axis=1).assign(**{DEAL: table["deal_id"]})), table, x

    def _fit_payment_shape(self, table: pd.DataFrame, loan_collections: pd.DataFrame, x: pd.DataFrame) -> None:
        """Severity GLM and the instalment kernel, from loans whose payments had KERNEL_LAGS periods to arrive."""
        complete = (table["event"] == 1) & (table["observed"] - table["duration"] >= KERNEL_LAGS)
        if complete.sum() < MIN_KERNEL_LOANS:
            raise FitError(f"only {int(complete.sum())} paying loans with {KERNEL_LAGS} periods of "
                             f"history; too few to learn severity and instalment timing (need {MIN_KERNEL_LOANS})")
        share = np.clip(table.loc[complete, "paid"] / table.loc[complete, "balance"], 1e-6, 1 - 1e-6)
        X = sm.add_constant(x.loc[complete, ["log_balance", "months_delinquent"]].to_numpy(), has_constant="add")
        self.severity_ = sm.GLM(share.to_numpy(), X, family=sm.families.Binomial()).fit(cov_type="HC0")
        done = table.loc[complete, ["deal_id", "loan_id", "duration"]]
        paid = loan_collections.assign(deal_id=loan_collections["deal_id"].astype(str),
                                       loan_id=loan_collections["loan_id"].astype(str)).merge(done, on=["deal_id", "loan_id"])
        lag = (paid["period"] - paid["duration"]).to_numpy()
        inside = (lag >= 0) & (lag <= KERNEL_LAGS)
        kernel = np.bincount(lag[inside].astype(int), weights=paid["amount"].to_numpy()[inside], minlength=KERNEL_LAGS + 1)
        self.kernel_ = kernel / kernel.sum()

    def _fit_pool_level(self, deals, collections, n_obs) -> pd.DataFrame:
        coll = collections.assign(deal_id=collections["deal_id"].astype(str))
        info = deals.assign(deal_id=deals["deal_id"].astype(str)).set_index("deal_id")
        unit = info["opb"] / info["n_borrowers"]
        events = coll[coll["gross_collections"] > 0]
        rows = pd.DataFrame({"deal_id": events["deal_id"], "duration": events["period"], "event": 1,
                             "weight": events["gross_collections"] / unit.reindex(events["deal_id"]).to_numpy()})
        left = (info["opb"] - coll.groupby("deal_id")["gross_collections"].sum().reindex(info.index).fillna(0.0)) / unit
        seen = n_obs.reindex(info.index).fillna(0).astype(int)
        censored = pd.DataFrame({"deal_id": info.index, "duration": seen.to_numpy(), "event": 0, "weight": left.to_numpy()})
        rows = pd.concat([rows, censored], ignore_index=True)
        rows = rows[rows["duration"] > 0].reset_index(drop=True)
        x = self._standardise(self._pool_features(rows["deal_id"], deals), fit=True)
        return aggregate(pd.concat([x, rows[["duration", "event", "weight"]]], axis=1).assign(**{DEAL: rows["deal_id"]}),
                         weight="weight")

    # -------------------------------------------------------------------------------------------- frailty
    def _evidence(self, ids: pd.Series, t0: np.ndarray, x: pd.DataFrame, n_borrowers: np.ndarray,
                  table: pd.DataFrame | None = None, rates: np.ndarray | None = None) -> Evidence:
        """What each deal's first t0 periods say about its frailties (forecasting/models/frailty.py).

        ``x`` holds standardised features: one row per deal at pool level, one per row of ``table`` (the loans, with
        whether and when each first paid by t0) at loan level. ``rates``: collections / opb by deal and period
        (pool level: the units collected in a period are its payers)."""
        if table is None:
            X_scale, X_cure = self._designs(x)
            seen = np.arange(1, rates.shape[1] + 1)[None, :] <= t0[:, None]
            deal, period = np.nonzero(seen & (np.nan_to_num(rates) > 0))
            return Evidence(X_scale, X_cure, np.ones(len(ids)), np.arange(len(ids)), t0, np.nansum(rates * seen, 1),
                            n_borrowers, X_scale[deal], deal, period + 1.0, rates[deal, period] * n_borrowers[deal])
        pos = pd.Series(np.arange(len(ids)), index=ids)[table["deal_id"]].to_numpy()
        cells = x.assign(_deal=pos, _paid=table["event"].to_numpy()).groupby(list(x.columns) + ["_deal"], sort=False)
        agg = cells["_paid"].agg(["size", "sum"]).reset_index()
        X_scale, X_cure = self._designs(agg)
        deal = agg["_deal"].to_numpy()
        count = agg["size"].to_numpy(float)
        n = np.bincount(deal, count, len(ids))
        paid = np.bincount(deal, agg["sum"].to_numpy(float), len(ids)) / np.maximum(n, 1.0)
        payers = table["event"].to_numpy() == 1
        first = aggregate(x[payers].assign(_deal=pos[payers], _period=table["duration"].to_numpy()[payers]))
        return Evidence(X_scale, X_cure, count, deal, t0, paid, n, self._designs(first)[0],
                        first["_deal"].to_numpy(), first["_period"].to_numpy(float), first["weight"].to_numpy(float))

    def _frailty_draws(self, evidence: Evidence, params: dict[str, np.ndarray], rng) -> tuple[np.ndarray, np.ndarray]:
        """The deals' frailties, one per parameter draw. At loan level each is anchored to what the deal's loans say
        under that draw (``posterior_draws``'s shift: the draw's move of the deal's mean linear predictors). At pool
        level it is not: there the evidence reads a pool's cash as first payments of independent units, and its
        posterior alone is too sure (bench_accuracy.py --survival, 8 markets: anchored, the 60-month band held the
        expected curve for 0.75 of pools; unanchored 0.91), so the draws' uncertainty is kept."""
        shift = None
        if self.level_ == "loan":
            hat = self._split(self.fitter_.params_[None, :])
            units = np.maximum(evidence.n, 1e-300)[:, None]
            mean_design = lambda X: _sum_by(evidence.deal, evidence.count[:, None] * X, evidence.n_deals) / units  # noqa: E731
            shift = ((params["cure_"] - hat["cure_"]) @ mean_design(evidence.X_cure).T,
                     (params["lambda_"] - hat["lambda_"]) @ mean_design(evidence.X_scale).T)
        return posterior_draws(self.fitter_.params_, evidence, self.frailty_sd_, self.timing_frailty_sd_,
                               len(params["cure_"]), rng, shift)

    # -------------------------------------------------------------------------------------------- predict
    def _param_draws(self, n: int, rng) -> dict[str, np.ndarray]:
        return self._split(rng.multivariate_normal(self.fitter_.params_, self.fitter_.cov_, size=n, method="eigh"))

    def _split(self, draws: np.ndarray) -> dict[str, np.ndarray]:
        """Parameter vectors (draws, coefficients) by block: log scale, log shape, logit never-paying share."""
        k = 1 + len(self.timing_features)
        return {"lambda_": draws[:, :k], "rho_": draws[:, k:k + 1], "cure_": draws[:, k + 1:]}

    def _is_dummy(self, column: str) -> bool:
        return any(column.startswith(f"{g}_") for g in self.groups)

    def _standardise(self, x: pd.DataFrame, fit: bool = False) -> pd.DataFrame:
        """Centre and scale the continuous features (fit-time mean and sd), for a well-conditioned optimisation."""
        continuous = [c for c in x.columns if not self._is_dummy(c)]
        if fit:
            self.center_ = x[continuous].mean()
            self.scale_ = x[continuous].std().replace(0.0, 1.0).fillna(1.0)
        return x.assign(**{c: (x[c] - self.center_[c]) / self.scale_[c] for c in continuous})

    def _designs(self, x: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Timing on the continuous features (and at loan level the unordered group levels: originator); the
        never-paying share on those and every group level."""
        ones = np.ones((len(x), 1))
        return (np.hstack([ones, x[self.timing_features].to_numpy(float)]),
                np.hstack([ones, x[self.features_].to_numpy(float)]))

    @property
    def timing_features(self) -> list[str]:
        return [c for c in self.features_ if not self._is_dummy(c)
                or (self.level_ == "loan" and not any(c.startswith(f"{g}_") for g in self.ordered_groups))]

    def predict_curves(self, deals: pd.DataFrame, horizon: int, observed=None, n_draws: int = 1000, seed: int = 0,
                       loans: pd.DataFrame | None = None, loan_collections: pd.DataFrame | None = None) -> CurveForecast:
        """Curves for the deals; loan level needs their loan tape (else each pool is taken as n_borrowers loans of
        its average balance and WA delinquency, with a warning), and uses loan_collections for seasoned pools."""
        deals = deals.reset_index(drop=True)
        rng = np.random.default_rng(seed)
        S_draws = min(n_draws, N_PARAM_DRAWS)
        params = self._param_draws(S_draws, rng)
        ids = pd.Series(deals["deal_id"].astype(str))
        opb = deals["opb"].to_numpy(float)
        n_obs = np.zeros(len(ids), int)
        cum_obs = np.zeros((len(ids), horizon))
        if observed is not None:
            cum = observed.cum_rate.reindex(ids).to_numpy()[:, :horizon]
            n_obs = np.minimum(np.isfinite(cum).sum(axis=1), horizon)
            cum_obs[:, : cum.shape[1]] = np.nan_to_num(cum)
        t = np.arange(0, horizon + 1)
        base = cum_obs[np.arange(len(ids)), np.maximum(n_obs - 1, 0)] * (n_obs > 0)
        n_borrowers = deals["n_borrowers"].to_numpy(float)
        if self.level_ == "pool":
            x = self._standardise(self._pool_features(ids, deals))
            rates = np.diff(cum_obs, axis=1, prepend=0.0)
            u, v = self._frailty_draws(self._evidence(ids, n_obs, x, n_borrowers, rates=rates), params, rng)
            S = survival(params, *self._designs(x), t, offset=u, scale_offset=v)
            S0 = np.take_along_axis(S, np.broadcast_to(n_obs[None, :, None], S.shape[:2] + (1,)), -1)
            future = (1.0 - base)[None, :, None] * (S0 - S[..., 1:]) / S0
            expected = 1.0 - S[..., 1:]
        else:
            table = self._observed_loans(deals, ids, n_obs, loans, loan_collections)
            x = self._loan_features(table, deals)
            xs = self._standardise(x)
            u, v = self._frailty_draws(self._evidence(ids, n_obs, xs, n_borrowers, table), params, rng)
            future = self._loan_level_future(ids, params, t, n_obs, opb, table, x, xs, u, v)
            # the expected curve: every loan from cut-off, under the frailties the evidence gives (for pools with
            # nothing observed that is the forecast itself)
            expected = future if not n_obs.any() else self._loan_level_future(
                ids, params, t, np.zeros_like(n_obs), opb, table.assign(event=0, duration=0), x, xs, u, v)
        collected = gamma_process(rng, future, 1.0 / n_borrowers[None, :, None])  # as the decay model's, phi = 1
        seen = np.arange(1, horizon + 1)[None, :] <= n_obs[:, None]
        paths = np.where(seen[None], cum_obs[None], base[None, :, None] + collected)
        paths = np.minimum(np.maximum.accumulate(np.maximum(paths, 0.0), axis=-1), 1.0)
        return CurveForecast(pd.Index(ids), paths.mean(axis=0), paths, n_obs, expected=np.minimum(expected, 1.0))

    def _loan_tape(self, deals: pd.DataFrame, loans: pd.DataFrame | None) -> pd.DataFrame:
        have = set() if loans is None else set(loans["deal_id"].astype(str))
        missing = deals[~deals["deal_id"].astype(str).isin(have)]
        parts = [] if loans is None else [loans.assign(deal_id=loans["deal_id"].astype(str))
                                          [loans["deal_id"].astype(str).isin(deals["deal_id"].astype(str))]]
        if len(missing):
            warnings.warn(f"{self.name}: no loan tape for {len(missing)} pool(s); each is taken as n_borrowers loans of "
                          f"its average balance and WA delinquency", RuntimeWarning, stacklevel=3)
            n = missing["n_borrowers"].to_numpy(int)
            parts.append(pd.DataFrame({
                "deal_id": np.repeat(missing["deal_id"].astype(str).to_numpy(), n),
                "loan_id": [f"avg-{i}" for i in range(n.sum())],
                "balance": np.repeat((missing["opb"] / missing["n_borrowers"]).to_numpy(), n),
                "months_delinquent": np.repeat(missing["wa_delinquency_months"].to_numpy(float), n)}))
        return pd.concat(parts, ignore_index=True)

    def _observed_loans(self, deals, ids, n_obs, loans, loan_collections) -> pd.DataFrame:
        """The deals' loans with what each had paid by its deal's last observed period."""
        tape = self._loan_tape(deals, loans)
        t0 = pd.Series(n_obs, index=ids)
        lc = loan_collections if loan_collections is not None else \
            pd.DataFrame({"deal_id": [], "loan_id": [], "period": [], "amount": []})
        lc = lc.assign(deal_id=lc["deal_id"].astype(str))
        lc = lc[lc["deal_id"].isin(ids) & (lc["period"] <= lc["deal_id"].map(t0).fillna(0))]
        return loan_durations(deals, tape, lc, t0)

    def _loan_level_future(self, ids, params, t, n_obs, opb, table, x, xs, u, v):
        """Expected future cum_rate increments per draw: new first payments of loans unpaid at t0 spread by the
        kernel, plus the rest of the kernel of loans already paying. ``x``/``xs``: the loans' features, raw and
        standardised; ``u``, ``v``: each deal's frailties (never-paying share, speed) per draw."""
        horizon = len(t) - 1
        sev = self.severity_.predict(sm.add_constant(x[["log_balance", "months_delinquent"]].to_numpy(),
                                                     has_constant="add"))
        deal_pos = pd.Series(np.arange(len(ids)), index=ids)[table["deal_id"]].to_numpy()
        expected = table["balance"].to_numpy() * sev / opb[deal_pos]  # eventual recovery of a paying loan, as a rate
        K = self.kernel_
        draws = params["rho_"].shape[0]
        future_cash = np.zeros((draws, len(ids), horizon))
        # loans not yet paid at t0: cells of identical features within a deal
        unpaid = table["event"].to_numpy() == 0
        cells = pd.concat([xs[unpaid].reset_index(drop=True),
                           pd.DataFrame({"_deal": deal_pos[unpaid], "_amount": expected[unpaid]})], axis=1)
        cells = cells.groupby(list(x.columns) + ["_deal"], sort=False)["_amount"].sum().reset_index()
        d = cells["_deal"].to_numpy()
        S = survival(params, *self._designs(cells), t, offset=u[:, d], scale_offset=v[:, d])  # (draws, cells, H+1)
        S0 = np.take_along_axis(S, np.broadcast_to(n_obs[d][None, :, None], S.shape[:2] + (1,)), -1)
        first = (S[..., :-1] - S[..., 1:]) / S0 * (np.arange(1, horizon + 1)[None, None, :] > n_obs[d][None, :, None])
        first_amount = first * cells["_amount"].to_numpy()[None, :, None]  # (draws, cells, H) by first-payment period
        spread = np.zeros_like(first_amount)
        for lag, share in enumerate(K[:horizon]):
            spread[..., lag:] += share * first_amount[..., : horizon - lag]
        np.add.at(future_cash, (slice(None), d), spread)
        # loans already paying: the part of their kernel after t0
        paying = ~unpaid
        if paying.any():
            f = table["duration"].to_numpy()[paying].astype(int)
            rest = np.zeros((len(ids), horizon))
            for lag, share in enumerate(K):
                period = f + lag
                later = (period > n_obs[deal_pos[paying]]) & (period <= horizon)
                np.add.at(rest, (deal_pos[paying][later], period[later] - 1), share * expected[paying][later])
            future_cash += rest[None]
        return np.cumsum(future_cash, axis=-1)

    # -------------------------------------------------------------------------------------------- report
    def cure_share(self, deals: pd.DataFrame, loans: pd.DataFrame | None = None) -> pd.Series:
        """Estimated never-paying share per deal: of its principal units (pool level) or balance-weighted over its
        loans (loan level)."""
        deals = deals.reset_index(drop=True)
        theta = self.fitter_.params_
        k = 1 + len(self.timing_features)
        ids = deals["deal_id"].astype(str)
        if self.level_ == "pool":
            X_cure = self._designs(self._standardise(self._pool_features(ids, deals)))[1]
            return pd.Series(1.0 / (1.0 + np.exp(-(X_cure @ theta[k + 1:]))), index=ids.to_numpy(), name="cure_share")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            tape = self._loan_tape(deals, loans)
        x = self._standardise(self._loan_features(tape.reset_index(drop=True), deals))
        share = 1.0 / (1.0 + np.exp(-(self._designs(x)[1] @ theta[k + 1:])))
        balance = tape["balance"].to_numpy(float)
        weighted = pd.Series(share * balance).groupby(tape["deal_id"].to_numpy()).sum()
        return (weighted / pd.Series(balance).groupby(tape["deal_id"].to_numpy()).sum()).reindex(ids).rename("cure_share")

    def summary(self) -> pd.DataFrame:
        """lambda_: log Weibull scale of time to first payment; rho_: log shape; cure_: logit of the never-paying
        share, with cluster-robust standard errors (a deal's loans share its frailties); frailty_sd: the sds of the
        deals' own effects on cure_ and lambda_ (method of moments, no standard error). Continuous features are
        standardised (fit-time mean and sd, in ``center_`` and ``scale_``)."""
        index = pd.MultiIndex.from_tuples([("lambda_", n) for n in ["Intercept"] + self.timing_features]
                                          + [("rho_", "Intercept")]
                                          + [("cure_", n) for n in ["Intercept"] + self.features_], names=["param", "covariate"])
        se = np.sqrt(np.diag(self.fitter_.cov_))
        table = pd.DataFrame({"coef": self.fitter_.params_, "se": se}, index=index)
        table["z"] = table["coef"] / table["se"]
        table["p"] = 2 * stats.norm.sf(np.abs(table["z"]))
        table["lower_95"] = table["coef"] - 1.96 * table["se"]
        table["upper_95"] = table["coef"] + 1.96 * table["se"]
        frailty = pd.DataFrame({"coef": [self.frailty_sd_, self.timing_frailty_sd_]},
                               index=pd.MultiIndex.from_tuples([("frailty_sd", "cure_ (deal)"),
                                                                ("frailty_sd", "lambda_ (deal)")],
                                                              names=["param", "covariate"]))
        return pd.concat([table, frailty])

    def print_summary(self) -> None:
        print(f"<SurvivalModel {self.name!r}: level={self.level_}, {self.n_cells_} cells, converged={self.fitter_.converged_}, "
              f"{self.fitter_.cov_type_} standard errors>")
        print(self.summary().to_string(float_format=lambda x: f"{x:.4f}"))


def kaplan_meier_by(deals: pd.DataFrame, loans: pd.DataFrame, loan_collections: pd.DataFrame, n_obs: pd.Series,
                    by: str) -> dict:
    """Kaplan-Meier curves of time to first payment per level of ``by`` (vintage, originator), fitted on
    aggregated (duration, event) cells with weights; each fitter carries its confidence band."""
    from lifelines import KaplanMeierFitter
    table = loan_durations(deals, loans, loan_collections, n_obs)
    table = table[table["duration"] > 0]
    level = table["deal_id"].map(deals.assign(deal_id=deals["deal_id"].astype(str)).set_index("deal_id")[by])
    curves = {}
    for value, part in table.groupby(level.to_numpy()):
        cells = aggregate(part[["duration", "event"]])
        curves[value] = KaplanMeierFitter(label=f"{by} {value}").fit(cells["duration"], cells["event"],
                                                                     weights=cells["weight"])
    return curves
