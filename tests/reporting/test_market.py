"""The market overview sets the published figures beside the vintages a dataset has, and only those."""
from __future__ import annotations

import numpy as np
import pytest

from forecasting.reporting.market import beside_published, has_published


def test_the_demo_market_sits_beside_the_whole_published_table(pool_level):
    table = beside_published(pool_level)
    assert list(table.index) == [2021, 2022, 2023, 2024, 2025, "total"]
    assert table.loc["total", ["opb_yi_published", "issue_yi_published"]].tolist() == pytest.approx([484.9, 49.5])


def test_a_part_of_the_market_is_beside_its_own_vintages_only(pool_level):
    part = pool_level.subset(list(pool_level.deals.loc[pool_level.deals["vintage"].isin([2023, 2024]), "deal_id"]))
    table = beside_published(part)
    assert list(table.index) == [2023, 2024, "total"] and has_published(table)
    assert table.loc["total", "opb_yi_published"] == pytest.approx(97.4 + 201.1)


def test_a_market_of_other_years_has_no_published_columns_and_no_made_up_totals(pool_level):
    deals = pool_level.deals.assign(vintage=pool_level.deals["vintage"] - 30).drop(columns="issue_size")
    other = pool_level.__class__(pool_level.meta, deals, pool_level.collections)
    table = beside_published(other)
    assert not has_published(table) and 2021 not in table.index
    assert np.isnan(table.loc["total", "issue_yi"])  # no issue sizes: blank, not 0
    assert table.loc["total", "deals"] == 29
