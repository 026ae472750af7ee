"""Survival models: aggregation loses nothing, mixture parameters are recovered, forecasts behave."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from autograd import grad, hessian
from autograd import numpy as anp
from lifelines import KaplanMeierFitter, WeibullAFTFitter
from scipy.optimize import minimize
from scipy.special import expit

from forecasting.data.dataset import Dataset
from forecasting.models.summary import labelled
from forecasting.models.survival import SurvivalLoanModel, SurvivalPoolModel, kaplan_meier_by
from forecasting.models.survival.cells import aggregate, loan_durations, observed_periods
from forecasting.models.survival.fitter import fit_mixture, loglik_hessian, row_loglik, row_scores
from forecasting.reporting.plots import survival_curves


@pytest.fixture(scope="module")
def durations(demo):
    table = loan_durations(demo.loans, demo.loan_collections, observed_periods(demo))
    table = table[table["duration"] > 0].iloc[::6].reset_index(drop=True)  # 20k loans keep the raw fits quick
    table["log_balance"] = np.round(np.log(table["balance"] / 1e5) / 0.2) * 0.2
    table["months"] = np.round(table["months_delinquent"])
    return table[["duration", "event", "log_balance", "months"]]


def test_kaplan_meier_on_cells_matches_raw_rows(durations):
    raw = KaplanMeierFitter().fit(durations["duration"], durations["event"])
    cells = aggregate(durations[["duration", "event"]])
    assert len(cells) < len(durations) / 10
    agg = KaplanMeierFitter().fit(cells["duration"], cells["event"], weights=cells["weight"])
    np.testing.assert_allclose(agg.survival_function_.to_numpy(), raw.survival_function_.to_numpy(), atol=1e-6)


def test_weibull_aft_on_cells_matches_raw_rows(durations):
    tight = {"ftol": 1e-15, "maxiter": 2000}  # both fits to the optimum, not to lifelines' default stopping point
    raw = WeibullAFTFitter().fit(durations, "duration", "event", fit_options=tight)
    cells = aggregate(durations)
    agg = WeibullAFTFitter().fit(cells, "duration", "event", weights_col="weight", fit_options=tight)
    np.testing.assert_allclose(agg.params_.to_numpy(), raw.params_.to_numpy(), atol=1e-6)
    np.testing.assert_allclose(agg.log_likelihood_, raw.log_likelihood_, rtol=1e-9)


def simulate_cure(seed: int, n: int = 4000):
    """Loans with a known never-pay share and Weibull time to first payment, censored at 6 to 48 periods."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(0, 1, n), 1)
    cure = expit(0.8 + 0.5 * x)
    lam = np.exp(np.log(10.0) + 0.2 * x)
    t = np.ceil(lam * rng.weibull(0.8, n))
    never = rng.random(n) < cure
    censor = rng.integers(6, 49, n)
    event = (~never) & (t <= censor)
    return pd.DataFrame({"duration": np.where(event, t, censor), "event": event.astype(int), "x": x})


TRUE = np.array([np.log(10.0), 0.2, np.log(0.8), 0.8, 0.5])  # scale: intercept, x; log shape; never-pay: intercept, x


def test_convergence_is_judged_by_what_is_left_to_gain():
    """A fit stopped after one Newton iteration is not converged, whatever the optimiser says; a full fit is, with a
    Newton decrement below tolerance and a Newton step left of a tiny fraction of each standard error."""
    cells = aggregate(simulate_cure(0))
    X = np.column_stack([np.ones(len(cells)), cells["x"]])
    args = (X, X, cells["duration"], cells["event"], cells["weight"])
    early = fit_mixture(*args, max_iter=1)
    full = fit_mixture(*args)
    assert not early.converged and early.newton_decrement > 1e-6 and early.newton_step_se > 1.0
    assert full.converged and full.newton_decrement < 1e-12 and full.newton_step_se < 1e-3


