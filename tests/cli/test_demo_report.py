"""npas demo writes the whole report folder: HTML with embedded images, a readable workbook, CSVs and PNGs."""
from __future__ import annotations

import re

import openpyxl
import pytest
import yaml
from typer.testing import CliRunner

from forecasting.cli.main import app
from forecasting.resources import resource_text

pytestmark = pytest.mark.slow  # the whole demo flow (about 100 s); CI runs it


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "report"
    result = CliRunner().invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "2025 pools: expected gross recovery" in result.stdout and "(model decay_agency)" in result.stdout
    return out


def test_every_file_exists(demo_dir):
    for name in ("report.html", "forecast.xlsx", "forecast_curves.csv", "forecast_summary.csv", "fan_vintage_2025.png",
                 "curves_by_vintage.png", "curves_by_originator.png", "survival_km_by_vintage.png",
                 "never_pay_share_survival_pool.png", "model/manifest.json", "data/truth.csv",
                 "backtest/backtest_predictions.csv", "backtest/backtest_metrics.csv", "backtest/report.md",
                 "backtest/backtest_comparison.csv", "backtest/backtest_error_by_horizon.png"):
        assert (demo_dir / name).exists(), name


def test_workbook_opens_with_its_sheets_formatted(demo_dir):
    book = openpyxl.load_workbook(demo_dir / "forecast.xlsx")
    assert {"summary", "curves", "backtest_metrics", "market"} <= set(book.sheetnames)
    sheet = book["summary"]
    assert sheet.freeze_panes == "A2"
    header = [c.value for c in sheet[1]]
    assert sheet.cell(2, header.index("gross_recovery") + 1).number_format == "0.00%"


def test_html_is_self_contained(demo_dir):
    page = (demo_dir / "report.html").read_text(encoding="utf-8")
    sources = re.findall(r'<img src="([^"]*)"', page)
    assert len(sources) >= 7 and all(s.startswith("data:image/png;base64,") and len(s) > 1000 for s in sources)
    assert "Market overview" in page and "Backtest" in page and "2025" in page and "never-pay share" in page
    assert re.search(r"<li>survival_pool vs baseline_\w+: MAE difference [+-]\d", page)


def test_demo_config_matches_configs_folder():
    from pathlib import Path
    shipped = yaml.safe_load(resource_text("demo.yaml"))
    public = yaml.safe_load((Path(__file__).resolve().parents[2] / "configs" / "demo.yaml").read_text())
    assert shipped == public


def test_npas_backtest_on_the_demo_config_gives_the_reports_metrics(demo_dir, tmp_path):
    """The same config gives the same figures whether run through report (demo) or backtest (issue 20). One model and
    one scheme of the demo config (a model's forecasts do not depend on the others': test_backtest.py), so the
    check costs a fifth of the whole backtest."""
    from pathlib import Path

    import pandas as pd
    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "configs" / "demo.yaml").read_text())
    model = config["models"][0]["name"]
    config["models"], config["backtest"]["schemes"] = config["models"][:1], ["as_of"]
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["backtest", str(tmp_path / "demo.yaml"), "--out", str(tmp_path / "bt")])
    assert result.exit_code == 0, result.output
    ours = pd.read_csv(tmp_path / "bt" / "backtest_metrics.csv")
    reports = pd.read_csv(demo_dir / "backtest" / "backtest_metrics.csv")
    reports = reports[(reports["scheme"] == "as_of") & reports["model"].isin(ours["model"])].reset_index(drop=True)
    assert model in set(ours["model"]) and len(ours) == len(reports) > 0
    pd.testing.assert_frame_equal(ours, reports)
