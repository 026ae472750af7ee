"""Shared fixtures: the demo market, and copies of it on disk for tests that corrupt files."""
from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from forecasting.simulation.demo import demo_market


@pytest.fixture(scope="session")
def market():
    return demo_market()


@pytest.fixture(scope="session")
def _pool_level_dir(tmp_path_factory, market) -> Path:
    ds = replace(market.dataset, loans=None, loan_collections=None)
    return ds.save(tmp_path_factory.mktemp("pool") / "demo")


@pytest.fixture(scope="session")
def _loan_level_dir(tmp_path_factory, market) -> Path:
    return market.dataset.save(tmp_path_factory.mktemp("loan") / "demo")


@pytest.fixture
def pool_dir(tmp_path, _pool_level_dir) -> Path:
    """A fresh, valid, pool-level copy of the demo market that a test may corrupt."""
    return Path(shutil.copytree(_pool_level_dir, tmp_path / "data"))


@pytest.fixture
def loan_dir(tmp_path, _loan_level_dir) -> Path:
    """A fresh, valid copy of the demo market with its loan-level tables."""
    return Path(shutil.copytree(_loan_level_dir, tmp_path / "loan_data"))
