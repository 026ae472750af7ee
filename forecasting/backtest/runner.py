"""Run a backtest: every fold fits every model and baseline, in parallel through joblib.

Estimators are built fresh for each fold from their options (the registry), so folds may share a process. The
runner reads only the estimators' interface and tags: baselines are the registered estimators tagged
``is_baseline``; one that needs the agency's estimates is left out, with a note, where the data lack them.
"""
from __future__ import annotations

import warnings
import zlib
from contextlib import nullcontext

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, parallel_config

from forecasting.backtest import calibration
from forecasting.backtest.schemes import Fold, make_folds
from forecasting.config import Config
from forecasting.data.dataset import Dataset
from forecasting.data.problems import InputError, Problem
from forecasting.forecast.checks import check_paths
from forecasting.models import registry
from forecasting.models.base import FitError
from forecasting.models.curve_forecast import quantile_name

ROLE_MODEL, ROLE_BASELINE = "model", "baseline"


def estimator_specs(config: Config, dataset: Dataset) -> tuple[list, list[str]]:
    """The config's models and the baselines to score beside them, as options; and notes on baselines left out."""
    kinds = config.backtest.baselines if config.backtest.baselines is not None else registry.baseline_kinds()
    agency = dataset.agency_estimates
    has_agency = agency is not None and agency.notna().all()
    specs, notes = list(config.models), []
    for kind in kinds:
        spec = registry.options_model(kind).model_validate({"kind": kind})
        if registry.REGISTRY[kind]._tags.uses_agency and not has_agency:
            notes.append(f"{spec.name} left out: it needs est_gross_recovery for every deal")
            continue
        specs.append(spec)
    return specs, notes


def model_seed(name: str) -> int:
    """A model's random numbers follow its name, not its place in the config: adding or reordering models leaves
    every other model's forecasts as they were."""
    return zlib.crc32(name.encode("utf-8"))


def run_fold(fold: Fold, specs: list, horizon: int, quantiles: list[float], n_draws: int,
             actual: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Fit each estimator on the fold's training data and forecast its test deals; one row per deal and period.

    Returns the rows and the fit warnings (read from each estimator's diagnostics, since a worker's own warnings
    would be printed raw and ``warnings.catch_warnings`` is not thread-safe). A model whose fit fails stops the
    backtest; a baseline whose fit fails is left out of this fold, and the warnings say why."""
    frames, notes = [], []
    truth = actual.pivot(index="deal_id", columns="period", values="actual_cum_rate")
    for spec in specs:
        model = registry.build(spec)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # kept in diagnostics_, reported by the caller
                model.fit(fold.train)
        except FitError as err:
            if model.tags.is_baseline:  # a reference the fold's data cannot form: said, and scored where it can be
                notes.append((model.name, f"left out of this fold: {err}"))
                continue
            raise InputError(Problem("backtest", None, f"{fold.scheme}/{fold.fold}", f"{model.name}: {err}")) from None
        except InputError as err:
            raise err.in_model(model.name, f"{fold.scheme}/{fold.fold}, trained on {len(fold.train.deals)} deals "
                                           f"(backtest.min_train_deals leaves out folds trained on fewer)") from None
        notes += [(model.name, message.removeprefix(f"{model.name}: ")) for message in model.diagnostics_.warnings]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a missing loan tape is said by the fold's data
            fc = model.predict(fold.test, horizon, n_draws=n_draws, random_state=model_seed(model.name))
        check_paths(fc, model.name)
        table = fc.frame(quantiles).rename(columns={"cum_rate": "predicted_cum_rate"})
        table = table.rename(columns={quantile_name(q): quantile_name(q, "") for q in quantiles})
        table.insert(0, "model", model.name)
        table.insert(1, "role", ROLE_BASELINE if model.tags.is_baseline else ROLE_MODEL)
        table.insert(3, "observed_periods", np.repeat(fc.observed_periods, horizon))
        outcome = truth.reindex(index=fc.deal_ids, columns=range(1, horizon + 1)).to_numpy(float)
        pits, tied = calibration.pit_with_ties(fc.draws, outcome)  # scored: realized cash, what actuals are
        table["pit"], table["pit_tied"] = pits.ravel(), tied.ravel()
        table["crps"] = calibration.crps(fc.draws, outcome).ravel()
        frames.append(table.drop(columns="observed"))
    out = pd.concat(frames, ignore_index=True)
    said: dict[str, list[str]] = {}
    for name, message in notes:  # each message once, naming every model that gave it
        said.setdefault(message, []).append(name)
    notes = [f"{fold.scheme}/{fold.fold}: " + "; ".join(f"{', '.join(names)}: {message}" for message, names in
                                                    said.items())] if said else []  # one line per fold
    out.insert(0, "fold", fold.fold)
    out.insert(0, "scheme", fold.scheme)
    out = out.merge(actual, on=["deal_id", "period"], how="left")
    return out[[c for c in out.columns if c not in ("pit", "pit_tied", "crps")] + ["pit", "pit_tied", "crps"]], notes


def run_backtest(config: Config, dataset: Dataset, progress=None) -> pd.DataFrame:
    """backtest_predictions (docs/outputs.md) for every scheme, fold, model and baseline."""
    horizon = max(config.backtest.horizons)
    first = dataset.deals["cutoff_date"].min()
    for date in config.backtest.as_of_dates if "as_of" in config.backtest.schemes else []:
        if pd.Timestamp(date) > dataset.as_of or pd.Timestamp(date) < first:
            raise InputError(Problem("config", None, "backtest.as_of_dates", f"{date} is outside the data (first "
                                                                             f"cut-off {first:%Y-%m-%d}, as of "
                                                                             f"{dataset.as_of:%Y-%m-%d})"))
    folds = make_folds(dataset, config.backtest.schemes, config.backtest.as_of_dates)
    least = config.backtest.min_train_deals  # 1 by default: every fold is kept
    thin = [f"{f.scheme}/{f.fold} ({len(f.train.deals)})" for f in folds if len(f.train.deals) < least]
    if thin:
        warnings.warn(f"left out, trained on fewer than backtest.min_train_deals = {least} deals: {', '.join(thin)}",
                      RuntimeWarning, stacklevel=2)
        folds = [f for f in folds if len(f.train.deals) >= least]
    if not folds:
        raise InputError(Problem("config", None, "backtest", "no folds: check schemes and as_of_dates"))
    actual = dataset.history.to_long()[["deal_id", "period", "cum_rate"]].rename(columns={"cum_rate": "actual_cum_rate"})
    specs, notes = estimator_specs(config, dataset)
    for note in notes:
        warnings.warn(note, RuntimeWarning, stacklevel=2)
    backend, n_jobs = config.parallel.backend, config.parallel.n_jobs
    with _cluster(backend), parallel_config(backend=backend, n_jobs=n_jobs):
        jobs = Parallel(return_as="generator")(
            delayed(run_fold)(fold, specs, horizon, config.quantiles, config.backtest.n_draws, actual) for fold in folds)
        results = []
        for table, fold_notes in jobs:
            results.append(table)
            for note in fold_notes:
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
