"""The backtest's deal-by-deal chart shows the deals it has forecasts for inside the horizons first."""
from __future__ import annotations

import pandas as pd

from forecasting.backtest import plots


def predictions(observed: dict[str, int], periods: int = 3) -> pd.DataFrame:
    rows = [{"scheme": "as_of", "fold": "2024-06-30", "model": "m", "role": "model", "deal_id": d, "period": p,
             "observed_periods": n, "predicted_cum_rate": 0.01 * p, "actual_cum_rate": 0.01 * p}
            for d, n in observed.items() for p in range(1, periods + 1)]
    return pd.DataFrame(rows)


def test_the_deals_with_forecasts_in_the_window_come_first(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(plots, "_save", lambda fig, path: seen.setdefault("fig", fig) and path)
    seasoned = {f"OLD-{i}": 9 for i in range(3)}  # seen past the window: only actuals there
    plots.deal_curves_plot(predictions({**seasoned, "NEW-1": 0, "MID-1": 2}), "as_of", tmp_path / "c.png", max_deals=3)
    titles = [ax.get_title() for ax in seen["fig"].axes if ax.get_title()]
    assert titles == ["NEW-1", "MID-1", "OLD-0"]


def test_the_backtest_report_says_spans_in_the_datas_units(tmp_path):
    from forecasting.backtest.report import write_report
    rows = predictions({"A": 0, "B": 1, "C": 0}).assign(role="model", p10=0.0, p50=0.02, p90=0.04, pit=0.5,
                                                        pit_tied=0.0, crps=0.001)
    deals = pd.DataFrame({"deal_id": ["A", "B", "C"], "originator": "X", "vintage": 1995})
    write_report(rows, deals, [1, 2, 3], tmp_path, period_months=12)
    assert "Models ranked by MAE of cum_rate at 2 years" in (tmp_path / "report.md").read_text()
