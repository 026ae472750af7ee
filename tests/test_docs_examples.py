"""The worked example of docs/bring_your_own_data.md converts and validates, tranches included."""
from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pytest

from forecasting.data.dataset import check_dataset
from forecasting.data.periods import month_index
from forecasting.structure.terms import deal_terms

SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "examples" / "trustee" / "to_dataset.py"


def converted(tmp_path):
    spec = importlib.util.spec_from_file_location("to_dataset", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dataset, problems = check_dataset(module.convert(tmp_path / "ds"))
    assert problems == []
    return dataset


def test_trustee_example_becomes_a_valid_dataset(tmp_path):
    dataset = converted(tmp_path)
    assert dataset.history.observed_periods.tolist() == [6]
    assert dataset.deals.loc[0, "est_gross_recovery"] == 0.165
    assert dataset.tranches["coupon"].tolist() == pytest.approx([0.022, 0.0])


def test_deal_terms_without_the_optional_deal_columns_take_the_defaults_quietly(tmp_path):
    """The example's deals give no closing date, frequency, fees or maturity: the contract's defaults, and no
    library warning reaches the user."""
    dataset = converted(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        terms = deal_terms(dataset)
    cutoff = month_index(dataset.deals["cutoff_date"])
    assert terms.frequency.tolist() == [3] and terms.fee_rate.tolist() == [0.0]
    assert terms.closing_month.tolist() == cutoff.tolist()
    assert terms.n_dates.tolist() == [7 * 12 // 3]
    assert terms.names[0].tolist() == ["优先A", "次级"] and terms.residual.tolist() == [1]
