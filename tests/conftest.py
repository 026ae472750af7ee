"""Shared fixtures: the demo market, copies of it on disk for tests that corrupt files, and the demo's models fitted
once per session (the loan-level survival model takes seconds; no test refits it)."""
from __future__ import annotations

import shutil
import warnings
from dataclasses import replace
from pathlib import Path

import pytest

from forecasting.models.decay import DecayCurveModel
from forecasting.models.survival import SurvivalLoanModel, SurvivalPoolModel
from forecasting.simulation.demo import demo_market


@pytest.fixture(scope="session")
def market():
    return demo_market()


@pytest.fixture(scope="session")
def demo(market):
    """The demo dataset with its loan tape."""
    return market.dataset


@pytest.fixture(scope="session")
def pool_level(market):
    """The demo dataset without loan tables."""
    return replace(market.dataset, loans=None, loan_collections=None)


@pytest.fixture(scope="session")
def quarterly(pool_level):
    """The demo market's complete quarters since each pool's cut-off, as quarterly data (period_months 3): pools cut
    off in every month of a quarter."""
    c = pool_level.collections.assign(period=(pool_level.collections["period"] + 2) // 3)
    whole = c["deal_id"].map(pool_level.collections.groupby("deal_id")["period"].max() // 3)
    c = c[c["period"] <= whole].groupby(["deal_id", "period"], as_index=False)["gross_collections"].sum()
    return replace(pool_level, meta=pool_level.meta.model_copy(update={"period_months": 3}), collections=c,
                   tranches=None)


def _quietly(model, dataset):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return model.fit(dataset)


@pytest.fixture(scope="session")
def decay_weibull(demo):
    return _quietly(DecayCurveModel(curve="weibull"), demo)


@pytest.fixture(scope="session")
def survival_loan(demo):
    return _quietly(SurvivalLoanModel(), demo)


@pytest.fixture(scope="session")
def survival_pool(pool_level):
    return _quietly(SurvivalPoolModel(), pool_level)


@pytest.fixture(scope="session")
def _pool_level_dir(tmp_path_factory, pool_level) -> Path:
    return pool_level.save(tmp_path_factory.mktemp("pool") / "demo")


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
