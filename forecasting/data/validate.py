"""Checks of a dataset against the contract: types and per-cell rules through pandera, cross-row and cross-table
rules as vectorised pandas. Every problem is collected; nothing stops at the first."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pandera.pandas as pa

from forecasting.data import cells
from forecasting.data.periods import observed_periods, period_end
from forecasting.data.problems import Problem
from forecasting.data.schema import MAX_PERIOD, TABLES, pandera_schema

HEADER_LINES = 1  # file line of data row 0 is index + 1 + HEADER_LINES

_CHECK_WORDS = [
    (re.compile(r"greater_than\((.+)\)"), r"must be > \1"),
    (re.compile(r"greater_than_or_equal_to\((.+)\)"), r"must be >= \1"),
    (re.compile(r"in_range\((.+), (.+)\)"), r"must be between \1 and \2"),
    (re.compile(r"field_uniqueness"), "duplicate value (must be unique)"),
]


def line(index) -> np.ndarray | int:
    """File line number of a 0-based data row when the file's own lines are not known (the header is line 1)."""
    return np.asarray(index) + 1 + HEADER_LINES if not np.isscalar(index) else int(index) + 1 + HEADER_LINES


def liner(frame: pd.DataFrame):
    """Row index -> file line for this table: the lines the reader recorded (blank lines and quoted newlines
    counted), else index + 2."""
    lines = frame.attrs.get("lines")
    if lines is None or len(lines) != len(frame):
        return line
    lines = lines.array
    return lambda index: lines[np.asarray(index, dtype=int)] if not np.isscalar(index) else int(lines[int(index)])


def _words(check: str) -> str:
    for pattern, words in _CHECK_WORDS:
        if pattern.fullmatch(check):
            return pattern.sub(words, check)
    return check


def parse(table: str, frame: pd.DataFrame, file: str) -> tuple[pd.DataFrame, list[Problem]]:
    """Parse a raw table to the contract's types and run its per-cell rules. Extra columns are kept as they are."""
    problems: list[Problem] = []
    if frame.empty:
        problems.append(Problem(file, None, None, "table is empty (no data rows)"))
    typed = frame.copy()
    at = liner(frame)
    for spec in TABLES[table]:
        if spec.name not in frame.columns:
            if spec.required:
                problems.append(Problem(file, 1, spec.name, "required column is missing"))
            continue
        raw = frame[spec.name]
        if spec.kind == "text":
            value, reasons = cells.parse_text(raw)
        elif spec.kind == "date":
            value, reasons = cells.parse_date(raw)
        else:
            value, reasons = cells.parse_number(raw, percent_ok=spec.kind == "rate")
        bad = reasons.notna().to_numpy()
        problems += [Problem(file, at(i), spec.name, reasons.iat[i]) for i in np.flatnonzero(bad)]
        if spec.required:
            missing = np.flatnonzero(raw.isna().to_numpy())
            problems += [Problem(file, at(i), spec.name, "required value is missing") for i in missing]
        if spec.kind == "text":
            blank = np.flatnonzero((value.notna() & (value.astype(str).str.len() == 0)).to_numpy())
            problems += [Problem(file, at(i), spec.name, "must not be blank") for i in blank]
        typed[spec.name] = value
    try:
        pandera_schema(table).validate(typed, lazy=True)
    except pa.errors.SchemaErrors as err:
        for case in err.failure_cases.itertuples(index=False):
            if case.index is None or pd.isna(case.index):
                continue  # table-level failures (missing columns) are reported above
            problems.append(Problem(file, at(int(case.index)), case.column,
                                    f"{_words(str(case.check))}, got {case.failure_case}"))
    return typed, problems


def check_deals(deals: pd.DataFrame, file: str) -> list[Problem]:
    """avg_balance, when given, must agree with opb / n_borrowers within 1%; legal_maturity after closing."""
    at = liner(deals)
    problems = []
    if "legal_maturity" in deals:
        closing = deals["closing_date"] if "closing_date" in deals else deals.get("cutoff_date")
        if closing is not None:
            early = (deals["legal_maturity"].notna() & (deals["legal_maturity"] <= closing)).to_numpy()
            problems += [Problem(file, at(i), "legal_maturity", f"{deals['legal_maturity'].iat[i]:%Y-%m-%d} is not after "
                                                                 f"the closing date {closing.iat[i]:%Y-%m-%d}")
                         for i in np.flatnonzero(early)]
    if "avg_balance" not in deals or not {"opb", "n_borrowers"} <= set(deals.columns):
        return problems
    implied = deals["opb"] / deals["n_borrowers"]
    off = (deals["avg_balance"] - implied).abs() > 0.01 * implied
    return problems + [Problem(file, at(i), "avg_balance", f"{deals['avg_balance'].iat[i]:g} disagrees with opb / n_borrowers "
                                                  f"= {implied.iat[i]:g} by more than 1%") for i in np.flatnonzero(off)]


