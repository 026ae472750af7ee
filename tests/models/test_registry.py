"""A new family is one module and one registry line: a toy estimator goes through config, fit, forecast, backtest,
artifact and report without a change anywhere else."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.models import registry
from forecasting.models.base import Diagnostics, EstimatorTags, RecoveryEstimator
from forecasting.models.curve_forecast import CurveForecast
from forecasting.models.options import Name
from forecasting.models.paths import observed_rates
from forecasting.models.summary import value_rows


class Flat(RecoveryEstimator):
    """Every pool recovers ``level`` of its principal evenly over ``months``."""

    _tags = EstimatorTags()

    def __init__(self, name: Name = "flat", level: float = 0.15, months: int = 48):
        self.name = name
        self.level = level
        self.months = months

    def _fit(self, dataset):
        self.rate_ = self.level / self.months
        return Diagnostics(True, None, (), {"deals": len(dataset.deals)})

    def _predict(self, dataset, horizon, n_draws, seed):
        _, cum, n_obs = observed_rates(dataset, horizon)
        last = cum[np.arange(len(n_obs)), np.maximum(n_obs - 1, 0)] * (n_obs > 0)
        t = np.arange(1, horizon + 1)
        path = np.where(t[None] <= n_obs[:, None], cum, last[:, None] + self.rate_ * np.maximum(t[None] - n_obs[:, None], 0))
        path = np.minimum(np.maximum.accumulate(path, axis=1), 1.0)
        return CurveForecast(dataset.deal_ids, path, np.broadcast_to(path, (n_draws, *path.shape)).copy(), n_obs)

    def _summary_rows(self, alpha):
        return value_rows("flat", ["monthly_rate"], [self.rate_])


@pytest.fixture
def toy():
    registry.register("toy_flat")(Flat)
    yield Flat
    registry.unregister("toy_flat")


def test_a_toy_estimator_runs_through_every_step(toy, tmp_path):
    import yaml
    from typer.testing import CliRunner

    from forecasting.cli.main import app
    from forecasting.models.checks import check_estimator
    from forecasting.simulation.demo import demo_dataset

    check_estimator(Flat(), demo_dataset().subset(["A-2021-1", "C-2025-1"]))
    config = {"name": "toy", "data": "demo", "horizon": 24, "models": [{"name": "flat", "kind": "toy_flat", "months": 40}],
              "backtest": {"schemes": ["as_of"], "horizons": [12], "as_of_dates": ["2024-06-30"]},
              "parallel": {"n_jobs": 1}}
    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(config))
    runner = CliRunner()
    fit = runner.invoke(app, ["fit", str(tmp_path / "toy.yaml"), "--out", str(tmp_path / "model")])
    assert fit.exit_code == 0, fit.output
    data = tmp_path / "data"
    demo_dataset().save(data)
    forecast = runner.invoke(app, ["forecast", str(tmp_path / "model"), "--data", str(data), "--out",
                                   str(tmp_path / "fc")])
    assert forecast.exit_code == 0, forecast.output
    summary = pd.read_csv(tmp_path / "fc" / "forecast_summary.csv")
    new = summary[summary["observed_periods"] == 0]
    assert set(summary["model"]) == {"flat"} and (np.abs(summary["gross_recovery"] - summary["observed_cum_rate"]) >= 0).all()
    assert new.empty or np.allclose(new["gross_recovery"], 0.15 * 24 / 40)
    report = runner.invoke(app, ["report", str(tmp_path / "toy.yaml"), "--out", str(tmp_path / "report")])
    assert report.exit_code == 0, report.output
    assert (tmp_path / "report" / "report.html").is_file()
    metrics = pd.read_csv(tmp_path / "report" / "backtest" / "backtest_metrics.csv")
    assert {"flat", "baseline_chainladder"} <= set(metrics["model"])


def test_an_unknown_kind_or_key_is_one_line_naming_it(tmp_path):
    from forecasting.config import validate_config
    from forecasting.data.problems import InputError
    with pytest.raises(InputError) as caught:
        validate_config({"name": "x", "models": [{"name": "a", "kind": "magic"}, {"name": "b", "kind": "decay_curve",
                                                                                  "colour": 1}]}, "c.yaml")
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("c.yaml:-:models.0.kind: unknown kind 'magic'; choose from")
    assert lines[1] == "c.yaml:-:models.1.colour: Extra inputs are not permitted"
