"""From a config ``kind`` to the estimator class: a new family is one module plus one ``@register`` line.

Each class's config keys are its constructor's arguments: their type annotations (with any validators in
``Annotated``) and defaults make a pydantic model, so an unknown key, a bad value or an unknown kind is one line
naming it. Classes may add checks across keys in ``check_options``.
"""
from __future__ import annotations

import inspect
import typing
import warnings
from typing import Literal

from pydantic import BaseModel, ConfigDict, create_model

REGISTRY: dict[str, type] = {}
# kinds no longer registered that configs may still name, mapped to the message and the entry's translation
DEPRECATED: dict[str, tuple[str, typing.Callable[[dict, bool], dict]]] = {}
_OPTIONS: dict[str, type[BaseModel]] = {}


def register(kind: str):
    """Class decorator: make ``kind`` in a config build this estimator."""
    def decorate(cls):
        if kind in REGISTRY and REGISTRY[kind] is not cls:
            raise ValueError(f"kind {kind!r} is registered twice ({REGISTRY[kind].__name__}, {cls.__name__})")
        cls.kind = kind
        REGISTRY[kind] = cls
        _OPTIONS.pop(kind, None)
        return cls
    return decorate


def unregister(kind: str) -> None:
    REGISTRY.pop(kind, None)
    _OPTIONS.pop(kind, None)


class ModelOptions(BaseModel):
    """Base of every estimator's options: its name and kind, then its own keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def options_model(kind: str) -> type[BaseModel]:
    """The pydantic model of a kind's config keys, built from its constructor."""
    if kind not in _OPTIONS:
        cls = REGISTRY[kind]
        hints = typing.get_type_hints(cls.__init__, include_extras=True)
        fields = {"kind": (Literal[kind], ...)}
        for name, param in inspect.signature(cls.__init__).parameters.items():
            if name == "self":
                continue
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[name] = (hints.get(name, typing.Any), default)
        _OPTIONS[kind] = create_model(f"{cls.__name__}Options", __base__=ModelOptions, **fields)
    return _OPTIONS[kind]


def estimator_class(spec: BaseModel) -> type:
    return REGISTRY[spec.kind]


def build(spec: BaseModel):
    """A fresh (unfitted) estimator from validated options."""
    return REGISTRY[spec.kind](**spec.model_dump(exclude={"kind"}))


def translate_deprecated(entry: dict, has_loans: bool | None = None) -> tuple[dict, str | None]:
    """A config entry with a deprecated kind in today's terms, and the deprecation message (None if current)."""
    kind = entry.get("kind")
    if not isinstance(kind, str) or kind not in DEPRECATED:
        return entry, None
    message, translate = DEPRECATED[kind]
    return translate(dict(entry), has_loans), message


def baseline_kinds() -> list[str]:
    return [k for k, cls in REGISTRY.items() if cls._tags.is_baseline]


def warn_deprecated(message: str) -> None:
    warnings.warn(message, DeprecationWarning, stacklevel=3)
