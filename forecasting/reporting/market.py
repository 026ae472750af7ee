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
    """The published vintage table of docs/market_facts.md next to the dataset's own figures."""
    own = by_vintage(dataset)
    table = pd.DataFrame({
        "deals": own["deals"],
        "opb_yi": own["opb_yi"], "opb_yi_published": facts.VINTAGES["opb_yi"],
        "issue_yi": own["issue_size_yi"], "issue_yi_published": facts.VINTAGES["issue_size_yi"],
        "avg_balance_wan": own["avg_balance_wan"], "wa_delinquency": own["wa_delinquency"],
    })
    if "est_gross_recovery" in own:
        table["est_gross_recovery"] = own["est_gross_recovery"]
    total = table.sum(numeric_only=True)
    total[["avg_balance_wan", "wa_delinquency"]] = [dataset.deals["avg_balance"].mean() / facts.WAN,
                                                    dataset.deals["wa_delinquency_months"].mean()]
    if "est_gross_recovery" in table:
        total["est_gross_recovery"] = dataset.deals["est_gross_recovery"].mean()
    total["opb_yi_published"], total["issue_yi_published"] = facts.TOTAL_OPB_YI, facts.TOTAL_ISSUE_YI
    table.loc["total"] = total
    return table


def by_originator(dataset: Dataset) -> pd.DataFrame:
    """Deal counts by originator and vintage."""
    return pd.crosstab(dataset.deals["originator"], dataset.deals["vintage"], margins=True, margins_name="total")
