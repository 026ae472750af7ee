"""The worked example of docs/bring_your_own_data.md converts and validates."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from forecasting.data.dataset import check_dataset

SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "examples" / "trustee" / "to_dataset.py"


def test_trustee_example_becomes_a_valid_dataset(tmp_path):
    spec = importlib.util.spec_from_file_location("to_dataset", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dataset, problems = check_dataset(module.convert(tmp_path / "ds"))
    assert problems == []
    assert dataset.history.observed_periods.tolist() == [6]
    assert dataset.deals.loc[0, "est_gross_recovery"] == 0.165