MIN_PLAUSIBLE_BALANCE, MAX_PLAUSIBLE_BALANCE = 1_000.0, 1e9  # CNY per borrower


def implausible_deals(deals: pd.DataFrame, file: str) -> list[Problem]:
    """Pool features that pass the contract but are hard to believe (reported as warnings, not errors): an average
    balance per borrower below 1,000 or above 1 billion CNY (a borrower count in the wrong units?)."""
    if not {"opb", "n_borrowers"} <= set(deals.columns):
        return []
    at = liner(deals)
    average = deals["opb"] / deals["n_borrowers"]
    odd = ((average < MIN_PLAUSIBLE_BALANCE) | (average > MAX_PLAUSIBLE_BALANCE)).to_numpy()
    return [Problem(file, at(i), "n_borrowers", f"deal {deals['deal_id'].iat[i]!r}: {average.iat[i]:,.2f} CNY per "
                                                f"borrower is implausible (expected {MIN_PLAUSIBLE_BALANCE:,.0f} to "
                                                f"{MAX_PLAUSIBLE_BALANCE:,.0f}); is n_borrowers in the right units?")
            for i in np.flatnonzero(odd)]


def stale_collections(coll: pd.DataFrame, deals: pd.DataFrame, as_of: pd.Timestamp, period_months: int,
                      file: str) -> list[Problem]:
    """Deals whose collections stop periods before as_of (a missing trustee report, or a deal wound up): valid,
    but every model forecasts the missing periods as if they were still to come (reported as warnings)."""
    last = coll.sort_values(["deal_id", "period"], kind="stable").groupby("deal_id").tail(1)
    cutoff = deals.drop_duplicates("deal_id").set_index("deal_id")["cutoff_date"].reindex(last["deal_id"])
    ended = observed_periods(cutoff, as_of, period_months)
    at = liner(coll)
    return [Problem(file, at(i), "period", f"deal {d!r}: collections stop at period {int(p)} though {int(n)} periods "
                                           f"have ended by as_of {as_of:%Y-%m-%d}; the missing periods are forecast as "
                                           f"if still to come")
            for i, d, p, n in zip(last.index, last["deal_id"], last["period"], ended) if p < n]


def _unknown(keys: pd.DataFrame, known: pd.DataFrame, file: str, column: str, what: str, at) -> list[Problem]:
    known_keys = pd.MultiIndex.from_frame(known.drop_duplicates()) if known.shape[1] > 1 else pd.Index(known.iloc[:, 0])
    these = pd.MultiIndex.from_frame(keys) if keys.shape[1] > 1 else pd.Index(keys.iloc[:, 0])
    rows = np.flatnonzero(~these.isin(known_keys))
    table = "loans" if what == "loan" else "deals"
    return [Problem(file, at(i), column, f"{what} {'/'.join(map(str, keys.iloc[i]))!r} is not in the {table} table")
            for i in rows]


def _duplicates(frame: pd.DataFrame, keys: list[str], file: str, at) -> list[Problem]:
    rows = np.flatnonzero(frame.duplicated(keys, keep="first").to_numpy())
    return [Problem(file, at(i), keys[-1], f"duplicate ({', '.join(keys)}) = "
                                             f"{tuple(frame[k].iat[i] for k in keys)}") for i in rows]


def check_collections(coll: pd.DataFrame, deals: pd.DataFrame, as_of: pd.Timestamp, period_months: int,
                      file: str) -> list[Problem]:
    """Unknown deals, duplicate or missing periods, periods ending after as_of, collections above opb."""
    need = {"deal_id", "period", "gross_collections"}
    if not need <= set(coll.columns) or "deal_id" not in deals:
        return []
    at = liner(coll)
    problems = _unknown(coll[["deal_id"]], deals[["deal_id"]], file, "deal_id", "deal", at)
    problems += _duplicates(coll, ["deal_id", "period"], file, at)
    ok = coll.dropna(subset=list(need)).drop_duplicates(["deal_id", "period"])
    ok = ok[ok["deal_id"].isin(deals["deal_id"]) & ok["period"].between(1, MAX_PERIOD)
            & (ok["period"] == ok["period"].round())].sort_values(["deal_id", "period"], kind="stable")
    expected = ok.groupby("deal_id").cumcount() + 1
    wrong = (ok["period"] != expected).to_numpy()
    first_bad = pd.Series(ok.index[wrong]).groupby(ok["deal_id"].to_numpy()[wrong]).first()
    for deal, i in first_bad.items():
        p, e = int(ok.at[i, "period"]), int(expected.at[i])
        problems.append(Problem(file, at(i), "period", f"deal {deal!r}: period {p} where {e} was expected "
                                                         f"(periods must run 1, 2, 3, ... without gaps)"))
    info = deals.drop_duplicates("deal_id").set_index("deal_id")
    if {"cutoff_date", "opb"} <= set(info.columns):
        cutoff = info["cutoff_date"].reindex(ok["deal_id"]).to_numpy()
        dated = ~pd.isna(cutoff)
        ends = pd.Series(pd.NaT, index=ok.index, dtype="datetime64[ns]")
        if dated.any():
            ends[dated] = period_end(pd.Series(cutoff[dated]), ok["period"].to_numpy()[dated].astype(int), period_months)
        late = ok.index[(ends > as_of).to_numpy()]
        problems += [Problem(file, at(i), "period", f"period {int(ok.at[i, 'period'])} of deal {ok.at[i, 'deal_id']!r} "
                                                      f"ends {ends[i]:%Y-%m-%d}, after as_of {as_of:%Y-%m-%d}") for i in late]
        cum = ok.groupby("deal_id")["gross_collections"].cumsum()
        opb = info["opb"].reindex(ok["deal_id"]).to_numpy()
        over = (cum.to_numpy() > opb * (1 + 1e-9))
        first_over = pd.Series(ok.index[over], index=ok["deal_id"].to_numpy()[over])
        first_over = first_over[~first_over.index.duplicated()]
        problems += [Problem(file, at(i), "gross_collections", f"cumulative collections of deal {d!r} reach "
                                                                 f"{cum[i]:,.2f}, above its opb {info.at[d, 'opb']:,.2f}")
                     for d, i in first_over.items()]
    return problems


