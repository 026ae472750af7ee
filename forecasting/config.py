"""Configs (CONTRACT.md section 3), checked by pydantic: an unknown key or bad value is one line naming the key."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from forecasting.data.problems import InputError, Problem
from forecasting.models.curves import CURVES


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelConfig(Strict):
    name: str
    kind: Literal["decay_curve", "survival"]
    curve: str = "weibull"
    covariates: list[str] = Field(default_factory=lambda: ["log_avg_balance", "wa_delinquency_months"])
    groups: list[str] = Field(default_factory=lambda: ["originator", "vintage"])
    level: Literal["auto", "loan", "pool"] = "auto"  # survival only: loan level where loans exist (auto)
    ordered_groups: list[str] = Field(default_factory=lambda: ["vintage"])  # effects a random walk over levels
    agency_prior: bool = False  # decay only: vintage steps centred on the agency's (est_gross_recovery)

    @field_validator("curve")
    @classmethod
    def known_curve(cls, value: str) -> str:
        if value not in CURVES:
            raise ValueError(f"unknown curve {value!r}; choose from {', '.join(CURVES)}")
        return value

    @field_validator("ordered_groups")
    @classmethod
    def among_groups(cls, value: list[str], info: ValidationInfo) -> list[str]:
        unknown = [g for g in value if g not in info.data.get("groups", [])]
        if unknown:
            raise ValueError(f"{', '.join(map(repr, unknown))} not in the model's groups")
        return value

    @field_validator("agency_prior")
    @classmethod
    def decay_only(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("kind") != "decay_curve":
            raise ValueError("agency_prior is a decay_curve option")
        return value


class BacktestConfig(Strict):
    schemes: list[Literal["new_pool", "as_of", "vintage_holdout"]] = Field(default_factory=lambda: ["as_of"])
    horizons: list[int] = Field(default_factory=lambda: [12, 24, 36])
    as_of_dates: list[dt.date] = Field(default_factory=list)


class ParallelConfig(Strict):
    backend: Literal["loky", "threading", "dask", "ray"] = "loky"
    n_jobs: int = -1


class Config(Strict):
    name: str
    data: str = "demo"
    as_of: dt.date | None = None
    horizon: int = Field(60, gt=0)
    quantiles: list[float] = Field(default_factory=lambda: [0.1, 0.5, 0.9])
    models: list[ModelConfig] = Field(min_length=1)
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)
    parallel: ParallelConfig = Field(default_factory=ParallelConfig)

    @field_validator("quantiles")
    @classmethod
    def in_unit_interval(cls, value: list[float]) -> list[float]:
        if not value or not all(0 < q < 1 for q in value):
            raise ValueError("quantiles must be a non-empty list of numbers strictly between 0 and 1")
        return sorted(value)

    def data_path(self, base: Path) -> Path | None:
        """The dataset directory (relative to the config file), or None for the embedded demo market."""
        return None if self.data == "demo" else (base / self.data).resolve()


def load_config(path: Path | str) -> tuple[Config, Path]:
    """Read and check a config file; returns it and its folder (relative data paths start there)."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise InputError(Problem(name, None, None, "config file does not exist"))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(Problem(name, None, None, f"is not valid YAML: {str(exc).splitlines()[0]}"))
    if not isinstance(raw, dict):
        raise InputError(Problem(name, None, None, "must be a mapping of keys to values"))
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise InputError([Problem(name, None, ".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()])
    if config.data != "demo" and not (path.parent / config.data).is_dir():
        raise InputError(Problem(name, None, "data", f"dataset directory {config.data!r} does not exist"))
    return config, path.parent