def test_assembled_hessian_is_autograds_and_the_newton_fit_lands_where_bfgs_does():
    """The Hessian built from each row's second derivatives by its linear predictors equals autograd's Hessian of
    the whole likelihood (away from the optimum too), and the trust-region Newton fit reaches the optimum scipy's
    BFGS reaches from the same start, within 1e-3 of every standard error."""
    cells = aggregate(simulate_cure(0))
    X = np.column_stack([np.ones(len(cells)), cells["x"]])
    t, e, w = (cells[c].to_numpy(float) for c in ("duration", "event", "weight"))
    loglik = lambda th: anp.sum(w * row_loglik(anp.dot(X, th[:2]), th[2], anp.dot(X, th[3:]), t, e))  # noqa: E731
    for theta in (TRUE, TRUE + np.array([0.3, -0.2, 0.1, -0.5, 0.4])):
        np.testing.assert_allclose(loglik_hessian(theta, X, X, t, e.astype(bool), w), hessian(loglik)(theta),
                                   rtol=1e-9, atol=1e-9 * np.abs(hessian(loglik)(theta)).max())
    full = fit_mixture(X, X, t, e, w)
    start = np.r_[np.log(np.median(t)), np.zeros(4)]
    bfgs = minimize(lambda th: -loglik(th) / w.sum(), start, jac=grad(lambda th: -loglik(th) / w.sum()),
                    method="BFGS", options={"gtol": 1e-9})
    assert np.max(np.abs(full.params - bfgs.x) / np.sqrt(np.diag(full.cov))) < 1e-3


@pytest.mark.slow
def test_mixture_model_recovers_known_parameters():
    """Never-pay share and timing inside their 95% intervals in at least 90% of 40 seeds (measured: 95-98%)."""
    inside = np.zeros(len(TRUE))
    seeds = 40
    for seed in range(seeds):
        cells = aggregate(simulate_cure(seed))
        X = np.column_stack([np.ones(len(cells)), cells["x"]])
        fit = fit_mixture(X, X, cells["duration"], cells["event"], cells["weight"])
        inside += np.abs(fit.params - TRUE) <= 1.96 * np.sqrt(np.diag(fit.cov))
    coverage = inside / seeds
    assert coverage.min() >= 0.90, coverage


CLUSTERED_TRUE = np.array([np.log(10.0), 0.15, np.log(0.8), 0.8, -0.3])  # as TRUE, with a deal-level covariate


def simulate_clustered(seed: int, deals: int = 30, loans: int = 2000, frailty_sd: float = 0.3, horizon: int = 36):
    """Loans in deals: the covariate is the deal's, and its loans share a frailty on the never-pay share."""
    rng = np.random.default_rng(seed)
    x, u = rng.normal(0, 1, deals), rng.normal(0, frailty_sd, deals)
    d = np.repeat(np.arange(deals), loans)
    never = rng.random(d.size) < expit(CLUSTERED_TRUE[3] + CLUSTERED_TRUE[4] * x[d] + u[d])
    t = np.ceil(np.exp(CLUSTERED_TRUE[0] + CLUSTERED_TRUE[1] * x[d]) * rng.weibull(np.exp(CLUSTERED_TRUE[2]), d.size))
    event = ~never & (t <= horizon)
    return pd.DataFrame({"deal": d, "x": x[d], "duration": np.where(event, t, horizon), "event": event.astype(int)})


def test_row_scores_sum_to_the_gradient():
    cells = aggregate(simulate_clustered(0, deals=5, loans=300))
    X = np.column_stack([np.ones(len(cells)), cells["x"]])
    t, e, w = (cells[c].to_numpy(float) for c in ("duration", "event", "weight"))
    theta = CLUSTERED_TRUE + 0.1

    def loglik(th):
        return anp.sum(w * row_loglik(anp.dot(X, th[:2]), th[2], anp.dot(X, th[3:]), t, e.astype(bool)))
    assert np.allclose(row_scores(theta, X, X, t, e.astype(bool), w).sum(axis=0), grad(loglik)(theta), rtol=1e-8)


