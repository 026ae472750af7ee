"""The report's opening summary: what was fitted, what it says of the newest pools, and how it did against the
baselines, in a few lines an analyst can paste."""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.periods import span

LARGE_GAP = 0.20  # a forecast this far from the agency's estimate (relative) is flagged


def pool_lines(new: pd.DataFrame, currency: str) -> list[str]:
    """One line per newest pool: expected recovery with its P10-P90 in % and in currency, beside the agency's."""
    expected = "expected_gross_recovery" if "expected_gross_recovery" in new else "gross_recovery"
    lo, hi = f"{expected}_p10", f"{expected}_p90"
    lines = []
    for row in new.itertuples(index=False):
        r = row._asdict()
        amount = r["opb"] * r[expected] / 1e8
        text = (f"{r['deal_id']}: {r[expected]:.1%} of principal (P10-P90 {r.get(lo, np.nan):.1%} to "
                f"{r.get(hi, np.nan):.1%}), {amount:,.2f} 亿 {currency}")
        agency = r.get("est_gross_recovery")
        if agency is not None and np.isfinite(agency) and agency > 0:
            gap = r[expected] / agency - 1
            text += f"; the agency estimated {agency:.1%}"
            text += f" (ours {gap:+.0%}: a large difference)" if abs(gap) >= LARGE_GAP else f" ({gap:+.0%})"
        lines.append(text)
    return lines


def backtest_line(compared: pd.DataFrame | None, model: str, horizon: int, period_months: int = 1) -> str:
    """How the chosen model did against each scheme's best baseline at the ranking horizon (in periods)."""
    if compared is None or compared.empty:
        return "No backtest was run (the config has no backtest section)."
    rows = compared[(compared["model"] == model) & (compared["horizon"] == horizon)]
    if rows.empty:
        return f"{model} has no backtest forecasts at {span(horizon, period_months)}."
    parts = []
    for r in rows.itertuples(index=False):
        if np.isnan(r.mae_diff_lo):
            reading = "too few deals to tell it from"
        elif r.mae_diff_hi < 0:
            reading = "better than"
        elif r.mae_diff_lo > 0:
            reading = "worse than"
        else:
            reading = "not distinguishable from"
        parts.append(f"{r.scheme}: {reading} {r.baseline} (MAE difference {r.mae_diff:+.4f}, 95% interval "
                     f"{r.mae_diff_lo:+.4f} to {r.mae_diff_hi:+.4f})")
    return (f"Backtest at {span(horizon, period_months)}, {model} against each scheme's best baseline: "
            + "; ".join(parts) + ".")
