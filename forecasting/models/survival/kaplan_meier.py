"""Kaplan-Meier curves of time to first payment (lifelines), by vintage or originator."""
from __future__ import annotations

from forecasting.data.dataset import Dataset
from forecasting.models.survival.cells import aggregate, loan_durations, observed_periods


def kaplan_meier_by(dataset: Dataset, by: str) -> dict:
    """One fitted lifelines KaplanMeierFitter per level of ``by``, on aggregated (duration, event) cells with weights;
    each carries its confidence band."""
    from lifelines import KaplanMeierFitter
    table = loan_durations(dataset.loans, dataset.loan_collections, observed_periods(dataset))
    table = table[table["duration"] > 0]
    level = table["deal_id"].map(dataset.deals.set_index("deal_id")[by])
    curves = {}
    for value, part in table.groupby(level.to_numpy()):
        cells = aggregate(part[["duration", "event"]])
        curves[value] = KaplanMeierFitter(label=f"{by} {value}").fit(cells["duration"], cells["event"],
                                                                     weights=cells["weight"])
    return curves
