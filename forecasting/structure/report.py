"""Writing the structure analysis: the CSVs of docs/outputs.md section 5, structure.xlsx and the two charts."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from forecasting.data.io import write_table
from forecasting.reporting.structure_plots import haircut_chart, payoff_chart
from forecasting.reporting.workbook import write_workbook

FILES = ("cashflows", "cashflows_portfolio", "tranche_summary", "breakeven", "haircut_sweep")


def write_structure(tables: dict[str, pd.DataFrame], out: Path, model: str, new_deals: list[str]) -> dict[str, Path]:
    """Every table as CSV, all of them in structure.xlsx, and the charts (the haircut chart for ``new_deals``, the
    pools being priced); returns the chart paths."""
    out = Path(out)
    for name in FILES:
        write_table(tables[name].assign(model=model), out / f"{name}.csv")
    write_workbook({name: tables[name] for name in FILES}, out / "structure.xlsx")
    return {"payoff": payoff_chart(tables["tranche_summary"], out / "senior_payoff.png",
                                   f"{model}: senior payoff time (base scenario)"),
            "haircut": haircut_chart(tables["haircut_sweep"], new_deals, out / "senior_vs_haircut.png",
                                     f"{model}: senior repayment against a haircut")}


def senior_lines(tables: dict[str, pd.DataFrame], deals: list[str]) -> list[str]:
    """One line per deal: the senior tranche's median payoff and p_repaid in the base scenario."""
    summary = tables["tranche_summary"]
    senior = summary[(summary["scenario"] == "base") & (summary["priority_rank"] == 1) & ~summary["residual"]]
    lines = []
    for row in senior[senior["deal_id"].isin(deals)].itertuples():
        median = "not repaid by legal maturity" if pd.isna(row.payoff_months_p50) else \
            f"median payoff {row.payoff_months_p50:.0f} months after closing"
        lines.append(f"{row.deal_id} {row.tranche}: {median}, repaid by legal maturity on {row.p_repaid:.1%} of paths")
    return lines
