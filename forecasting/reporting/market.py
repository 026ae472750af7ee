"""Market overview tables: the dataset's deals by vintage and originator, beside the published figures."""
from __future__ import annotations

import pandas as pd

from forecasting.data.dataset import Dataset
from forecasting.simulation import facts


def by_vintage(dataset: Dataset) -> pd.DataFrame:
    """Per vintage: deals, pool principal and issuance (亿元), and deal means of the pool features."""
    d = dataset.deals
    grouped = d.groupby("vintage")
    out = grouped.agg(
        deals=("deal_id", "size"),
        opb_yi=("opb", "sum"),
        borrowers_mean=("n_borrowers", "mean"),
        avg_balance_wan=("avg_balance", "mean"),
        wa_delinquency=("wa_delinquency_months", "mean"),
    )
    out["opb_yi"] /= facts.YI
    out["avg_balance_wan"] /= facts.WAN
    out["issue_size_yi"] = grouped["issue_size"].sum() / facts.YI if "issue_size" in d else float("nan")
    if "est_gross_recovery" in d:
        out["est_gross_recovery"] = grouped["est_gross_recovery"].mean()
    return out


def beside_published(dataset: Dataset) -> pd.DataFrame:
    """The dataset's own figures by vintage, beside the published vintage table of docs/market_facts.md for the
    vintages it has (none beside a market of other years: the columns are then left out). The total's published
    figures are the sums over those vintages, the whole market's only when the dataset spans it."""
    own = by_vintage(dataset)
    published = facts.VINTAGES.reindex(own.index)
    table = pd.DataFrame({"deals": own["deals"], "opb_yi": own["opb_yi"], "opb_yi_published": published["opb_yi"],
                          "issue_yi": own["issue_size_yi"], "issue_yi_published": published["issue_size_yi"],
                          "avg_balance_wan": own["avg_balance_wan"], "wa_delinquency": own["wa_delinquency"]})
    if "est_gross_recovery" in own:
        table["est_gross_recovery"] = own["est_gross_recovery"]
    total = table.sum(numeric_only=True, min_count=1)  # a column with no figure stays blank, not 0
    total[["avg_balance_wan", "wa_delinquency"]] = [dataset.deals["avg_balance"].mean() / facts.WAN,
                                                    dataset.deals["wa_delinquency_months"].mean()]
    if "est_gross_recovery" in table:
        total["est_gross_recovery"] = dataset.deals["est_gross_recovery"].mean()
    table.loc["total"] = total
    if published.isna().all().all():
        table = table.drop(columns=["opb_yi_published", "issue_yi_published"])
    return table


def has_published(table: pd.DataFrame) -> bool:
    """Whether ``beside_published`` found published figures for any of the dataset's vintages."""
    return "opb_yi_published" in table


def by_originator(dataset: Dataset) -> pd.DataFrame:
    """Deal counts by originator and vintage."""
    return pd.crosstab(dataset.deals["originator"], dataset.deals["vintage"], margins=True, margins_name="total")
