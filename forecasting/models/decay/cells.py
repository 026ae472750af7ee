"""The decay fit's cells: observed deal-periods as rates of opb."""
from __future__ import annotations

import numpy as np

from forecasting.data.dataset import Dataset
from forecasting.models.decay.likelihood import Cells


def fit_cells(dataset: Dataset) -> Cells:
    """Observed deal-periods as rates of opb, weighted by each deal's borrowers."""
    h = dataset.history
    amounts = h.amounts.reindex(dataset.deal_ids).to_numpy()
    deal, period = np.nonzero(np.isfinite(amounts))
    opb = dataset.deals["opb"].to_numpy(float)
    return Cells(deal, period + 1.0, amounts[deal, period] / opb[deal],
                 dataset.deals["n_borrowers"].to_numpy(float)[deal], len(opb))
