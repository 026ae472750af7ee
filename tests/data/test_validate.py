"""Each kind of corruption makes `npas validate` exit 2 and name the right file, row and column."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecasting.cli.main import app
from forecasting.data.dataset import check_dataset

runner = CliRunner()


def run_validate(path):
    result = runner.invoke(app, ["validate", str(path)])
    return result.exit_code, result.stderr


def edit(path, stem, change):
    frame = pd.read_csv(path / f"{stem}.csv", dtype=str, keep_default_na=False)
    frame = change(frame)
    frame.to_csv(path / f"{stem}.csv", index=False)


def set_cell(path, stem, row, column, value):
    """One cell of a table's CSV (0-based data row) replaced by ``value`` as written."""
    edit(path, stem, lambda f: f.assign(**{column: f[column].where(f.index != row, value)}))


def assert_problem(path, expected: str):
    code, err = run_validate(path)
    assert code == 2, err
    assert expected in err, err
    assert "Traceback" not in err


def test_valid_dataset_passes(pool_dir, loan_dir):
    for path in (pool_dir, loan_dir):
        result = runner.invoke(app, ["validate", str(path)])
        assert result.exit_code == 0, result.stderr
        assert "valid (29 deals" in result.stdout


def test_missing_file(pool_dir):
    (pool_dir / "deals.csv").unlink()
    assert_problem(pool_dir, "deals.csv:-:-: missing file")


def test_missing_dataset_yaml_key(pool_dir):
    (pool_dir / "dataset.yaml").write_text("name: x\nperiod_months: 1\n")
    assert_problem(pool_dir, "dataset.yaml:-:as_of: Field required")


def test_missing_column(pool_dir):
    edit(pool_dir, "deals", lambda f: f.drop(columns="opb"))
    assert_problem(pool_dir, "deals.csv:1:opb: required column is missing")


@pytest.mark.parametrize("stem, row, column, value, expected", [
    ("deals", 2, "opb", "lots", "deals.csv:4:opb: expected a number, got 'lots'"),
    ("deals", 0, "cutoff_date", "2021-13-45", "deals.csv:2:cutoff_date: expected a date"),
    # parsing never changes a number: a decimal comma is not read as x100, a percent sign not as a rate
    ("collections", 4, "gross_collections", "59999999,97",
     "collections.csv:6:gross_collections: ambiguous number '59999999,97'"),
    ("collections", 0, "gross_collections", "50%", "collections.csv:2:gross_collections: a percentage is not a valid amount"),
    ("deals", 0, "cutoff_date", "01/02/2021", "deals.csv:2:cutoff_date: ambiguous date '01/02/2021'"),
    ("collections", 2, "period", "1e19", "collections.csv:4:period: must be between 1 and 1200"),
], ids=["wrong_type", "bad_date", "decimal_comma", "percent_on_an_amount", "ambiguous_day_month", "huge_period"])
def test_a_bad_cell_is_named(pool_dir, stem, row, column, value, expected):
    set_cell(pool_dir, stem, row, column, value)
    assert_problem(pool_dir, expected)


def test_empty_table(pool_dir):
    edit(pool_dir, "collections", lambda f: f.iloc[:0])
    assert_problem(pool_dir, "collections.csv:-:-: table is empty")


def test_duplicate_deal_id(pool_dir):
    edit(pool_dir, "deals", lambda f: f.assign(deal_id=f["deal_id"].where(f.index != 5, f["deal_id"][4])))
    assert_problem(pool_dir, "deals.csv:7:deal_id: duplicate value")


def test_duplicate_deal_period(pool_dir):
    edit(pool_dir, "collections", lambda f: pd.concat([f.iloc[:3], f.iloc[[2]], f.iloc[3:]], ignore_index=True))
    assert_problem(pool_dir, "collections.csv:5:period: duplicate (deal_id, period)")


def test_gap_in_periods(pool_dir):
    edit(pool_dir, "collections", lambda f: f.drop(index=4).reset_index(drop=True))
    # rows 0..3 are periods 1..4 of the first deal; period 6 now sits on line 6 where 5 was expected
    assert_problem(pool_dir, "collections.csv:6:period: deal 'A-2021-1': period 6 where 5 was expected")


