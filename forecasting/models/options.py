"""Typed config keys shared by estimators: their validators run when a config is read (models/registry.py)."""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from forecasting.models import curves

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def file_name(value: str) -> str:
    """A name that is safe as a file or directory name: letters, digits, '_', '.', '-', starting with a letter or
    digit, at most 64 characters (so 'a/../b', '.', '..' or '' cannot reach outside where npas writes)."""
    if not NAME_PATTERN.fullmatch(value) or value in (".", ".."):
        raise ValueError(f"{value!r} is not a valid name: use letters, digits, '_', '.' or '-', starting with a "
                         f"letter or digit, at most 64 characters")
    return value


def distinct(values: tuple[str, ...]) -> tuple[str, ...]:
    twice = sorted({v for v in values if values.count(v) > 1})
    if twice:
        raise ValueError(f"{', '.join(map(repr, twice))} given more than once")
    return values


def known_curve(value: str) -> str:
    if value not in curves.CURVES:
        raise ValueError(f"unknown curve {value!r}; choose from {', '.join(curves.CURVES)}")
    return value


Name = Annotated[str, AfterValidator(file_name)]
Columns = Annotated[tuple[str, ...], AfterValidator(distinct)]
Curve = Annotated[str, AfterValidator(known_curve)]
Curves = Annotated[tuple[Curve, ...], AfterValidator(distinct)]
PositiveInt = Annotated[int, Field(ge=1, le=100_000)]
PositiveFloat = Annotated[float, Field(gt=0, le=1e6)]
# periods held out to learn the spread's growth (models/spread.py): None for a year's worth, 0 for none
Holdout = Annotated[int, Field(ge=0, le=1_000)] | None
