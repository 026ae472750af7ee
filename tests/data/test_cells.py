"""Cells are read as written or refused: never a number changed by guessing."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from forecasting.data.cells import parse_date, parse_number, parse_text


@pytest.mark.parametrize("cell, value", [("1234.5", 1234.5), (" -3 ", -3.0), ("1e6", 1e6), ("1,234,567.89", 1234567.89),
                                         ("inf", np.inf), (".5", 0.5)])
def test_numbers_read_as_written(cell, value):
    values, reasons = parse_number(pd.Series([cell], dtype=object))
    assert values[0] == value and pd.isna(reasons[0])


@pytest.mark.parametrize("cell, reason", [("59999999,97", "ambiguous number '59999999,97'"), ("1,23", "ambiguous"),
                                          ("50%", "a percentage is not a valid amount"), ("1_000", "expected a number"),
                                          ("12,34,567", "ambiguous"), ("lots", "expected a number, got 'lots'"),
                                          ("nan", "expected a number, got 'nan'")])
def test_numbers_that_could_be_misread_are_refused(cell, reason):
    values, reasons = parse_number(pd.Series([cell], dtype=object))
    assert np.isnan(values[0]) and reason in reasons[0]


def test_percentages_only_in_rate_columns():
    values, reasons = parse_number(pd.Series(["16.5%", "0.12"], dtype=object), percent_ok=True)
    assert values.tolist() == pytest.approx([0.165, 0.12]) and reasons.isna().all()


@pytest.mark.parametrize("raw, reason", [(pd.Series([True]), "True/False"), (pd.Series([pd.Timedelta(days=3)]), "a duration"),
                                         (pd.Series([[1, 2]], dtype=object), "a list")])
def test_numbers_of_the_wrong_type_are_refused(raw, reason):
    assert reason in parse_number(raw)[1][0]


@pytest.mark.parametrize("cell", ["2021-05-31", "2021-5-31", "2021/05/31", "2021.05.31", "20210531", "2021年5月31日",
                                  "2021-05-31 00:00:00", "2021-05-31T15:30:00+08:00"])
def test_unambiguous_dates(cell):
    values, reasons = parse_date(pd.Series([cell], dtype=object))
    assert values[0] == pd.Timestamp("2021-05-31") and pd.isna(reasons[0])


@pytest.mark.parametrize("cell, reason", [("01/02/2021", "ambiguous date '01/02/2021'"), ("31/05/2021", "ambiguous"),
                                          ("2021-13-45", "no such day"), ("May 2021", "expected a date")])
def test_ambiguous_or_impossible_dates_are_refused(cell, reason):
    values, reasons = parse_date(pd.Series([cell], dtype=object))
    assert pd.isna(values[0]) and reason in reasons[0]


def test_native_dates_keep_their_wall_clock_day_and_integers_are_refused():
    aware = pd.Series(pd.to_datetime(["2021-05-31 23:30"]).tz_localize("Asia/Shanghai"))
    assert parse_date(aware)[0][0] == pd.Timestamp("2021-05-31")
    assert parse_date(pd.Series([dt.date(2021, 5, 31)], dtype=object))[0][0] == pd.Timestamp("2021-05-31")
    assert "a number is not a date" in parse_date(pd.Series([20210531]))[1][0]


def test_text_from_numbers_and_lists():
    values, reasons = parse_text(pd.Series([12.0, "A-1 ", [1]], dtype=object))
    assert values[:2].tolist() == ["12", "A-1"] and "a list" in reasons[2]
