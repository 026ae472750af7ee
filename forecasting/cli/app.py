"""The ``npas`` Typer application that every command module adds to."""
from __future__ import annotations

from importlib.metadata import version
from typing import Annotated

import pandas as pd
import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="npas: forecast the recoveries of non-performing loan pools.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"npas {version('npas')}")
        raise typer.Exit()


@app.callback()
def main(_: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                         help="print the version and exit")] = False) -> None:
    """npas: forecast the recoveries of non-performing loan pools."""


def status(message: str):
    """A spinner on stderr while a long step runs (nothing is printed when stderr is not a terminal)."""
    from rich.console import Console
    return Console(stderr=True).status(message)


def table_text(frame: pd.DataFrame, floatfmt: str = "{:,.3f}") -> str:
    """A table for the terminal: whole-number columns (counts) without decimals, other floats with ``floatfmt``."""
    shown = frame.copy()
    for column in shown.columns:
        values = shown[column]
        if pd.api.types.is_float_dtype(values) and values.notna().any() and (values.dropna() % 1 == 0).all():
            shown[column] = values.map(lambda v: "" if pd.isna(v) else f"{v:,.0f}")
    return shown.to_string(float_format=lambda x: floatfmt.format(x))


FORCE = Annotated[bool, typer.Option("--force", help="replace a previous npas output of another kind (never a "
                                                     "directory holding files npas did not write)")]
