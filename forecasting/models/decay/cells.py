"""The decay fit's cells (observed deal-periods as rates of opb) and what calendar and age effects read off them:
each cell's calendar key and its actual and expected collections in CNY."""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.dataset import Dataset
from forecasting.data.periods import end_months
from forecasting.models.base import FitError
from forecasting.models.decay.calendar import SPAN, CalendarEffects
from forecasting.models.decay.likelihood import Cells


def cell_keys(dataset: Dataset, cells: Cells, groups: tuple[str, ...], by: str | None) -> np.ndarray:
    """Each cell's calendar key (calendar.py): its group's position x SPAN + the month (since year 0) in which its
    period ends."""
    t = cells.t.astype(int)
    month = end_months(dataset.history.cutoff.reindex(dataset.deal_ids), int(t.max(initial=1)),
                       dataset.meta.period_months)[cells.deal, t - 1]
    if by is None:
        return month
    level = pd.Index(groups).get_indexer(dataset.deals[by].astype(str).to_numpy())[cells.deal]
    return level * SPAN + month


def calendar_effects(dataset: Dataset, cells: Cells, means: np.ndarray, scale: np.ndarray, by: str | None) -> CalendarEffects:
    """Calendar effects from the fitted means (calendar.py): per cell its key, actual and expected collections in
    CNY, and the expected's ODP variance (scale per deal: phi c psi_d)."""
    if by is not None and by not in dataset.deals:
        raise FitError(f"calendar_by: the deals table has no column {by!r}")
    groups = () if by is None else tuple(sorted(dataset.deals[by].astype(str).unique()))
    return CalendarEffects.fit(cell_keys(dataset, cells, groups, by), *money(dataset, cells, means, scale),
                               groups=groups)


def money(dataset: Dataset, cells: Cells, means: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per cell, actual and expected collections in CNY and the expected's ODP variance (scale per deal: phi c
    psi_d), what calendar and age effects are estimated from."""
    opb = dataset.deals["opb"].to_numpy(float)[cells.deal]
    n = dataset.deals["n_borrowers"].to_numpy(float)[cells.deal]
    return cells.r * opb, means * opb, scale[cells.deal] * means / n * opb ** 2


def fit_cells(dataset: Dataset) -> Cells:
    """Observed deal-periods as rates of opb, weighted by each deal's borrowers."""
    h = dataset.history
    amounts = h.amounts.reindex(dataset.deal_ids).to_numpy()
    deal, period = np.nonzero(np.isfinite(amounts))
    opb = dataset.deals["opb"].to_numpy(float)
    return Cells(deal, period + 1.0, amounts[deal, period] / opb[deal],
                 dataset.deals["n_borrowers"].to_numpy(float)[deal], len(opb))
