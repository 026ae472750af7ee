"""Chinese deal names draw as text, not boxes: the charts find a CJK font (CI installs fonts-noto-cjk)."""
from __future__ import annotations

import warnings

import pandas as pd
import pytest

from forecasting.reporting import plots
from forecasting.reporting.fonts import cjk_font


@pytest.mark.skipif(cjk_font() is None, reason="no CJK font installed (Debian: apt-get install fonts-noto-cjk)")
def test_a_chart_of_chinese_names_draws_without_glyph_warnings(tmp_path):
    curves = pd.DataFrame({"deal_id": ["建鑫2025-1"] * 3, "period": [1, 2, 3], "observed": 0, "cum_rate": [.01, .02, .03],
                           "cum_rate_p10": [.005, .01, .02], "cum_rate_p50": [.01, .02, .03],
                           "cum_rate_p90": [.02, .03, .04]})
    summary = pd.DataFrame({"deal_id": ["建鑫2025-1"], "originator": ["建设银行"], "vintage": [2025]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s) DejaVu Sans" would raise
        plots.fan_chart(curves, summary, "建鑫 2025 年第一期", tmp_path / "fan.png")
    assert (tmp_path / "fan.png").stat().st_size > 5_000
