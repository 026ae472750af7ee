"""npas: forecast the recoveries of non-performing loan pools.

The Python API, for notebooks::

    import forecasting as fc
    ds = fc.load_dataset("path/to/dataset")          # or fc.demo_dataset()
    config = fc.load_config("configs/demo.yaml")
    models = fc.fit(config, ds)                       # {name: fitted model}
    curves, summary = fc.forecast(models["decay_weibull"], ds, horizon=60)
    predictions, metrics = fc.backtest(config, ds)

Each step is also a command of the ``npas`` CLI.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

# Loaded first on purpose: importing a submodule sets the package attribute of its name, so the subpackage
# `forecasting.forecast` must be in sys.modules before the function `forecast` below takes that name.
from forecasting.forecast import pipeline as _pipeline  # noqa: I001
from forecasting.config import Config
from forecasting.data.dataset import Dataset, check_dataset, load_dataset
from forecasting.data.history import RecoveryHistory
from forecasting.data.problems import InputError, Problem
from forecasting.models.decay import DecayCurveModel
from forecasting.simulation.demo import demo_dataset, demo_market
from forecasting.simulation.market import simulate_market

__all__ = ["Config", "Dataset", "DecayCurveModel", "InputError", "Problem", "RecoveryHistory", "backtest",
           "check_dataset", "demo_dataset", "demo_market", "fit", "forecast", "load_config", "load_dataset",
           "simulate_market"]


def load_config(path: str | Path) -> Config:
    """Read and check a YAML config (see docs/config.md)."""
    from forecasting.config import load_config as _load
    return _load(path)[0]


def fit(config: Config, dataset: Dataset) -> dict:
    """Fit every model the config names on the dataset; returns {name: fitted model}."""
    return _pipeline.fit_models(config, dataset)


def forecast(model, dataset: Dataset, horizon: int = 60, quantiles: list[float] = (0.1, 0.5, 0.9)
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """forecast_curves and forecast_summary tables (docs/outputs.md) for every deal of the dataset."""
    return _pipeline.forecast_tables(model, dataset, horizon, list(quantiles))


def backtest(config: Config, dataset: Dataset) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Backtest predictions and metrics for the config's schemes, models and the baselines."""
    from forecasting.backtest.metrics import metrics
    from forecasting.backtest.runner import run_backtest
    predictions = run_backtest(config, dataset)
    return predictions, metrics(predictions, config.backtest.horizons)
