"""The recovery triangle: rates, observed periods, truncation to an as-of date, long and grouped forms."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.data.dataset import Dataset, DatasetMeta
from forecasting.data.history import RecoveryHistory


@pytest.fixture
def tiny() -> Dataset:
    deals = pd.DataFrame({"deal_id": ["x", "y"], "originator": ["A", "B"], "vintage": [2024, 2024],
                          "cutoff_date": pd.to_datetime(["2024-01-31", "2024-03-31"]), "opb": [1000.0, 500.0],
                          "n_borrowers": [10, 5], "wa_delinquency_months": [5.0, 4.0]})
    coll = pd.DataFrame({"deal_id": ["x"] * 4 + ["y"] * 2, "period": [1, 2, 3, 4, 1, 2],
                         "gross_collections": [100.0, 50.0, 25.0, 10.0, 40.0, 20.0]})
    return Dataset(DatasetMeta(name="t", as_of="2024-05-31"), deals, coll)


def test_rates(tiny):
    h = tiny.history
    assert h.observed_periods.tolist() == [4, 2]
    assert h.period_rate.loc["x"].tolist() == [0.1, 0.05, 0.025, 0.01]
    np.testing.assert_allclose(h.cum_rate.loc["x"], [0.1, 0.15, 0.175, 0.185])
    assert h.cum_rate.loc["y"].isna().tolist() == [False, False, True, True]
    np.testing.assert_allclose(h.latest_cum_rate, [0.185, 0.12])


def test_truncation_is_calendar_based(tiny):
    h = tiny.history.truncate("2024-04-15")  # x: Feb, Mar ended (periods 1-2); y: none
    assert h.observed_periods.tolist() == [2, 0]
    assert tiny.truncate("2024-04-30").history.observed_periods.tolist() == [3, 1]
    assert tiny.truncate("2024-02-29").deals["deal_id"].tolist() == ["x"]


def test_long_and_grouped(tiny):
    long = tiny.history.to_long()
    assert list(long.columns) == ["deal_id", "period", "gross_collections", "period_rate", "cum_rate"]
    assert len(long) == 6
    pooled = tiny.history.triangle("period_rate", by=tiny.deals.set_index("deal_id")["vintage"])
    # period 1: (100 + 40) / (1000 + 500); period 3: only x has it, 25 / 1000
    np.testing.assert_allclose(pooled.loc[2024, [1, 3]], [140 / 1500, 0.025])


def test_round_trip_from_tables(tiny):
    h = RecoveryHistory.from_tables(tiny.deals, tiny.history.to_long(), tiny.as_of)
    pd.testing.assert_frame_equal(h.amounts, tiny.history.amounts)
