"""npas fit, npas forecast."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from forecasting.cli.app import FORCE, app, status, table_text
from forecasting.cli.errors import command, option_problem
from forecasting.config import MAX_HORIZON


@app.command()
@command
def fit(
    config: Annotated[Path, typer.Argument(help="YAML config (see configs/)")],
    out: Annotated[Path, typer.Option("--out", help="artifact directory (default models/<config name>/)")] = None,
    force: FORCE = False,
) -> None:
    """Fit the models a config names and save them as an artifact directory."""
    from forecasting.artifacts import save_models
    from forecasting.config import load_config
    from forecasting.forecast.pipeline import config_dataset, fingerprint, fit_models
    from forecasting.outputs import check_target, output_set

    cfg, base = load_config(config)
    target = out if out is not None else Path("models") / cfg.name
    data = cfg.data_path(base)
    protect = (Path(config),) + ((data,) if data else ())
    check_target(target, "model", force, protect)
    with status("loading data"):
        dataset = config_dataset(cfg, base)
    with status(f"fitting {len(cfg.models)} model(s) on {len(dataset.deals)} deals"):
        models = fit_models(cfg, dataset)
    with output_set(target, "model", force, protect) as staging:
        save_models(models, staging, cfg.model_dump(mode="json"), fingerprint(dataset), cfg.forecast_model)
    for name, model in models.items():
        d = model.diagnostics_
        typer.echo(f"{name}: {type(model).__name__} fitted on {len(dataset.deals)} deals (converged={d.converged}"
                   + (f", {d.iterations} iterations" if d.iterations else "") + ")")
    typer.echo(f"saved {target}")


def artifact_model(model_dir: Path, requested: str | None):
    """(the model, its name, why it is the one, the manifest) of an artifact: ``--model`` if given, else the
    artifact's chosen model, else its first; an unknown name is one line naming --model (exit 2)."""
    from forecasting.artifacts import load_models
    models, manifest = load_models(model_dir)
    name = requested or manifest.chosen_model or next(iter(models))
    why = "chosen with --model" if requested else ("the artifact's chosen model" if manifest.chosen_model else
                                                   "the artifact's first model; --model picks another")
    if name not in models:
        raise option_problem("--model", f"{name!r} is not in the artifact ({', '.join(models)})")
    return models[name], name, why, manifest


@app.command()
@command
def forecast(
    model_dir: Annotated[Path, typer.Argument(help="artifact directory written by 'npas fit'")],
    data: Annotated[Path, typer.Option("--data", help="dataset directory, or one deals file (csv, xlsx, yaml)")],
    out: Annotated[Path, typer.Option("--out", help="directory for forecast_curves.csv, forecast_summary.csv, PNGs")],
    horizon: Annotated[int, typer.Option(help="periods to forecast (default: the config's)", min=1,
                                         max=MAX_HORIZON)] = None,
    model: Annotated[str, typer.Option(help="which model of the artifact (default: the artifact's chosen model, "
                                            "else its first)")] = None,
    paths: Annotated[int, typer.Option("--paths", help="write forecast_paths.parquet with this many joint paths "
                                                       "per deal (the quantiles then come from them too)",
                                       min=1, max=100_000)] = None,
    shock: Annotated[str, typer.Option("--shock", help="START:END:FACTOR: future collections of the periods "
                                                       "ending in that window times FACTOR, e.g. "
                                                       "2026-01:2026-06:70%")] = None,
    force: FORCE = False,
) -> None:
    """Forecast every deal of a dataset: new pools from features, seasoned pools from features plus collections."""
    from forecasting.data.io import write_table
    from forecasting.forecast.paths import PathsWriter, PortfolioTotals
    from forecasting.forecast.pipeline import forecast_dataset, forecast_tables
    from forecasting.forecast.scenarios import BASE, Scenario, Shock
    from forecasting.outputs import check_target, output_set
    from forecasting.reporting.plots import fan_chart

    protect = (Path(model_dir), Path(data))
    check_target(out, "forecast", force, protect)
    estimator, name, why, manifest = artifact_model(model_dir, model)
    scenario = BASE if shock is None else Scenario(name="shock", shock=Shock.parse(shock))
    dataset = forecast_dataset(data, estimator.period_months_)
    cfg = manifest.config
    totals = PortfolioTotals()
    with output_set(out, "forecast", force, protect) as staging:
        writer = PathsWriter(staging / "forecast_paths.parquet") if paths else None
        with status(f"forecasting {len(dataset.deals)} pool(s) with {name}"):
            try:
                curves, summary = forecast_tables(estimator, dataset, horizon or cfg["horizon"], cfg["quantiles"],
                                                  cfg.get("seed", 0), n_draws=paths or 1000, scenario=scenario,
                                                  sinks=(totals,) + ((writer,) if writer else ()))
            finally:
                if writer:
                    writer.close()
        summary = summary.assign(model=name)
        write_table(curves, staging / "forecast_curves.csv")
        write_table(summary, staging / "forecast_summary.csv")
        write_table(totals.table(cfg["quantiles"]).assign(model=name), staging / "portfolio_summary.csv")
        for vintage, deals in summary.groupby("vintage"):
            fan_chart(curves[curves["deal_id"].isin(deals["deal_id"])], deals, f"{name}: vintage {vintage}",
                      staging / f"fan_vintage_{vintage}.png")
    typer.echo(f"model: {name} ({why})" + ("" if shock is None else f"; scenario: shock {shock}"))
    typer.echo(table_text(summary.set_index("deal_id").drop(columns=["opb", "model"])))
    typer.echo(f"wrote {out}")
