"""The whole analyst's flow in one call: validate, fit, backtest, forecast with the config model ranked best, report.

``npas demo`` runs it on the embedded demo market; the Python API exposes the same steps one by one.
"""
from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Callable

import pandas as pd

from forecasting.artifacts import save_models
from forecasting.backtest.report import middle_horizon, ranking, verdicts, write_report
from forecasting.backtest.runner import run_backtest
from forecasting.config import Config
from forecasting.data.dataset import Dataset
from forecasting.data.io import write_table
from forecasting.forecast.pipeline import fingerprint, fit_models, forecast_tables
from forecasting.models.survival import kaplan_meier_by
from forecasting.reporting import plots
from forecasting.reporting.html import embed, html_table, write_html
from forecasting.reporting.market import beside_published, by_originator
from forecasting.reporting.workbook import write_workbook

Step = Callable[[str], None]

NEW_POOL_COLUMNS = {"originator": "originator", "observed_periods": "observed_periods",
                    "observed_cum_rate": "observed_cum_rate", "expected_gross_recovery_p10": "expected_p10",
                    "expected_gross_recovery": "expected", "expected_gross_recovery_p90": "expected_p90",
                    "gross_recovery": "cash_forecast", "est_gross_recovery": "agency_estimate"}


def new_pools_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The newest pools as the demo prints and reports them: expected gross recovery with its band, the forecast of
    realized cash, and the agency's estimate (columns a model or dataset lacks are left out)."""
    shown = summary.set_index("deal_id")
    return shown[[c for c in NEW_POOL_COLUMNS if c in shown]].rename(columns=NEW_POOL_COLUMNS)


def best_model(metrics: pd.DataFrame, horizon: int, candidates: list[str]) -> str:
    """The config model with the lowest MAE at ``horizon`` averaged over schemes (baselines are not candidates)."""
    at = metrics[(metrics["horizon"] == horizon) & metrics["model"].isin(candidates)]
    if at.empty:
        return candidates[0]
    return at.groupby("model")["mae"].mean().idxmin()


def _survival_section(models: dict, dataset: Dataset, out: Path) -> tuple[list[str], list[str]]:
    """Kaplan-Meier curves by vintage (where loans exist) and the cure share of every survival model."""
    images, tables = [], []
    if dataset.has_loans:
        n_obs = dataset.history.observed_periods
        km = kaplan_meier_by(dataset.deals, dataset.loans, dataset.loan_collections, n_obs, "vintage")
        images.append(embed(plots.survival_curves(km, out / "survival_km_by_vintage.png",
                                                  "Loans with no payment yet, by vintage (Kaplan-Meier, 95% bands)")))
    for name, model in models.items():
        if getattr(model, "kind", "") == "survival":
            share = model.cure_share(dataset.deals, dataset.loans)
            images.append(embed(plots.cure_share_plot(dataset.deals, share, out / f"cure_share_{name}.png",
                                                      f"{name}: never-paying share")))
            tables.append(f"<p><b>{name}</b> ({model.level_} level)</p>" + html_table(model.summary()))
    return images, tables


def run_report(config: Config, dataset: Dataset, out: Path, step: Step = lambda _: None,
               progress=None) -> pd.DataFrame:
    """Fit, backtest, forecast and write the report folder; returns the forecast summary."""
    out = Path(out)
    step("fitting models")
    models = fit_models(config, dataset)
    save_models(models, out / "model", config.model_dump(mode="json"), fingerprint(dataset))

    step("backtesting")
    predictions = run_backtest(config, dataset, progress=progress)
    metrics, compared = write_report(predictions, dataset.deals, config.backtest.horizons, out / "backtest")
    rank_horizon = middle_horizon(config.backtest.horizons)
    chosen = best_model(metrics, rank_horizon, list(models))

    step(f"forecasting with {chosen}")
    curves, summary = forecast_tables(models[chosen], dataset, config.horizon, config.quantiles)
    write_table(curves, out / "forecast_curves.csv")
    write_table(summary, out / "forecast_summary.csv")
    newest = int(summary["vintage"].max())
    new = summary[summary["vintage"] == newest]
    fan = plots.fan_chart(curves[curves["deal_id"].isin(new["deal_id"])], new, f"{newest} pools: {chosen}",
                          out / f"fan_vintage_{newest}.png")
    by_vintage = plots.curves_by_group(dataset, "vintage", out / "curves_by_vintage.png", "Recovery by vintage")
    by_orig = plots.curves_by_group(dataset, "originator", out / "curves_by_originator.png", "Recovery by originator")

    survival_images, survival_tables = _survival_section(models, dataset, out)

    step("writing report")
    overview = beside_published(dataset)
    write_workbook({"summary": summary, "curves": curves, "backtest_metrics": metrics,
                    "market": overview.reset_index()}, out / "forecast.xlsx")
    shown = new_pools_table(new)
    write_html(out / "report.html", name=config.name, data_name=dataset.meta.name, as_of=dataset.meta.as_of,
               n_deals=len(dataset.deals), version=version("npas"), overview=html_table(overview),
               originators=html_table(by_originator(dataset)), curve_images=[embed(by_vintage), embed(by_orig)],
               new_vintage=newest, horizon=config.horizon, model_name=chosen, forecasts=html_table(shown),
               fan_images=[embed(fan)], rank_horizon=rank_horizon,
               ranking=html_table(ranking(metrics, rank_horizon), index=False),
               verdicts=verdicts(compared[compared["horizon"] == rank_horizon]),
               backtest_images=[embed(out / "backtest" / "backtest_error_by_horizon.png"),
                                embed(out / "backtest" / "backtest_ae_index.png")],
               summary=html_table(models[chosen].summary()), survival_images=survival_images,
               survival_tables=survival_tables)
    return summary.assign(model=chosen)