def check_loans(loans: pd.DataFrame, deals: pd.DataFrame, file: str) -> list[Problem]:
    if not {"deal_id", "loan_id"} <= set(loans.columns):
        return []
    at = liner(loans)
    return _unknown(loans[["deal_id"]], deals[["deal_id"]], file, "deal_id", "deal", at) + \
        _duplicates(loans, ["deal_id", "loan_id"], file, at)


def check_tranches(tranches: pd.DataFrame, deals: pd.DataFrame, file: str) -> list[Problem]:
    """Tranches of known deals, one per (deal_id, priority), together no larger than the deal's opb."""
    if not {"deal_id", "priority", "balance"} <= set(tranches.columns) or not {"deal_id", "opb"} <= set(deals.columns):
        return []  # the missing columns are reported already
    at = liner(tranches)
    problems = _unknown(tranches[["deal_id"]], deals[["deal_id"]], file, "deal_id", "deal", at) + \
        _duplicates(tranches, ["deal_id", "priority"], file, at)
    total = tranches.groupby("deal_id")["balance"].sum()
    opb = deals.drop_duplicates("deal_id").set_index("deal_id")["opb"]  # a duplicate deal_id is reported already
    over = total[total > opb.reindex(total.index) * (1 + 1e-9)]
    for deal, amount in over.items():
        i = int(np.flatnonzero((tranches["deal_id"] == deal).to_numpy())[-1])
        problems.append(Problem(file, at(i), "balance", f"deal {deal!r}: tranches sum to {amount:,.2f}, above its opb "
                                                        f"{opb[deal]:,.2f}"))
    return problems


def check_loan_collections(lc: pd.DataFrame, loans: pd.DataFrame, coll: pd.DataFrame, file: str,
                           coll_file: str) -> list[Problem]:
    """Loan payments must belong to known loans and, summed per deal and period, equal the pool's collections."""
    if not {"deal_id", "loan_id", "period", "amount"} <= set(lc.columns) or "loan_id" not in loans:
        return []
    at_lc, at_coll = liner(lc), liner(coll)
    problems = _unknown(lc[["deal_id", "loan_id"]], loans[["deal_id", "loan_id"]], file, "loan_id", "loan", at_lc)
    if not {"deal_id", "period", "gross_collections"} <= set(coll.columns):
        return problems
    sums = lc.groupby(["deal_id", "period"])["amount"].sum()
    pool = coll.dropna(subset=["deal_id", "period"]).drop_duplicates(["deal_id", "period"])
    pool = pool.assign(_row=pool.index).set_index(["deal_id", "period"])
    both = pool.join(sums, how="outer")
    loan_sum = both["amount"].fillna(0.0)
    stated = both["gross_collections"]
    off = (loan_sum - stated.fillna(0.0)).abs() > 1e-6 * np.maximum(stated.abs().fillna(0.0), 1.0) + 0.005
    for (deal, period), row in both[off.to_numpy()].iterrows():
        if pd.isna(row["_row"]):
            first = lc.index[(lc["deal_id"] == deal) & (lc["period"] == period)][0]
            problems.append(Problem(file, at_lc(first), "amount", f"deal {deal!r} period {int(period)} has loan "
                                                                 f"payments but no row in {coll_file}"))
        else:
            problems.append(Problem(coll_file, at_coll(int(row["_row"])), "gross_collections",
                                    f"{row['gross_collections']:,.2f} but {file} sums to {loan_sum[(deal, period)]:,.2f} "
                                    f"for deal {deal!r} period {int(period)}"))
    return problems
