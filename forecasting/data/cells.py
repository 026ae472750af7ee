"""Cells to the contract's types, without ever changing a number by guessing (docs/data.md, "How cells are read").

Numbers: plain decimals ('1234.5', '-3', '1e6'); thousands separators only in the one unambiguous form
'1,234,567.89'; a percent sign only in rate columns ('12.5%' = 0.125). '59999999,97' (a decimal comma?), '50%' as an
amount, '1_000' are refused, not read as something else. Dates: ISO 'YYYY-MM-DD' (a time of day, or a time zone, is
dropped: the date as written is kept), 'YYYY/MM/DD', 'YYYY.MM.DD', 'YYYYMMDD' as text, '2021年5月31日', and native
date cells (Excel, Parquet; time-zone-aware ones keep their wall-clock date). '01/02/2021' is refused: day-first and
month-first readings differ. A number in a date column (Parquet integers such as 20210531) is refused.

Each parser returns the typed values and, per row, why a cell could not be read (None where it could).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

PLAIN = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
THOUSANDS = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?"
INFINITE = r"[+-]?(?:inf|infinity)"
DATE_FORMS = [
    r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?",
    r"(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})(?: \d{1,2}:\d{2}(?::\d{2})?)?",
    r"(?P<y>\d{4})\.(?P<m>\d{1,2})\.(?P<d>\d{1,2})",
    r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})",
    r"(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日",
]


def _empty_reasons(index) -> pd.Series:
    return pd.Series(None, index=index, dtype=object)


def _kind_of(value) -> str:
    return {list: "a list", tuple: "a list", dict: "a structure", bytes: "bytes", np.ndarray: "a list"}.get(
        type(value), f"a {type(value).__name__}")


def parse_number(raw: pd.Series, percent_ok: bool = False) -> tuple[pd.Series, pd.Series]:
    """Floats, and why each unreadable cell is unreadable."""
    reasons = _empty_reasons(raw.index)
    kind = raw.dtype.kind
    if kind in "iuf":
        return raw.astype(float), reasons
    if kind == "b":
        return pd.Series(np.nan, index=raw.index), reasons.mask(raw.notna(), "expected a number, got True/False")
    if kind in "mM":
        what = "a duration" if kind == "m" else "a date"
        return pd.Series(np.nan, index=raw.index), reasons.mask(raw.notna(), f"expected a number, got {what}")
    values = pd.Series(np.nan, index=raw.index)
    present = raw.notna()
    is_text = raw.map(lambda v: isinstance(v, str)) & present
    is_number = raw.map(lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool))
    values[is_number] = raw[is_number].astype(float)
    other = present & ~is_text & ~is_number
    reasons[other] = [f"expected a number, got {_kind_of(v)}" for v in raw[other]]
    text = raw[is_text].astype(str).str.strip()
    plain = text.str.fullmatch(PLAIN) | text.str.fullmatch(INFINITE, case=False)
    values[plain[plain].index] = pd.to_numeric(text[plain].str.lower(), errors="coerce").astype(float)
    separated = ~plain & text.str.fullmatch(THOUSANDS)
    values[separated[separated].index] = pd.to_numeric(text[separated].str.replace(",", "", regex=False)).astype(float)
    rest = text[~plain & ~separated]
    if len(rest):
        body = rest.str[:-1].str.strip()
        pct = rest.str.endswith("%") & (body.str.fullmatch(PLAIN) | body.str.fullmatch(THOUSANDS))
        if percent_ok and pct.any():
            values[pct[pct].index] = pd.to_numeric(body[pct].str.replace(",", "", regex=False)).astype(float) / 100
        for i, cell in rest[~(pct & percent_ok)].items():
            if cell.endswith("%") and pct[i]:
                reasons[i] = f"a percentage is not a valid amount or count here, got {cell!r}"
            elif "," in cell:
                reasons[i] = (f"ambiguous number {cell!r}: write decimals with '.' and thousands as 1,234,567.89 "
                              f"(or without separators)")
            else:
                reasons[i] = f"expected a number, got {cell!r}"
    return values, reasons


def parse_date(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Naive dates (midnight), and why each unreadable cell is unreadable."""
    reasons = _empty_reasons(raw.index)
    kind = raw.dtype.kind
    if kind == "M":
        values = pd.to_datetime(raw)
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_localize(None)
        return values.dt.normalize(), reasons
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    if kind in "iufbm":
        return out, reasons.mask(raw.notna(), f"a number is not a date: write dates as YYYY-MM-DD (got "
                                              f"{raw.dropna().iloc[0] if raw.notna().any() else ''})")
    present = raw.notna()
    stamps = raw.map(lambda v: isinstance(v, (pd.Timestamp, np.datetime64)) or hasattr(v, "year")) & present
    for i, v in raw[stamps].items():
        stamp = pd.Timestamp(v)
        out[i] = (stamp.tz_localize(None) if stamp.tzinfo is not None else stamp).normalize()
    text = raw[present & ~stamps]
    is_text = text.map(lambda v: isinstance(v, str))
    for i, v in text[~is_text].items():
        reasons[i] = f"a number is not a date: write dates as YYYY-MM-DD (got {v!r})" \
            if isinstance(v, (int, float, np.number)) else f"expected a date, got {_kind_of(v)}"
    text = text[is_text].astype(str).str.strip()
    parts = pd.DataFrame(index=text.index, columns=["y", "m", "d"], dtype=object)
    for form in DATE_FORMS:
        todo = parts["y"].isna()
        if not todo.any():
            break
        found = text[todo].str.extract(f"^{form}$")
        parts.loc[found.index] = parts.loc[found.index].fillna(found)
    whole = parts.dropna()
    if len(whole):
        dated = pd.to_datetime({"year": whole["y"].astype(int), "month": whole["m"].astype(int),
                                "day": whole["d"].astype(int)}, errors="coerce")
        out[whole.index] = dated
        for i in whole.index[dated.isna().to_numpy()]:
            reasons[i] = f"expected a date (YYYY-MM-DD), got {text[i]!r}: no such day"
    for i in parts.index[parts["y"].isna().to_numpy()]:
        cell = text[i]
        ambiguous = len(cell.replace("/", "-").replace(".", "-").split("-")) == 3 and not cell[:4].isdigit()
        reasons[i] = (f"ambiguous date {cell!r}: day-first and month-first differ; write dates as YYYY-MM-DD"
                      if ambiguous else f"expected a date (YYYY-MM-DD), got {cell!r}")
    return out, reasons


def _text(value):
    if isinstance(value, (list, tuple, dict, bytes, np.ndarray)):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def parse_text(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Text (numbers written as text, whole numbers without '.0'), and why a cell that is a list is unreadable."""
    reasons = _empty_reasons(raw.index)
    present = raw.notna()
    values = raw.where(~present, raw.map(_text))
    bad = present & values.isna()
    reasons[bad] = [f"expected text, got {_kind_of(v)}" for v in raw[bad]]
    return values, reasons