@pytest.mark.slow
def test_deal_frailty_needs_cluster_robust_intervals():
    """30 deals of 2,000 loans whose never-paying share has a deal frailty (sd 0.3): model-based intervals, which
    take the 60,000 loans as independent, hold the never-pay intercept and slope in 25% and 34% of 100 seeds (measured);
    the cluster-robust ones (cluster = deal) in 95% and 94%, and every parameter in at least 93%."""
    seeds = 100
    inside = {"model": np.zeros(5), "cluster-robust": np.zeros(5)}
    for seed in range(seeds):
        cells = aggregate(simulate_clustered(seed))
        X = np.column_stack([np.ones(len(cells)), cells["x"]])
        for cluster in (None, cells["deal"].to_numpy()):
            fit = fit_mixture(X, X, cells["duration"], cells["event"], cells["weight"], cluster=cluster)
            inside[fit.cov_type] += np.abs(fit.params - CLUSTERED_TRUE) <= 1.96 * np.sqrt(np.diag(fit.cov))
    assert (inside["cluster-robust"] / seeds).min() >= 0.90, inside
    assert (inside["model"][3:] / seeds).max() <= 0.5, inside


@pytest.fixture
def fitted(request, survival_loan, survival_pool, demo, pool_level):
    return {"loan": (survival_loan, demo), "pool": (survival_pool, pool_level)}[request.param]


