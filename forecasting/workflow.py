"""The whole analyst's flow in one call: fit, backtest, forecast with the chosen model, report.

``npas report`` runs it on any config's data and ``npas demo`` on the embedded demo market; the Python API exposes
the same steps one by one. The flow reads estimators only through their interface and tags.
"""
from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import pandas as pd

from forecasting.artifacts import save_models
from forecasting.backtest.report import middle_horizon, ranking, verdicts, write_report
from forecasting.backtest.runner import ROLE_MODEL, run_backtest
from forecasting.config import Config
from forecasting.data.dataset import Dataset
from forecasting.data.io import write_table
from forecasting.data.periods import span
from forecasting.forecast.pipeline import fingerprint, fit_models, forecast_tables
from forecasting.models.survival import kaplan_meier_by
from forecasting.reporting import plots
from forecasting.reporting.definitions import definitions_sheet
from forecasting.reporting.html import embed, html_table, write_html
from forecasting.reporting.interactive import fan_html
from forecasting.reporting.market import beside_published, by_originator, has_published
from forecasting.reporting.opening import backtest_line, pool_lines
from forecasting.reporting.workbook import write_workbook

Step = Callable[[str], None]

NEW_POOL_COLUMNS = {"originator": "originator", "observed_periods": "observed_periods",
                    "observed_cum_rate": "observed_cum_rate", "expected_gross_recovery_p10": "expected_p10",
                    "expected_gross_recovery": "expected", "expected_gross_recovery_p90": "expected_p90",
                    "gross_recovery": "cash_forecast", "est_gross_recovery": "agency_estimate"}
CHOICE_RULE = "the config's model with the lowest MAE at the middle backtest horizon, averaged over schemes"


def new_pools_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The newest pools as the demo prints and reports them: expected gross recovery with its band, the forecast of
    realized cash, and the agency's estimate (columns a model or dataset lacks are left out)."""
    shown = summary.set_index("deal_id")
    return shown[[c for c in NEW_POOL_COLUMNS if c in shown]].rename(columns=NEW_POOL_COLUMNS)


def best_model(metrics: pd.DataFrame, horizon: int) -> str | None:
    """The model (not a baseline) with the lowest MAE at ``horizon`` averaged over schemes (CHOICE_RULE)."""
    at = metrics[(metrics["horizon"] == horizon) & (metrics["role"] == ROLE_MODEL)]
    return None if at.empty else at.groupby("model")["mae"].mean().idxmin()


def choose_model(config: Config, metrics: pd.DataFrame | None) -> tuple[str, str]:
    """The model to forecast with, and why."""
    if config.forecast_model:
        return config.forecast_model, "named by the config's forecast_model"
    if metrics is not None:
        best = best_model(metrics, middle_horizon(config.backtest.horizons))
        if best is not None:
            return best, CHOICE_RULE
    return config.models[0].name, "the config's first model (no backtest to rank by)"


def _survival_section(models: dict, dataset: Dataset, out: Path) -> tuple[list[str], list[str]]:
    """Kaplan-Meier curves by vintage (where loans exist) and the never-pay share of every model that gives one."""
    images, tables = [], []
    if dataset.has_loans:
        km = kaplan_meier_by(dataset, "vintage")
        images.append(embed(plots.survival_curves(km, out / "survival_km_by_vintage.png",
                                                  "Loans with no payment yet, by vintage (Kaplan-Meier, 95% bands)")))
    for name, model in models.items():
        if model.tags.gives_never_pay_share:
            share = model.never_pay_share(dataset)
            images.append(embed(plots.never_pay_plot(dataset.deals, share, out / f"never_pay_share_{name}.png",
                                                     f"{name}: never-pay share")))
            tables.append(f"<p><b>{name}</b></p>" + html_table(model.summary(), index=False))
    return images, tables


def _calendar_section(model, out: Path) -> tuple[pd.DataFrame | None, list[str]]:
    """The chosen model's calendar effects, where it has them: their table and chart."""
    if not model.tags.gives_calendar_effects:
        return None, []
    ax = model.plot_calendar()
    return model.calendar_table(), [embed(plots.save(ax.figure, out / f"calendar_effects_{model.name}.png"))]


