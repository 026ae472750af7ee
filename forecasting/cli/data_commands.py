"""npas validate, npas simulate."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from forecasting.cli.app import FORCE, app, status
from forecasting.cli.errors import command, option_problem, report
from forecasting.data.dataset import check_dataset


@app.command()
@command
def validate(
    dataset: Annotated[Path, typer.Argument(help="dataset directory (dataset.yaml, deals, collections, ...)")],
    max_per_check: Annotated[int, typer.Option(min=0, help="print at most this many problems of one kind "
                                                           "(0 = all)")] = 50,
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
@command
def simulate(
    out: Annotated[Path, typer.Option("--out", help="directory to write the dataset and truth.csv to")],
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="random seed (default: the demo market's)")] = None,
    replicas: Annotated[int, typer.Option(help="copies of the 29-deal roster, each with fresh draws", min=1,
                                          max=1000)] = 1,
    fmt: Annotated[str, typer.Option("--format", help="table format: csv or parquet")] = "csv",
    loans: Annotated[bool, typer.Option(help="write the loan-level tables too")] = True,
    force: FORCE = False,
) -> None:
    """Write a synthetic market dataset (calibrated to the published market facts) plus truth.csv."""
    from dataclasses import replace

    from forecasting.outputs import check_target, output_set
    from forecasting.simulation.market import DEFAULT_SEED, simulate_market

    if fmt not in ("csv", "parquet"):
        raise option_problem("--format", f"must be csv or parquet, got {fmt!r}")
    check_target(out, "dataset", force)
    with status(f"simulating {replicas * 29} deals"):
        market = simulate_market(DEFAULT_SEED if seed is None else seed, replicas=replicas)
    dataset = market.dataset if loans else replace(market.dataset, loans=None, loan_collections=None)
    with status(f"writing {out}"), output_set(out, "dataset", force) as staging:
        dataset.write(staging, fmt=fmt, extra={"truth": market.truth})
    typer.echo(f"wrote {out}: {len(dataset.deals)} deals, {len(market.dataset.loans):,} loans, "
               f"{len(dataset.collections):,} collection rows, truth for {market.truth['period'].max()} periods")