def test_period_after_as_of(pool_dir):
    def extend(f):
        last = f[f["deal_id"] == "C-2025-2"].iloc[-1].copy()
        last["period"] = str(int(last["period"]) + 1)
        return pd.concat([f, last.to_frame().T], ignore_index=True)
    edit(pool_dir, "collections", extend)
    n = len(pd.read_csv(pool_dir / "collections.csv"))
    assert_problem(pool_dir, f"collections.csv:{n + 1}:period: period 4 of deal 'C-2025-2' ends 2025-09-30, after as_of")


@pytest.mark.parametrize("value, words", [("-5", "must be >= 0"), ("inf", "must be a finite number"),
                                          ("nan", "expected a number")])
def test_negative_and_non_finite(pool_dir, value, words):
    set_cell(pool_dir, "collections", 9, "gross_collections", value)
    assert_problem(pool_dir, f"collections.csv:11:gross_collections: {words}")


def test_collections_above_opb(pool_dir):
    deals = pd.read_csv(pool_dir / "deals.csv")
    opb = deals.loc[0, "opb"]
    set_cell(pool_dir, "collections", 3, "gross_collections", str(opb))
    assert_problem(pool_dir, "collections.csv:5:gross_collections: cumulative collections of deal 'A-2021-1' reach")


def test_unknown_deal(pool_dir):
    set_cell(pool_dir, "collections", 7, "deal_id", "NO-SUCH-DEAL")
    assert_problem(pool_dir, "collections.csv:9:deal_id: deal 'NO-SUCH-DEAL' is not in the deals table")


def test_avg_balance_inconsistent(pool_dir):
    set_cell(pool_dir, "deals", 1, "avg_balance", "1000")
    assert_problem(pool_dir, "deals.csv:3:avg_balance: 1000 disagrees with opb / n_borrowers")


def test_loan_collections_not_summing(loan_dir):
    lc = pd.read_csv(loan_dir / "loan_collections.csv")
    lc.loc[0, "amount"] += 1000.0
    lc.to_csv(loan_dir / "loan_collections.csv", index=False)
    coll = pd.read_csv(loan_dir / "collections.csv")
    row = coll.index[(coll["deal_id"] == lc.loc[0, "deal_id"]) & (coll["period"] == lc.loc[0, "period"])][0]
    assert_problem(loan_dir, f"collections.csv:{row + 2}:gross_collections:")


def test_loan_of_unknown_loan(loan_dir):
    edit(loan_dir, "loan_collections", lambda f: f.assign(loan_id=f["loan_id"].where(f.index != 0, "GHOST")))
    assert_problem(loan_dir, "loan_collections.csv:2:loan_id: loan")


def test_binary_junk(pool_dir):
    (pool_dir / "deals.csv").write_bytes(np.random.default_rng(0).bytes(4096) + b"\x00")
    assert_problem(pool_dir, "deals.csv:-:-: is binary")


def test_wrong_encoding(pool_dir):
    text = (pool_dir / "deals.csv").read_text(encoding="utf-8").replace("A-2021-1", "建鑫-2021-1")
    (pool_dir / "deals.csv").write_bytes(text.encode("gbk"))
    assert_problem(pool_dir, "deals.csv:2:-: is not valid utf-8")


def test_gbk_accepted_when_declared(pool_dir):
    text = (pool_dir / "deals.csv").read_text(encoding="utf-8").replace("A-2021-1,", "建鑫-2021-1,")
    (pool_dir / "deals.csv").write_bytes(text.encode("gbk"))
    coll = (pool_dir / "collections.csv").read_text().replace("A-2021-1,", "建鑫-2021-1,")
    (pool_dir / "collections.csv").write_bytes(coll.encode("gbk"))
    tranches = (pool_dir / "tranches.csv").read_text(encoding="utf-8").replace("A-2021-1,", "建鑫-2021-1,")
    (pool_dir / "tranches.csv").write_bytes(tranches.encode("gbk"))
    meta = pool_dir / "dataset.yaml"
    meta.write_text(meta.read_text().replace("encoding: utf-8", "encoding: gb18030"))
    result = runner.invoke(app, ["validate", str(pool_dir)])
    assert result.exit_code == 0, result.output