def _structure_section(config: Config, model, dataset: Dataset, new: pd.DataFrame, out: Path, step: Step) -> dict:
    """The structure analysis of every deal with tranches (structure/), written into ``out``; the report's lines on
    the newest pools' senior tranches."""
    from forecasting.structure.flow import structure
    from forecasting.structure.report import senior_lines, write_structure
    step(f"running the tranches through {len(config.structure.scenarios) + 1} scenario(s)")
    tables = structure(model, dataset, config.structure.scenarios, config.structure.paths, config.seed,
                       config.structure.price, n_jobs=config.parallel.n_jobs)
    out.mkdir(parents=True, exist_ok=True)
    deals = list(new["deal_id"])
    charts = write_structure(tables, out, model.name, deals)
    summary = tables["tranche_summary"]
    shown = summary[summary["deal_id"].isin(deals) & (summary["priority_rank"] == 1)]
    be = tables["breakeven"][["scenario", "deal_id", "priority_rank", "multiple"]]
    shown = shown.merge(be, on=["scenario", "deal_id", "priority_rank"], how="left")
    columns = ["scenario", "deal_id", "tranche", "balance", "p_repaid", "payoff_months_p10", "payoff_months_p50",
               "payoff_months_p90", "expected_loss", "multiple"]
    return dict(structure_images=[embed(charts["payoff"]), embed(charts["haircut"])],
                structure_lines=senior_lines(tables, deals), structure_paths=config.structure.paths,
                scenario_names=", ".join(["base"] + [s.name for s in config.structure.scenarios]),
                structure_table=html_table(shown[columns], index=False))


def _cover(config: Config, dataset: Dataset, model: str, why: str) -> pd.DataFrame:
    """The workbook's first sheet: what this is, from what, with which model, in which units."""
    import yaml
    items = [("report", config.name), ("model", model), ("model choice", why), ("as of", str(dataset.meta.as_of)),
             ("data", dataset.meta.name), ("deals", str(len(dataset.deals))), ("currency", dataset.meta.currency),
             ("units", "amounts in currency units; rates are shares of each pool's principal at cut-off (opb)"),
             ("period", span(1, dataset.meta.period_months)),
             ("horizon", f"{config.horizon} periods: {span(config.horizon, dataset.meta.period_months)}"),
             ("npas", version("npas"))]
    text = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
    # a line per row, so it prints; a list item indented, since a cell starting with "-" is neutralised as a formula
    items += [("config" if i == 0 else "", "  " + line if line.startswith("-") else line)
              for i, line in enumerate(text.splitlines())]
    return pd.DataFrame(items, columns=["item", "value"])


def _triangle(dataset: Dataset) -> pd.DataFrame:
    """Deal x period triangle of cumulative rates (the columns are periods since cut-off)."""
    table = dataset.history.cum_rate.copy()
    table.columns = [str(c) for c in table.columns]
    deals = dataset.deals.set_index("deal_id")
    table.insert(0, "vintage", deals["vintage"].reindex(table.index).to_numpy())
    table.insert(0, "originator", deals["originator"].reindex(table.index).to_numpy())
    return table.rename_axis("deal_id").reset_index()


