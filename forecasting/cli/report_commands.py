"""npas backtest, npas report, npas demo."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from forecasting.cli.app import FORCE, app, table_text
from forecasting.cli.errors import command, report
from forecasting.data.periods import span


def _progress_backtest(cfg, dataset):
    """The backtest with a progress bar on stderr."""
    from rich.progress import Progress

    from forecasting.backtest.runner import run_backtest
    with Progress(transient=True) as bar:
        task = bar.add_task("backtest folds", total=None)
        return run_backtest(cfg, dataset, progress=lambda done, total: bar.update(task, completed=done, total=total))


@app.command()
@command
def backtest(
    config: Annotated[Path, typer.Argument(help="YAML config with a backtest section")],
    out: Annotated[Path, typer.Option("--out", help="directory for predictions, metrics, plots and report.md")],
    force: FORCE = False,
) -> None:
    """Backtest every model of a config and the baselines against realized deal performance."""
    from forecasting.backtest.report import middle_horizon, verdicts, write_report
    from forecasting.config import load_config
    from forecasting.forecast.pipeline import config_dataset
    from forecasting.outputs import check_target, output_set

    cfg, base = load_config(config)
    protect = (Path(config),) + ((cfg.data_path(base),) if cfg.data_path(base) else ())
    check_target(out, "backtest", force, protect)
    dataset = config_dataset(cfg, base)
    predictions = _progress_backtest(cfg, dataset)
    with output_set(out, "backtest", force, protect) as staging:
        table, compared = write_report(predictions, dataset.deals, cfg.backtest.horizons, staging,
                                       dataset.meta.period_months)
    typer.echo(table_text(table.set_index(["scheme", "model", "horizon"]), "{:.4f}"))
    for line in verdicts(compared[compared["horizon"] == middle_horizon(cfg.backtest.horizons)]):
        typer.echo(line)
    typer.echo(f"wrote {out}")


def _run_report(cfg, dataset, staging: Path, models=None, backtest: bool = True) -> pd.DataFrame:
    from rich.console import Console
    from rich.progress import Progress

    from forecasting.workflow import run_report
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("starting", total=None)
        return run_report(cfg, dataset, staging, step=lambda what: bar.update(task, description=what),
                          progress=lambda done, total: bar.update(task, completed=done, total=total), models=models,
                          backtest=backtest)


def _print_new_pools(summary: pd.DataFrame, horizon: str) -> None:
    from forecasting.workflow import new_pools_table
    new = summary[summary["vintage"] == summary["vintage"].max()]
    typer.echo(f"{int(new['vintage'].iloc[0])} pools: expected gross recovery at {horizon} with P10-P90 "
               f"(model {new['model'].iloc[0]}), the forecast of realized cash (observed luck included), and the "
               f"agency's estimate:")
    typer.echo(new_pools_table(new.drop(columns=["originator", "model"])).to_string(float_format=lambda x: f"{x:.1%}"))


def _print_structure(out: Path, summary: pd.DataFrame) -> None:
    """The newest pools' senior tranches from the report's structure analysis, when the data had tranches."""
    from forecasting.structure.report import senior_lines
    path = out / "structure" / "tranche_summary.csv"
    if path.exists():
        new = summary.loc[summary["vintage"] == summary["vintage"].max(), "deal_id"]
        typer.echo("\nSenior tranches of the newest pools (base scenario; docs/structure.md):")
        for line in senior_lines({"tranche_summary": pd.read_csv(path)}, list(new)):
            typer.echo(f"  {line}")


@app.command("report")
@command
def report_command(
    config: Annotated[Path, typer.Argument(help="YAML config (its data, models and backtest section)")],
    out: Annotated[Path, typer.Option("--out", help="report folder")],
    model: Annotated[Path, typer.Option("--model", help="reuse the models of this artifact instead of fitting")] = None,
    force: FORCE = False,
) -> None:
    """The whole flow on a config's data: validate, fit (or reuse an artifact), backtest, forecast, report."""
    from forecasting.artifacts import load_models
    from forecasting.config import load_config
    from forecasting.forecast.pipeline import config_dataset
    from forecasting.outputs import check_target, output_set

    cfg, base = load_config(config)
    protect = (Path(config),) + ((cfg.data_path(base),) if cfg.data_path(base) else ()) + ((model,) if model else ())
    check_target(out, "report", force, protect)
    dataset = config_dataset(cfg, base)
    models = load_models(model)[0] if model else None
    with output_set(out, "report", force, protect) as staging:
        summary = _run_report(cfg, dataset, staging, models, backtest="backtest" in cfg.model_fields_set)
    _print_new_pools(summary, span(cfg.horizon, dataset.meta.period_months))
    _print_structure(out, summary)
    typer.echo(f"\nreport: {out / 'report.html'}  workbook: {out / 'forecast.xlsx'}")


@app.command()
@command
def demo(
    out: Annotated[Path, typer.Option("--out", help="report folder")] = Path("demo_out"),
    force: FORCE = False,
) -> None:
    """npas report on the embedded demo market: validate, fit, backtest, forecast the 2025 pools, report."""
    from rich.console import Console

    from forecasting.config import validate_config
    from forecasting.data.dataset import check_dataset
    from forecasting.data.yamlfile import parse_yaml
    from forecasting.outputs import check_target, output_set
    from forecasting.reporting.market import beside_published, by_originator
    from forecasting.resources import resource_text
    from forecasting.simulation.demo import demo_market

    check_target(out, "report", force)
    cfg = validate_config(parse_yaml(resource_text("demo.yaml"), "demo.yaml"), "demo.yaml")
    with output_set(out, "report", force) as staging:
        with Console(stderr=True).status("simulating the demo market"):
            market = demo_market()
            market.dataset.write(staging / "data", extra={"truth": market.truth})
            checked, problems = check_dataset(staging / "data", require_collections=True)
        if problems:  # the simulator broke the contract: a bug, said loudly
            report(problems)
            typer.echo("demo market failed its own validation", err=True)
            raise typer.Exit(1)
        typer.echo(f"Demo market: {len(checked.deals)} deals, {len(checked.loans):,} loans, as of "
                   f"{checked.meta.as_of} (validated, written to {out / 'data'})\n")
        typer.echo("By vintage, beside the published figures (亿元, 万元, months):")
        typer.echo(table_text(beside_published(checked)) + "\n")
        typer.echo("Deals by originator and vintage:")
        typer.echo(by_originator(checked).to_string() + "\n")
        # the report runs on the market as npas report / backtest on configs/demo.yaml see it (the same figures);
        # the copy written and validated above holds the same values to the cent
        summary = _run_report(cfg, market.dataset, staging)
    _print_new_pools(summary, span(cfg.horizon, market.dataset.meta.period_months))
    _print_structure(out, summary)
    typer.echo(f"\nreport: {out / 'report.html'}  workbook: {out / 'forecast.xlsx'}  backtest: {out / 'backtest'}")
