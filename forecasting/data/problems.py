"""Problems found in user input, and the one exception that carries them to the CLI.

Every check in the project reports through :class:`Problem` so that the CLI can print one line per problem as
``file:row:column: reason`` and exit with code 2, never a traceback.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an input. ``row`` is the line number in the file (header = line 1); None = whole file."""

    file: str
    row: int | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        row = "-" if self.row is None else str(self.row)
        return f"{self.file}:{row}:{self.column or '-'}: {self.reason}"


class InputError(Exception):
    """Bad user input (data, config, artifact). Carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem] | Problem):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self):  # pickle with its problems, so an error raised in a joblib worker arrives intact
        return type(self), (self.problems,)

    def in_model(self, name: str, where: str = "") -> InputError:
        """The same problems, a config key located in the model whose fit found it (``name.key``; a config lists
        several models, and a key such as ``agency_prior`` alone does not say which one), its reason led by
        ``where`` when given (a backtest's fold)."""
        lead = f"{where}: " if where else ""
        return InputError([Problem(p.file, p.row, f"{name}.{p.column}", lead + p.reason)
                           if p.file == "config" and p.column else p for p in self.problems])
