"""Workbooks (forecast.xlsx, structure.xlsx): one sheet per table, rates as percentages, amounts with thousands
separators in columns wide enough to show them, header frozen, autofilter on, printed landscape to page width with
the header repeated."""
from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter

from forecasting.data.io import neutralise_formulas

RATE_PREFIXES = ("cum_rate", "gross_recovery", "observed_cum_rate", "est_gross_recovery", "predicted_cum_rate",
                 "actual_cum_rate", "mae", "rmse", "bias", "coverage", "opb_share", "expected_gross_recovery",
                 "p_repaid", "expected_loss", "coupon", "irr_", "breakeven_gross_recovery", "base_gross_recovery",
                 "recovery_rate", "senior_fee_rate", "haircut", "expected", "cash_forecast", "agency_estimate")
AMOUNT_PREFIXES = ("opb", "collections", "issue_size", "balance", "recovery", "tranche_", "residual_excess")
MAX_WIDTH = 40


def is_rate(column: str) -> bool:
    """Rates (shown as %): their names' prefixes, pNN quantiles and the triangle's period columns."""
    return column.startswith(RATE_PREFIXES) or (column.startswith("p") and column[1:].isdigit()) or column.isdigit()


UNIT_SUFFIXES = ("_yi", "_yi_published", "_wan")  # already in 亿 or 万: decimals matter


def is_amount(column: str) -> bool:
    """Amounts in currency units (shown as whole numbers with thousands separators)."""
    return column.startswith(AMOUNT_PREFIXES) and not is_rate(column) and not column.endswith(UNIT_SUFFIXES)


def _shown(value, column: str) -> str:
    """The value as Excel will show it under the column's format (for the column's width)."""
    if isinstance(value, (float, np.floating)) and np.isfinite(value):
        if is_rate(column):
            return f"{value:.2%}"
        if is_amount(column):
            return f"{value:,.0f}"
        return f"{value:.4g}"
    return str(value)


def width(text: str) -> int:
    """Display width: a CJK character takes two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def write_workbook(sheets: dict[str, pd.DataFrame], path: Path, charts: dict[str, str] | None = None) -> Path:
    """Every sheet formatted as the module says; for each sheet named in ``charts`` (sheet -> title), a native Excel
    line chart of its columns against its first column, beside the table."""
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        for name, table in sheets.items():
            neutralise_formulas(table).to_excel(xl, sheet_name=name, index=False)
            ws = xl.sheets[name]
            ws.freeze_panes = "A2"
            if len(table.columns):
                ws.auto_filter.ref = ws.dimensions
            ws.page_setup.orientation = "landscape"
            ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
            ws.sheet_properties.pageSetUpPr.fitToPage = True
            ws.print_title_rows = "1:1"
            for j, column in enumerate(table.columns, start=1):
                letter, column = get_column_letter(j), str(column)
                longest = max([width(column)] + [width(_shown(v, column)) for v in table[column].head(5000)])
                ws.column_dimensions[letter].width = min(MAX_WIDTH if name != "definitions" else 90,
                                                         max(10 if not column.isdigit() else 7, longest + 3))
                fmt = "0.00%" if is_rate(column) else "#,##0" if is_amount(column) else None
                if fmt:
                    for cell in ws[letter][1:]:
                        cell.number_format = fmt
            if charts and name in charts:
                _line_chart(ws, table, charts[name])
    return path


def _line_chart(ws, table: pd.DataFrame, title: str) -> None:
    """The chart; its series (cum_rate of one pool per column) shown as percentages."""
    from openpyxl.chart import LineChart, Reference
    for column in ws.iter_cols(min_col=2, max_col=table.shape[1], min_row=2):
        for cell in column:
            cell.number_format = "0.00%"
    chart = LineChart()
    chart.title, chart.y_axis.title, chart.x_axis.title = title, "cum_rate", str(table.columns[0])
    chart.y_axis.numFmt, chart.height, chart.width = "0%", 9, 18
    data = Reference(ws, min_col=2, max_col=table.shape[1], min_row=1, max_row=len(table) + 1)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=len(table) + 1))
    ws.add_chart(chart, f"{get_column_letter(table.shape[1] + 2)}2")
