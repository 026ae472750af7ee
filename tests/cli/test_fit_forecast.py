"""npas fit / forecast: configs checked key by key, artifacts checked by hash, outputs as in the contract."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from forecasting.cli.main import app

runner = CliRunner()
GOOD = {"name": "t", "data": "demo", "horizon": 24,
        "models": [{"name": "decay", "kind": "decay_curve", "curve": "weibull"}]}


def write_config(tmp_path, config) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return str(path)


@pytest.mark.parametrize("change, key", [
    (lambda c: c.update(colour="red"), "colour"),
    (lambda c: c["models"][0].update(curve="spline"), "models.0.curve"),
    (lambda c: c.update(horizon=0), "horizon"),
    (lambda c: c.update(data="no/such/dir"), "data"),
    (lambda c: c["models"][0].update(covariates=["shoe_size"]), "decay.covariates"),  # found at fit: model named
    (lambda c: c["models"][0].update(groups=["shoe_size"], ordered_groups=[]), "decay.groups"),
    (lambda c: c["models"][0].update(ordered_groups=["vintag"]), "models.0.ordered_groups"),
])
def test_bad_config_exits_2_naming_the_key(tmp_path, change, key):
    config = json.loads(json.dumps(GOOD))
    change(config)
    result = runner.invoke(app, ["fit", write_config(tmp_path, config), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f":{key}:" in lines[0], lines
    assert not (tmp_path / "m").exists()


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fit")
    result = runner.invoke(app, ["fit", write_config(tmp, GOOD), "--out", str(tmp / "model")])
    assert result.exit_code == 0, result.output
    return tmp / "model"


def test_forecast_writes_contract_files(artifact, tmp_path, _pool_level_dir):
    result = runner.invoke(app, ["forecast", str(artifact), "--data", str(_pool_level_dir), "--out", str(tmp_path / "f")])
    tmp_path = tmp_path / "f"
    assert result.exit_code == 0, result.output
    curves = pd.read_csv(tmp_path / "forecast_curves.csv")
    summary = pd.read_csv(tmp_path / "forecast_summary.csv")
    assert list(curves.columns) == ["deal_id", "period", "observed", "collections", "cum_rate", "cum_rate_p10",
                                    "cum_rate_p50", "cum_rate_p90"]
    assert {"deal_id", "originator", "vintage", "opb", "observed_periods", "observed_cum_rate", "horizon",
            "gross_recovery", "gross_recovery_p10", "gross_recovery_p90", "est_gross_recovery"} <= set(summary.columns)
    assert len(summary) == 29 and (curves.groupby("deal_id")["period"].max() == 24).all()
    assert (tmp_path / "fan_vintage_2025.png").stat().st_size > 10_000
    assert set(summary["model"]) == {"decay"} and "model: decay" in result.stdout


def test_forecast_new_pool_from_a_yaml_deals_file(artifact, tmp_path):
    (tmp_path / "pool.yaml").write_text(
        "- {deal_id: NEW-1, originator: B, vintage: 2025, cutoff_date: 2025-06-30, opb: 500000000,\n"
        "   n_borrowers: 3000, wa_delinquency_months: 5.2, est_gross_recovery: 0.12}\n")
    result = runner.invoke(app, ["forecast", str(artifact), "--data", str(tmp_path / "pool.yaml"), "--out",
                                 str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(tmp_path / "out" / "forecast_summary.csv")
    assert summary.loc[0, "observed_periods"] == 0
    assert summary.loc[0, "gross_recovery_p10"] < summary.loc[0, "gross_recovery"] < summary.loc[0, "gross_recovery_p90"]


def test_a_deals_file_takes_the_models_period_length(tmp_path):
    """A deals file has no dataset.yaml: its pools are forecast in the model's periods, not in months."""
    from forecasting.forecast.pipeline import forecast_dataset
    (tmp_path / "pool.yaml").write_text(
        "- {deal_id: NEW-1, originator: B, vintage: 2025, cutoff_date: 2025-06-30, opb: 500000000,\n"
        "   n_borrowers: 3000, wa_delinquency_months: 5.2}\n")
    assert forecast_dataset(tmp_path / "pool.yaml", 3).meta.period_months == 3


