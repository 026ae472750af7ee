"""What every column of the report's workbook means: its definitions sheet (docs/outputs.md gives the same)."""
from __future__ import annotations

import re

import pandas as pd

DEFINITIONS = {
    "deal_id": "the pool (deal)", "originator": "the bank that sold the pool", "vintage": "issue year",
    "opb": "pool principal balance at cut-off (CNY): the denominator of every rate",
    "observed_periods": "periods of actual collections the forecast knew",
    "observed_cum_rate": "cumulative gross collections / opb at the last observed period",
    "horizon": "periods forecast", "gross_recovery": "forecast of realized cash: cum_rate at the horizon (mean)",
    "expected_gross_recovery": "the pool's expected cum_rate at the horizon (what its loans are expected to produce; "
                               "the quantity the agency's estimate states), mean",
    "est_gross_recovery": "the rating agency's estimated gross recovery at first rating",
    "months_to_50pct": "months from cut-off until the point forecast reaches 50% of its horizon recovery",
    "months_to_90pct": "months from cut-off until the point forecast reaches 90% of its horizon recovery",
    "model": "the model whose forecast this is", "period": "collection period since cut-off (1, 2, ...)",
    "observed": "1: actual collections; 0: forecast", "collections": "cash of the period (CNY)",
    "cum_rate": "cumulative gross collections / opb (actual where observed, else the forecast mean)",
    "deals": "number of deals", "opb_yi": "pool principal, 亿元 (100 million CNY)",
    "opb_yi_published": "the market report's pool principal, 亿元", "issue_yi": "issuance, 亿元",
    "issue_yi_published": "the market report's issuance, 亿元", "avg_balance_wan": "average balance per borrower, 万元",
    "wa_delinquency": "balance-weighted months past due at cut-off", "scheme": "backtest scheme",
    "role": "model, or baseline (a method analysts use today)", "n": "forecasts scored",
    "mae": "mean absolute error of cum_rate", "rmse": "root mean squared error of cum_rate",
    "bias": "mean of actual - forecast", "coverage": "share of actuals inside the outer quantiles' band",
    "coverage_50": "share of actuals inside the P25-P75 band (a tie with the paths counted by its PIT's share inside)",
    "coverage_80": "share inside the P10-P90 band (a tie with the paths counted by its PIT's share inside)",
    "ks": "Kolmogorov-Smirnov distance of the PITs (each spread over its ties) from uniform (0: calibrated)",
    "item": "what the cover sheet states", "value": "its value",
    "ks_critical": "the KS distance's 5% critical value for that many independent forecasts",
    "crps": "continuous ranked probability score of cum_rate (lower is better)",
    "period_end": "the calendar period (its last day)", "group": "the calendar_by group the effect belongs to",
    "effect": "calendar effect: log of the period's collections against the model's expectation, shrunk (0: none)",
    "se": "posterior sd of the effect (its uncertainty)", "lower": "lower end of the effect's 95% band",
    "upper": "upper end of the effect's 95% band",
    "log_ratio": "log of the period's actual / expected collections before shrinkage, centred",
}
PATTERNS = [(re.compile(r"(.+)_p(\d\d)$"), "{1}th percentile of {0}"),
            (re.compile(r"^p(\d\d)$"), "{0}th percentile of the forecast"),
            (re.compile(r"^(\d+)$"), "cum_rate at the end of period {0}")]


def define(column: str) -> str | None:
    """A column's meaning, or None if it has none here."""
    if column in DEFINITIONS:
        return DEFINITIONS[column]
    for pattern, text in PATTERNS:
        match = pattern.match(column)
        if match:
            groups = match.groups()
            if len(groups) == 2 and groups[0] in DEFINITIONS:
                return text.format(groups[0], int(groups[1]))
            if len(groups) == 1:
                return text.format(int(groups[0]))
    return None


def definitions_sheet(sheets: dict[str, pd.DataFrame], columns_are: dict[str, str] | None = None) -> pd.DataFrame:
    """sheet, column, meaning for every column of every sheet; ``columns_are`` (sheet -> meaning) for a sheet whose
    columns are pools, not names."""
    columns_are = columns_are or {}
    rows = [{"sheet": name, "column": str(c),
             "meaning": define(str(c)) or (columns_are[name].format(c) if name in columns_are else "")}
            for name, table in sheets.items() for c in table.columns]
    return pd.DataFrame(rows)
