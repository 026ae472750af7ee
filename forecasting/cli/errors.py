"""The one error path of every command.

What a user can cause ends in one line per problem on stderr and exit code 2: bad data, config or artifact
(InputError), and the file system (permissions, a read-only or full disk, a path of the wrong kind: OSError), or a
request too large for memory. Anything else is our bug: one line on stderr naming a file that holds the traceback,
and exit code 1. Warnings print as one line each, once.
"""
from __future__ import annotations

import datetime as dt
import errno
import functools
import os
import re
import tempfile
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

import typer

from forecasting.data.problems import InputError, Problem
from forecasting.forecast.checks import ForecastError

_VALUES = re.compile(r"'[^']*'|\"[^\"]*\"|-?\d[\d,._:/-]*")


def kind_of(problem: Problem) -> tuple:
    """What a problem is, whatever its values: its file, column and reason with quoted values and numbers blanked."""
    return problem.file, problem.column, _VALUES.sub("#", problem.reason)[:60]


def report(problems: list[Problem], limit: int = 0) -> None:
    """Print problems to stderr, at most ``limit`` of each kind when limit > 0, then how many more of each."""
    seen: dict[tuple, int] = {}
    for p in problems:
        key = kind_of(p)
        seen[key] = seen.get(key, 0) + 1
        if not limit or seen[key] <= limit:
            typer.echo(str(p), err=True)
    for (file, column, reason), n in seen.items():
        if limit and n > limit:
            typer.echo(f"{file}:-:{column or '-'}: ... and {n - limit} more like '{reason}'", err=True)


def os_problem(exc: OSError) -> Problem:
    """An OSError as the user sees it: the file, and what the system said."""
    where = exc.filename or "-"
    reason = {errno.ENOSPC: "no space left on the device", errno.EROFS: "the file system is read-only",
              errno.EACCES: "permission denied", errno.EPERM: "operation not permitted (immutable or protected)",
              errno.ENOTDIR: "a path component is not a directory", errno.EISDIR: "is a directory, not a file",
              errno.ENAMETOOLONG: "the name is too long", errno.EDQUOT: "disk quota exceeded"}.get(
        exc.errno, exc.strerror or type(exc).__name__)
    return Problem(str(where), None, None, reason)


def _log_traceback() -> Path | None:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(tempfile.gettempdir()) / f"npas-error-{stamp}-{os.getpid()}.log"
    try:
        path.write_text(traceback.format_exc(), encoding="utf-8")
        return path
    except OSError:
        return None


class _OneLineWarnings:
    def __init__(self):
        self.shown: set[str] = set()

    def __call__(self, message, category, filename, lineno, file=None, line=None) -> None:
        text = str(message)
        if text not in self.shown:
            self.shown.add(text)
            typer.echo(f"warning: {text}", err=True)


def command(fn: Callable) -> Callable:
    """Wrap a command in the error path (module docstring)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default")
                warnings.showwarning = _OneLineWarnings()
                return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except InputError as err:
            report(err.problems, kwargs.get("max_per_check", 0) or 0)
            raise typer.Exit(2) from None
        except MemoryError:
            typer.echo("npas: not enough memory for this request; forecast fewer pools, periods or paths at once",
                       err=True)
            raise typer.Exit(2) from None
        except OSError as exc:
            typer.echo(str(os_problem(exc)), err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.echo("npas: interrupted; nothing was written", err=True)
            raise typer.Exit(130) from None
        except ForecastError as err:
            log = _log_traceback()
            typer.echo(f"npas: internal error, a forecast failed its final check: {err}"
                       + (f" (details: {log})" if log else ""), err=True)
            raise typer.Exit(1) from None
        except Exception as err:  # our bug: one line, and the traceback in a file for the report
            log = _log_traceback()
            typer.echo(f"npas: internal error ({type(err).__name__}: {str(err)[:200]})"
                       + (f"; the traceback is in {log}, please report it" if log else ""), err=True)
            raise typer.Exit(1) from None
    return wrapper


def option_problem(option: str, reason: str) -> InputError:
    return InputError(Problem("command line", None, option, reason))
