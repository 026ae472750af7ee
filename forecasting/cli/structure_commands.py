"""npas structure: from a fitted model's recovery paths to the tranches."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from forecasting.cli.app import FORCE, app, status
from forecasting.cli.errors import command
from forecasting.cli.model_commands import artifact_model


@app.command()
@command
def structure(
    model_dir: Annotated[Path, typer.Argument(help="artifact directory written by 'npas fit'")],
    data: Annotated[Path, typer.Option("--data", help="dataset directory with a tranches table")],
    out: Annotated[Path, typer.Option("--out", help="directory for the structure CSVs, structure.xlsx and charts")],
    scenarios: Annotated[Path, typer.Option("--scenarios", help="YAML file of stress scenarios (docs/config.md)")] = None,
    paths: Annotated[int, typer.Option("--paths", help="joint paths per deal", min=10, max=100_000)] = 1000,
    model: Annotated[str, typer.Option(help="which model of the artifact (default: its chosen model)")] = None,
    price: Annotated[float, typer.Option(help="price of the residual tranche as a share of its balance (IRR)",
                                         min=0.01, max=10.0)] = 1.0,
    force: FORCE = False,
) -> None:
    """Dated cash flows, the tranche waterfall on every path, senior repayment, break-even and stress scenarios."""
    from forecasting.data.dataset import load_dataset
    from forecasting.forecast.scenarios import BASE, load_scenarios
    from forecasting.outputs import check_target, output_set
    from forecasting.structure.flow import structure as run_structure
    from forecasting.structure.report import senior_lines, write_structure

    protect = (Path(model_dir), Path(data)) + ((Path(scenarios),) if scenarios else ())
    check_target(out, "structure", force, protect)
    estimator, name, _, manifest = artifact_model(model_dir, model)
    chosen = load_scenarios(scenarios) if scenarios else [BASE]
    dataset = load_dataset(data)
    with status(f"running {len(chosen)} scenario(s) x {paths} paths through the waterfall with {name}"):
        tables = run_structure(estimator, dataset, chosen, paths, manifest.config.get("seed", 0), price,
                               n_jobs=manifest.config.get("parallel", {}).get("n_jobs", 1))
    latest = dataset.deals["vintage"].max()
    new_deals = list(dataset.deals.loc[dataset.deals["vintage"] == latest, "deal_id"])
    with output_set(out, "structure", force, protect) as staging:
        write_structure(tables, staging, name, new_deals)
    typer.echo(f"model: {name}; scenarios: {', '.join(s.name for s in chosen)}")
    for line in senior_lines(tables, new_deals):
        typer.echo(line)
    typer.echo(f"wrote {out}")
