"""Configs (docs/config.md), checked by pydantic: an unknown key or a bad value is one line naming the key.

The models' keys come from the estimator registry (each kind declares its own, models/registry.py), so a new family
needs no change here.
"""
from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails

import forecasting.models  # noqa: F401 - registers every family
from forecasting.data.problems import InputError, Problem
from forecasting.data.yamlfile import read_yaml
from forecasting.forecast.scenarios import Scenario
from forecasting.models import registry
from forecasting.models.options import Name

MAX_HORIZON = 600  # periods: 50 years of months
MAX_QUANTILES = 19
MAX_JOBS = 256
Horizon = Annotated[int, Field(ge=1, le=MAX_HORIZON)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _distinct_sorted(values: list) -> list:
    if len(set(values)) != len(values):
        raise ValueError("each value may be given once")
    return sorted(values)


class BacktestConfig(Strict):
    schemes: list[Literal["new_pool", "as_of", "vintage_holdout"]] = Field(default_factory=lambda: ["as_of"],
                                                                            min_length=1)
    horizons: list[Horizon] = Field(default_factory=lambda: [12, 24, 36], min_length=1, max_length=24)
    as_of_dates: list[dt.date] = Field(default_factory=list)
    baselines: list[str] | None = None  # baseline kinds; None: every registered baseline that the data allow
    n_draws: int = Field(500, ge=10, le=20_000)
    min_train_deals: int = Field(1, ge=1, le=100_000)  # a fold trained on fewer deals is left out, in one line

    @field_validator("schemes", "horizons", "as_of_dates")
    @classmethod
    def distinct(cls, value: list) -> list:
        return _distinct_sorted(value)

    @field_validator("baselines")
    @classmethod
    def known_baselines(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        known = registry.baseline_kinds()
        unknown = [v for v in value if v not in known]
        if unknown:
            raise ValueError(f"unknown baseline {', '.join(map(repr, unknown))}; choose from {', '.join(known)}")
        return _distinct_sorted(value)


class ParallelConfig(Strict):
    backend: Literal["loky", "threading", "dask"] = "loky"
    n_jobs: int = -1

    @field_validator("n_jobs")
    @classmethod
    def sensible_jobs(cls, value: int) -> int:
        if value != -1 and not 1 <= value <= MAX_JOBS:
            raise ValueError(f"must be -1 (all cores) or between 1 and {MAX_JOBS}")
        return value

    @field_validator("backend")
    @classmethod
    def installed(cls, value: str) -> str:
        if value == "dask" and importlib.util.find_spec("distributed") is None:
            raise ValueError("the dask backend needs dask.distributed: pip install 'npas[dask]'")
        return value


class StructureConfig(Strict):
    """The report's structure analysis (when the data have tranches): stress scenarios besides ``base``."""
    paths: int = Field(1000, ge=10, le=100_000)
    scenarios: list[Scenario] = Field(default_factory=list, max_length=50)
    price: float = Field(1.0, gt=0, le=10)


class Config(Strict):
    name: Name
    data: str = "demo"
    as_of: dt.date | None = None
    horizon: Horizon = 60
    quantiles: list[float] = Field(default_factory=lambda: [0.1, 0.5, 0.9])
    models: list[SerializeAsAny[registry.ModelOptions]] = Field(min_length=1, max_length=50)
    forecast_model: str | None = None  # which model the report forecasts with; None: the rule in workflow.py
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)
    parallel: ParallelConfig = Field(default_factory=ParallelConfig)
    structure: StructureConfig = Field(default_factory=StructureConfig)
    seed: int = Field(0, ge=0, le=2**32 - 1)

    @field_validator("quantiles")
    @classmethod
    def whole_percentiles(cls, value: list[float]) -> list[float]:
        if not value or len(value) > MAX_QUANTILES:
            raise ValueError(f"give 1 to {MAX_QUANTILES} quantiles")
        percents = [q * 100 for q in value]
        if not all(0 < q < 1 for q in value) or any(abs(p - round(p)) > 1e-6 for p in percents):
            raise ValueError("quantiles must be whole percentiles strictly between 0 and 1 (0.01, 0.1, ..., 0.99); "
                             "each names a column pNN")
        if len({round(p) for p in percents}) != len(value):
            raise ValueError("each quantile may be given once")
        return sorted(round(p) / 100 for p in percents)

    @field_validator("models", mode="wrap")
    @classmethod
    def through_registry(cls, value, handler, info):
        """Each entry validated against its kind's own keys, errors located as models.N.key."""
        if not isinstance(value, list):
            return handler(value)
        has_loans = (info.context or {}).get("has_loans")
        out, errors = [], []
        for i, entry in enumerate(value):
            if isinstance(entry, registry.ModelOptions):
                out.append(entry)
                continue
            if not isinstance(entry, dict):
                errors.append(InitErrorDetails(type="model_type", loc=(i,), input=entry,
                                               ctx={"class_name": "a mapping of keys to values"}))
                continue
            entry, message = registry.translate_deprecated(entry, has_loans)
            if message:
                registry.warn_deprecated(f"models.{i}.kind: {message}")
            kind = entry.get("kind")
            if not isinstance(kind, str) or kind not in registry.REGISTRY:
                errors.append(InitErrorDetails(type="value_error", loc=(i, "kind"), input=kind, ctx={"error": ValueError(
                    f"unknown kind {kind!r}; choose from {', '.join(sorted(registry.REGISTRY))}")}))
                continue
            try:
                options = registry.options_model(kind).model_validate(entry)
            except ValidationError as exc:
                errors += [InitErrorDetails(type=e["type"], loc=(i, *e["loc"]), input=e.get("input"),
                                            ctx=e.get("ctx", {})) for e in exc.errors()]
                continue
            for key, reason in registry.REGISTRY[kind].check_options(options):
                errors.append(InitErrorDetails(type="value_error", loc=(i, key), input=getattr(options, key, None),
                                               ctx={"error": ValueError(reason)}))
            out.append(options)
        if errors:
            raise ValidationError.from_exception_data("models", errors)
        return out

    @model_validator(mode="after")
    def names_distinct(self) -> Config:
        names = [m.name for m in self.models]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"models: the name {', '.join(map(repr, twice))} is given to more than one model")
        if self.forecast_model is not None and self.forecast_model not in names:
            raise ValueError(f"forecast_model: {self.forecast_model!r} is not one of the models ({', '.join(names)})")
        return self

    def data_path(self, base: Path) -> Path | None:
        """The dataset directory (relative to the config file), or None for the embedded demo market."""
        return None if self.data == "demo" else (base / self.data).resolve()


