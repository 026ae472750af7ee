"""The ``npas`` command line. Bad input ends in one line per problem on stderr and exit code 2, never a traceback."""
from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Annotated, Callable

import pandas as pd
import typer

from forecasting.data.dataset import check_dataset
from forecasting.data.problems import InputError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="npas: forecast the recoveries of non-performing loan pools.")


def input_errors_exit_2(command: Callable) -> Callable:
    """Turn InputError into one stderr line per problem and exit code 2."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _one_line_warning
                return command(*args, **kwargs)
        except InputError as err:
            report(err.problems)
            raise typer.Exit(2)
    return wrapper


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    typer.echo(f"warning: {message}", err=True)


def report(problems, limit: int = 0) -> None:
    """Print problems to stderr, at most ``limit`` per (file, column, kind of reason) when limit > 0."""
    seen: dict[tuple, int] = {}
    hidden: dict[tuple, int] = {}
    for p in problems:
        key = (p.file, p.column, p.reason.split(",")[0].split(" got ")[0][:40])
        seen[key] = seen.get(key, 0) + 1
        if limit and seen[key] > limit:
            hidden[key] = hidden.get(key, 0) + 1
            continue
        typer.echo(str(p), err=True)
    for (file, column, reason), n in hidden.items():
        typer.echo(f"{file}:-:{column or '-'}: ... and {n} more like '{reason}'", err=True)


def _status(message: str):
    """A spinner on stderr while a long step runs (nothing is printed when stderr is not a terminal)."""
    from rich.console import Console
    return Console(stderr=True).status(message)


def _table(frame: pd.DataFrame, floatfmt: str = "{:,.3f}") -> str:
    return frame.to_string(float_format=lambda x: floatfmt.format(x))


@app.command()
def validate(
    dataset: Annotated[Path, typer.Argument(help="dataset directory (dataset.yaml, deals, collections, ...)")],
    max_per_check: Annotated[int, typer.Option(help="print at most this many problems of one kind (0 = all)")] = 50,
) -> None:
    """Check a dataset against the data contract; print every problem as file:row:column: reason."""
    ds, problems = check_dataset(dataset, require_collections=True)
    if problems:
        report(problems, max_per_check)
        typer.echo(f"{dataset}: {len(problems)} problem(s)", err=True)
        raise typer.Exit(2)
    loans = f", {len(ds.loans):,} loans" if ds.has_loans else ""
    typer.echo(f"{dataset}: valid ({len(ds.deals)} deals, {len(ds.collections):,} collection rows{loans}, "
               f"as of {ds.meta.as_of})")


@app.command()
@input_errors_exit_2
def simulate(
    out: Annotated[Path, typer.Option("--out", help="directory to write the dataset and truth.csv to")],
    seed: Annotated[int, typer.Option(help="random seed (the demo market is the default seed)")] = None,
    replicas: Annotated[int, typer.Option(help="copies of the 29-deal roster, each with fresh draws", min=1)] = 1,
    fmt: Annotated[str, typer.Option("--format", help="table format: csv or parquet")] = "csv",
    loans: Annotated[bool, typer.Option(help="write the loan-level tables too")] = True,
) -> None:
    """Write a synthetic market dataset (calibrated to the published market facts) plus truth.csv."""
    from dataclasses import replace

    from forecasting.simulation.market import DEFAULT_SEED, simulate_market

    if fmt not in ("csv", "parquet"):
        raise InputError(_option_problem("--format", f"must be csv or parquet, got {fmt!r}"))
    with _status(f"simulating {replicas * 29} deals"):
        market = simulate_market(DEFAULT_SEED if seed is None else seed, replicas=replicas)
    dataset = market.dataset if loans else replace(market.dataset, loans=None, loan_collections=None)
    with _status(f"writing {out}"):
        dataset.save(out, fmt=fmt, extra={"truth": market.truth})
    typer.echo(f"wrote {out}: {len(dataset.deals)} deals, {len(market.dataset.loans):,} loans, "
               f"{len(dataset.collections):,} collection rows, truth for {market.truth['period'].max()} periods")


def _option_problem(option: str, reason: str):
    from forecasting.data.problems import Problem
    return Problem("command line", None, option, reason)


@app.command()
@input_errors_exit_2
def fit(
    config: Annotated[Path, typer.Argument(help="YAML config (see configs/)")],
    out: Annotated[Path, typer.Option("--out", help="artifact directory (default models/<config name>/)")] = None,
) -> None:
    """Fit the models a config names and save them as an artifact directory."""
    from forecasting.artifacts import save_models
    from forecasting.config import load_config
    from forecasting.forecast.pipeline import config_dataset, fingerprint, fit_models

    cfg, base = load_config(config)
    with _status("loading data"):
        dataset = config_dataset(cfg, base)
    with _status(f"fitting {len(cfg.models)} model(s) on {len(dataset.deals)} deals"):
        models = fit_models(cfg, dataset)
    target = save_models(models, out or Path("models") / cfg.name, cfg.model_dump(mode="json"), fingerprint(dataset))
    for name, model in models.items():
        typer.echo(f"{name}: {type(model).__name__} fitted on {len(dataset.deals)} deals "
                   f"(converged={getattr(model, 'converged_', True)})")
    typer.echo(f"saved {target}")


@app.command()
@input_errors_exit_2
def forecast(
    model_dir: Annotated[Path, typer.Argument(help="artifact directory written by 'npas fit'")],
    data: Annotated[Path, typer.Option("--data", help="dataset directory, or one deals file (csv, xlsx, yaml)")],
    out: Annotated[Path, typer.Option("--out", help="directory for forecast_curves.csv, forecast_summary.csv, PNGs")],
    horizon: Annotated[int, typer.Option(help="periods to forecast (default: the config's)", min=1)] = None,
    model: Annotated[str, typer.Option(help="which model of the artifact (default: the first)")] = None,
) -> None:
    """Forecast every deal of a dataset: new pools from features, seasoned pools from features plus collections."""
    from forecasting.artifacts import load_models
    from forecasting.data.io import write_table
    from forecasting.forecast.pipeline import forecast_dataset, forecast_tables
    from forecasting.reporting.plots import fan_chart

    models, manifest = load_models(model_dir)
    name = model or next(iter(models))
    if name not in models:
        raise InputError(_option_problem("--model", f"{name!r} is not in the artifact ({', '.join(models)})"))
    dataset = forecast_dataset(data)
    cfg = manifest["config"]
    curves, summary = forecast_tables(models[name], dataset, horizon or cfg["horizon"], cfg["quantiles"])
    write_table(curves, out / "forecast_curves.csv")
    write_table(summary, out / "forecast_summary.csv")
    for vintage, deals in summary.groupby("vintage"):
        fan_chart(curves[curves["deal_id"].isin(deals["deal_id"])], deals, f"{name}: vintage {vintage}",
                  out / f"fan_vintage_{vintage}.png")
    typer.echo(_table(summary.set_index("deal_id").drop(columns=["opb"])))
    typer.echo(f"wrote {out}")


@app.command()
@input_errors_exit_2
def backtest(
    config: Annotated[Path, typer.Argument(help="YAML config with a backtest section")],
    out: Annotated[Path, typer.Option("--out", help="directory for predictions, metrics, plots and report.md")],
) -> None:
    """Backtest every model of a config and the baselines against realized deal performance."""
    from forecasting.backtest.report import middle_horizon, verdicts
    from forecasting.config import load_config
    from forecasting.forecast.pipeline import config_dataset

    cfg, base = load_config(config)
    table, compared = run_backtest_report(cfg, config_dataset(cfg, base), out)
    typer.echo(_table(table.set_index(["scheme", "model", "horizon"]), "{:.4f}"))
    for line in verdicts(compared[compared["horizon"] == middle_horizon(cfg.backtest.horizons)]):
        typer.echo(line)
    typer.echo(f"wrote {out}")


def run_backtest_report(cfg, dataset, out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the backtest with a progress bar and write its outputs."""
    from rich.progress import Progress

    from forecasting.backtest.report import write_report
    from forecasting.backtest.runner import run_backtest

    with Progress(transient=True) as bar:
        task = bar.add_task("backtest folds", total=None)
        predictions = run_backtest(cfg, dataset, progress=lambda done, total: bar.update(task, completed=done,
                                                                                            total=total))
    return write_report(predictions, dataset.deals, cfg.backtest.horizons, out)


