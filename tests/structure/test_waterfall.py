"""The waterfall and break-even on hand-computed cases, and the properties every scenario must keep (issue 19)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.forecast import scenarios
from forecasting.forecast.scenarios import Scenario
from forecasting.structure import measures, waterfall
from forecasting.structure.terms import Terms


def terms(balance, coupon, fee=0.0, frequency=1, n_dates=4) -> Terms:
    balance, coupon = np.atleast_2d(balance).astype(float), np.atleast_2d(coupon).astype(float)
    n = len(balance)
    return Terms(pd.Index([f"d{i}" for i in range(n)]), np.array([["senior", "sub"][:balance.shape[1]]] * n, dtype=object),
                 balance, coupon, np.full(n, balance.shape[1] - 1), np.full(n, 24300), np.full(n, frequency),
                 np.full(n, fee), np.full(n, n_dates))


def test_fees_then_interest_then_principal_in_order_then_the_residual():
    t = terms([[100.0, 50.0]], [[0.12, 0.0]], fee=0.10)
    w = waterfall.run(t, np.array([[[50.0, 50.0, 100.0, 0.0]]]))
    # date 1: 45 available; interest 100 x 1% = 1; senior principal 44 -> 56 left
    # date 2: 45; interest 0.56; principal 44.44 -> 11.56 left
    # date 3: 90; interest 0.1156; principal 11.56 -> repaid; sub principal 50 -> repaid; 28.3244 to the residual
    np.testing.assert_allclose(w.interest[0, 0, 0], [1.0, 0.56, 0.1156, 0.0])
    np.testing.assert_allclose(w.principal[0, 0, 0], [44.0, 44.44, 11.56, 0.0])
    np.testing.assert_allclose(w.principal[0, 0, 1], [0.0, 0.0, 50.0, 0.0])
    np.testing.assert_allclose(w.excess[0, 0], [0.0, 0.0, 28.3244, 0.0])
    assert list(w.repaid_on[0, 0]) == [3, 3]
    paid = w.interest.sum() + w.principal.sum() + w.excess.sum()
    assert paid == pytest.approx(0.9 * 200.0)  # every yuan after fees goes somewhere


def test_unpaid_interest_is_carried_and_paid_first():
    t = terms([[100.0, 10.0]], [[0.12, 0.0]], n_dates=3)
    w = waterfall.run(t, np.array([[[0.4, 10.0, 0.0]]]))
    np.testing.assert_allclose(w.interest[0, 0, 0], [0.4, 0.6 + 1.0, 0.0])
    np.testing.assert_allclose(w.principal[0, 0, 0], [0.0, 10.0 - 1.6, 0.0])
    assert w.repaid_on[0, 0, 0] == 0
    assert w.outstanding[0, 0, 0] == pytest.approx(91.6) and w.arrears[0, 0, 0] == pytest.approx(0.916)


def test_collections_after_legal_maturity_repay_nothing():
    t = terms([[10.0, 1.0]], [[0.0, 0.0]], n_dates=2)
    w = waterfall.run(t, np.array([[[1.0, 1.0, 100.0]]]))
    assert w.principal[0, 0, 0].sum() == pytest.approx(2.0) and w.outstanding[0, 0, 0] == pytest.approx(8.0)


def test_breakeven_matches_the_closed_form_and_repays_to_the_cent():
    """Flat expected collections c a month, no coupon, no fee, monthly dates, M dates to maturity: the senior of
    balance B is repaid iff s x c x M >= B, so s* = B / (c M)."""
    c, months, balance, opb = 1_000.0, 24, 18_000.0, 1e6
    t = terms([[balance, 5_000.0]], [[0.0, 0.0]], n_dates=months)
    future = np.full((1, months), c)
    table = measures.breakeven(t, np.zeros((1, months)), future, np.zeros(1), np.array([c * months / opb]))
    row = table.iloc[0]
    cent = 1.001 * waterfall.CENT / (c * months)  # a balance within half a cent counts as paid
    assert row["scale"] == pytest.approx(balance / (c * months), abs=cent)
    assert row["breakeven_gross_recovery"] == pytest.approx(balance / opb, abs=cent * c * months / opb)
    assert row["multiple"] == pytest.approx(c * months / balance, rel=1e-6)
    at = waterfall.run(t, (row["scale"] * future)[None])
    assert at.repaid_on[0, 0, 0] == months and at.outstanding[0, 0, 0] <= waterfall.CENT
    short = waterfall.run(t, ((row["scale"] - 0.02 / (c * months)) * future)[None])  # two cents less in all
    assert short.repaid_on[0, 0, 0] == 0 and 0 < short.outstanding[0, 0, 0] <= 0.03


def test_breakeven_with_a_coupon_and_fees_still_repays_exactly_at_maturity():
    t = terms([[18_000.0, 5_000.0]], [[0.05, 0.0]], fee=0.04, frequency=3, n_dates=8)
    future = np.linspace(4_000, 1_000, 8)[None]
    row = measures.breakeven(t, np.zeros((1, 8)), future, np.zeros(1), np.array([0.02])).iloc[0]
    at = waterfall.run(t, (row["scale"] * future)[None])
    below = waterfall.run(t, (row["scale"] * (1 - 1e-7) * future)[None])
    assert at.repaid_on[0, 0, 0] > 0 and below.repaid_on[0, 0, 0] == 0
    assert below.outstanding[0, 0, 0] + below.arrears[0, 0, 0] < 0.01


@pytest.fixture(scope="module")
def paths():
    """Random non-decreasing cum_rate paths, 3 observed periods, monthly from a cut-off at the closing month."""
    rng = np.random.default_rng(5)
    increments = rng.gamma(0.5, 0.006, (400, 2, 48))
    return np.cumsum(increments, axis=-1), np.array([3, 0]), pd.Series(pd.to_datetime(["2025-01-31"] * 2))


def _repaid(paths_, t):
    from forecasting.structure.cashflows import cash_by_date
    dates = np.minimum(np.arange(1, 49), t.n_dates[0])[None].repeat(2, 0)
    return waterfall.run(t, cash_by_date(paths_, np.full(2, 1e6), dates, int(t.n_dates[0])))


def test_a_delay_never_shortens_payoff_and_a_full_haircut_repays_only_from_history(paths):
    cum, observed, cutoff = paths
    t = terms([[60_000.0, 10_000.0]] * 2, [[0.03, 0.0]] * 2, n_dates=36)
    base = _repaid(cum, t).repaid_on
    late = _repaid(scenarios.apply(Scenario(name="d", delay_months=4), cum, observed, cutoff, 1), t).repaid_on
    never = lambda r: np.where(r == 0, 10_000, r)  # noqa: E731
    assert (never(late) >= never(base)).all() and (never(late) > never(base)).any()
    gone = scenarios.apply(Scenario(name="h", haircut=1.0), cum, observed, cutoff, 1)
    history = cum[:, 0, 2] * 1e6  # deal 0's observed collections
    w = _repaid(gone, t)
    np.testing.assert_allclose(w.principal[:, 0].sum(axis=(-1, -2)) + w.interest[:, 0].sum(axis=(-1, -2)),
                               history, rtol=1e-9)
    assert (w.principal[:, 1] == 0).all()


def test_p_repaid_never_rises_with_the_haircut(paths):
    cum, observed, cutoff = paths
    t = terms([[60_000.0, 10_000.0]] * 2, [[0.03, 0.0]] * 2, n_dates=36)
    shares = [(_repaid(scenarios.apply(Scenario(name="h", haircut=h), cum, observed, cutoff, 1), t).repaid_on[:, :, 0] > 0)
              .mean(axis=0) for h in np.linspace(0, 0.9, 10)]
    assert (np.diff(np.array(shares), axis=0) <= 0).all() and shares[0].min() > shares[-1].max()


def test_the_structure_tables_do_not_depend_on_n_jobs_or_chunking(decay_weibull, demo, monkeypatch):
    import forecasting as fc
    from forecasting.forecast import pipeline
    data = demo.subset(demo.deal_ids[-8:])
    one = fc.structure(decay_weibull, data, [Scenario(name="cut", haircut=0.3)], n_paths=60)
    monkeypatch.setattr(pipeline, "CHUNK_VALUES", 60 * 100 * 3)  # three deals per chunk
    two = fc.structure(decay_weibull, data, [Scenario(name="cut", haircut=0.3)], n_paths=60, n_jobs=2)
    for name in one:
        pd.testing.assert_frame_equal(one[name], two[name], check_exact=False, rtol=1e-9)  # sums in another order


def test_a_forecast_with_a_missing_value_stops_the_structure_analysis(decay_weibull, demo, monkeypatch):
    """A NaN path would reach the waterfall as no cash on that draw: the analysis stops and names the deal."""
    import forecasting as fc
    from forecasting.forecast.checks import ForecastError
    data = demo.subset(demo.deal_ids[-3:])
    predict = type(decay_weibull)._predict

    def spoiled(self, *args, **kwargs):
        out = predict(self, *args, **kwargs)
        out.draws[:, 0, -1] = np.nan
        return out

    monkeypatch.setattr(type(decay_weibull), "_predict", spoiled)
    with pytest.raises(ForecastError, match="the paths of deal .* are not finite"):
        fc.structure(decay_weibull, data, n_paths=20)