def run_report(config: Config, dataset: Dataset, out: Path, step: Step = lambda _: None, progress=None,
               models: dict | None = None, backtest: bool = True) -> pd.DataFrame:
    """Fit (unless ``models`` are given), backtest, forecast and write the report folder into ``out`` (a staging
    directory); returns the forecast summary with the model used."""
    out = Path(out)
    if models is None:
        step("fitting models")
        models = fit_models(config, dataset)
    metrics = compared = None
    rank_horizon = middle_horizon(config.backtest.horizons)
    if backtest:
        step("backtesting")
        predictions = run_backtest(config, dataset, progress=progress)
        metrics, compared = write_report(predictions, dataset.deals, config.backtest.horizons, out / "backtest",
                                         dataset.meta.period_months)
    chosen, why = choose_model(config, metrics)
    save_models(models, out / "model", config.model_dump(mode="json"), fingerprint(dataset), chosen)

    step(f"forecasting with {chosen}")
    curves, summary = forecast_tables(models[chosen], dataset, config.horizon, config.quantiles, config.seed)
    summary = summary.assign(model=chosen)
    write_table(curves, out / "forecast_curves.csv")
    write_table(summary, out / "forecast_summary.csv")
    newest = int(summary["vintage"].max())
    new = summary[summary["vintage"] == newest]
    plots.fan_chart(curves[curves["deal_id"].isin(new["deal_id"])], new, f"{newest} pools: {chosen}",
                    out / f"fan_vintage_{newest}.png")  # the static chart, for pasting; the page's is interactive
    by_vintage = plots.curves_by_group(dataset, "vintage", out / "curves_by_vintage.png", "Recovery by vintage")
    by_orig = plots.curves_by_group(dataset, "originator", out / "curves_by_originator.png", "Recovery by originator")
    survival_images, survival_tables = _survival_section(models, dataset, out)
    calendar_table, calendar_images = _calendar_section(models[chosen], out)

    structure_context = {} if dataset.tranches is None else _structure_section(config, models[chosen], dataset, new,
                                                                                out / "structure", step)

    step("writing report")
    overview = beside_published(dataset)
    sheets = {"summary": summary, "curves": curves, "market": overview.reset_index(),
              "triangle": _triangle(dataset)}
    if metrics is not None:
        sheets["backtest_metrics"] = metrics
    if calendar_table is not None:
        sheets["calendar_effects"] = calendar_table
    new_curves = curves[curves["deal_id"].isin(new["deal_id"])].pivot(index="period", columns="deal_id",
                                                                      values="cum_rate")[list(new["deal_id"])]
    sheets[f"curves_{newest}"] = new_curves.reset_index()
    pools = {f"curves_{newest}": "cum_rate of pool {} by period (actual where observed, else the forecast mean)"}
    sheets = {"cover": _cover(config, dataset, chosen, why), **sheets, "definitions": definitions_sheet(sheets, pools)}
    write_workbook(sheets, out / "forecast.xlsx",
                   charts={f"curves_{newest}": f"{newest} pools: forecast cum_rate ({chosen}; observed periods actual)"})
    backtest_context = {} if metrics is None else dict(
        ranking=html_table(ranking(metrics, rank_horizon), index=False),
        verdicts=verdicts(compared[compared["horizon"] == rank_horizon]),
        backtest_images=[embed(out / "backtest" / "backtest_error_by_horizon.png"),
                         embed(out / "backtest" / "backtest_pit.png"),
                         embed(out / "backtest" / "backtest_ae_index.png")])
    opening = dict(opening_fit=f"{len(config.models)} model(s) fitted on {len(dataset.deals)} pools as of "
                              f"{dataset.meta.as_of}; the forecasts below are {chosen}'s ({why}).",
                   opening_pools=pool_lines(new, dataset.meta.currency),
                   opening_backtest=backtest_line(compared, chosen, rank_horizon, dataset.meta.period_months))
    write_html(out / "report.html", **opening, name=config.name, data_name=dataset.meta.name, as_of=dataset.meta.as_of,
               n_deals=len(dataset.deals), version=version("npas"), overview=html_table(overview),
               overview_published=has_published(overview), currency=dataset.meta.currency,
               originators=html_table(by_originator(dataset)), curve_images=[embed(by_vintage), embed(by_orig)],
               new_vintage=newest, horizon=span(config.horizon, dataset.meta.period_months), model_name=chosen,
               model_choice=why,
               forecasts=html_table(new_pools_table(new.drop(columns="model"))),
               fan_interactive=fan_html(curves[curves["deal_id"].isin(new["deal_id"])], new,
                                        dataset.history.cutoff, dataset.meta.period_months,
                                        f"{newest} pools: {chosen} (hover for values; the button switches units)"),
               rank_horizon=span(rank_horizon, dataset.meta.period_months),
               summary=html_table(models[chosen].summary(), index=False),
               survival_images=survival_images, survival_tables=survival_tables, calendar_images=calendar_images,
               **backtest_context,
               **structure_context)
    return summary
