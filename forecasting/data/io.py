"""Reading and writing the tables of a dataset directory: CSV, Parquet or Excel, found by stem.

Files are read as text first so that every malformed cell can be reported by row and column rather than breaking
the parser; types are parsed in :mod:`forecasting.data.validate`.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.data.problems import Problem
from forecasting.data.schema import normalise_header

SUFFIXES = (".csv", ".parquet", ".xlsx")
UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff")


def find_table(directory: Path, stem: str) -> tuple[Path | None, list[Problem]]:
    """The one file holding table ``stem`` in ``directory``, or None; two candidates is an error."""
    found = [directory / f"{stem}{suffix}" for suffix in SUFFIXES if (directory / f"{stem}{suffix}").is_file()]
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        return None, [Problem(found[0].name, None, None, f"table '{stem}' is given twice ({names}); keep one")]
    return (found[0] if found else None), []


def read_table(path: Path, encoding: str = "utf-8") -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read one table as strings (CSV, Excel) or native types (Parquet); headers normalised to contract names."""
    name = path.name
    try:
        if path.suffix == ".csv":
            frame, problems = _read_csv(path, encoding)
        elif path.suffix == ".parquet":
            frame, problems = pd.read_parquet(path), []
        else:
            frame, problems = _read_excel(path), []
    except Exception as exc:  # any parser failure is the user's file, not our bug: report it on one line
        return None, [Problem(name, None, None, f"cannot be read as {path.suffix[1:]}: {_short(exc)}")]
    if frame is None:
        return None, problems
    frame.columns = [normalise_header(c) for c in frame.columns]
    duplicated = frame.columns[frame.columns.duplicated()].unique()
    problems += [Problem(name, 1, c, "column given twice (after mapping aliases)") for c in duplicated]
    if len(duplicated):
        return None, problems
    frame.index = pd.RangeIndex(len(frame))  # attrs (the file lines) are kept
    return frame, problems


class FileLines:
    """The file line each row of a table starts on, kept in ``frame.attrs``. Immutable, so pandas' deep copy of
    attrs on every operation is free (a list was copied element by element), and compared as one value (pandas
    compares attrs when it concatenates; an array would be ambiguous)."""

    def __init__(self, lines):
        self.array = np.asarray(lines, dtype=np.int64)
        self.array.setflags(write=False)

    def __len__(self) -> int:
        return len(self.array)

    def __deepcopy__(self, memo) -> FileLines:
        return self

    def __eq__(self, other) -> bool:
        return isinstance(other, FileLines) and np.array_equal(self.array, other.array)

    __hash__ = None


def _read_csv(path: Path, encoding: str) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Records as text with the file line each starts on (``frame.attrs['lines']``): blank lines and quoted
    newlines do not shift a reported row. A record with more or fewer fields than the header is an error (a file cut
    mid-row loses its trailing fields otherwise), as are NUL bytes anywhere."""
    raw = path.read_bytes()
    name = path.name
    if raw.startswith(UTF16_32_BOMS):
        return None, [Problem(name, None, None, "is UTF-16/UTF-32 (byte-order mark found); save it as 'CSV UTF-8'")]
    if b"\x00" in raw:
        at = raw.index(b"\x00")
        return None, [Problem(name, None, None, f"is binary, not a text CSV file (NUL byte at offset {at:,})")]
    try:
        text = raw.decode("utf-8-sig" if encoding.lower().replace("-", "") == "utf8" else encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Problem(name, line, None, f"is not valid {encoding} (byte {exc.start}); save it as 'CSV UTF-8' "
                                                f"or set 'encoding: gb18030' in dataset.yaml")]
    if not text.strip():
        return None, [Problem(name, None, None, "is empty (no header row)")]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header, rows, lines, problems = None, [], [], []
    start = 1
    try:
        for record in reader:
            if not record or all(not cell.strip() for cell in record) and len(record) <= 1:
                start = reader.line_num + 1
                continue
            if header is None:
                header = [cell.strip() for cell in record]
            elif len(record) != len(header):
                problems.append(Problem(name, start, None, f"row has {len(record)} field(s), the header has "
                                                           f"{len(header)} (a cut or malformed row)"))
            else:
                rows.append(record)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        problems.append(Problem(name, reader.line_num, None, f"is not valid CSV: {exc}"))
    if header is None or problems:
        return None, problems or [Problem(name, None, None, "is empty (no header row)")]
    frame = pd.DataFrame(rows, columns=header, dtype=object) if rows else pd.DataFrame(columns=header, dtype=object)
    frame = frame.apply(lambda c: c.str.strip()).replace("", None) if len(frame) else frame
    frame.attrs["lines"] = FileLines(lines)
    return frame, []


def _read_excel(path: Path) -> pd.DataFrame:
    """The first sheet as text, its first row the header as written (pandas would rename a repeated header)."""
    sheet = pd.read_excel(path, header=None, dtype=str, keep_default_na=False, na_values=[""], engine="openpyxl")
    if sheet.empty:
        return pd.DataFrame()
    frame = sheet.iloc[1:].reset_index(drop=True)
    frame.columns = ["" if pd.isna(c) else str(c).strip() for c in sheet.iloc[0]]
    frame = frame.dropna(how="all")
    frame.attrs["lines"] = FileLines(frame.index.to_numpy(dtype=np.int64) + 2)
    return frame.reset_index(drop=True).apply(lambda c: c.str.strip() if c.dtype == object else c)


def _short(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula (=, +, -, @ first) get a leading apostrophe, which
    Excel and LibreOffice show as text; numbers are left as they are."""
    fixes = {}
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            text = values.where(values.isna(), values.astype(str))
            risky = text.str.startswith(FORMULA_START, na=False)
            if risky.any():
                fixes[column] = text.where(~risky, "'" + text)
    return frame.assign(**fixes) if fixes else frame


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write a table in the format its suffix names (into an output set's staging directory: outputs.py).
    CSV and Excel cells that a spreadsheet would run as formulas are neutralised."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix == ".xlsx":
        neutralise_formulas(frame).to_excel(path, index=False, engine="openpyxl")
    else:
        neutralise_formulas(frame).to_csv(path, index=False, date_format="%Y-%m-%d")
