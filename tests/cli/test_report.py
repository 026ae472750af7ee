"""npas report on a dataset other than the demo: the workbook an analyst trusts and a page that renders (issue 20)."""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace

import openpyxl
import pytest
import yaml
from typer.testing import CliRunner

from forecasting.cli.main import app
from forecasting.reporting.definitions import define
from forecasting.reporting.workbook import is_amount, is_rate, width
from forecasting.simulation.market import simulate_market
from forecasting.simulation.process import RecoveryProcess

pytestmark = pytest.mark.slow  # a fit, backtest and forecast of a whole market


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    shocked = RecoveryProcess(calendar_shock=("2023-07", "2023-12", 0.6))  # the report shows the model's calendar effects
    data = replace(simulate_market(7, process=shocked).dataset, loans=None, loan_collections=None)
    data.save(tmp / "data")
    config = {"name": "seed7", "data": "data", "horizon": 36,
              "models": [{"name": "decay", "kind": "decay_curve", "curve": "loglogistic", "calendar_effects": True}],
              "backtest": {"schemes": ["as_of"], "horizons": [12], "as_of_dates": ["2024-06-30"],
                           "baselines": ["chain_ladder", "cape_cod"]},
              "structure": {"paths": 200, "scenarios": [{"name": "cut", "haircut": 0.2}]},
              "parallel": {"n_jobs": 1}}
    (tmp / "c.yaml").write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["report", str(tmp / "c.yaml"), "--out", str(tmp / "out")])
    assert result.exit_code == 0, result.output
    assert "Senior tranches of the newest pools" in result.stdout
    return tmp / "out"


def test_the_workbook_shows_every_amount_and_rate_as_an_analyst_expects(report_dir):
    book = openpyxl.load_workbook(report_dir / "forecast.xlsx")
    assert book.sheetnames[0] == "cover" and {"summary", "curves", "triangle", "definitions"} <= set(book.sheetnames)
    rows = [(row[0].value, row[1].value) for row in book["cover"].iter_rows(min_row=2)]
    cover = dict(rows)
    assert cover["model"] == "decay" and cover["as of"] == "2025-08-31" and (None, "horizon: 36") in rows
    assert cover["period"] == "1 month" and cover["horizon"] == "36 periods: 36 months"
    effects = {row[0].value: row[1].value for row in book["calendar_effects"].iter_rows(min_row=2)}
    assert [c.value for c in book["calendar_effects"][1]][:3] == ["period_end", "effect", "se"]
    assert min(effects.values()) < -0.2  # the shock is there, read as a shock
    for name in ("summary", "curves", "triangle", "backtest_metrics"):
        sheet = book[name]
        assert sheet.auto_filter.ref and sheet.freeze_panes == "A2" and sheet.page_setup.orientation == "landscape"
        for column in sheet.iter_cols(min_row=1):
            header = str(column[0].value)
            cells = [c for c in column[1:] if isinstance(c.value, (int, float))]
            letter = column[0].column_letter
            if is_rate(header):
                assert all(c.number_format == "0.00%" for c in cells), (name, header)
            if is_amount(header) and cells:
                assert all(c.number_format == "#,##0" for c in cells), (name, header)
                longest = max(width(f"{c.value:,.0f}") for c in cells)
                assert sheet.column_dimensions[letter].width >= longest, (name, header)
    meanings = {(r[0].value, r[1].value): r[2].value for r in book["definitions"].iter_rows(min_row=2)}
    assert all(meanings.values()), [k for k, v in meanings.items() if not v]
    assert define("gross_recovery_p10") == "10th percentile of gross_recovery"
    curves = book["curves_2025"]
    assert len(curves._charts) == 1 and curves.cell(2, 2).number_format == "0.00%"  # a native Excel line chart


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_the_page_renders_in_a_browser_with_every_chart(report_dir, tmp_path):
    shot = tmp_path / "page.png"
    run = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,4000",
                          "--enable-logging=stderr", "--v=0", f"--screenshot={shot}",
                          (report_dir / "report.html").as_uri()], capture_output=True, text=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 50_000, run.stderr[-2000:]
    assert "Uncaught" not in run.stderr and "CONSOLE(" not in run.stderr  # a console message is logged so
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    assert page.count('<img src="data:image/png;base64,') >= 6 and "The securities" in page
    assert 'alt="calendar effects"' in page
    assert "<script src=" not in page and "<link " not in page  # self-contained: nothing fetched when opened
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=8000",
                          "--dump-dom", (report_dir / "report.html").as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert dom.count('class="main-svg"') >= 2, "the interactive fan chart did not draw"  # Plotly's drawn layers
    assert dom.count('class="trace scatter') >= 6 * 4
