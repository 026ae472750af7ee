"""The ``npas`` command line (console script). Bad input ends in one line per problem on stderr and exit code 2,
never a traceback (cli/errors.py); every command writes its outputs as one set (forecasting/outputs.py)."""
from __future__ import annotations

from forecasting.cli import (  # noqa: F401 - they add the commands
    data_commands,
    model_commands,
    report_commands,
    structure_commands,
)
from forecasting.cli.app import app

__all__ = ["app"]

if __name__ == "__main__":  # pragma: no cover - python -m forecasting.cli.main
    app()
