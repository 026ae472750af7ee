"""The fan chart names each pool in its legend only while every pool has its own colour."""
from __future__ import annotations

import pandas as pd
import pytest

from forecasting.reporting import plots


def curves_of(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = [f"D{i}" for i in range(n)]
    curves = pd.DataFrame({"deal_id": [d for d in ids for _ in range(3)], "period": [1, 2, 3] * n, "observed": 0,
                           "cum_rate": [.01, .02, .03] * n, "cum_rate_p10": [.005, .01, .02] * n,
                           "cum_rate_p90": [.02, .03, .04] * n})
    return curves, pd.DataFrame({"deal_id": ids})


@pytest.mark.parametrize("n, named", [(3, True), (10, True), (11, False), (48, False)])
def test_the_legend_names_pools_only_while_colours_are_their_own(monkeypatch, tmp_path, n, named):
    seen = {}
    monkeypatch.setattr(plots, "save", lambda fig, path: seen.setdefault("ax", fig.axes[0]) and path)
    plots.fan_chart(*curves_of(n), "t", tmp_path / "fan.png")
    ax = seen["ax"]
    assert (ax.get_legend() is not None) is named
    if not named:
        assert any(f"{n} pools" in t.get_text() for t in ax.texts)
