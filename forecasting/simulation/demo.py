"""The embedded demo market: the calibrated simulation at the default seed, rebuilt in memory on first use."""
from __future__ import annotations

from functools import lru_cache

from forecasting.data.dataset import Dataset
from forecasting.simulation.market import DEFAULT_SEED, SimulatedMarket, simulate_market


@lru_cache(maxsize=1)
def demo_market() -> SimulatedMarket:
    """The demo market with its truth (deterministic: same seed, same numbers, on every machine)."""
    return simulate_market(DEFAULT_SEED)


def demo_dataset() -> Dataset:
    return demo_market().dataset
