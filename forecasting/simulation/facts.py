"""The published facts of the market (docs/market_facts.md, from the Sept-2025 market report) as numbers.

The demo market is calibrated to these; tests and the demo's comparison table read them from here.
"""
from __future__ import annotations

import pandas as pd

AS_OF = pd.Timestamp("2025-08-31")
YI = 1e8  # 亿元 in CNY
WAN = 1e4  # 万元 in CNY

VINTAGES = pd.DataFrame(
    {
        "vintage": [2021, 2022, 2023, 2024, 2025],
        "issue_size_yi": [2.8, 8.8, 11.0, 19.8, 7.1],
        "opb_yi": [21.7, 69.1, 97.4, 201.1, 95.6],
    }
).set_index("vintage")

N_DEALS = 29
ORIGINATORS = ("A", "B", "C", "D", "E")
BORROWERS_MEAN = 4149
BORROWERS_MIN = 980
BORROWERS_MAX_ABOVE = 30_000
AVG_BALANCE_MEAN_WAN = 17.2
WA_DELINQUENCY_RANGE = (4.0, 6.0)
TOTAL_OPB_YI = 484.9
TOTAL_ISSUE_YI = 49.5
EXPECTED_GROSS_RECOVERY_RANGE = (0.10, 0.25)