def test_data_of_another_period_length_is_refused_naming_it(artifact, tmp_path, quarterly):
    """A model fitted on months reads a quarterly dataset's periods as months: refused, not forecast."""
    result = runner.invoke(app, ["forecast", str(artifact), "--data", str(quarterly.save(tmp_path / "q")), "--out",
                                 str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("dataset.yaml:-:period_months: decay was fitted on 1-month periods and this "
                                    "dataset's are 3-month")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("name", ["arrays.npz", "state.json"])
def test_damaged_artifact_is_refused(artifact, tmp_path, _pool_level_dir, name):
    import shutil
    copy = shutil.copytree(artifact, tmp_path / "copy")
    with open(copy / name, "ab") as f:
        f.write(b"tampered")
    result = runner.invoke(app, ["forecast", str(copy), "--data", str(_pool_level_dir), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "sha256 does not match" in result.stderr
    assert not (tmp_path / "o").exists()


def test_artifact_from_another_version_is_refused(artifact, tmp_path, _pool_level_dir):
    import shutil
    copy = shutil.copytree(artifact, tmp_path / "copy")
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["npas"] = "0.0.1"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    result = runner.invoke(app, ["forecast", str(copy), "--data", str(_pool_level_dir), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "refit the model" in result.stderr


def test_forecast_writes_joint_paths_and_applies_a_shock(artifact, tmp_path, _pool_level_dir):
    base = runner.invoke(app, ["forecast", str(artifact), "--data", str(_pool_level_dir), "--out", str(tmp_path / "b"),
                               "--paths", "50"])
    shocked = runner.invoke(app, ["forecast", str(artifact), "--data", str(_pool_level_dir), "--out",
                                  str(tmp_path / "s"), "--paths", "50", "--shock", "2025-10:2026-03:50%"])
    assert base.exit_code == 0 and shocked.exit_code == 0, base.output + shocked.output
    paths = pd.read_parquet(tmp_path / "b" / "forecast_paths.parquet")
    assert list(paths.columns) == ["draw", "deal_id", "period", "period_end", "observed", "cum_rate", "collections"]
    assert len(paths) == 50 * 29 * 24 and paths["draw"].nunique() == 50
    portfolio = pd.read_csv(tmp_path / "b" / "portfolio_summary.csv")
    assert set(portfolio["grouping"]) == {"vintage", "originator", "portfolio"}
    total = portfolio.loc[portfolio["grouping"] == "portfolio", "recovery"].iloc[0]
    last = paths[paths["period"] == 24].merge(pd.read_csv(tmp_path / "b" / "forecast_summary.csv")[["deal_id", "opb"]])
    assert (last["cum_rate"] * last["opb"]).sum() / 50 == pytest.approx(total, rel=1e-5)
    low = pd.read_parquet(tmp_path / "s" / "forecast_paths.parquet")
    window = (paths["period_end"] >= "2025-10-01") & (paths["period_end"] <= "2026-03-31") & (paths["observed"] == 0)
    assert window.any()
    assert (low.loc[window, "collections"] <= paths.loc[window, "collections"] * 0.5 + 1).all()
    assert (low.loc[~window, "collections"] - paths.loc[~window, "collections"]).abs().max() < 1.0


def test_a_bad_shock_exits_2(artifact, tmp_path, _pool_level_dir):
    result = runner.invoke(app, ["forecast", str(artifact), "--data", str(_pool_level_dir), "--out", str(tmp_path / "x"),
                                 "--shock", "2025-06:2025-01:0.5"])
    assert result.exit_code == 2 and "--shock" in result.output and not (tmp_path / "x").exists()
