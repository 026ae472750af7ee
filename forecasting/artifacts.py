"""Saving and loading fitted models: a joblib payload plus manifest.json with its sha256.

An artifact is code (joblib unpickles objects): load only artifacts from a source you trust. The hash check catches
corruption and tampering after saving, not a malicious artifact made by someone else.
"""
from __future__ import annotations

import hashlib
import json
import platform
from importlib.metadata import version
from pathlib import Path

import joblib

from forecasting.data.io import atomic_directory
from forecasting.data.problems import InputError, Problem

PAYLOAD = "models.joblib"
MANIFEST = "manifest.json"
FORMAT = 1
PACKAGES = ("npas", "numpy", "pandas", "scipy", "statsmodels", "lifelines", "scikit-learn", "joblib")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_models(models: dict, directory: Path, config: dict, data_fingerprint: str) -> Path:
    """Write payload and manifest into ``directory`` whole (temporary sibling, then rename)."""
    with atomic_directory(directory) as tmp:
        joblib.dump(models, tmp / PAYLOAD, compress=3)
        manifest = {"format": FORMAT, "payload": PAYLOAD, "sha256": _sha256(tmp / PAYLOAD), "config": config,
                    "data_fingerprint": data_fingerprint, "python": platform.python_version(),
                    "packages": {p: version(p) for p in PACKAGES}}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    return Path(directory)


def load_models(directory: Path) -> tuple[dict, dict]:
    """Load an artifact after checking its manifest, hash and npas version; refuse a mismatch with a clear line."""
    directory = Path(directory)
    where = str(directory / MANIFEST)
    if not (directory / MANIFEST).is_file():
        raise InputError(Problem(where, None, None, "not a model artifact (no manifest.json); run 'npas fit' first"))
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(Problem(where, None, None, "manifest.json is not valid JSON"))
    payload = directory / str(manifest.get("payload", PAYLOAD))
    if manifest.get("format") != FORMAT:
        raise InputError(Problem(where, None, "format", f"artifact format {manifest.get('format')} is not {FORMAT}"))
    saved_with = manifest.get("packages", {}).get("npas")
    if saved_with != version("npas"):
        raise InputError(Problem(where, None, "packages.npas", f"saved by npas {saved_with}, this is npas "
                                                               f"{version('npas')}: refit the model"))
    if not payload.is_file() or _sha256(payload) != manifest.get("sha256"):
        raise InputError(Problem(str(payload), None, None, "payload is missing or its sha256 does not match the "
                                                           "manifest (corrupted or altered): refit the model"))
    return joblib.load(payload), manifest
