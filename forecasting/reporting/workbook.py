"""forecast.xlsx: one sheet per table, rates formatted as percentages, header row frozen, columns sized."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl.utils import get_column_letter

from forecasting.data.io import neutralise_formulas

RATE_PREFIXES = ("cum_rate", "gross_recovery", "observed_cum_rate", "est_gross_recovery", "predicted_cum_rate",
                 "actual_cum_rate", "mae", "rmse", "bias", "coverage", "opb_share")


def is_rate(column: str) -> bool:
    return column.startswith(RATE_PREFIXES) or (column.startswith("p") and column[1:].isdigit())


def write_workbook(sheets: dict[str, pd.DataFrame], path: Path) -> Path:
    def write(tmp: Path) -> None:
        with pd.ExcelWriter(tmp, engine="openpyxl") as xl:
            for name, table in sheets.items():
                neutralise_formulas(table).to_excel(xl, sheet_name=name, index=False)
                ws = xl.sheets[name]
                ws.freeze_panes = "A2"
                for j, column in enumerate(table.columns, start=1):
                    letter = get_column_letter(j)
                    ws.column_dimensions[letter].width = max(10, min(32, len(str(column)) + 2))
                    if is_rate(str(column)):
                        for cell in ws[letter][1:]:
                            cell.number_format = "0.00%"
                    elif str(column) in ("opb", "collections", "issue_size"):
                        for cell in ws[letter][1:]:
                            cell.number_format = "#,##0"
    write(Path(path))
    return path
