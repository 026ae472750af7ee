"""A dataset: its metadata, its tables parsed to the contract, and the recovery history they imply."""
from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from forecasting.data import validate as checks
from forecasting.data.history import RecoveryHistory
from forecasting.data.io import find_table, read_table, write_table
from forecasting.data.periods import observed_periods
from forecasting.data.problems import InputError, Problem
from forecasting.data.yamlfile import read_yaml
from forecasting.outputs import output_set

META_FILE = "dataset.yaml"
MAX_META_BYTES = 64 << 10


class DatasetMeta(BaseModel):
    """dataset.yaml. Extra keys are kept (the contract may be extended)."""

    model_config = ConfigDict(extra="allow")
    name: str
    as_of: dt.date
    period_months: Literal[1, 3, 12] = 1
    currency: str = "CNY"
    encoding: str = "utf-8"


TEXT_COLUMNS = {"deals": ("deal_id", "originator"), "collections": ("deal_id",), "loans": ("deal_id", "loan_id"),
                "loan_collections": ("deal_id", "loan_id"), "tranches": ("deal_id", "tranche")}
TABLE_STEMS = ("deals", "collections", "loans", "loan_collections", "tranches")


def _typed(table: pd.DataFrame | None, stem: str) -> pd.DataFrame | None:
    """The table with its key columns as the contract's types (ids as text, periods as integers)."""
    if table is None:
        return None
    fixes = {c: table[c].astype(str) for c in TEXT_COLUMNS[stem] if c in table and table[c].dtype != object}
    fixes.update({c: table[c].astype(str) for c in TEXT_COLUMNS[stem]
                  if c in table and table[c].dtype == object
                  and pd.api.types.infer_dtype(table[c], skipna=False) != "string"})
    if "period" in table and table["period"].dtype.kind != "i":
        fixes["period"] = table["period"].astype(np.int64)
    return table.assign(**fixes) if fixes else table


