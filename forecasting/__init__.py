"""npas: forecast the recoveries of non-performing loan pools.

The Python API, for notebooks::

    import forecasting as fc
    ds = fc.load_dataset("path/to/dataset")          # or fc.demo_dataset()
    config = fc.load_config("configs/demo.yaml")
    models = fc.fit(config, ds)                       # {name: fitted estimator}
    curves, summary = fc.forecast(models["decay_agency"], ds, horizon=60)
    predictions, metrics = fc.backtest(config, ds)

Each step is also a command of the ``npas`` CLI. Estimators (``fc.DecayCurveModel``, ...) follow scikit-learn:
``fit(dataset)``, ``predict(dataset, horizon)``, ``summary()``; ``fc.REGISTRY`` maps config kinds to them.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

# forecasting.backtest, .forecast and .structure are loaded here, before the functions of those names below: a
# subpackage first imported later would rebind its name on this package (fc.backtest the module after one call)
from forecasting.backtest import metrics as _backtest_metrics
from forecasting.backtest import runner as _backtest_runner
from forecasting.config import Config
from forecasting.data.dataset import Dataset, check_dataset, load_dataset
from forecasting.data.history import RecoveryHistory
from forecasting.data.problems import InputError, Problem
from forecasting.forecast import pipeline as _pipeline
from forecasting.models.base import EstimatorTags, FitError, NotFittedError, RecoveryEstimator
from forecasting.models.baselines import (
    AgencyBaseline,
    BootstrapODP,
    BornhuetterFerguson,
    CapeCod,
    MackChainLadder,
    VintageMeanBaseline,
)
from forecasting.models.curve_forecast import CurveForecast
from forecasting.models.decay import DecayCurveModel
from forecasting.models.registry import REGISTRY, register
from forecasting.models.survival import SurvivalLoanModel, SurvivalPoolModel
from forecasting.simulation.demo import demo_dataset, demo_market
from forecasting.simulation.market import simulate_market
from forecasting.structure import flow as _structure_flow

__all__ = ["REGISTRY", "AgencyBaseline", "BootstrapODP", "BornhuetterFerguson", "CapeCod", "Config", "CurveForecast",
           "Dataset",
           "DecayCurveModel", "EstimatorTags", "FitError", "InputError", "MackChainLadder", "NotFittedError", "Problem",
           "RecoveryEstimator", "RecoveryHistory", "SurvivalLoanModel", "SurvivalPoolModel", "VintageMeanBaseline",
           "backtest", "check_dataset", "demo_dataset", "demo_market", "fit", "forecast", "load_config",
           "load_dataset", "register", "simulate_market", "structure"]


def load_config(path: str | Path) -> Config:
    """Read and check a YAML config (docs/config.md)."""
    from forecasting.config import load_config as _load
    return _load(path)[0]


def fit(config: Config, dataset: Dataset) -> dict:
    """Fit every model the config names on the dataset; returns {name: fitted estimator}."""
    return _pipeline.fit_models(config, dataset)


def forecast(model, dataset: Dataset, horizon: int = 60, quantiles: list[float] = (0.1, 0.5, 0.9), seed: int = 0,
             paths: int | None = None, scenario=None):
    """forecast_curves and forecast_summary tables (docs/outputs.md) for every deal of the dataset; with ``paths``,
    also the joint paths (the rows of forecast_paths.parquet: draw k of every deal from one parameter draw) and the
    curves' quantiles from those paths. ``scenario``: a forecasting.forecast.scenarios.Scenario stress."""
    from forecasting.forecast.paths import PathsFrames
    from forecasting.forecast.scenarios import BASE
    frames = PathsFrames()
    curves, summary = _pipeline.forecast_tables(model, dataset, horizon, list(quantiles), seed, n_draws=paths or 1000,
                                                scenario=scenario or BASE, sinks=(frames,) if paths else ())
    return (curves, summary) if not paths else (curves, summary, frames.frame())


def structure(model, dataset: Dataset, scenarios: list | None = None, n_paths: int = 1000, seed: int = 0,
              price: float = 1.0, n_jobs: int = 1) -> dict[str, pd.DataFrame]:
    """The structure analysis (docs/structure.md): tranche_summary, breakeven, cashflows, cashflows_portfolio and
    haircut_sweep tables for every deal with tranches, under ``base`` and each scenario."""
    from forecasting.forecast.scenarios import BASE
    return _structure_flow.structure(model, dataset, [BASE, *(scenarios or [])], n_paths, seed, price, n_jobs)


def backtest(config: Config, dataset: Dataset) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Backtest predictions and metrics for the config's schemes, models and the baselines."""
    predictions = _backtest_runner.run_backtest(config, dataset)
    return predictions, _backtest_metrics.metrics(predictions, config.backtest.horizons)