@app.command()
@input_errors_exit_2
def demo(
    out: Annotated[Path, typer.Option("--out", help="report folder")] = Path("demo_out"),
) -> None:
    """The whole flow on the embedded demo market: validate, fit, backtest, forecast the 2025 pools, report."""
    import yaml
    from rich.console import Console
    from rich.progress import Progress

    from forecasting.config import Config
    from forecasting.reporting.market import beside_published, by_originator
    from forecasting.resources import resource_text
    from forecasting.simulation.demo import demo_market
    from forecasting.workflow import new_pools_table, run_report

    console = Console(stderr=True)
    with console.status("simulating the demo market"):
        market = demo_market()
        data_dir = market.dataset.save(out / "data", extra={"truth": market.truth})
        checked, problems = check_dataset(data_dir, require_collections=True)
    if problems:  # the simulator broke the contract: a bug, said loudly
        report(problems)
        typer.echo("demo market failed its own validation", err=True)
        raise typer.Exit(1)
    typer.echo(f"Demo market: {len(checked.deals)} deals, {len(checked.loans):,} loans, as of {checked.meta.as_of} "
               f"(validated, written to {data_dir})\n")
    typer.echo("By vintage, beside the published figures (亿元, 万元, months):")
    typer.echo(_table(beside_published(checked)) + "\n")
    typer.echo("Deals by originator and vintage:")
    typer.echo(by_originator(checked).to_string() + "\n")

    config = Config.model_validate(yaml.safe_load(resource_text("demo.yaml")))
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None)
        summary = run_report(config, checked, out, step=lambda what: bar.update(task, description=what),
                             progress=lambda done, total: bar.update(task, completed=done, total=total))
    new = summary[summary["vintage"] == summary["vintage"].max()]
    typer.echo(f"2025 pools: expected gross recovery at {config.horizon} months with P10-P90 "
               f"({new['model'].iloc[0]}, the config's model ranked best in the backtest; baselines are ranked in "
               f"the report), the forecast of realized cash (observed luck included), and the agency's estimate:")
    shown = new_pools_table(new.drop(columns="originator"))
    typer.echo(shown.to_string(float_format=lambda x: f"{x:.1%}"))
    typer.echo(f"\nreport: {out / 'report.html'}  workbook: {out / 'forecast.xlsx'}  backtest: {out / 'backtest'}")


if __name__ == "__main__":  # pragma: no cover - python -m forecasting.cli.main
    app()
