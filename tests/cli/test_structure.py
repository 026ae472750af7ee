"""npas structure: the tranche tables for every scenario, and clear errors for what it cannot use."""
from __future__ import annotations

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from forecasting.cli.main import app

runner = CliRunner()
CONFIG = {"name": "s", "data": "demo", "horizon": 24, "models": [{"name": "decay", "kind": "decay_curve"}]}


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("structure")
    (tmp / "c.yaml").write_text(yaml.safe_dump(CONFIG))
    result = runner.invoke(app, ["fit", str(tmp / "c.yaml"), "--out", str(tmp / "model")])
    assert result.exit_code == 0, result.output
    return tmp / "model"


def write_scenarios(path, scenarios) -> str:
    path.write_text(yaml.safe_dump({"scenarios": scenarios}))
    return str(path)


def test_structure_writes_every_table_for_every_scenario(artifact, tmp_path, _pool_level_dir):
    file = write_scenarios(tmp_path / "s.yaml", [{"name": "cut", "haircut": 0.3},
                                                 {"name": "late", "delay_months": 6},
                                                 {"name": "lock", "shock": {"start": "2026-01-01", "end": "2026-06-30",
                                                                            "factor": 0.5}}])
    result = runner.invoke(app, ["structure", str(artifact), "--data", str(_pool_level_dir), "--out",
                                 str(tmp_path / "o"), "--paths", "100", "--scenarios", file])
    assert result.exit_code == 0, result.output
    out = tmp_path / "o"
    summary = pd.read_csv(out / "tranche_summary.csv")
    assert list(summary["scenario"].unique()) == ["base", "cut", "late", "lock"]
    assert {"p_repaid", "payoff_months_p10", "payoff_months_p50", "payoff_months_p90", "expected_loss", "wal_years",
            "irr_p50"} <= set(summary.columns)
    assert len(summary) == 4 * 58 and set(summary["model"]) == {"decay"}
    senior = summary[summary["priority_rank"] == 1].pivot(index="deal_id", columns="scenario", values="p_repaid")
    assert (senior["cut"] <= senior["base"] + 1e-12).all() and (senior["late"] <= senior["base"] + 1e-12).all()
    breakeven = pd.read_csv(out / "breakeven.csv")
    base = breakeven[breakeven["scenario"] == "base"]
    assert len(base) == 29 and (base["multiple"] > 0).all()
    cash = pd.read_csv(out / "cashflows.csv")
    assert {"collections_mean", "collections_p10", "collections_p50", "collections_p90", "tranche_1_interest",
            "tranche_1_principal", "tranche_2_principal"} <= set(cash.columns)
    assert (pd.read_csv(out / "cashflows_portfolio.csv")["grouping"].unique().tolist()
            == ["originator", "portfolio", "vintage"])
    assert (out / "structure.xlsx").exists() and (out / "senior_payoff.png").stat().st_size > 10_000
    assert "优先A" in result.output and "repaid by legal maturity" in result.output


@pytest.mark.parametrize("scenarios, expected", [
    ([{"name": "x", "haircut": 1.5}], "scenarios.0.haircut"),
    ([{"name": "x", "delay": 3}], "scenarios.0.delay"),
    ([{"name": "x"}, {"name": "x"}], "scenarios.1.name"),
    ([{"name": "x", "shock": {"start": "2026-06-01", "end": "2026-01-01", "factor": 0.5}}], "scenarios.0.shock"),
])
def test_a_bad_scenarios_file_exits_2_naming_the_key(artifact, tmp_path, _pool_level_dir, scenarios, expected):
    file = write_scenarios(tmp_path / "bad.yaml", scenarios)
    result = runner.invoke(app, ["structure", str(artifact), "--data", str(_pool_level_dir), "--out",
                                 str(tmp_path / "o"), "--paths", "20", "--scenarios", file])
    assert result.exit_code == 2 and f"bad.yaml:-:{expected}" in result.stderr, result.stderr
    assert not (tmp_path / "o").exists()


def test_a_dataset_without_tranches_is_one_clear_problem(artifact, tmp_path, pool_dir):
    (pool_dir / "tranches.csv").unlink()
    result = runner.invoke(app, ["structure", str(artifact), "--data", str(pool_dir), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no tranches table" in result.stderr and "Traceback" not in result.stderr
