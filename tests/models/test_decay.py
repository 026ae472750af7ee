"""Decay-curve model: bounded monotone curves, forecasts that respect observed data, known-parameter recovery."""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from forecasting.data.history import RecoveryHistory
from forecasting.models import curves
from forecasting.models.decay import DecayCurveModel
from forecasting.simulation.model_pools import simulate_pools, true_parameters

FAMILIES = list(curves.CURVES)


@pytest.mark.parametrize("curve", FAMILIES)
def test_curve_is_a_cdf(curve):
    t = np.linspace(0, 400, 2001)
    g = curves.cdf(curve, t, 10.0, 0.7)
    assert g[0] == 0 and (np.diff(g) >= 0).all() and g[-1] <= 1 and g[-1] > 0.9


@pytest.mark.slow
@pytest.mark.parametrize("curve", FAMILIES)
def test_parameter_recovery(curve):
    """Known parameters fall inside the fitted 95% intervals in at least 90% of 50 seeds. Measured 2026-11-27 over
    seeds 0-199 (benchmarks/bench_recovery.py), the smallest coverage of any parameter per batch of 50 seeds: with normal intervals gamma 0.88, 0.94,
    0.90, 0.88 (timing:x 0.915 over 200), log-logistic 0.92, 0.92, 0.90, 0.88; with the summary's t intervals (deals
    minus fixed parameters) gamma 0.90, 0.94, 0.92, 0.92 (timing:x 0.935), log-logistic 0.94, 0.94, 0.92, 0.88,
    Weibull 0.92-0.94, exponential 0.90-0.96, and no parameter of any family above 0.975 over 200 seeds. Seeds 0-49
    is the batch the test runs; it sits near the check's power limit for gamma (45 of 50 needed and held)."""
    truth = true_parameters(curve)
    inside = np.zeros(len(truth))
    for seed in range(50):
        deals, coll = simulate_pools(curve, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            model = DecayCurveModel(curve=curve, covariates=("x",), groups=()).fit(deals, coll)
        s = model.summary().loc[truth.index]
        inside += (s["lower_95"] <= truth) & (truth <= s["upper_95"])
    coverage = dict(zip(truth.index, inside / 50))
    assert min(coverage.values()) >= 0.90, coverage


@pytest.mark.slow
def test_band_is_calibrated_at_every_horizon():
    """Pools simulated from the model, seen for 12 periods and forecast 48 ahead: the P10-P90 band of the realized
    cum_rate holds the actual about 80% of the time both 3 and 36 periods ahead (a band calibrated only at the last
    period, with one noise factor for the whole path, holds the near-term actual far less often)."""
    inside = {15: [], 48: []}
    for seed in range(4):
        deals, coll = simulate_pools("weibull", seed, n_deals=40, periods=np.full(40, 48))
        seen = coll[coll["period"] <= 12]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            model = DecayCurveModel(curve="weibull", covariates=("x",), groups=()).fit(deals, seen)
        history = RecoveryHistory.from_tables(deals.assign(cutoff_date=pd.Timestamp("2020-01-01")), seen,
                                              pd.Timestamp("2020-12-31"))
        fc = model.predict_curves(deals, 48, observed=history, n_draws=2000, seed=seed)
        actual = (coll.pivot(index="deal_id", columns="period", values="gross_collections").loc[fc.deal_ids].cumsum(axis=1)
                  .div(deals.set_index("deal_id")["opb"].loc[fc.deal_ids], axis=0))
        for period in inside:
            a = actual[period].to_numpy()
            inside[period] += list((fc.quantile(0.1)[:, period - 1] <= a) & (a <= fc.quantile(0.9)[:, period - 1]))
    coverage = {period: float(np.mean(v)) for period, v in inside.items()}
    assert all(0.7 <= c <= 0.9 for c in coverage.values()), coverage


@pytest.fixture(scope="module")
def fitted(market):
    ds = market.dataset
    return DecayCurveModel(curve="weibull").fit(ds.deals, ds.collections, ds.loans, ds.loan_collections)


def test_forecast_paths_monotone_bounded_and_quantiles_ordered(fitted, market):
    ds = market.dataset
    fc = fitted.predict_curves(ds.deals, 60, observed=ds.history, n_draws=300)
    assert (np.diff(fc.draws, axis=-1) >= -1e-15).all() and (fc.draws <= 1).all() and (fc.draws >= 0).all()
    q10, q50, q90 = fc.quantile(0.1), fc.quantile(0.5), fc.quantile(0.9)
    assert (q10 <= q50 + 1e-15).all() and (q50 <= q90 + 1e-15).all()
    assert (np.diff(q10, axis=1) >= -1e-15).all() and (np.diff(q90, axis=1) >= -1e-15).all()
    assert (np.diff(fc.expected, axis=-1) >= 0).all() and (fc.expected <= 1).all() and (fc.expected >= 0).all()
    assert (fc.expected_quantile(0.1) <= fc.expected_quantile(0.9)).all()


def test_expected_curve_is_the_pools_not_its_luck(fitted, market):
    """A new pool's expected curve and realized-cash forecast agree (process noise has mean zero); a seasoned
    pool's expected curve is not pinned to its observed cash, yet moves toward it: a pool that collected half as
    much is expected to recover less, with its realized cash lower still (the lost half is certain)."""
    ds = market.dataset
    new = ds.deals[ds.deals["vintage"] == 2025]
    fresh = fitted.predict_curves(new, 60, n_draws=4000)
    np.testing.assert_allclose(fresh.expected_mean[:, -1], fresh.mean[:, -1], rtol=0.02)
    deal = ds.deals[ds.deals["deal_id"] == "C-2023-1"]
    seen = fitted.predict_curves(deal, 60, observed=ds.history)
    k = seen.observed_periods[0]
    assert k > 12 and not np.allclose(seen.expected_mean[0, :k], seen.mean[0, :k])
    h = ds.history
    halved = RecoveryHistory(h.amounts / 2, h.opb, h.cutoff, h.as_of, h.period_months)
    weak = fitted.predict_curves(deal, 60, observed=halved)
    assert weak.expected_mean[0, -1] < seen.expected_mean[0, -1] - 0.01
    assert weak.mean[0, -1] < weak.expected_mean[0, -1]


def test_observed_periods_are_never_altered(fitted, market):
    ds = market.dataset
    fc = fitted.predict_curves(ds.deals, 60, observed=ds.history, n_draws=200)
    actual = ds.history.cum_rate
    for i, deal in enumerate(fc.deal_ids):
        k = fc.observed_periods[i]
        np.testing.assert_allclose(fc.draws[:, i, :k], np.broadcast_to(actual.loc[deal, 1:k].to_numpy(), (200, k)))


def test_more_history_narrows_the_band(fitted, market):
    ds = market.dataset
    deal = ds.deals[ds.deals["deal_id"] == "C-2024-2"]
    widths = []
    for cut in ("2024-06-30", "2024-12-31", "2025-08-31"):
        fc = fitted.predict_curves(deal, 60, observed=ds.history.truncate(cut), n_draws=2000)
        widths.append(fc.quantile(0.9)[0, -1] - fc.quantile(0.1)[0, -1])
    assert widths[0] > widths[1] > widths[2]


def test_higher_balance_lowers_forecast_level(fitted, market):
    deals = market.dataset.deals.iloc[[0]].copy()
    rich = deals.assign(deal_id="rich", avg_balance=deals["avg_balance"] * 4)
    both = pd.concat([deals, rich], ignore_index=True)
    fc = fitted.predict_curves(both, 60, n_draws=2000)
    assert fc.mean[1, -1] < fc.mean[0, -1]


def test_a_new_vintage_starts_from_the_last_one(fitted, market):
    """Vintage effects are a random walk: a 2026 pool is centred on the 2025 level, with a wider band (one more
    step of unknown size)."""
    pool = market.dataset.deals[market.dataset.deals["vintage"] == 2025].iloc[[0]]
    both = pd.concat([pool, pool.assign(deal_id="next", vintage=2026)], ignore_index=True)
    fc = fitted.predict_curves(both, 60, n_draws=20000)
    assert abs(np.median(np.log(fc.draws[:, 1, -1] / fc.draws[:, 0, -1]))) < 0.01
    width = fc.quantile(0.9)[:, -1] - fc.quantile(0.1)[:, -1]
    assert width[1] > width[0]


def test_summary_has_effects_with_standard_errors(fitted):
    s = fitted.summary()
    assert {"level:originator=A", "level:vintage=2024", "timing:log_shape", "sd(level:deal)", "phi",
            "cum_dispersion"} <= set(s.index)
    assert 1.1 < s.loc["cum_dispersion", "coef"] < 1.4  # instalments: the demo's loan tape measures 1.21
    assert s.loc["level:intercept", "se"] > 0 and fitted.converged_


def test_summary_intervals_are_t_on_deals_minus_fixed_parameters(fitted):
    """The covariates are identified by the deals, not the deal-periods: 29 demo deals less 7 fixed parameters
    (2 x (intercept + 2 covariates) + log shape) leave 22 df, and the 95% interval is t_22's 2.074 se each side."""
    s = fitted.summary()
    assert fitted.df_ == len(fitted.deal_ids_) - 7 == 22
    row = s.loc["level:wa_delinquency_months"]
    assert np.isclose(row["upper_95"] - row["coef"], 2.0739 * row["se"], rtol=1e-4)
    assert np.isclose(row["p"], 2 * stats.t.sf(abs(row["coef"] / row["se"]), 22))


def test_2025_forecast_beats_features_only_prior(fitted, market):
    """Issue 3: the 2025 pools' estimated expected curve at 60 months is at least as close to the simulator's
    expected_cum_rate as the oracle's features-only prior (measured 2026-11-27: 0.95x; the realized-cash forecast,
    which keeps each pool's luck so far, 1.03x; 8 markets 1.00x vs 1.07x mean, bench_accuracy.py)."""
    ds = market.dataset
    new = ds.deals[ds.deals["vintage"] == 2025]
    fc = fitted.predict_curves(new, 60, observed=ds.history)
    truth = market.truth_at(60, fc.deal_ids)
    mae = np.abs(fc.expected_mean[:, -1] - truth["expected_cum_rate"].to_numpy()).mean()
    prior = np.abs(truth["prior_cum_rate"] - truth["expected_cum_rate"]).mean()
    assert mae <= 1.0 * prior


def test_band_holds_the_truth_for_most_deals(fitted, market):
    """Issue 3: the expected curve's P10-P90 holds expected_cum_rate for at least 70% of all deals (measured
    2026-11-27: 79%, nominal 80%; 8 markets 0.79-0.93). A band for realized cash cannot (see the oracle test)."""
    ds = market.dataset
    fc = fitted.predict_curves(ds.deals, 60, observed=ds.history)
    truth = market.truth_at(60, fc.deal_ids)["expected_cum_rate"].to_numpy()
    inside = (fc.expected_quantile(0.1)[:, -1] <= truth) & (truth <= fc.expected_quantile(0.9)[:, -1])
    assert inside.mean() >= 0.70


def test_correlated_periods_weigh_less(fitted, market):
    """The larger the cumulative dispersion c, the less a young pool's first months move its forecast away from the
    features-only one, and the wider its band (the same fit and random numbers, c set to 1 and to 3)."""
    ds = market.dataset
    new = ds.deals[ds.deals["vintage"] == 2025]
    assert 1.1 < fitted.cum_dispersion_ < 1.4
    moved, width = {}, {}
    for c in (1.0, 3.0):
        model = copy.copy(fitted)
        model.cum_dispersion_ = c
        seasoned = model.predict_curves(new, 60, observed=ds.history, seed=1)
        fresh = model.predict_curves(new, 60, seed=1)
        moved[c] = np.abs(seasoned.mean[:, -1] - fresh.mean[:, -1]).mean()
        width[c] = (seasoned.quantile(0.9)[:, -1] - seasoned.quantile(0.1)[:, -1]).mean()
    # the 2025 vintage's own effect is learned at fit either way; c acts on each pool's deal effects and its noise
    assert moved[3.0] < 0.95 * moved[1.0] and width[3.0] > 1.15 * width[1.0], (moved, width)


def test_more_fixed_parameters_than_deals_is_said(market):
    """The demo's 2021-2022 pools are 7 deals for 7 fixed parameters (2 x (intercept + 2 covariates) + log shape):
    the covariates are not identified, and the fit says so (the backtest reports it for that vintage-holdout fold)."""
    ds = market.dataset
    early = ds.deals[ds.deals["vintage"] <= 2022]
    with pytest.warns(RuntimeWarning, match="7 deals for 7 fixed parameters"):
        model = DecayCurveModel(curve="weibull").fit(early, ds.collections[ds.collections["deal_id"].isin(early["deal_id"])])
    assert model.df_ == 1