@pytest.mark.parametrize("fitted", [pytest.param("loan", marks=pytest.mark.slow), "pool"], indirect=True)
def test_forecasts_monotone_bounded_and_respect_observed(fitted):
    model, ds = fitted
    young = ds.subset(ds.deals.loc[ds.deals["vintage"] >= 2024, "deal_id"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a loan tape is given: no fallback may be used
        fc = model.predict(young, 60)
    assert (np.diff(fc.draws, axis=-1) >= -1e-12).all() and (fc.draws <= 1).all() and (fc.draws >= 0).all()
    assert (fc.quantile(0.1) <= fc.quantile(0.9) + 1e-12).all()
    assert (np.diff(fc.expected, axis=-1) >= -1e-12).all() and (fc.expected <= 1).all() and (fc.expected >= 0).all()
    actual = ds.history.cum_rate
    for i, deal in enumerate(fc.deal_ids):
        k = fc.observed_periods[i]
        np.testing.assert_allclose(fc.mean[i, :k], actual.loc[deal, 1:k].to_numpy())
    assert (fc.mean[:, -1] > fc.mean[np.arange(len(fc.deal_ids)), fc.observed_periods - 1]).all()


def test_originator_speeds_are_learned_at_loan_level(survival_loan, market):
    """Servicers collect at their own speed: at loan level the timing has originator levels, and they follow what
    the originator's pools can show, its speed in the simulator plus the borrower-weighted mean speed effect of its
    pools (log scale, larger = slower; measured corr 0.89). The levels' sd is learnt (0.31 here): they are hardly
    shrunk."""
    ds = market.dataset
    s = labelled(survival_loan.summary())
    pools = market.effects.merge(ds.deals[["deal_id", "originator", "n_borrowers"]], on="deal_id")
    shown = {o: market.redraw.process.originator_speed[o] + np.average(g["speed_effect"], weights=g["n_borrowers"])
             for o, g in pools.groupby("originator")}
    levels = sorted(shown)
    estimate = [s.loc[f"scale:originator={o}", "coef"] for o in levels]
    assert np.corrcoef(estimate, [shown[o] for o in levels])[0, 1] > 0.8, (estimate, shown)
    assert s.loc["timing_sd:originator", "coef"] > 0.2


def test_never_pay_share_rises_with_balance_and_delinquency(survival_loan):
    s = labelled(survival_loan.summary())
    assert "never_pay:vintage=2021" not in s.index and "never_pay:vintage=2022" in s.index  # 2021: the baseline
    assert s.loc["never_pay:log_balance", "coef"] > 0 and s.loc["never_pay:months_delinquent", "coef"] > 0


def test_new_pool_without_a_loan_tape_says_so(survival_loan, demo):
    bare = Dataset(demo.meta, demo.deals.iloc[[0]], demo.collections.iloc[:0])
    with pytest.warns(RuntimeWarning, match="no loan tape"):
        fc = survival_loan.predict(bare, 24)
    assert fc.mean[0, -1] > 0


def test_kaplan_meier_by_vintage_plot(demo, tmp_path):
    curves = kaplan_meier_by(demo, "vintage")
    assert set(curves) == {2021, 2022, 2023, 2024, 2025}
    at12 = {v: float(k.survival_function_at_times(12).iloc[0]) for v, k in curves.items() if v <= 2024}
    assert at12[2024] > at12[2021]  # 2024 loans pay later and less
    assert survival_curves(curves, tmp_path / "km.png", "KM").stat().st_size > 10_000


@pytest.mark.parametrize("fitted", ["loan", "pool"], indirect=True)
def test_never_pay_share_is_a_share_and_rises_by_vintage(fitted):
    model, ds = fitted
    share = model.never_pay_share(ds)
    assert share.between(0, 1).all() and share.notna().all()
    by_vintage = share.groupby(ds.deals.set_index("deal_id")["vintage"].reindex(share.index)).mean()
    assert by_vintage[2024] > by_vintage[2021]  # the 2024 vintage recovers least (market fact 2)


def test_frailty_fewer_payers_than_expected_means_lower_recovery(survival_pool, pool_level):
    """A pool whose first periods brought half the cash is forecast to recover less at 60 periods, not more."""
    assert 0.1 < survival_pool.frailty_sd_ < 1.0 and survival_pool.timing_frailty_sd_ >= 0.05
    assert labelled(survival_pool.summary()).loc["frailty_sd:never_pay (deal)", "coef"] == survival_pool.frailty_sd_
    deal = pool_level.subset(["C-2024-2"])
    weak = Dataset(deal.meta, deal.deals, deal.collections.assign(gross_collections=deal.collections["gross_collections"] / 2))
    assert survival_pool.predict(weak, 60).mean[0, -1] < survival_pool.predict(deal, 60).mean[0, -1] - 0.02


@pytest.mark.slow
@pytest.mark.parametrize("fitted", ["loan", "pool"], indirect=True)
def test_2025_forecast_within_1_1_times_the_prior(fitted, market):
    """60-month MAE of the 2025 pools' expected curve vs truth at most 1.1x that of the oracle prior_cum_rate
    (benchmarks/bench_accuracy.py --survival repeats it on 8 markets)."""
    model, ds = fitted
    new = ds.subset(ds.deals.loc[ds.deals["vintage"] == 2025, "deal_id"])
    fc = model.predict(new, 60)
    truth = market.truth_at(60, fc.deal_ids)
    mae = np.abs(fc.expected_mean[:, -1] - truth["expected_cum_rate"].to_numpy()).mean()
    prior = np.abs(truth["prior_cum_rate"] - truth["expected_cum_rate"]).mean()
    assert mae <= 1.1 * prior, mae / prior


def test_too_few_deals_for_cluster_robust_errors_is_said(pool_level, survival_pool):
    """7 pools for 7 unpenalised parameters: the deals' summed scores cannot span them, so the model keeps the
    model-based covariance and says it is too narrow; with all 29 pools the covariance is cluster-robust."""
    early = pool_level.subset(pool_level.deals.loc[pool_level.deals["vintage"] <= 2022, "deal_id"])
    with pytest.warns(RuntimeWarning, match="7 deals for 7 unpenalised parameters"):
        few = SurvivalPoolModel().fit(early)
    assert few.fit_.cov_type == "model" and survival_pool.fit_.cov_type == "cluster-robust"
    assert not survival_pool.diagnostics_.warnings


def test_loan_level_needs_the_loan_tables(pool_level):
    from forecasting.models.base import FitError
    with pytest.raises(FitError, match="needs the loan tables"):
        SurvivalLoanModel().fit(pool_level)
