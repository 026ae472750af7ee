"""The report's opening summary says what the numbers say, including "not distinguishable"."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.data.periods import span
from forecasting.reporting.opening import backtest_line, pool_lines


def test_each_new_pool_in_percent_and_money_with_a_large_gap_flagged():
    new = pd.DataFrame({"deal_id": ["X-1", "X-2"], "opb": [2e9, 1e9], "expected_gross_recovery": [0.06, 0.12],
                        "expected_gross_recovery_p10": [0.05, 0.10], "expected_gross_recovery_p90": [0.07, 0.14],
                        "est_gross_recovery": [0.10, 0.125]})
    first, second = pool_lines(new, "CNY")
    assert first == ("X-1: 6.0% of principal (P10-P90 5.0% to 7.0%), 1.20 亿 CNY; the agency estimated 10.0% "
                     "(ours -40%: a large difference)")
    assert second.endswith("the agency estimated 12.5% (-4%)")


def test_the_backtest_line_reads_the_interval():
    compared = pd.DataFrame({"scheme": ["as_of", "new_pool", "vintage_holdout"], "horizon": 24, "model": "m",
                             "baseline": "b", "mae_diff": [-0.002, 0.001, 0.003],
                             "mae_diff_lo": [-0.003, -0.001, np.nan], "mae_diff_hi": [-0.001, 0.002, np.nan]})
    line = backtest_line(compared, "m", 24)
    assert "as_of: better than b" in line and "new_pool: not distinguishable from b" in line
    assert "vintage_holdout: too few deals to tell it from b" in line
    assert backtest_line(None, "m", 24).startswith("No backtest")
    assert line.startswith("Backtest at 24 months, m against")
    assert backtest_line(compared.assign(horizon=8), "m", 8, 3).startswith("Backtest at 8 quarters (24 months), m")
    assert backtest_line(compared, "m", 12) == "m has no backtest forecasts at 12 months."


@pytest.mark.parametrize("periods, months, said", [(24, 1, "24 months"), (1, 1, "1 month"),
                                                   (8, 3, "8 quarters (24 months)"), (5, 12, "5 years"),
                                                   (1, 12, "1 year")])
def test_a_span_of_periods_is_said_in_the_datas_units(periods, months, said):
    assert span(periods, months) == said
