"""Backtests: no leakage from after the as-of date, the same numbers on any joblib backend, honest metrics."""
from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from forecasting.backtest import metrics as bm
from forecasting.backtest.runner import run_backtest
from forecasting.backtest.schemes import make_folds
from forecasting.config import Config
from forecasting.data.periods import period_end
from forecasting.models.baselines import MackChainLadder

AS_OF = "2024-06-30"


def config(model: dict | None = None, **parallel) -> Config:
    return Config.model_validate({
        "name": "t", "models": [{"name": "decay", "kind": "decay_curve", "curve": "loglogistic", **(model or {})}],
        "backtest": {"schemes": ["as_of", "vintage_holdout"], "horizons": [12, 24], "as_of_dates": [AS_OF]},
        "parallel": parallel or {"backend": "loky", "n_jobs": 1}})


@pytest.fixture(scope="module")
def dataset(pool_level):
    return pool_level


@pytest.fixture(scope="module")
def reference(dataset):
    return run_backtest(config(), dataset)


def test_every_model_and_baseline_is_scored(reference):
    assert set(reference["model"]) == {"decay", "baseline_chainladder", "baseline_bootstrap_odp", "baseline_cape_cod",
                                       "baseline_bf", "baseline_agency", "baseline_vintage_mean"}
    assert list(reference.columns) == ["scheme", "fold", "model", "role", "deal_id", "observed_periods", "period",
                                       "predicted_cum_rate", "p10", "p50", "p90", "actual_cum_rate", "pit", "pit_tied",
                                       "crps"]
    roles = reference.drop_duplicates("model").set_index("model")["role"]
    assert roles["decay"] == "model" and (roles.drop("decay") == "baseline").all()
    table = bm.metrics(reference, [12, 24])
    assert {"scheme", "model", "role", "horizon", "n", "mae", "rmse", "bias", "coverage", "coverage_50", "coverage_80",
            "ks", "ks_critical", "crps"} <= set(table.columns)
    assert (table["n"] > 0).all() and table["crps"].gt(0).all() and table["ks"].between(0, 1).all()
    assert (table["coverage_50"] <= table["coverage_80"]).all()


def spoiled_after_as_of(dataset):
    """The dataset with every collection after AS_OF replaced by garbage."""
    ends = period_end(dataset.collections["deal_id"].map(dataset.deals.set_index("deal_id")["cutoff_date"]),
                      dataset.collections["period"].to_numpy(), 1)
    later = np.asarray(ends > pd.Timestamp(AS_OF))
    garbage = dataset.collections.copy()
    garbage.loc[later, "gross_collections"] = np.random.default_rng(1).uniform(0, 1e9, later.sum())
    return replace(dataset, collections=garbage)


def as_of_forecasts(cfg: Config, dataset) -> pd.DataFrame:
    """The as-of scheme's rows without what is scored against the (possibly spoiled) actuals."""
    cfg.backtest.schemes = ["as_of"]
    return run_backtest(cfg, dataset).drop(columns=["actual_cum_rate", "pit", "pit_tied", "crps"]).reset_index(drop=True)


def test_garbage_after_the_as_of_date_changes_nothing(dataset, reference):
    before = reference[reference["scheme"] == "as_of"].drop(columns=["actual_cum_rate", "pit", "pit_tied", "crps"])
    pd.testing.assert_frame_equal(as_of_forecasts(config(), spoiled_after_as_of(dataset)),
                                  before.reset_index(drop=True), check_exact=True)


@pytest.mark.slow
def test_no_leakage_with_calendar_effects(dataset):
    """Calendar effects read every pool's latest periods together: the as-of folds' must still end at their date."""
    cfg = {"calendar_effects": True}
    pd.testing.assert_frame_equal(as_of_forecasts(config(cfg), spoiled_after_as_of(dataset)),
                                  as_of_forecasts(config(cfg), dataset), check_exact=True)


@pytest.mark.slow
@pytest.mark.parametrize("parallel", [{"backend": "loky", "n_jobs": 2}, {"backend": "threading", "n_jobs": 2}])
def test_same_results_for_every_backend_and_n_jobs(dataset, reference, parallel):
    pd.testing.assert_frame_equal(run_backtest(config(**parallel), dataset), reference, check_exact=True)


def test_a_models_forecasts_do_not_depend_on_the_other_models(dataset, reference):
    cfg = config()
    cfg.models.insert(0, cfg.models[0].model_copy(update={"name": "first", "curve": "exponential"}))
    both = run_backtest(cfg, dataset)
    pd.testing.assert_frame_equal(both[both["model"] == "decay"].reset_index(drop=True),
                                  reference[reference["model"] == "decay"].reset_index(drop=True))


@pytest.mark.slow
def test_same_results_on_a_dask_cluster(dataset, reference):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        result = run_backtest(config(backend="dask", n_jobs=2), dataset)
    pd.testing.assert_frame_equal(result, reference, check_exact=True)


