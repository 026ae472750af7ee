"""The data contract (docs/contract.md section 1) declared once, as data.

Each table is a list of :class:`ColumnSpec`; :func:`pandera_schema` turns a table's spec into a pandera schema that
checks types and per-cell rules. Rules spanning rows or tables (contiguous periods, sums, keys) live in
:mod:`forecasting.data.validate`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa

Kind = Literal["text", "int", "float", "rate", "date"]  # rate: a float that may be written as a percentage
MAX_PERIOD = 1200  # periods: 100 years of months


def _finite(s: pd.Series) -> pd.Series:
    return pd.Series(np.isfinite(s.to_numpy(dtype=float)), index=s.index)


def _whole(s: pd.Series) -> pd.Series:
    v = s.to_numpy(dtype=float)
    return pd.Series(v == np.round(v), index=s.index)


FINITE = pa.Check(_finite, element_wise=False, error="must be a finite number")
WHOLE = pa.Check(_whole, element_wise=False, error="must be a whole number")


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: Kind
    required: bool = True
    checks: tuple[pa.Check, ...] = field(default_factory=tuple)
    unique: bool = False
    rule: str = ""  # the rule in words, for the docs' table of checks


def _col(name: str, kind: Kind, *checks: pa.Check, required: bool = True, unique: bool = False, rule: str = "") -> ColumnSpec:
    return ColumnSpec(name, kind, required, tuple(checks), unique, rule)


TABLES: dict[str, list[ColumnSpec]] = {
    "deals": [
        _col("deal_id", "text", unique=True, rule="required, unique"),
        _col("originator", "text", rule="required"),
        _col("vintage", "int", WHOLE, pa.Check.in_range(1950, 2100), rule="issue year, 1950-2100"),
        _col("cutoff_date", "date", rule="a date (YYYY-MM-DD)"),
        _col("opb", "float", FINITE, pa.Check.gt(0), rule="> 0"),
        _col("n_borrowers", "int", WHOLE, pa.Check.ge(1), rule="whole number >= 1"),
        _col("avg_balance", "float", FINITE, pa.Check.gt(0), required=False,
             rule="> 0; within 1% of opb / n_borrowers"),
        _col("wa_delinquency_months", "float", FINITE, pa.Check.ge(0), rule=">= 0"),
        _col("est_gross_recovery", "rate", pa.Check.in_range(0, 1), required=False, rule="in [0, 1]; '16.5%' allowed"),
        _col("issue_size", "float", FINITE, pa.Check.ge(0), required=False, rule=">= 0"),
        _col("closing_date", "date", required=False, rule="a date; default cutoff_date"),
        _col("payment_frequency_months", "int", WHOLE, pa.Check.isin([1, 2, 3, 4, 6, 12]), required=False,
             rule="1, 2, 3, 4, 6 or 12; default 3"),
        _col("senior_fee_rate", "rate", pa.Check.in_range(0, 0.5), required=False,
             rule="in [0, 0.5]: share of each collection paid before interest; default 0"),
        _col("legal_maturity", "date", required=False, rule="after closing_date; default closing + 7 years"),
    ],
    "collections": [
        _col("deal_id", "text", rule="must exist in deals"),
        _col("period", "int", WHOLE, pa.Check.in_range(1, MAX_PERIOD),
             rule=f">= 1 (at most {MAX_PERIOD}), contiguous from 1 per deal, ends by as_of"),
        _col("gross_collections", "float", FINITE, pa.Check.ge(0), rule=">= 0; a deal's total <= its opb"),
    ],
    "tranches": [
        _col("deal_id", "text", rule="must exist in deals"),
        _col("tranche", "text", rule="required: the tranche's name"),
        _col("priority", "int", WHOLE, pa.Check.in_range(1, 20), rule="1 (paid first) to 20, unique within a deal"),
        _col("balance", "float", FINITE, pa.Check.ge(0), rule=">= 0 (CNY at closing); a deal's sum <= its opb"),
        _col("coupon", "rate", pa.Check.in_range(0, 1), rule="annual rate on the outstanding balance, in [0, 1]"),
    ],
    "loans": [
        _col("deal_id", "text", rule="must exist in deals"),
        _col("loan_id", "text", rule="unique within its deal"),
        _col("balance", "float", FINITE, pa.Check.gt(0), rule="> 0"),
        _col("months_delinquent", "float", FINITE, pa.Check.ge(0), rule=">= 0"),
        _col("borrower_id", "text", required=False, rule="optional"),
    ],
    "loan_collections": [
        _col("deal_id", "text", rule="with loan_id, must exist in loans"),
        _col("loan_id", "text", rule="with deal_id, must exist in loans"),
        _col("period", "int", WHOLE, pa.Check.in_range(1, MAX_PERIOD), rule=f">= 1 (at most {MAX_PERIOD})"),
        _col("amount", "float", FINITE, pa.Check.ge(0), rule=">= 0; per deal and period sums to collections"),
    ],
}

# Headers as they appear in Chinese trustee reports and deal documents, mapped to the contract's names.
ALIASES: dict[str, str] = {
    "项目名称": "deal_id", "证券名称": "deal_id", "产品名称": "deal_id", "交易名称": "deal_id",
    "发起机构": "originator", "发起人": "originator",
    "发行年份": "vintage", "发行年度": "vintage",
    "初始起算日": "cutoff_date", "封包日": "cutoff_date", "基准日": "cutoff_date",
    "资产池本金余额": "opb", "入池本金余额": "opb", "未偿本金余额": "opb",
    "借款人户数": "n_borrowers", "借款人数量": "n_borrowers",
    "户均余额": "avg_balance",
    "加权平均逾期期限": "wa_delinquency_months", "加权平均逾期月数": "wa_delinquency_months",
    "预估毛回收率": "est_gross_recovery",
    "发行规模": "issue_size",
    "信托设立日": "closing_date", "法定到期日": "legal_maturity",
    "证券分层": "tranche", "档次": "tranche", "偿付顺序": "priority", "票面利率": "coupon",
    "期数": "period", "收款期间": "period", "回收期数": "period",
    "回收金额": "gross_collections", "毛回收金额": "gross_collections", "当期回收金额": "gross_collections",
    "贷款编号": "loan_id", "借据号": "loan_id",
    "借款人编号": "borrower_id",
    "本金余额": "balance", "贷款余额": "balance",
    "逾期月数": "months_delinquent", "逾期期限": "months_delinquent",
    "金额": "amount", "回收款": "amount",
}


def normalise_header(name: object) -> str:
    """Contract name for a header: trimmed, BOM removed, ASCII lower-cased, Chinese aliases mapped."""
    text = str(name).replace("\ufeff", "").strip()
    text = ALIASES.get(text, text)
    return text.lower() if text.isascii() else text


def pandera_schema(table: str) -> pa.DataFrameSchema:
    """Per-cell rules of a table, for data already parsed to the contract's types (see ``validate.parse``)."""
    columns = {}
    for spec in TABLES[table]:
        dtype = {"text": object, "int": float, "float": float, "rate": float, "date": "datetime64[ns]"}[spec.kind]
        columns[spec.name] = pa.Column(
            dtype, checks=list(spec.checks), nullable=True, unique=spec.unique, required=spec.required
        )
    return pa.DataFrameSchema(columns, strict=False)
