"""Run a backtest: every fold fits every model and baseline, in parallel through joblib."""
from __future__ import annotations

import copy
import warnings
import zlib
from contextlib import nullcontext

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, parallel_config

from forecasting.backtest.baselines import BASELINES
from forecasting.backtest.schemes import Fold, make_folds
from forecasting.config import Config
from forecasting.data.dataset import Dataset
from forecasting.data.problems import InputError, Problem
from forecasting.models.base import quantile_name
from forecasting.models.decay import FitError

N_DRAWS = 500


def _models(config: Config, dataset: Dataset) -> list:
    from forecasting.forecast.pipeline import build_model
    models = [build_model(spec) for spec in config.models]
    baselines = [b() for b in BASELINES]
    if "est_gross_recovery" not in dataset.deals or dataset.deals["est_gross_recovery"].isna().any():
        baselines = [b for b in baselines if b.name != "baseline_agency"]
    return models + baselines


def model_seed(name: str) -> int:
    """A model's random numbers follow its name, not its place in the config: adding or reordering models leaves
    every other model's forecasts as they were (a position-based seed moved cure_pool's as-of MAE on the demo by
    as much as it led the chain ladder)."""
    return zlib.crc32(name.encode("utf-8"))


def run_fold(fold: Fold, models: list, horizon: int, quantiles: list[float],
             actual: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Fit each model on the fold's training data and forecast its test deals; one row per deal and period.

    Returns the rows and the fit warnings (read from each model, since a worker's own warnings would be printed raw
    and ``warnings.catch_warnings`` is not thread-safe)."""
    frames, notes = [], []
    for model in copy.deepcopy(models):  # fresh estimators: folds may share a process (threads)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # kept in model.warnings_, reported by the caller
                model.fit(fold.train.deals, fold.train.collections, fold.train.loans, fold.train.loan_collections)
            notes += [f"{fold.scheme}/{fold.fold}: {message}" for message in getattr(model, "warnings_", [])]
        except FitError as err:
            raise InputError(Problem("backtest", None, f"{fold.scheme}/{fold.fold}", f"{model.name}: {err}"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a missing loan tape is said by the fold's data, not here
            fc = model.predict_curves(fold.test_deals, horizon, observed=fold.observed, n_draws=N_DRAWS,
                                      seed=model_seed(model.name), loans=fold.test_loans,
                                      loan_collections=fold.test_loan_collections)
        table = fc.frame(quantiles).rename(columns={"cum_rate": "predicted_cum_rate"})
        table = table.rename(columns={quantile_name(q): quantile_name(q, "") for q in quantiles})
        table.insert(0, "model", model.name)
        table.insert(2, "observed_periods", np.repeat(fc.observed_periods, horizon))  # CONTRACT column order
        frames.append(table.drop(columns="observed"))
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "fold", fold.fold)
    out.insert(0, "scheme", fold.scheme)
    return out.merge(actual, on=["deal_id", "period"], how="left"), notes


def run_backtest(config: Config, dataset: Dataset, progress=None) -> pd.DataFrame:
    """backtest_predictions (CONTRACT section 4) for every scheme, fold, model and baseline."""
    horizon = max(config.backtest.horizons)
    folds = make_folds(dataset, config.backtest.schemes, config.backtest.as_of_dates)
    if not folds:
        raise InputError(Problem("config", None, "backtest", "no folds: check schemes and as_of_dates"))
    actual = dataset.history.to_long()[["deal_id", "period", "cum_rate"]].rename(columns={"cum_rate": "actual_cum_rate"})
    models = _models(config, dataset)
    backend, n_jobs = config.parallel.backend, config.parallel.n_jobs
    with _cluster(backend), parallel_config(backend=backend, n_jobs=n_jobs):
        jobs = Parallel(return_as="generator")(
            delayed(run_fold)(fold, models, horizon, config.quantiles, actual) for fold in folds)
        results = []
        for table, notes in jobs:
            results.append(table)
            for note in notes:
                warnings.warn(note, RuntimeWarning, stacklevel=2)
            if progress:
                progress(len(results), len(folds))
    return pd.concat(results, ignore_index=True)


def _cluster(backend: str):
    """dask needs a client: use the one already running, or start a local cluster for this run."""
    if backend != "dask":
        return nullcontext()
    from distributed import Client, get_client
    try:
        get_client()
        return nullcontext()
    except ValueError:
        return Client(processes=False, dashboard_address=None)
