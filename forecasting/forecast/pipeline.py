"""The fit and forecast flow shared by the CLI and the Python API."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import yaml

from forecasting.config import Config, ModelConfig
from forecasting.data import validate as checks
from forecasting.data.dataset import Dataset, DatasetMeta, complete_deals, empty_collections, load_dataset
from forecasting.data.io import read_table
from forecasting.data.problems import InputError, Problem
from forecasting.forecast.tables import forecast_curves, forecast_summary
from forecasting.models.decay import DecayCurveModel, FitError
from forecasting.models.survival import SurvivalModel


def config_dataset(config: Config, base: Path) -> Dataset:
    """The config's data (the embedded demo market or a directory), cut to its as_of when given."""
    if config.data == "demo":
        from forecasting.simulation.demo import demo_dataset
        dataset = demo_dataset()
    else:
        dataset = load_dataset(config.data_path(base), require_collections=True)
    return dataset.truncate(config.as_of) if config.as_of else dataset


def build_model(spec: ModelConfig):
    if spec.kind == "decay_curve":
        return DecayCurveModel(name=spec.name, curve=spec.curve, covariates=tuple(spec.covariates),
                               groups=tuple(spec.groups), ordered_groups=tuple(spec.ordered_groups),
                               agency_prior=spec.agency_prior)
    return SurvivalModel(name=spec.name, covariates=tuple(spec.covariates), groups=tuple(spec.groups),
                         ordered_groups=tuple(spec.ordered_groups), level=spec.level)


def fit_models(config: Config, dataset: Dataset) -> dict:
    """Fit every model the config names. A failed fit is an error, never a silent fallback."""
    models = {}
    for spec in config.models:
        model = build_model(spec)
        try:
            models[spec.name] = model.fit(dataset.deals, dataset.collections, dataset.loans, dataset.loan_collections)
        except FitError as err:
            raise InputError(Problem("fit", None, spec.name, str(err)))
    return models


def fingerprint(dataset: Dataset) -> str:
    digest = hashlib.sha256()
    for table in (dataset.deals, dataset.collections):
        digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def forecast_tables(model, dataset: Dataset, horizon: int, quantiles: list[float], seed: int = 0):
    """forecast_curves and forecast_summary (CONTRACT section 4) for every deal of the dataset."""
    observed = dataset.history if len(dataset.collections) else None
    fc = model.predict_curves(dataset.deals, horizon, observed=observed, seed=seed, loans=dataset.loans,
                              loan_collections=dataset.loan_collections)
    return forecast_curves(fc, dataset, quantiles), forecast_summary(fc, dataset, quantiles)


def forecast_dataset(path: Path) -> Dataset:
    """A dataset directory (collections optional), or one deals file (CSV, Excel or YAML) of new pools."""
    path = Path(path)
    if path.is_dir():
        return load_dataset(path, require_collections=False)
    if not path.is_file():
        raise InputError(Problem(str(path), None, None, "no such dataset directory or deals file"))
    if path.suffix in (".yaml", ".yml"):
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
        except yaml.YAMLError as exc:
            raise InputError(Problem(path.name, None, None, f"is not valid YAML: {str(exc).splitlines()[0]}"))
        rows = raw.get("deals", raw) if isinstance(raw, dict) else raw
        if isinstance(rows, dict):
            rows = [rows]
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise InputError(Problem(path.name, None, None, "must be a list of deals (mappings of column to value)"))
        frame, problems = pd.DataFrame(rows).astype(str).replace({"None": None, "nan": None}), []
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
    deals = complete_deals(deals)
    as_of = deals["cutoff_date"].max().date()
    return Dataset(DatasetMeta(name=path.stem, as_of=as_of), deals, empty_collections())
