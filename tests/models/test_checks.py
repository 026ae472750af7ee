"""Every registered estimator passes the shared estimator check (forecasting/models/checks.py)."""
from __future__ import annotations

import pytest

from forecasting.models import registry
from forecasting.models.checks import check_estimator


@pytest.fixture(scope="module")
def small(demo):
    """Ten demo pools of every vintage, with their loan tapes: quick to fit, every kind of history."""
    ids = demo.deals.groupby("vintage")["deal_id"].head(3).tolist()[:14]
    return demo.subset(ids)


@pytest.mark.parametrize("kind", sorted(registry.REGISTRY))
def test_every_registered_estimator_passes_the_shared_check(kind, small, demo):
    data = demo if kind == "survival_loan" else small  # instalment timing needs the older pools' 36 periods
    check_estimator(registry.REGISTRY[kind](), data, horizon=24, n_draws=40)


def test_the_check_catches_a_broken_promise(small):
    """A model whose paths fall fails the check by name."""
    from forecasting.models.baselines import VintageMeanBaseline

    class Falling(VintageMeanBaseline):
        def _predict(self, dataset, horizon, n_draws, seed):
            fc = super()._predict(dataset, horizon, n_draws, seed)
            fc.draws[..., -1] = 0.0
            return fc

    with pytest.raises(AssertionError, match="a path falls"):
        check_estimator(Falling(), small)