def test_a_failed_fit_in_a_worker_is_one_clear_problem(market):
    """A loan-level survival model cannot learn instalment timing from the 2022 market: the error says so, once."""
    from forecasting.data.problems import InputError
    cfg = Config.model_validate({
        "name": "t", "models": [{"name": "loan", "kind": "survival_loan"}],
        "backtest": {"schemes": ["as_of"], "horizons": [12], "as_of_dates": ["2022-12-31"]},
        "parallel": {"backend": "loky", "n_jobs": 2}})
    with pytest.raises(InputError) as caught:
        run_backtest(cfg, market.dataset)
    assert len(caught.value.problems) == 1
    assert str(caught.value).startswith("backtest:-:as_of/2022-12-31: loan: only")
    assert "instalment timing" in str(caught.value)


def test_a_forecast_with_a_missing_value_stops_the_backtest(dataset, monkeypatch):
    """A NaN would leave its pool out of the model's scores without a word: the backtest stops and names it."""
    from forecasting.forecast.checks import ForecastError
    from forecasting.models.baselines import CapeCod
    project = CapeCod._project

    def spoiled(self, *args, **kwargs):
        mean, paths = project(self, *args, **kwargs)
        return mean, np.where(np.arange(paths.shape[1])[None, :, None] == 0, np.nan, paths)

    monkeypatch.setattr(CapeCod, "_project", spoiled)
    with pytest.raises(ForecastError, match="baseline_cape_cod: the paths of deal .* are not finite"):
        run_backtest(config(backend="threading", n_jobs=1), dataset)


def test_vintage_holdout_trains_only_on_earlier_vintages_as_they_stood(dataset):
    folds = make_folds(dataset, ["vintage_holdout"], [])
    for fold in folds:
        v = int(fold.fold)
        assert (fold.train.deals["vintage"] < v).all()
        assert fold.test.collections.empty and (fold.test.deals["vintage"] == v).all()
        last_end = period_end(fold.train.collections["deal_id"].map(fold.train.deals.set_index("deal_id")["cutoff_date"]),
                              fold.train.collections["period"].to_numpy(), 1).max()
        assert last_end <= fold.test.deals["cutoff_date"].max()


def test_chain_ladder_factors_are_volume_weighted(dataset):
    cl = MackChainLadder().fit(dataset)
    cum = dataset.history.amounts.cumsum(axis=1).where(dataset.history.amounts.notna())
    ldf = cl.states_["(all pools)"]["pattern"].ldf
    for p in (1, 2, 10):
        both = cum[p].notna() & cum[p + 1].notna()
        assert ldf[p - 1] == pytest.approx(cum.loc[both, p + 1].sum() / cum.loc[both, p].sum())
    fc = cl.predict(dataset.subset(dataset.deal_ids[:1]).without_history(), 24, n_draws=50)
    assert (np.diff(fc.mean[0]) >= 0).all() and (np.diff(fc.draws, axis=-1) >= 0).all()


@pytest.fixture(scope="module")
def demo_scores(market):
    """The demo config's backtest at 24 periods (as_of and vintage_holdout), as the issue states its check."""
    from pathlib import Path

    from forecasting.config import load_config
    cfg, _ = load_config(Path(__file__).resolve().parents[2] / "configs" / "demo.yaml")
    cfg.backtest.schemes = ["as_of", "vintage_holdout"]
    cfg.parallel.n_jobs = 2
    table = bm.metrics(run_backtest(cfg, market.dataset), [24])
    return {scheme: table[table["scheme"] == scheme].set_index("model") for scheme in cfg.backtest.schemes}


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["as_of", "vintage_holdout"])
def test_best_model_beats_every_baseline_with_honest_bands(demo_scores, scheme):
    """Issue 5. as_of, measured 2026-11-27: survival_pool (then named cure_pool) 0.0030 vs the chain ladder's 0.0031,
    P10-P90 holding 14 of 16
    actuals (0.875). This sits inside the noise: the difference's 95% interval over the 10 deals is -0.0010 to
    +0.0007; cure_pool's MAE is 0.0029-0.0030 under four sets of random numbers, and was 0.0028 and 0.0032 under
    the seeds that followed a model's place in the config; over 8 simulated markets the best model beats every
    baseline in 4 (benchmarks/bench_accuracy.py).

    The band is held to the binomial 95% interval for its number of actuals: with 16, a calibrated 80% band holds
    12-14 of them only 66% of the time, so the former +-0.10 failed honest bands one time in three (0.7.4: the
    learnt spread took survival_pool to 15 of 16, which a calibrated band gives 14% of the time). Whether bands are
    too wide is measured where there are enough actuals: bench_accuracy.py pools 128 at 24 periods (77.3%).

    vintage_holdout: the issue's fold (2021-2023 -> 2024) has no actuals at 24 periods on the demo market, whose
    data end 2025-08-31 with the 2024 pools at most 20 months old; at 24 periods this is the 2021-2022 -> 2023 fold,
    n = 5. Until 0.7.13 it failed (decay_agency 0.0339 against the chain ladder's 0.0314, difference +0.0025, 95%
    interval over deals -0.025 to +0.030; marked xfail); since 0.7.14's prior on the deal sds decay_agency scores
    0.0310 (measured 2026-12-07), which passes inside that noise. An oracle with every true parameter but the
    held-out vintage's level and the unseen originators' effects scores 0.0333 on it; over 8 simulated markets the
    best model beats every baseline in 3 (benchmarks/bench_accuracy.py)."""
    table = demo_scores[scheme]
    baselines = table[table["role"] == "baseline"]
    models = table.drop(index=baselines.index)
    best = models["mae"].idxmin()
    assert models.loc[best, "mae"] < baselines["mae"].min(), table[["mae", "coverage"]]
    low, high = stats.binom.ppf([0.025, 0.975], models.loc[best, "n"], 0.8) / models.loc[best, "n"]
    assert low <= models.loc[best, "coverage"] <= high, table[["n", "mae", "coverage"]]


