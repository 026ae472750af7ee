"""The check every registered estimator passes, in the spirit of scikit-learn's ``check_estimator``.

``check_estimator(estimator, dataset)`` raises AssertionError naming the first broken promise: clone round-trips;
predicting unfitted raises NotFittedError naming the model; fit returns self with diagnostics; observed periods are
carried unchanged; paths are non-decreasing, within [0, 1] and their quantiles ordered; an expected curve exactly
when the tags say so; identical results for a fixed random_state; a deal's forecast does not depend on the other
deals forecast with it; data of another period length is refused; the summary has the shared columns; the fitted
state survives an artifact round trip.
"""
from __future__ import annotations

import tempfile
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.base import clone

from forecasting.data.dataset import Dataset
from forecasting.data.periods import PERIOD_LENGTHS
from forecasting.data.problems import InputError
from forecasting.models.base import Diagnostics, NotFittedError
from forecasting.models.paths import observed_rates
from forecasting.models.summary import SUMMARY_COLUMNS

TOL = 1e-12


def check_estimator(estimator, dataset: Dataset, horizon: int = 24, n_draws: int = 60) -> None:
    params = estimator.get_params()
    copy = clone(estimator)
    assert copy.get_params() == params, "clone does not reproduce the parameters"
    try:
        copy.predict(dataset, horizon)
        raise AssertionError("predict before fit did not raise NotFittedError")
    except NotFittedError as err:
        assert repr(estimator.name) in str(err), f"the not-fitted error does not name the model: {err}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fitted = copy.fit(dataset)
    assert fitted is copy, "fit does not return self"
    assert isinstance(fitted.diagnostics_, Diagnostics), "fit leaves no Diagnostics in diagnostics_"
    assert clone(fitted).get_params() == params and not clone(fitted).__sklearn_is_fitted__(), "clone keeps state"

    fc = fitted.predict(dataset, horizon, n_draws=n_draws, random_state=7)
    _check_paths(fc, dataset, horizon, n_draws, fitted.tags.gives_expected_curve)
    again = fitted.predict(dataset, horizon, n_draws=n_draws, random_state=7)
    assert np.array_equal(fc.draws, again.draws), "a fixed random_state does not give identical paths"
    half = list(dataset.deal_ids[::2])
    part = fitted.predict(dataset.subset(half), horizon, n_draws=n_draws, random_state=7)
    rows = dataset.deal_ids.get_indexer(part.deal_ids)
    assert np.allclose(part.draws, fc.draws[:, rows], rtol=0, atol=1e-12), \
        "a deal's forecast depends on the other deals forecast with it"
    other = next(m for m in PERIOD_LENGTHS if m != dataset.meta.period_months)
    try:
        fitted.predict(replace(dataset, meta=dataset.meta.model_copy(update={"period_months": other})), horizon)
        raise AssertionError(f"data of {other}-month periods were forecast by a model fitted on "
                             f"{dataset.meta.period_months}-month ones")
    except InputError as err:
        assert err.problems[0].column == "period_months", f"another period length refused for another reason: {err}"
    summary = fitted.summary()
    assert list(summary.columns) == SUMMARY_COLUMNS and len(summary) > 0, "summary lacks the shared columns"
    _check_round_trip(fitted, dataset, horizon, fc)


def _check_paths(fc, dataset: Dataset, horizon: int, n_draws: int, gives_expected: bool) -> None:
    assert list(fc.deal_ids) == list(dataset.deal_ids), "forecast deals are not the dataset's, in order"
    assert fc.draws.shape == (n_draws, len(dataset.deal_ids), horizon), f"paths have shape {fc.draws.shape}"
    assert np.isfinite(fc.draws).all() and np.isfinite(fc.mean).all(), "non-finite forecast"
    assert (fc.draws >= -TOL).all() and (fc.draws <= 1 + TOL).all(), "paths outside [0, 1]"
    assert (np.diff(fc.draws, axis=-1) >= -TOL).all(), "a path falls"
    qs = [fc.quantile(q) for q in (0.1, 0.5, 0.9)]
    assert (qs[0] <= qs[1] + TOL).all() and (qs[1] <= qs[2] + TOL).all(), "quantiles out of order"
    _, cum_obs, n_obs = observed_rates(dataset, horizon)
    assert np.array_equal(fc.observed_periods, n_obs), "observed periods miscounted"
    seen = np.arange(1, horizon + 1)[None, :] <= n_obs[:, None]
    assert np.allclose(fc.draws[:, seen], cum_obs[seen], rtol=0, atol=1e-12), "observed periods altered"
    assert (fc.expected is not None) == gives_expected, "expected curve and tag gives_expected_curve disagree"
    if fc.expected is not None:
        assert np.isfinite(fc.expected).all() and (fc.expected >= -TOL).all() and (fc.expected <= 1 + TOL).all()
        assert (np.diff(fc.expected, axis=-1) >= -TOL).all(), "an expected curve falls"


def _check_round_trip(fitted, dataset: Dataset, horizon: int, fc) -> None:
    from forecasting.artifacts import load_models, save_models
    with tempfile.TemporaryDirectory() as tmp:
        save_models({fitted.name: fitted}, Path(tmp) / "a", {"name": "check", "models": [
            {"kind": fitted.kind, **_json_params(fitted)}]}, "")
        loaded = load_models(Path(tmp) / "a")[0][fitted.name]
    again = loaded.predict(dataset, horizon, n_draws=fc.n_draws, random_state=7)
    assert np.array_equal(again.draws, fc.draws), "the fitted state does not survive an artifact round trip"


def _json_params(model) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in model.get_params().items()}
