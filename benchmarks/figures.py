"""The benchmarks' figures for docs/validation.md: PIT histograms, one panel per line or target."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

BINS = 10


def pit_histograms(results: dict[str, pd.DataFrame], panel: str, panels: list[str], title: str, path: Path) -> None:
    """Per value of column ``panel`` (``panels``, in order), each model's histogram of its rows' ``pit`` (flat at 1
    when calibrated; with a ``tied`` column, each PIT spread over its ties: Czado, Gneiting and Held's
    non-randomized histogram, ``calibration.pit_coverage``), with the grey band where a calibrated forecaster's
    bars fall 95% of the time for that many independent values. ``title`` is formatted with ``panel`` and ``n``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import binom

    from forecasting.backtest.calibration import pit_coverage
    edges = np.linspace(0, 1, BINS + 1)
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6), sharey=True)
    for ax, value in zip(np.atleast_1d(axes), panels):
        n = 0
        for name, rows in results.items():
            mine = rows[rows[panel] == value]
            p = mine["pit"].to_numpy(float)
            tied = mine["tied"].to_numpy(float) if "tied" in mine else np.zeros(len(p))
            n = len(p)
            below = np.array([0.0, *(pit_coverage(p, tied, -1.0, e).sum() for e in edges[1:])])  # at or below an edge
            density = np.diff(below) / max(n, 1) * BINS
            ax.step(edges, np.append(density, density[-1]), where="post", label=name)
        lo, hi = (binom.ppf(q, n, 1 / BINS) / max(n, 1) * BINS for q in (0.025, 0.975))
        ax.axhspan(lo, hi, color="grey", alpha=0.15, lw=0)
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_title(title.format(panel=value, n=n))
        ax.set_xlabel("PIT")
    np.atleast_1d(axes)[0].set_ylabel("density")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
