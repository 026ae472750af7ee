"""Joint paths, portfolio totals and stress scenarios (issue 18: joint paths and shocks; issue 19: scenarios)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.data.problems import InputError
from forecasting.forecast import scenarios
from forecasting.forecast.paths import PortfolioTotals, paths_frame
from forecasting.forecast.pipeline import forecast
from forecasting.forecast.scenarios import BASE, Scenario, Shock


@pytest.fixture(scope="module")
def fc_and_data(decay_weibull, demo):
    data = demo.subset(demo.deal_ids[-12:])
    return forecast(decay_weibull, data, 36, n_draws=200, seed=3), data


def test_portfolio_total_of_draw_k_is_the_sum_of_the_pools_draw_k(fc_and_data):
    fc, data = fc_and_data
    frame = paths_frame(fc, data)
    totals = PortfolioTotals()
    totals.add(fc, data)
    last = frame[frame["period"] == 36]
    by_draw = (last["cum_rate"].astype(float) * last["deal_id"].astype(str).map(data.deals.set_index("deal_id")["opb"])
               ).groupby(last["draw"]).sum().to_numpy()
    np.testing.assert_allclose(totals._sums[("portfolio", "all")], by_draw, rtol=1e-6)
    np.testing.assert_allclose(frame.groupby(["draw", "deal_id"], observed=True)["collections"].sum().to_numpy(),
                               (fc.draws[:, :, -1] * data.deals.set_index("deal_id")["opb"].reindex(fc.deal_ids).to_numpy()
                                ).ravel(), rtol=1e-4)
    table = totals.table([0.1, 0.9]).set_index(["grouping", "group"])
    assert table.loc[("portfolio", "all"), "deals"] == 12
    vintages = table.loc["vintage"]
    assert vintages["deals"].sum() == 12 and vintages["recovery"].sum() == pytest.approx(table.loc[("portfolio", "all"),
                                                                                                 "recovery"])
    # every total has a band in order around its mean
    assert (table["recovery_p10"] <= table["recovery"]).all() and (table["recovery"] <= table["recovery_p90"]).all()


def test_shock_lowers_the_affected_periods_and_no_other(fc_and_data):
    fc, data = fc_and_data
    shock = Scenario(name="s", shock=Shock.parse("2025-10:2026-03:70%"))
    cutoff = data.history.cutoff.reindex(fc.deal_ids)
    after = scenarios.apply(shock, fc.draws, fc.observed_periods, cutoff, 1)
    before_inc, after_inc = np.diff(fc.draws, axis=-1, prepend=0), np.diff(after, axis=-1, prepend=0)
    ends = pd.DataFrame({d: pd.date_range(c + pd.offsets.MonthEnd(1), periods=36, freq="ME")
                         for d, c in zip(fc.deal_ids, cutoff)}).T.to_numpy()
    inside = (ends >= np.datetime64("2025-10-01")) & (ends <= np.datetime64("2026-03-31"))
    future = np.arange(1, 37)[None] > fc.observed_periods[:, None]
    hit = inside & future
    assert hit.any() and (~hit).any()
    np.testing.assert_allclose(after_inc[:, hit], 0.7 * before_inc[:, hit], atol=1e-12)
    np.testing.assert_allclose(after_inc[:, ~hit], before_inc[:, ~hit], atol=1e-12)


def test_delay_and_haircut_never_touch_history_and_never_speed_up(fc_and_data):
    fc, data = fc_and_data
    cutoff = data.history.cutoff.reindex(fc.deal_ids)
    seen = np.arange(1, 37)[None] <= fc.observed_periods[:, None]
    for scenario in (Scenario(name="d", delay_months=3), Scenario(name="h", haircut=0.25)):
        after = scenarios.apply(scenario, fc.draws, fc.observed_periods, cutoff, 1)
        np.testing.assert_array_equal(after[:, seen], fc.draws[:, seen])
        assert (after <= fc.draws + 1e-12).all() and (np.diff(after, axis=-1) >= -1e-12).all()
    delayed = scenarios.apply(Scenario(name="d", delay_months=3), fc.draws, fc.observed_periods, cutoff, 1)
    j = int(np.flatnonzero(fc.observed_periods < 30)[0])
    n = fc.observed_periods[j]
    gained = np.diff(fc.draws[:, j], axis=-1, prepend=0)[:, n:36 - 3]
    np.testing.assert_allclose(np.diff(delayed[:, j], axis=-1, prepend=0)[:, n + 3:], gained, atol=1e-12)
    assert scenarios.apply(BASE, fc.draws, fc.observed_periods, cutoff, 1) is fc.draws
    cut = scenarios.apply(Scenario(name="all", haircut=1.0), fc.draws, fc.observed_periods, cutoff, 1)
    last = fc.draws[:, np.arange(len(fc.deal_ids)), np.maximum(fc.observed_periods - 1, 0)]
    np.testing.assert_allclose(cut[:, :, -1], np.where(fc.observed_periods > 0, last, 0.0), atol=1e-12)


@pytest.mark.parametrize("text", ["2026-01:2026-06", "2026-06:2026-01:0.7", "2026-13:2026-14:0.7", "a:b:c",
                                  "2026-01:2026-06:-1"])
def test_a_bad_shock_is_one_clear_problem(text):
    with pytest.raises(InputError) as caught:
        Shock.parse(text)
    assert str(caught.value).startswith("--shock") and text in str(caught.value)
