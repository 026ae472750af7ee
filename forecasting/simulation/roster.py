"""The deal roster of the market: who issued which pool when, and each pool's size, borrowers and features.

Pool sizes are solved, not guessed: a seeded draw of borrowers and average balances is moved as little as possible
(least squares on the log scale) until it meets the published totals exactly (per-vintage pool principal, mean
borrowers per deal, its minimum and maximum, mean average balance per deal rising by vintage, the 2024 vintage
spanning the widest range). Together these force the large pools to be the high-balance pools, as the totals imply.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from forecasting.simulation import facts

# (originator, vintage, cut-off month) per deal, in issue order. Originator A's first 2024 deal is the one the report
# singles out as below A's 2022-23 deals; E issued in 2023 and 2024.
ROSTER: list[tuple[str, int, str]] = [
    ("A", 2021, "2021-05"), ("A", 2021, "2021-09"),
    ("A", 2022, "2022-01"), ("B", 2022, "2022-03"), ("C", 2022, "2022-05"), ("A", 2022, "2022-07"), ("C", 2022, "2022-09"),
    ("A", 2023, "2023-01"), ("B", 2023, "2023-02"), ("C", 2023, "2023-04"), ("D", 2023, "2023-05"), ("E", 2023, "2023-07"),
    ("A", 2023, "2023-09"),
    ("B", 2024, "2024-01"), ("A", 2024, "2024-01"), ("C", 2024, "2024-02"), ("D", 2024, "2024-03"), ("B", 2024, "2024-03"),
    ("E", 2024, "2024-04"), ("C", 2024, "2024-05"), ("A", 2024, "2024-06"), ("D", 2024, "2024-06"), ("B", 2024, "2024-07"),
    ("C", 2025, "2025-01"), ("B", 2025, "2025-02"), ("A", 2025, "2025-03"), ("D", 2025, "2025-03"), ("E", 2025, "2025-04"),
    ("C", 2025, "2025-05"),
]
SMALLEST, LARGEST = 10, 16  # roster rows fixed at exactly the published minimum and at the 30,000+ borrower maximum
LARGEST_BORROWERS = 31_250
MIN_BALANCE_WAN, MAX_BALANCE_WAN = 6.0, 150.0
VINTAGE_STEP_WAN = 0.4  # mean average balance per deal rises at least this much per vintage


def base_roster() -> pd.DataFrame:
    rows = []
    counter: dict[tuple[str, int], int] = {}
    for originator, vintage, month in ROSTER:
        counter[(originator, vintage)] = counter.get((originator, vintage), 0) + 1
        rows.append({"deal_id": f"{originator}-{vintage}-{counter[(originator, vintage)]}", "originator": originator,
                     "vintage": vintage, "cutoff_date": pd.Period(month, "M").to_timestamp(how="end").normalize()})
    return pd.DataFrame(rows)


def solve_sizes(vintage: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Borrowers and average balance (万元) per deal meeting the published totals; raises if the solver fails."""
    k = len(vintage)
    z = rng.normal(size=k)
    spread = np.where(vintage == 2024, 0.75, 0.5)  # 2024: all five originators, widest range of client segments
    x0 = np.log(2000) + 0.9 * z
    y0 = np.log(11.0) + 0.02 * (vintage - 2021) + spread * (1.2 * z + 0.4 * rng.normal(size=k))
    x0[SMALLEST], x0[LARGEST] = np.log(facts.BORROWERS_MIN), np.log(LARGEST_BORROWERS)
    years = sorted(set(vintage))
    n_total = facts.BORROWERS_MEAN * k
    b_total = facts.AVG_BALANCE_MEAN_WAN * k

    def rel(value: float, target: float) -> float:
        return (value - target) / target

    cons = [{"type": "eq", "fun": lambda v, m=vintage == y, o=facts.VINTAGES.at[y, "opb_yi"] * facts.YI / facts.WAN:
             rel(np.exp(v[:k][m] + v[k:][m]).sum(), o)} for y in years]
    cons += [
        {"type": "eq", "fun": lambda v: rel(np.exp(v[:k]).sum(), n_total)},
        {"type": "eq", "fun": lambda v: rel(np.exp(v[k:]).sum(), b_total)},
    ]
    cons += [{"type": "ineq", "fun": lambda v, a=vintage == a, b=vintage == b:
              np.exp(v[k:][b]).mean() - np.exp(v[k:][a]).mean() - VINTAGE_STEP_WAN} for a, b in zip(years, years[1:])]
    # the 2024 vintage spans the widest range: its two extremes (in the draw) are further apart than any other pair
    in_2024 = np.flatnonzero(vintage == 2024)
    hi, lo = in_2024[np.argmax(y0[in_2024])], in_2024[np.argmin(y0[in_2024])]
    others = [(i, j) for y in years if y != 2024 for i, j in combinations(np.flatnonzero(vintage == y), 2)]
    cons += [{"type": "ineq", "fun": lambda v, i=i, j=j: np.exp(v[k + hi]) - np.exp(v[k + lo])
              - abs(np.exp(v[k + i]) - np.exp(v[k + j])) - 1.0} for i, j in others]
    bounds = [(np.log(1000), np.log(facts.BORROWERS_MAX_ABOVE))] * k + \
        [(np.log(MIN_BALANCE_WAN), np.log(MAX_BALANCE_WAN))] * k
    bounds[SMALLEST] = (np.log(facts.BORROWERS_MIN),) * 2
    bounds[LARGEST] = (np.log(LARGEST_BORROWERS),) * 2
    result = minimize(lambda v: np.sum((v[:k] - x0) ** 2) + np.sum((v[k:] - y0) ** 2), np.r_[x0, y0],
                      method="SLSQP", constraints=cons, bounds=bounds, options={"maxiter": 1000, "ftol": 1e-12})
    worst = max(abs(c["fun"](result.x)) if c["type"] == "eq" else max(-c["fun"](result.x), 0) for c in cons)
    if not result.success or worst > 1e-6:
        raise RuntimeError(f"deal-size calibration failed: {result.message} (worst constraint error {worst:.2e})")
    return np.exp(result.x[:k]), np.exp(result.x[k:])


def roster(rng: np.random.Generator) -> pd.DataFrame:
    """The 29 deals with borrowers, target average balance (CNY) and target WA delinquency (months)."""
    deals = base_roster()
    borrowers, balance_wan = solve_sizes(deals["vintage"].to_numpy(), rng)
    deals["n_borrowers"] = np.round(borrowers).astype(int)
    deals["target_avg_balance"] = balance_wan * facts.WAN
    deals["target_wa_delinquency"] = np.clip(rng.normal(5.0, 0.55, len(deals)), 3.6, 7.0)
    return deals
