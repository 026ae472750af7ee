"""The benchmarks' figures for docs/validation.md: PIT histograms, one panel per line or target."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

BINS = 10


def pit_histograms(results: dict[str, pd.DataFrame], panel: str, panels: list[str], title: str, path: Path) -> None:
    """Per value of column ``panel`` (``panels``, in order), each model's histogram of its rows' ``pit`` (flat at 1
    when calibrated), with the grey band where a calibrated forecaster's bars fall 95% of the time for that many
    independent values. ``title`` is formatted with ``panel`` and ``n``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import binom
    edges = np.linspace(0, 1, BINS + 1)
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6), sharey=True)
    for ax, value in zip(np.atleast_1d(axes), panels):
        n = 0
        for name, rows in results.items():
            p = rows.loc[rows[panel] == value, "pit"].to_numpy(float)
            n = len(p)
            density = np.histogram(p, edges)[0] / max(n, 1) * BINS
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