def test_utf16_byte_order_mark(pool_dir):
    text = (pool_dir / "deals.csv").read_text(encoding="utf-8")
    (pool_dir / "deals.csv").write_bytes(text.encode("utf-16"))
    assert_problem(pool_dir, "deals.csv:-:-: is UTF-16/UTF-32 (byte-order mark found)")


def test_utf8_byte_order_mark_is_read(pool_dir):
    """Excel's 'CSV UTF-8' starts with a BOM: it is stripped, not mistaken for part of the first header."""
    text = (pool_dir / "deals.csv").read_text(encoding="utf-8")
    (pool_dir / "deals.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    dataset, problems = check_dataset(pool_dir)
    assert problems == [] and dataset.deals.columns[0] == "deal_id"


def test_chinese_headers_are_mapped(pool_dir):
    names = {"deal_id": "项目名称", "originator": "发起机构", "opb": "资产池本金余额", "n_borrowers": "借款人户数",
             "avg_balance": "户均余额", "wa_delinquency_months": "加权平均逾期期限", "est_gross_recovery": "预估毛回收率"}
    edit(pool_dir, "deals", lambda f: f.rename(columns=names))
    dataset, problems = check_dataset(pool_dir)
    assert problems == []
    assert {"opb", "avg_balance", "wa_delinquency_months"} <= set(dataset.deals.columns)


def test_every_problem_is_reported_not_just_the_first(pool_dir):
    edit(pool_dir, "deals", lambda f: f.assign(opb=f["opb"].where(f.index > 2, "-1")))
    set_cell(pool_dir, "collections", 0, "deal_id", "X")
    code, err = run_validate(pool_dir)
    assert code == 2
    assert sum("deals.csv:" in line and ":opb: must be > 0" in line for line in err.splitlines()) == 3
    assert "collections.csv:2:deal_id" in err


def test_excel_and_parquet_tables(pool_dir):
    deals = pd.read_csv(pool_dir / "deals.csv")
    (pool_dir / "deals.csv").unlink()
    deals.to_excel(pool_dir / "deals.xlsx", index=False)
    pd.read_csv(pool_dir / "collections.csv").to_parquet(pool_dir / "collections.parquet")
    (pool_dir / "collections.csv").unlink()
    dataset, problems = check_dataset(pool_dir)
    assert problems == [] and len(dataset.deals) == 29


def test_a_row_cut_short_is_refused(pool_dir):
    text = (pool_dir / "collections.csv").read_text().rstrip("\n")
    (pool_dir / "collections.csv").write_text(text.rsplit(",", 1)[0] + "\n")
    n = len(text.splitlines())
    assert_problem(pool_dir, f"collections.csv:{n}:-: row has 2 field(s), the header has 3")


def test_a_header_given_twice_is_refused(pool_dir):
    text = (pool_dir / "deals.csv").read_text().splitlines()
    (pool_dir / "deals.csv").write_text("\n".join([text[0] + ",opb"] + [row + ",1" for row in text[1:]]) + "\n")
    assert_problem(pool_dir, "deals.csv:1:opb: column given twice")


def test_line_numbers_count_blank_lines_and_quoted_newlines(pool_dir):
    text = (pool_dir / "deals.csv").read_text().splitlines()
    header, first, second = text[0], text[1], text[2]
    columns = header.split(",")
    cells = second.split(",")
    cells[columns.index("opb")] = "lots"
    noted = first.split(",")
    noted[columns.index("originator")] = '"A\nwith a note"'
    (pool_dir / "deals.csv").write_text("\n".join([header, "", ",".join(noted), "", ",".join(cells)] + text[3:]) + "\n")
    assert_problem(pool_dir, "deals.csv:6:opb: expected a number, got 'lots'")


def test_nul_bytes_far_into_a_file_are_binary(pool_dir):
    path = pool_dir / "collections.csv"
    path.write_bytes(path.read_bytes() + b"x" * 70_000 + b"\x00\n")
    assert_problem(pool_dir, "collections.csv:-:-: is binary")


def test_parquet_types_are_handled_or_refused(pool_dir):
    deals = pd.read_csv(pool_dir / "deals.csv")
    deals["cutoff_date"] = pd.to_datetime(deals["cutoff_date"]).dt.tz_localize("Asia/Shanghai")
    (pool_dir / "deals.csv").unlink()
    deals.to_parquet(pool_dir / "deals.parquet")
    dataset, problems = check_dataset(pool_dir)
    assert problems == [] and dataset.deals["cutoff_date"].dt.tz is None
    deals["cutoff_date"] = pd.to_datetime(deals["cutoff_date"]).dt.strftime("%Y%m%d").astype(int)
    deals["wa_delinquency_months"] = pd.to_timedelta(deals["wa_delinquency_months"], unit="D")
    deals.to_parquet(pool_dir / "deals.parquet")
    assert_problem(pool_dir, "deals.parquet:2:cutoff_date: a number is not a date")
    assert_problem(pool_dir, "deals.parquet:2:wa_delinquency_months: expected a number, got a duration")


def test_an_implausible_average_balance_is_a_warning(pool_dir):
    edit(pool_dir, "deals", lambda f: f.assign(n_borrowers=f["n_borrowers"].where(f.index != 0, f["opb"].str.split(".").str[0]),
                                                avg_balance=f["avg_balance"].where(f.index != 0, "1")))
    result = runner.invoke(app, ["validate", str(pool_dir)])
    assert result.exit_code == 0, result.stderr
    assert "warning: deals.csv:2:n_borrowers: deal 'A-2021-1': 1.00 CNY per borrower is implausible" in result.stderr


@pytest.mark.parametrize("stem, row, column, value, expected", [
    ("tranches", 0, "deal_id", "Z-1999-1", "tranches.csv:2:deal_id: deal 'Z-1999-1' is not in the deals table"),
    ("tranches", 1, "priority", "1", "tranches.csv:3:priority: duplicate (deal_id, priority)"),
    ("tranches", 0, "balance", "-5", "tranches.csv:2:balance: must be >= 0"),
    ("tranches", 0, "coupon", "-1%", "tranches.csv:2:coupon: must be between 0 and 1"),
    ("tranches", 0, "balance", "9e12", "tranches.csv:3:balance: deal 'A-2021-1': tranches sum to"),
    ("deals", 0, "legal_maturity", "2021-01-31", "deals.csv:2:legal_maturity: 2021-01-31 is not after the closing "
                                                 "date 2021-09-30"),
    ("deals", 0, "payment_frequency_months", "5", "deals.csv:2:payment_frequency_months"),
])
def test_a_bad_tranche_or_deal_term_names_its_cell(pool_dir, stem, row, column, value, expected):
    set_cell(pool_dir, stem, row, column, value)
    assert_problem(pool_dir, expected)


def test_collections_that_stop_before_as_of_are_a_warning_at_their_last_row(pool_dir):
    """A deal whose trustee reports stop early is valid, but its missing periods would be forecast as future ones:
    said at the deal's last row. The demo market, every deal reported to as_of, says nothing of the kind."""
    clean = runner.invoke(app, ["validate", str(pool_dir)])
    assert clean.exit_code == 0 and "collections stop" not in clean.stderr
    edit(pool_dir, "collections", lambda f: f[~((f["deal_id"] == "A-2021-1") & (f["period"].astype(int) > 30))])
    result = runner.invoke(app, ["validate", str(pool_dir)])
    assert result.exit_code == 0, result.stderr
    assert ("warning: collections.csv:31:period: deal 'A-2021-1': collections stop at period 30 though 51 periods have "
            "ended by as_of 2025-08-31; the missing periods are forecast as if still to come") in result.stderr
    assert result.stderr.count("collections stop") == 1