def test_backtest_cli_writes_every_output(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from forecasting.cli.main import app
    cfg = config().model_dump(mode="json")
    cfg["backtest"]["schemes"] = ["as_of"]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["backtest", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "bt")])
    assert result.exit_code == 0, result.output
    for name in ("backtest_predictions.csv", "backtest_metrics.csv", "backtest_metrics_by_group.csv", "report.md",
                 "backtest_comparison.csv", "backtest_error_by_horizon.png", "backtest_ae_index.png",
                 "backtest_curves_as_of.png"):
        assert (tmp_path / "bt" / name).exists(), name
    report = (tmp_path / "bt" / "report.md").read_text()
    assert "## as_of" in report and "- decay vs baseline_" in report
    assert "decay vs baseline_" in result.stdout


def test_a_baseline_the_folds_data_cannot_form_is_left_out_of_the_fold_and_said(dataset):
    """A reference method that cannot be formed on a fold's training data (here no deal has the history a vintage
    mean needs) is not scored there and the fold's warning says why; the other estimators are scored."""
    from forecasting.backtest.runner import run_fold
    from forecasting.models import registry
    fold = make_folds(dataset, ["as_of"], [AS_OF])[0]
    specs = [registry.options_model("vintage_mean").model_validate({"kind": "vintage_mean", "min_history": 1000}),
             registry.options_model("chain_ladder").model_validate({"kind": "chain_ladder"})]
    actual = dataset.history.to_long()[["deal_id", "period", "cum_rate"]].rename(columns={"cum_rate": "actual_cum_rate"})
    table, notes = run_fold(fold, specs, 12, [0.1, 0.5, 0.9], 20, actual)
    assert set(table["model"]) == {"baseline_chainladder"}
    assert len(notes) == 1 and notes[0].startswith(f"as_of/{fold.fold}: ") and (
        "baseline_vintage_mean: left out of this fold: no deal has 1000 periods of history") in notes[0]


def test_a_quarterly_market_is_backtested_against_every_baseline(quarterly):
    """Pools cut off in different months of a quarter: every baseline is formed on every fold (a triangle by
    calendar origin was not, nor a vintage mean asking 12 periods) and scored."""
    cfg = Config.model_validate({
        "name": "q", "models": [{"name": "decay", "kind": "decay_curve", "curve": "loglogistic"}],
        "backtest": {"schemes": ["as_of"], "horizons": [4, 8], "as_of_dates": ["2023-12-31", "2024-08-31"]},
        "parallel": {"backend": "threading", "n_jobs": 1}})
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always", RuntimeWarning)
        table = run_backtest(cfg, quarterly)
    assert not [w for w in said if "left out" in str(w.message)]
    assert set(table["model"]) == {"decay", "baseline_chainladder", "baseline_bootstrap_odp", "baseline_cape_cod",
                                   "baseline_bf", "baseline_agency", "baseline_vintage_mean"}
    scores = bm.metrics(table, [4, 8])
    assert len(scores) == 2 * 7 and np.isfinite(scores[["mae", "crps"]]).all().all()


def test_a_models_config_problem_on_a_thin_fold_names_the_model_the_fold_and_the_way_out(dataset):
    from forecasting.backtest.runner import run_fold
    from forecasting.data.problems import InputError
    from forecasting.models import registry
    bank = dataset.subset(list(dataset.deals.loc[dataset.deals["originator"] == "A", "deal_id"]))
    fold = next(f for f in make_folds(bank, ["vintage_holdout"], []) if f.fold == "2023")
    spec = registry.options_model("decay_curve").model_validate({"name": "agency", "kind": "decay_curve",
                                                                "curve": "loglogistic", "agency_prior": True})
    actual = bank.history.to_long()[["deal_id", "period", "cum_rate"]].rename(columns={"cum_rate": "actual_cum_rate"})
    with pytest.raises(InputError) as raised:
        run_fold(fold, [spec], 12, [0.1, 0.5, 0.9], 20, actual)
    assert str(raised.value).startswith(
        "config:-:agency.agency_prior: vintage_holdout/2023, trained on 4 deals (backtest.min_train_deals leaves out "
        "folds trained on fewer): 4 pool(s) cannot estimate")
