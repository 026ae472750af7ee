"""report.html: one self-contained page (images embedded) an analyst can mail or open without a server."""
from __future__ import annotations

import base64
from pathlib import Path

import pandas as pd
from jinja2 import Template

from forecasting.reporting.workbook import is_amount, is_rate
from forecasting.resources import resource_text


def embed(path: Path) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


def html_table(table: pd.DataFrame, index: bool = True) -> str:
    """A table with rates shown as percentages, amounts and whole numbers without decimals, other floats with
    thousands separators and two decimals."""
    shown = table.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            values = shown[column].dropna()
            whole = len(values) and bool((values == values.round()).all())
            fmt = "{:.1%}" if is_rate(str(column)) else "{:,.0f}" if whole or is_amount(str(column)) else "{:,.2f}"
            shown[column] = shown[column].map(lambda v, f=fmt: "" if pd.isna(v) else f.format(v))
    return shown.to_html(index=index, border=0)


def write_html(path: Path, **context) -> Path:
    page = Template(resource_text("report.html")).render(**context)
    Path(path).write_text(page, encoding="utf-8")
    return path
