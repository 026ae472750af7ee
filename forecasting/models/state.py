"""Fitted state as data: JSON plus numeric arrays, never code.

``encode`` turns what ``fit`` learned (numbers, strings, lists, dicts, numeric arrays, pandas Index / Series /
DataFrame of numbers and text, and the dataclasses listed in STATE_TYPES) into JSON-able values, with each array
stored under a key of an ``arrays`` mapping (saved as an .npz with ``allow_pickle=False``). ``decode`` rebuilds only
those kinds: a dataclass is looked up by name in STATE_TYPES, never imported by a name the file gives, so loading
an artifact runs no code from it.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from forecasting.models.base import Diagnostics
from forecasting.models.baselines.triangle import Pattern
from forecasting.models.calendar import CalendarEffects
from forecasting.models.decay.age import AgeEffects
from forecasting.models.decay.agency import AgencySteps
from forecasting.models.decay.layout import Layout
from forecasting.models.design import Design
from forecasting.models.survival.fitter import MixtureFit
from forecasting.models.survival.severity import PaymentShape

STATE_TYPES = {cls.__name__: cls for cls in (Design, AgencySteps, Layout, MixtureFit, PaymentShape, Diagnostics, Pattern,
                                            CalendarEffects, AgeEffects)}
MAX_DEPTH = 32


class StateError(ValueError):
    """A value that is not fitted state of a known kind."""


def encode(value, arrays: dict[str, np.ndarray], depth: int = 0):
    if depth > MAX_DEPTH:
        raise StateError("state nested too deeply")
    e = lambda v: encode(v, arrays, depth + 1)  # noqa: E731
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else {"__float__": repr(float(value))}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            key = f"a{len(arrays)}"
            arrays[key] = value
            return {"__array__": key}
        if value.dtype.kind in "OU" and all(isinstance(v, str) for v in value.ravel()):
            return {"__text__": [str(v) for v in value.ravel()], "shape": list(value.shape)}
        raise StateError(f"an array of {value.dtype} is not state")
    if isinstance(value, pd.DataFrame):
        return {"__frame__": {"columns": [e(c) for c in value.columns],
                              "data": [e(value[c].to_numpy()) for c in value.columns], "index": e(value.index)}}
    if isinstance(value, pd.Series):
        return {"__series__": {"values": e(value.to_numpy()), "index": e(value.index), "name": e(value.name)}}
    if isinstance(value, pd.Index):
        return {"__index__": e(value.to_numpy()), "name": e(value.name)}
    if isinstance(value, tuple):
        return {"__tuple__": [e(v) for v in value]}
    if isinstance(value, list):
        return [e(v) for v in value]
    if isinstance(value, dict):
        return {"__items__": [[e(k), e(v)] for k, v in value.items()]}
    if dataclasses.is_dataclass(value) and STATE_TYPES.get(type(value).__name__) is type(value):
        return {"__state__": type(value).__name__,
                "fields": {f.name: e(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}}
    raise StateError(f"a {type(value).__name__} is not state")


def decode(value, arrays, depth: int = 0):
    """The inverse of ``encode``; raises StateError for anything it would not have written."""
    if depth > MAX_DEPTH:
        raise StateError("state nested too deeply")
    d = lambda v: decode(v, arrays, depth + 1)  # noqa: E731
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [d(v) for v in value]
    if not isinstance(value, dict) or len(value) == 0:
        raise StateError(f"unexpected {type(value).__name__} in state")
    if "__array__" in value:
        key = value["__array__"]
        if not isinstance(key, str) or key not in arrays:
            raise StateError(f"array {key!r} is missing")
        array = arrays[key]
        if array.dtype.kind not in "biuf":
            raise StateError(f"array {key!r} is not numeric")
        return array
    if "__float__" in value:
        if value["__float__"] not in ("nan", "inf", "-inf"):
            raise StateError("bad float")
        return float(value["__float__"])
    if "__text__" in value:
        items, shape = value["__text__"], value.get("shape")
        if not (isinstance(items, list) and all(isinstance(s, str) for s in items) and isinstance(shape, list)):
            raise StateError("bad text array")
        return np.array(items, dtype=object).reshape([int(s) for s in shape])
    if "__tuple__" in value:
        return tuple(d(v) for v in _list(value["__tuple__"]))
    if "__items__" in value:
        return {_key(d(k)): d(v) for k, v in (_pair(p) for p in _list(value["__items__"]))}
    if "__index__" in value:
        return pd.Index(_array(d(value["__index__"])), name=d(value.get("name")))
    if "__series__" in value:
        s = value["__series__"]
        return pd.Series(_array(d(s["values"])), index=d(s["index"]), name=d(s.get("name")))
    if "__frame__" in value:
        f = value["__frame__"]
        columns, data = [d(c) for c in _list(f["columns"])], [_array(d(c)) for c in _list(f["data"])]
        if len(columns) != len(data):
            raise StateError("bad table")
        return pd.DataFrame(dict(zip(columns, data)), index=d(f["index"]))
    if "__state__" in value:
        cls = STATE_TYPES.get(value["__state__"]) if isinstance(value["__state__"], str) else None
        fields = value.get("fields")
        if cls is None or not isinstance(fields, dict):
            raise StateError(f"unknown state type {value['__state__']!r}")
        allowed = {f.name for f in dataclasses.fields(cls) if f.init}
        if set(fields) - allowed:
            raise StateError(f"unknown fields for {cls.__name__}")
        return cls(**{k: d(v) for k, v in fields.items()})
    raise StateError("unknown state entry")


def _list(value) -> list:
    if not isinstance(value, list):
        raise StateError("expected a list")
    return value


def _pair(value) -> tuple:
    if not (isinstance(value, list) and len(value) == 2):
        raise StateError("expected a key and a value")
    return value[0], value[1]


def _key(value):
    if isinstance(value, list):
        raise StateError("a list cannot be a key")
    return value


def _array(value) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise StateError("expected an array")
    return value
