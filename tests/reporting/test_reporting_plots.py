"""The recovery curves by group: the period's unit on the axis, and a legend beside the plot once it would hide the
curves, its colours distinct for up to 20 groups."""
from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from forecasting.reporting import plots


@pytest.mark.parametrize("by, groups, beside", [("vintage", 5, False), ("pool", 29, True)])
def test_the_axis_says_the_unit_and_a_long_legend_goes_beside(monkeypatch, tmp_path, pool_level, by, groups, beside):
    seen = {}
    monkeypatch.setattr(plots, "save", lambda fig, path: seen.setdefault("ax", fig.axes[0]) and path)
    data = replace(pool_level, deals=pool_level.deals.assign(pool=pool_level.deals["deal_id"]))
    plots.curves_by_group(data, by, tmp_path / "c.png", "t")
    ax = seen["ax"]
    assert ax.get_xlabel() == "months since cut-off"
    legend = ax.get_legend()
    assert len(legend.get_texts()) == groups
    assert bool(legend.get_bbox_to_anchor().x0 > ax.get_window_extent().x1) == beside
    colours = [tuple(line.get_color()) if not isinstance(line.get_color(), str) else line.get_color()
               for line in legend.get_lines()]
    assert len(set(colours[:20])) == min(groups, 20)


def test_quarterly_data_are_drawn_in_quarters(monkeypatch, tmp_path, quarterly):
    seen = {}
    monkeypatch.setattr(plots, "save", lambda fig, path: seen.setdefault("ax", fig.axes[0]) and path)
    plots.curves_by_group(quarterly, "vintage", tmp_path / "c.png", "t")
    assert seen["ax"].get_xlabel() == "quarters since cut-off"


@pytest.mark.parametrize("names, turned", [(list("ABCDE"), False), ([f"company-{i:05d}-WC" for i in range(5)], True)])
def test_never_pay_labels_turn_only_when_they_would_overlap(monkeypatch, tmp_path, pool_level, names, turned):
    seen = {}
    monkeypatch.setattr(plots, "save", lambda fig, path: seen.setdefault("fig", fig) and path)
    renamed = dict(zip(sorted(pool_level.deals["originator"].unique()), names))
    deals = pool_level.deals.assign(originator=pool_level.deals["originator"].map(renamed))
    plots.never_pay_plot(deals, pd.Series(0.9, index=deals["deal_id"]), tmp_path / "n.png", "t")
    rotation = seen["fig"].axes[1].get_xticklabels()[0].get_rotation()
    assert rotation == (45 if turned else 0)