@dataclass(frozen=True)
class Dataset:
    """The domain object every estimator takes: deals, their recovery history, optional loan tape and the
    securities' tranches (the structure analysis).

    Ids are text and periods integers in every table, whatever the source gave (so no caller re-casts them)."""

    meta: DatasetMeta
    deals: pd.DataFrame
    collections: pd.DataFrame
    loans: pd.DataFrame | None = None
    loan_collections: pd.DataFrame | None = None
    tranches: pd.DataFrame | None = None

    def __post_init__(self):
        for stem in TABLE_STEMS:
            object.__setattr__(self, stem, _typed(getattr(self, stem), stem))

    @property
    def as_of(self) -> pd.Timestamp:
        return pd.Timestamp(self.meta.as_of)

    @cached_property
    def history(self) -> RecoveryHistory:
        return RecoveryHistory.from_tables(self.deals, self.collections, self.as_of, self.meta.period_months)

    @property
    def deal_ids(self) -> pd.Index:
        return pd.Index(self.deals["deal_id"])

    @property
    def has_loans(self) -> bool:
        return self.loans is not None and self.loan_collections is not None

    @property
    def agency_estimates(self) -> pd.Series | None:
        """est_gross_recovery by deal_id (NaN where a deal has none), or None when the column is absent."""
        if "est_gross_recovery" not in self.deals:
            return None
        return pd.Series(self.deals["est_gross_recovery"].to_numpy(float), index=self.deal_ids, name="est_gross_recovery")

    def subset(self, deal_ids) -> Dataset:
        """The dataset of these deals only (every table filtered)."""
        ids = set(map(str, deal_ids))
        part = lambda t: None if t is None else t[t["deal_id"].isin(ids)].reset_index(drop=True)  # noqa: E731
        return replace(self, deals=part(self.deals), collections=part(self.collections), loans=part(self.loans),
                       loan_collections=part(self.loan_collections), tranches=part(self.tranches))

    def without_history(self) -> Dataset:
        """The same deals as new pools: nothing collected yet (their loan tapes kept)."""
        lc = None if self.loan_collections is None else self.loan_collections.iloc[:0]
        return replace(self, collections=empty_collections(), loan_collections=lc)

    def truncate(self, as_of: dt.date | str | pd.Timestamp) -> Dataset:
        """What was known at ``as_of``: deals cut off by then, and the periods that had ended by then."""
        as_of = pd.Timestamp(as_of)
        deals = self.deals[self.deals["cutoff_date"] <= as_of].reset_index(drop=True)
        n_obs = pd.Series(observed_periods(deals["cutoff_date"], as_of, self.meta.period_months),
                          index=deals["deal_id"])

        def keep(table: pd.DataFrame | None) -> pd.DataFrame | None:
            if table is None:
                return None
            limit = table["deal_id"].map(n_obs)
            return table[limit.notna() & (table["period"] <= limit.fillna(0))].reset_index(drop=True)

        known = lambda t: None if t is None else t[t["deal_id"].isin(deals["deal_id"])].reset_index(drop=True)  # noqa: E731
        return replace(self, meta=self.meta.model_copy(update={"as_of": as_of.date()}), deals=deals,
                       collections=keep(self.collections), loans=known(self.loans),
                       loan_collections=keep(self.loan_collections), tranches=known(self.tranches))

    def write(self, directory: Path | str, fmt: str = "csv", extra: dict[str, pd.DataFrame] | None = None) -> Path:
        """Write the dataset's files into ``directory`` (created; for a staging directory of an output set).
        ``extra`` tables (e.g. the simulator's truth) are written beside the contract's tables as CSV."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = self.meta.model_dump(mode="json")
        (directory / META_FILE).write_text(yaml.safe_dump(meta, sort_keys=False, allow_unicode=True), encoding="utf-8")
        for stem in TABLE_STEMS:
            table = getattr(self, stem)
            if table is not None:
                write_table(table, directory / f"{stem}.{fmt}")
        for stem, table in (extra or {}).items():
            write_table(table, directory / f"{stem}.csv")
        return directory

    def save(self, directory: Path | str, fmt: str = "csv", extra: dict[str, pd.DataFrame] | None = None,
             force: bool = False) -> Path:
        """Write the dataset directory whole, or not at all, never over files npas did not write (outputs.py)."""
        with output_set(directory, "dataset", force=force) as staging:
            self.write(staging, fmt, extra)
        return Path(directory)


def _read_meta(directory: Path) -> tuple[DatasetMeta | None, list[Problem]]:
    path = directory / META_FILE
    if not path.is_file():
        return None, [Problem(META_FILE, None, None, "missing file (needs name, as_of, period_months, currency)")]
    try:
        raw = read_yaml(path, MAX_META_BYTES)
    except InputError as err:
        return None, err.problems
    if not isinstance(raw, dict):
        return None, [Problem(META_FILE, None, None, "must be a mapping of keys to values")]
    try:
        return DatasetMeta.model_validate(raw), []
    except ValidationError as exc:
        return None, [Problem(META_FILE, None, ".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()]


def check_dataset(directory: Path | str, require_collections: bool = True) -> tuple[Dataset | None, list[Problem]]:
    """Load and check a dataset directory; returns the dataset (None if unusable) and every problem found."""
    directory = Path(directory)
    if not directory.is_dir():
        return None, [Problem(str(directory), None, None, "dataset directory does not exist")]
    meta, problems = _read_meta(directory)
    encoding = meta.encoding if meta else "utf-8"
    tables: dict[str, pd.DataFrame | None] = {}
    files: dict[str, str] = {}
    for stem in TABLE_STEMS:
        path, found_problems = find_table(directory, stem)
        problems += found_problems
        files[stem] = path.name if path else f"{stem}.csv"
        if path is None:
            if stem == "deals" or (stem == "collections" and require_collections):
                problems.append(Problem(files[stem], None, None, "missing file (csv, parquet or xlsx)"))
            tables[stem] = None
            continue
        raw, read_problems = read_table(path, encoding)
        problems += read_problems
        if raw is None:
            tables[stem] = None
            continue
        typed, parse_problems = checks.parse(stem, raw, files[stem])
        problems += parse_problems
        tables[stem] = typed
    if (tables["loans"] is None) != (tables["loan_collections"] is None) and not any(
            p.file in (files["loans"], files["loan_collections"]) for p in problems):
        problems.append(Problem(files["loan_collections"] if tables["loans"] is not None else files["loans"], None, None,
                                "loans and loan_collections come together: give both or neither"))
    deals = tables["deals"]
    if deals is not None:
        problems += checks.check_deals(deals, files["deals"])
        if meta is not None and tables["collections"] is not None:
            problems += checks.check_collections(tables["collections"], deals, pd.Timestamp(meta.as_of),
                                                 meta.period_months, files["collections"])
        if tables["loans"] is not None:
            problems += checks.check_loans(tables["loans"], deals, files["loans"])
            if tables["loan_collections"] is not None and tables["collections"] is not None:
                problems += checks.check_loan_collections(tables["loan_collections"], tables["loans"],
                                                          tables["collections"], files["loan_collections"],
                                                          files["collections"])
        if tables["tranches"] is not None:
            problems += checks.check_tranches(tables["tranches"], deals, files["tranches"])
    if deals is not None and not problems:
        found = checks.implausible_deals(deals, files["deals"])
        if meta is not None and tables["collections"] is not None:
            found += checks.stale_collections(tables["collections"], deals, pd.Timestamp(meta.as_of),
                                              meta.period_months, files["collections"])
        for warning in found:
            warnings.warn(str(warning), UserWarning, stacklevel=2)
    if problems or meta is None or deals is None:
        return None, sorted(set(problems), key=lambda p: (p.file, p.row or 0, p.column or "", p.reason))
    collections = tables["collections"]
    if collections is None:
        collections = empty_collections()
    return _finish(meta, deals, collections, tables["loans"], tables["loan_collections"], tables["tranches"]), []


def empty_collections() -> pd.DataFrame:
    """A collections table with no rows: every pool is new."""
    return pd.DataFrame({"deal_id": pd.Series(dtype=object), "period": pd.Series(dtype=int),
                         "gross_collections": pd.Series(dtype=float)})


def complete_deals(deals: pd.DataFrame) -> pd.DataFrame:
    """A checked deals table with integer vintage and borrowers, and avg_balance filled from opb / n_borrowers."""
    deals = deals.copy()
    deals["vintage"] = deals["vintage"].astype(int)
    deals["n_borrowers"] = deals["n_borrowers"].astype(int)
    if "avg_balance" not in deals:
        deals["avg_balance"] = np.nan
    deals["avg_balance"] = deals["avg_balance"].fillna(deals["opb"] / deals["n_borrowers"])
    return deals


def _finish(meta: DatasetMeta, deals: pd.DataFrame, collections: pd.DataFrame, loans, loan_collections,
            tranches=None) -> Dataset:
    """Fill derived columns and fix dtypes of a checked dataset."""
    deals = complete_deals(deals)
    collections = collections.assign(period=collections["period"].astype(int))
    if loan_collections is not None:
        loan_collections = loan_collections.assign(period=loan_collections["period"].astype(int))
    if tranches is not None:
        tranches = tranches.assign(priority=tranches["priority"].astype(int)).sort_values(["deal_id", "priority"])
    return Dataset(meta, deals, collections.sort_values(["deal_id", "period"]).reset_index(drop=True), loans,
                   loan_collections, None if tranches is None else tranches.reset_index(drop=True))


def load_dataset(directory: Path | str, require_collections: bool = False) -> Dataset:
    """Load a dataset directory; raises :class:`InputError` listing every problem if it breaks the contract."""
    dataset, problems = check_dataset(directory, require_collections)
    if problems:
        raise InputError(problems)
    return dataset

