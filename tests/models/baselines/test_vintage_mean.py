"""The vintage mean baseline: its history bar is a year of periods whatever the period length, and a dataset
without a deal that long is a failed fit that says so."""
import pandas as pd
import pytest

from forecasting.data.dataset import Dataset, DatasetMeta
from forecasting.models.base import FitError
from forecasting.models.baselines import VintageMeanBaseline


def yearly_market(periods_seen: dict[int, int]) -> Dataset:
    """One pool per vintage, seen for the given number of yearly periods by 2000-12-31, collecting 5% a year."""
    deals = pd.DataFrame({"deal_id": [f"P{v}" for v in periods_seen], "originator": "A", "vintage": list(periods_seen),
                          "cutoff_date": [pd.Timestamp(f"{2000 - n}-12-31") for n in periods_seen.values()],
                          "opb": 1e6, "n_borrowers": 100, "avg_balance": 1e4, "wa_delinquency_months": 3.0})
    rows = [(f"P{v}", p, 5e4) for v, n in periods_seen.items() for p in range(1, n + 1)]
    meta = DatasetMeta(name="y", as_of=pd.Timestamp("2000-12-31").date(), period_months=12, currency="CNY")
    return Dataset(meta, deals, pd.DataFrame(rows, columns=["deal_id", "period", "gross_collections"]))


def test_a_year_of_periods_is_the_bar_by_default():
    model = VintageMeanBaseline().fit(yearly_market({1996: 4, 1998: 2, 2000: 0}))
    assert model.vintages_ == [1996, 1998]  # a year is one yearly period; 2000 has none
    assert model.curve_[:4].tolist() == pytest.approx([0.05, 0.10, 0.15, 0.20])


def test_no_deal_with_the_history_is_a_failed_fit_that_says_so():
    with pytest.raises(FitError, match="no deal has 5 periods of history"):
        VintageMeanBaseline(min_history=5).fit(yearly_market({1996: 4, 1998: 2}))
