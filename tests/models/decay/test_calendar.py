"""Calendar-period effects (issue 18): a common shock in the simulator is found, no shock gives no effect, and the
forecast paths of different pools move together through future calendar risk."""
from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest

from forecasting.forecast.paths import paths_frame
from forecasting.models.calendar import CalendarEffects
from forecasting.models.decay import DecayCurveModel
from forecasting.models.shrinkage import random_effects
from forecasting.simulation.market import simulate_market
from forecasting.simulation.process import RecoveryProcess

slow = pytest.mark.slow  # backfitting fits on three simulated markets (about 35 s); CI runs them
WINDOW = ("2023-07", "2023-12", 0.6)


def market(shock, calendar_sd: float = 0.0, persistence: float = 0.0):
    m = simulate_market(11, replicas=3, process=RecoveryProcess(calendar_shock=shock, calendar_sd=calendar_sd,
                                                                calendar_persistence=persistence))
    return replace(m.dataset, loans=None, loan_collections=None)


def fit(dataset, calendar: bool):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return DecayCurveModel(calendar_effects=calendar).fit(dataset)


@pytest.fixture(scope="module")
def shocked():
    return market(WINDOW)


@slow
def test_a_common_shock_is_found_in_its_window(shocked):
    model = fit(shocked, True)
    table = model.calendar_.table()
    inside = (table["period_end"] >= "2023-07-01") & (table["period_end"] <= "2023-12-31")
    assert model.calendar_.sigma > 0.05
    # the truth is log(0.6) = -0.51; the t prior keeps a shock far beyond the other periods nearly whole (measured
    # -0.49 on average; -0.41 with a normal prior, which also pulled the others' level to +0.06)
    assert table.loc[inside, "effect"].mean() < -0.42
    assert (table.loc[inside, "effect"] < -0.35).all()
    assert table.loc[~inside, "effect"].abs().mean() < 0.05
    summary = model.summary().set_index(["block", "term"])
    assert summary.loc[("calendar", "sd"), "coef"] == pytest.approx(model.calendar_.sigma)


@slow
def test_the_window_gives_the_shock_size_against_the_other_periods(shocked):
    """The effects' level is not identified (it trades with the model's), so the shock is read as a contrast: the
    window's unshrunk log ratio less the other periods' level, within four of its standard errors of log 0.6."""
    window = fit(shocked, True).calendar_.window(*WINDOW[:2])
    assert window["periods"] == 6
    assert abs(window["log_effect"] - np.log(0.6)) < min(4 * window["se"], 0.08), window
    assert window["factor_lower"] < window["factor"] < window["factor_upper"]


@slow
def test_no_shock_gives_no_effect_and_the_same_forecast():
    data = market(None)
    with_calendar, without = fit(data, True), fit(data, False)
    assert with_calendar.calendar_.sigma < 0.03
    if with_calendar.calendar_.sigma == 0:
        a = with_calendar.predict(data, 24, n_draws=50, random_state=1)
        b = without.predict(data, 24, n_draws=50, random_state=1)
        np.testing.assert_allclose(a.draws, b.draws)


@slow
def test_future_calendar_risk_moves_pools_together():
    """On a market whose every month carries a log-normal factor of sd 0.15: collections of the same calendar month
    have a market total that varies far more with calendar risk (one draw of the month's factor for every pool),
    and two pools' collections in that month are correlated."""
    risky = market(None, calendar_sd=0.15)
    totals, pair = {}, {}
    for calendar in (False, True):
        fc = fit(risky, calendar).predict(risky, 24, n_draws=500, random_state=3)
        paths = paths_frame(fc, risky)
        future = paths[paths["observed"] == 0]
        month = future.groupby(["draw", "period_end"])["collections"].sum().unstack()
        totals[calendar] = (month.std() / month.mean()).iloc[:6].mean()
        first = future[future["period_end"] == month.columns[2]].pivot(index="draw", columns="deal_id",
                                                                       values="collections")
        corr = np.corrcoef(first.to_numpy(float).T)
        pair[calendar] = corr[np.triu_indices(len(corr), 1)].mean()
    assert totals[True] > 1.5 * totals[False], totals  # measured 0.138 against 0.067
    assert pair[True] > pair[False] + 0.02, pair


