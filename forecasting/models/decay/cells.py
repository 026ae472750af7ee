"""The decay fit's cells: observed deal-periods as rates of opb, weighted by each deal's borrowers."""
from __future__ import annotations

from forecasting.data.dataset import Dataset
from forecasting.models.calendar import PeriodCells
from forecasting.models.decay.likelihood import Cells


def fit_cells(dataset: Dataset) -> Cells:
    """Observed deal-periods as rates of opb, weighted by each deal's borrowers."""
    seen = PeriodCells.observed(dataset)
    return Cells(seen.deal, seen.t, seen.r, dataset.deals["n_borrowers"].to_numpy(float)[seen.deal], len(dataset.deals))
