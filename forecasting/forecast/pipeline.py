"""The fit and forecast flow shared by the CLI and the Python API. It talks to estimators only through their
interface (models/base.py) and tags."""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.config import Config
from forecasting.data import validate as checks
from forecasting.data.dataset import Dataset, DatasetMeta, complete_deals, empty_collections, load_dataset
from forecasting.data.io import read_table
from forecasting.data.problems import InputError, Problem
from forecasting.data.yamlfile import read_yaml
from forecasting.forecast import scenarios
from forecasting.forecast.checks import check_forecast
from forecasting.forecast.scenarios import BASE, Scenario
from forecasting.forecast.tables import forecast_curves, forecast_summary
from forecasting.models import registry
from forecasting.models.base import FitError
from forecasting.models.curve_forecast import CurveForecast

CHUNK_VALUES = 6_000_000  # draws x deals x periods forecast at once: memory stays bounded for any number of pools
MAX_DEALS_FILE_BYTES = 16 << 20


def config_dataset(config: Config, base: Path) -> Dataset:
    """The config's data (the embedded demo market or a directory), cut to its as_of when given."""
    if config.data == "demo":
        from forecasting.simulation.demo import demo_dataset
        dataset = demo_dataset()
    else:
        dataset = load_dataset(config.data_path(base), require_collections=True)
    if config.as_of:
        if pd.Timestamp(config.as_of) > dataset.as_of:
            raise InputError(Problem("config", None, "as_of", f"{config.as_of} is after the data's as_of "
                                                              f"{dataset.meta.as_of}"))
        dataset = dataset.truncate(config.as_of)
        if dataset.deals.empty:
            raise InputError(Problem("config", None, "as_of", f"no deal was cut off by {config.as_of}"))
    return dataset


def fit_one(spec, dataset: Dataset):
    """A fresh estimator from its options, fitted; a failed fit is an error naming the model, never a fallback."""
    try:
        return registry.build(spec).fit(dataset)
    except FitError as err:
        raise InputError(Problem("fit", None, spec.name, str(err))) from None
    except InputError as err:
        raise err.in_model(spec.name) from None


def fit_models(config: Config, dataset: Dataset) -> dict:
    """Fit every model the config names."""
    return {spec.name: fit_one(spec, dataset) for spec in config.models}


def fingerprint(dataset: Dataset) -> str:
    digest = hashlib.sha256()
    for table in (dataset.deals, dataset.collections):
        digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def chunks(dataset: Dataset, horizon: int, n_draws: int):
    """The dataset in groups of deals small enough to forecast at once."""
    size = max(1, CHUNK_VALUES // max(horizon * n_draws, 1))
    ids = list(dataset.deal_ids)
    for start in range(0, len(ids), size):
        yield dataset if len(ids) <= size else dataset.subset(ids[start:start + size])


def forecast_chunks(model, dataset: Dataset, horizon: int, n_draws: int = 1000, seed: int = 0,
                    scenario: Scenario = BASE):
    """(chunk dataset, CurveForecast) for every chunk; identical to one call (random streams are keyed by purpose).
    A scenario (forecast/scenarios.py) changes the future of the paths, the point forecast and the expected curve."""
    for part in chunks(dataset, horizon, n_draws):
        fc = model.predict(part, horizon, n_draws=n_draws, random_state=seed)
        yield part, fc if scenario == BASE else under_scenario(fc, part, scenario)


def under_scenario(fc: CurveForecast, dataset: Dataset, scenario: Scenario) -> CurveForecast:
    def under(paths):
        return None if paths is None else scenarios.apply(scenario, paths, fc.observed_periods,
                                                          dataset.history.cutoff.reindex(fc.deal_ids),
                                                          dataset.meta.period_months)
    return CurveForecast(fc.deal_ids, under(fc.mean[None])[0], under(fc.draws), fc.observed_periods, under(fc.expected))


def forecast_tables(model, dataset: Dataset, horizon: int, quantiles: list[float], seed: int = 0,
                    n_draws: int = 1000, scenario: Scenario = BASE, sinks: tuple = ()
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """forecast_curves and forecast_summary (docs/outputs.md) for every deal of the dataset, checked; each sink
    (forecast/paths.py: the paths file, the portfolio totals) gets every checked chunk."""
    curves, summaries = [], []
    for part, fc in forecast_chunks(model, dataset, horizon, n_draws, seed, scenario):
        check_forecast(fc, model.name)
        curves.append(forecast_curves(fc, part, quantiles))
        summaries.append(forecast_summary(fc, part, quantiles))
        for sink in sinks:
            sink.add(fc, part)
    return pd.concat(curves, ignore_index=True), pd.concat(summaries, ignore_index=True)


def forecast(model, dataset: Dataset, horizon: int, n_draws: int = 1000, seed: int = 0,
             scenario: Scenario = BASE) -> CurveForecast:
    """One CurveForecast for every deal (for the API and small datasets: it holds every path in memory)."""
    parts = list(forecast_chunks(model, dataset, horizon, n_draws, seed, scenario))
    if len(parts) == 1:
        return parts[0][1]
    fcs = [fc for _, fc in parts]
    expected = None if fcs[0].expected is None else np.concatenate([f.expected for f in fcs], axis=1)
    return CurveForecast(pd.Index(np.concatenate([f.deal_ids for f in fcs])), np.concatenate([f.mean for f in fcs]),
                         np.concatenate([f.draws for f in fcs], axis=1),
                         np.concatenate([f.observed_periods for f in fcs]), expected)


def forecast_dataset(path: Path, period_months: int = 1) -> Dataset:
    """A dataset directory (collections optional), or one deals file (CSV, Excel, Parquet or YAML) of new pools,
    whose periods are ``period_months`` long (the model's: a deals file has no dataset.yaml to say)."""
    path = Path(path)
    if path.is_dir():
        return load_dataset(path, require_collections=False)
    if not path.is_file():
        raise InputError(Problem(str(path), None, None, "no such dataset directory or deals file"))
    if path.suffix in (".yaml", ".yml"):
        raw = read_yaml(path, MAX_DEALS_FILE_BYTES)
        rows = raw.get("deals", raw) if isinstance(raw, dict) else raw
        if isinstance(rows, dict):
            rows = [rows]
        if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
            raise InputError(Problem(path.name, None, None, "must be a list of deals (mappings of column to value)"))
        frame = pd.DataFrame(rows).astype(object)
        frame = frame.where(frame.isna(), frame.astype(str)).replace({"None": None, "nan": None})
        frame.columns = [str(c) for c in frame.columns]
        problems = []
    elif path.suffix in (".csv", ".xlsx", ".parquet"):
        frame, problems = read_table(path)
    else:
        raise InputError(Problem(path.name, None, None, "deals file must be .csv, .xlsx, .parquet or .yaml"))
    if frame is None:
        raise InputError(problems)
    deals, parse_problems = checks.parse("deals", frame, path.name)
    problems += parse_problems + checks.check_deals(deals, path.name)
    if problems:
        raise InputError(problems)
    for warning in checks.implausible_deals(deals, path.name):
        warnings.warn(str(warning), UserWarning, stacklevel=2)
    deals = complete_deals(deals)
    as_of = deals["cutoff_date"].max().date()
    return Dataset(DatasetMeta(name=path.stem, as_of=as_of, period_months=period_months), deals, empty_collections())