def test_the_window_contrast_by_hand():
    """Outside: the random-effects mean mu and spread s^2; inside: the mean of y weighted 1 / (s^2 + v), less mu;
    the two means' variances added, each with adjacent periods' errors correlated as the outside periods' are."""
    months = 2024 * 12 + np.arange(8)  # Jan..Aug 2024
    y = np.array([0.04, 0.03, -0.40, -0.50, 0.02, 0.00, -0.03, -0.04])  # outside: a drift
    v = np.array([0.01, 0.02, 0.01, 0.04, 0.01, 0.02, 0.01, 0.02]) ** 2
    effects = CalendarEffects(months, y, v, y, np.sqrt(v), 0.2, 0.0)
    window = effects.window("2024-03", "2024-04")
    out_y, out_v = np.delete(y, [2, 3]), np.delete(v, [2, 3])
    mu, sigma2, mu_var = random_effects(out_y, out_v)
    assert sigma2 > 0  # the outside periods vary beyond their noise
    assert mu == pytest.approx(np.sum(out_y / (sigma2 + out_v)) / np.sum(1 / (sigma2 + out_v)))
    assert mu_var == pytest.approx(1 / np.sum(1 / (sigma2 + out_v)))
    w = 1 / (sigma2 + v[2:4])
    assert window["log_effect"] == pytest.approx(np.sum(w * y[2:4]) / np.sum(w) - mu)
    # outside: Jan Feb | May Jun Jul Aug; the pairs one month apart are Jan-Feb, May-Jun, Jun-Jul, Jul-Aug
    r = (out_y - mu) / np.sqrt(sigma2 + out_v)
    rho = float(np.clip((r[0] * r[1] + r[2] * r[3] + r[3] * r[4] + r[4] * r[5]) / 4 / np.mean(r ** 2), 0, 0.9))
    assert rho > 0  # the outside periods drift: adjacent errors alike

    def var_of_mean(weight, months):
        sd = 1 / np.sqrt(weight)
        corr = rho ** np.abs(np.subtract.outer(months, months))
        return weight @ (corr * np.outer(sd, sd)) @ weight / weight.sum() ** 2

    out_months = np.array([0, 1, 4, 5, 6, 7])
    expected_var = var_of_mean(1 / (sigma2 + out_v), out_months) + var_of_mean(w, np.array([2, 3]))
    assert window["se"] == pytest.approx(np.sqrt(expected_var))
    assert window["se"] > np.sqrt(1 / np.sum(w) + mu_var)  # wider than with independent periods
    assert window["upper"] - window["lower"] == pytest.approx(2 * 1.959964 * window["se"], rel=1e-5)
    assert window["start"] == "2024-03" and window["periods"] == 2
    with pytest.raises(ValueError, match="observed periods inside"):
        effects.window("2030-01", "2030-02")


@slow
def test_persistent_calendar_risk_widens_a_years_total():
    """On a market whose monthly factor is an AR(1) (sd 0.1, coefficient 0.8) the fitted persistence is positive
    (deal and vintage effects take the slow part of the path, so it reads low: median 0.48 over 50 seeds,
    benchmarks/bench_calendar.py), and the market's total over the next 12 months varies more than with
    independent months of the same sd (measured here: persistence 0.67, coefficient of variation 0.066 against
    0.049)."""
    data = market(None, calendar_sd=0.1, persistence=0.8)
    model = fit(data, True)
    assert 0.2 < model.calendar_.persistence <= 0.9
    spread = {}
    for phi in (0.0, model.calendar_.persistence):
        model.calendar_ = replace(model.calendar_, persistence=phi)
        fc = model.predict(data, 84, n_draws=1000, random_state=3)
        n_obs = fc.observed_periods.astype(int)
        at = np.minimum(n_obs + 12, 84) - 1
        gain = fc.draws[:, np.arange(len(n_obs)), at] - fc.draws[:, np.arange(len(n_obs)), n_obs - 1]
        opb = data.deals.set_index("deal_id")["opb"].reindex(fc.deal_ids).to_numpy()
        total = gain @ opb
        spread[phi] = total.std() / total.mean()
    assert spread[model.calendar_.persistence] > 1.2 * spread[0.0], spread
