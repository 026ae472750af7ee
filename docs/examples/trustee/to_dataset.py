"""Turn a trustee report's monthly collections table (受托机构报告) into an npas dataset directory.

The deals and their tranches (from the offering documents) are copied as they are: npas maps their Chinese headers.

Run: python docs/examples/trustee/to_dataset.py OUT_DIR
The trustee table gives collection periods as date ranges; npas wants period numbers since cut-off.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent


def convert(out: Path) -> Path:
    deals = pd.read_csv(HERE / "deals.csv", dtype=str)  # Chinese headers are mapped by npas itself (docs/data.md)
    report = pd.read_csv(HERE / "trustee_report_collections.csv", dtype=str)
    cutoff = pd.to_datetime(deals.set_index("项目名称")["初始起算日"])
    end = pd.to_datetime(report["收款期间截止日"])
    deal = report["项目名称"]
    # period p ends p month-ends after the cut-off month
    period = (end.dt.year * 12 + end.dt.month) - (cutoff[deal].dt.year.to_numpy() * 12 + cutoff[deal].dt.month.to_numpy())
    collections = pd.DataFrame({"deal_id": deal, "period": period,
                                "gross_collections": report["本期回收金额（元）"].str.replace(",", "").astype(float)})
    out.mkdir(parents=True, exist_ok=True)
    deals.to_csv(out / "deals.csv", index=False)
    pd.read_csv(HERE / "tranches.csv", dtype=str).to_csv(out / "tranches.csv", index=False)
    collections.to_csv(out / "collections.csv", index=False)
    (out / "dataset.yaml").write_text(f"name: trustee-example\nas_of: {end.max():%Y-%m-%d}\nperiod_months: 1\n"
                                      f"currency: CNY\n", encoding="utf-8")
    return out


if __name__ == "__main__":
    print(convert(Path(sys.argv[1])))