def _has_loans(raw: dict, base: Path) -> bool:
    """Whether a config's data have loan tables (resolves the deprecated survival level 'auto')."""
    data = raw.get("data", "demo")
    if data == "demo":
        return True
    directory = base / str(data)
    return any((directory / f"loans{s}").is_file() for s in (".csv", ".parquet", ".xlsx"))


def validate_config(raw, source: str, base: Path = Path(".")) -> Config:
    """A checked Config from parsed YAML; every problem is one Problem naming ``source`` and the key."""
    if not isinstance(raw, dict):
        raise InputError(Problem(source, None, None, "must be a mapping of keys to values"))
    try:
        return Config.model_validate(raw, context={"has_loans": _has_loans(raw, base)})
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            loc = ".".join(str(part) for part in e["loc"])
            message = e["msg"].removeprefix("Value error, ")
            if not loc and ": " in message and message.split(": ")[0].isidentifier():
                loc, message = message.split(": ", 1)
            problems.append(Problem(source, None, loc or None, message))
        raise InputError(problems) from None


def load_config(path: Path | str) -> tuple[Config, Path]:
    """Read and check a config file; returns it and its folder (relative data paths start there)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(Problem(path.name, None, None, "config file does not exist"))
    config = validate_config(read_yaml(path), path.name, path.parent)
    if config.data != "demo" and not (path.parent / config.data).is_dir():
        raise InputError(Problem(path.name, None, "data", f"dataset directory {config.data!r} does not exist"))
    return config, path.parent
