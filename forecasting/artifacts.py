"""Saving and loading fitted models: an artifact directory of data, rebuilt through the estimator registry.

    manifest.json   format, npas version, config, data fingerprint, each model's name, kind and parameters,
                    the sha256 of the two files below, package versions
    state.json      each model's fitted state (forecasting/models/state.py)
    arrays.npz      the state's numeric arrays (numpy, allow_pickle=False)

Loading reads only these three fixed names inside the directory, validates the manifest (pydantic) and the config
in it, checks the hashes and the npas version, rebuilds each estimator from its registered class and options, and
checks its state (shapes, finiteness). It runs no code from the artifact. The hashes detect corruption, not
tampering (whoever can write the artifact can recompute them): a hostile artifact can at worst be refused or give
wrong numbers, never run code or read files outside the directory.
"""
from __future__ import annotations

import hashlib
import json
import platform
import re
import zipfile
from importlib.metadata import version
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from forecasting.data.problems import InputError, Problem
from forecasting.models import registry
from forecasting.models.state import StateError, decode, encode

MANIFEST, STATE, ARRAYS = "manifest.json", "state.json", "arrays.npz"
FORMAT = 2
PACKAGES = ("npas", "numpy", "pandas", "scipy", "statsmodels", "lifelines", "scikit-learn", "chainladder")
MAX_MANIFEST_BYTES = 4 << 20
MAX_STATE_BYTES = 512 << 20
ATTRIBUTE = re.compile(r"[a-z][a-z0-9_]*_")


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    kind: str
    params: dict


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal[2]
    npas: str
    config: dict
    data_fingerprint: str
    models: list[ModelEntry] = Field(min_length=1)
    chosen_model: str | None = None
    sha256: dict[Literal["state.json", "arrays.npz"], str]
    python: str
    packages: dict[str, str]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _version(package: str) -> str:
    try:
        return version(package)
    except Exception:  # an optional package not installed
        return ""


def save_models(models: dict, directory: Path, config: dict, data_fingerprint: str,
                chosen_model: str | None = None) -> Path:
    """Write the artifact's three files into ``directory`` (an output set's staging directory: outputs.py)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    state = {name: encode(model.fitted_state(), arrays) for name, model in models.items()}
    (directory / STATE).write_text(json.dumps(state), encoding="utf-8")
    np.savez(directory / ARRAYS, **arrays)
    manifest = Manifest(format=FORMAT, npas=version("npas"), config=config, data_fingerprint=data_fingerprint,
                        models=[ModelEntry(name=n, kind=m.kind, params=encode_params(m)) for n, m in models.items()],
                        chosen_model=chosen_model,
                        sha256={STATE: _sha256(directory / STATE), ARRAYS: _sha256(directory / ARRAYS)},
                        python=platform.python_version(), packages={p: _version(p) for p in PACKAGES})
    (directory / MANIFEST).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    return directory


def encode_params(model) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in model.get_params().items()}


def _refuse(where: str, reason: str, column: str | None = None) -> InputError:
    return InputError(Problem(where, None, column, reason))


def read_manifest(directory: Path) -> Manifest:
    directory = Path(directory)
    path = directory / MANIFEST
    where = str(path)
    if (directory / "models.joblib").exists():
        raise _refuse(where, "saved by npas 0.5 or earlier as pickled code, which npas no longer loads: refit the "
                             "model ('npas fit')")
    if path.is_symlink() or not path.is_file():
        raise _refuse(str(directory), "not a model artifact (no manifest.json); run 'npas fit' first")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise _refuse(where, f"is larger than {MAX_MANIFEST_BYTES:,} bytes: not an npas manifest")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise _refuse(where, "is not valid JSON: refit the model") from None
    if isinstance(raw, dict) and raw.get("format") == 1:
        raise _refuse(where, "saved by npas 0.5 or earlier as pickled code, which npas no longer loads: refit the "
                             "model ('npas fit')", "format")
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise _refuse(where, f"{first['msg']}: not a manifest this npas wrote; refit the model",
                      ".".join(map(str, first["loc"])) or None) from None
    if manifest.npas != version("npas"):
        raise _refuse(where, f"saved by npas {manifest.npas}, this is npas {version('npas')}: refit the model",
                      "npas")
    return manifest


def load_models(directory: Path) -> tuple[dict, Manifest]:
    """Load an artifact (module docstring); any problem is one InputError line saying what to do."""
    from forecasting.config import validate_config
    directory = Path(directory)
    manifest = read_manifest(directory)
    config = validate_config(manifest.config, str(directory / MANIFEST) + " (config)")
    for name in (STATE, ARRAYS):
        path = directory / name
        if path.is_symlink() or not path.is_file() or _sha256(path) != manifest.sha256[name]:
            raise _refuse(str(path), "is missing or its sha256 does not match the manifest (damaged or altered): "
                                     "refit the model")
    try:
        if (directory / STATE).stat().st_size > MAX_STATE_BYTES:
            raise StateError("state.json is too large")
        state = json.loads((directory / STATE).read_text(encoding="utf-8"))
        with np.load(directory / ARRAYS, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        if not isinstance(state, dict):
            raise StateError("state.json is not a mapping")
        models = {entry.name: _rebuild(entry, state, arrays) for entry in manifest.models}
    except InputError:
        raise
    except (StateError, ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError, EOFError, OSError,
            MemoryError, zipfile.BadZipFile) as exc:
        raise _refuse(str(directory), f"the fitted state cannot be read ({type(exc).__name__}: "
                                      f"{str(exc)[:160]}): refit the model") from None
    return models, manifest.model_copy(update={"config": config.model_dump(mode="json")})


def _rebuild(entry: ModelEntry, state: dict, arrays: dict):
    if entry.kind not in registry.REGISTRY:
        raise StateError(f"model {entry.name!r} is of kind {entry.kind!r}, which this npas does not have")
    options = registry.options_model(entry.kind).model_validate({**entry.params, "kind": entry.kind})
    if options.name != entry.name or entry.name not in state:
        raise StateError(f"model {entry.name!r} has no state")
    model = registry.build(options)
    learned = decode(state[entry.name], arrays)
    if not isinstance(learned, dict) or not all(isinstance(k, str) and ATTRIBUTE.fullmatch(k) for k in learned):
        raise StateError(f"the state of {entry.name!r} is not a set of fitted attributes")
    for key, value in learned.items():
        setattr(model, key, value)
    if not model.__sklearn_is_fitted__():
        raise StateError(f"the state of {entry.name!r} has no fit diagnostics")
    model.check_state()
    return model
