"""Stress scenarios on forecast paths: a haircut, a delay and a calendar shock, applied to the future only.

A scenario changes each path's future collections (periods after the deal's last observed one) and never its
history: a delay of d periods moves every future collection d periods later (the first d future periods collect
nothing, what would fall past the horizon is lost from view), a haircut h keeps (1 - h) of every future
collection, and a shock multiplies the future collections of the periods ending inside [start, end] by its
factor. They apply in that order. ``base`` is the scenario that changes nothing.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from forecasting.data.periods import end_months, month_index
from forecasting.data.problems import InputError, Problem
from forecasting.models.options import Name


class Shock(BaseModel):
    """Collections of the periods ending in [start, end] (calendar months, inclusive) times ``factor``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    start: dt.date
    end: dt.date
    factor: float = Field(ge=0, le=10)

    @model_validator(mode="after")
    def ordered(self):
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    @classmethod
    def parse(cls, text: str) -> Shock:
        """'START:END:FACTOR' with months or dates and the factor as a number or a percentage: 2026-01:2026-06:70%."""
        parts = text.split(":")
        if len(parts) != 3:
            raise InputError(Problem("--shock", None, None, f"{text!r}: give START:END:FACTOR, e.g. 2026-01:2026-06:0.7"))
        try:
            start, end = (pd.Period(p.strip(), "M") for p in parts[:2])
            raw = parts[2].strip()
            factor = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
            return cls(start=start.start_time.date(), end=end.end_time.date(), factor=factor)
        except ValueError as err:
            reason = str(err).splitlines()[-1] if "validation error" in str(err) else str(err)
            raise InputError(Problem("--shock", None, None, f"{text!r}: {reason}")) from None


class Scenario(BaseModel):
    """One named stress; every field defaults to no change."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Name
    haircut: float = Field(0.0, ge=0, le=1)
    delay_months: int = Field(0, ge=0, le=120)
    shock: Shock | None = None


BASE = Scenario(name="base")


def is_base(scenario: Scenario) -> bool:
    return not (scenario.haircut or scenario.delay_months or scenario.shock)


def apply(scenario: Scenario, paths: np.ndarray, observed: np.ndarray, cutoff: pd.Series, period_months: int
          ) -> np.ndarray:
    """cum_rate paths (draws, deals, horizon) under the scenario; ``observed`` periods per deal stay as they were."""
    if is_base(scenario):
        return paths
    increments = stressed(scenario, np.diff(paths, axis=-1, prepend=0.0), observed, cutoff, period_months)
    return np.minimum(np.cumsum(increments, axis=-1), 1.0)


def stressed(scenario: Scenario, increments: np.ndarray, observed: np.ndarray, cutoff: pd.Series,
             period_months: int) -> np.ndarray:
    """Period increments of cum_rate paths (draws, deals, horizon) under the scenario (no cap at a cum_rate of 1:
    ``apply`` caps; with no factor above 1 nothing passes it)."""
    if is_base(scenario):
        return increments
    H = increments.shape[-1]
    period = np.arange(1, H + 1)[None, :]
    future = period > observed[:, None]
    if scenario.delay_months:
        shift = max(1, round(scenario.delay_months / period_months))
        source = period - shift
        index = np.broadcast_to(np.maximum(source - 1, 0), increments.shape[1:])
        moved = np.take_along_axis(increments, index[None], axis=-1)
        increments = np.where(future[None], np.where((source > observed[:, None])[None], moved, 0.0), increments)
    factor = np.where(future, 1.0 - scenario.haircut, 1.0)
    if scenario.shock is not None:
        months = end_months(cutoff, H, period_months)
        lo, hi = month_index([scenario.shock.start])[0], month_index([scenario.shock.end])[0]
        factor = factor * np.where(future & (months >= lo) & (months <= hi), scenario.shock.factor, 1.0)
    return increments * factor[None].astype(increments.dtype)


def load_scenarios(path) -> list[Scenario]:
    """A scenarios file (YAML: ``scenarios:`` a list of {name, haircut, delay_months, shock: {start, end, factor}}),
    with ``base`` first whether or not the file names it. Every problem names the file and the key."""
    from pydantic import ValidationError

    from forecasting.data.yamlfile import read_yaml
    raw = read_yaml(path)
    name = getattr(path, "name", str(path))
    entries = raw.get("scenarios") if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not entries:
        raise InputError(Problem(name, None, "scenarios", "must be a non-empty list of scenarios"))
    problems, out = [], [BASE]
    for i, entry in enumerate(entries):
        try:
            scenario = Scenario.model_validate(entry)
        except ValidationError as err:
            problems += [Problem(name, None, ".".join(map(str, ("scenarios", i, *e["loc"]))), e["msg"]) for e in err.errors()]
            continue
        if scenario.name in {s.name for s in out} and scenario != BASE:
            problems.append(Problem(name, None, f"scenarios.{i}.name", f"{scenario.name!r} is given twice"))
        elif scenario != BASE:
            out.append(scenario)
    if problems:
        raise InputError(problems)
    return out
