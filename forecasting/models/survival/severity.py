"""What a paying loan repays and when: the severity GLM and the instalment kernel, from loans whose payments are
complete (they had KERNEL_LAGS periods to arrive after the first)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.special import expit

from forecasting.models.base import FitError

KERNEL_LAGS = 36
MIN_KERNEL_LOANS = 50


@dataclass(frozen=True)
class PaymentShape:
    """s(x) = expit([1, log_balance, months_delinquent] @ severity): share of its balance a paying loan repays;
    kernel[k]: share of a paying loan's cash arriving k periods after its first payment."""

    severity: np.ndarray
    kernel: np.ndarray

    def share(self, log_balance: np.ndarray, months_delinquent: np.ndarray) -> np.ndarray:
        return expit(self.severity[0] + self.severity[1] * log_balance + self.severity[2] * months_delinquent)


def fit_payment_shape(table: pd.DataFrame, loan_collections: pd.DataFrame, x: pd.DataFrame) -> PaymentShape:
    """Fractional logit GLM (statsmodels) on complete payers' repaid share, and their empirical kernel."""
    complete = (table["event"] == 1) & (table["observed"] - table["duration"] >= KERNEL_LAGS)
    if complete.sum() < MIN_KERNEL_LOANS:
        raise FitError(f"only {int(complete.sum())} paying loans with {KERNEL_LAGS} periods of history; too few to "
                       f"learn severity and instalment timing (need {MIN_KERNEL_LOANS})")
    share = np.clip(table.loc[complete, "paid"] / table.loc[complete, "balance"], 1e-6, 1 - 1e-6)
    X = sm.add_constant(x.loc[complete, ["log_balance", "months_delinquent"]].to_numpy(), has_constant="add")
    severity = sm.GLM(share.to_numpy(), X, family=sm.families.Binomial()).fit().params
    done = table.loc[complete, ["deal_id", "loan_id", "duration"]]
    paid = loan_collections.merge(done, on=["deal_id", "loan_id"])
    lag = (paid["period"] - paid["duration"]).to_numpy()
    inside = (lag >= 0) & (lag <= KERNEL_LAGS)
    kernel = np.bincount(lag[inside].astype(int), weights=paid["amount"].to_numpy()[inside], minlength=KERNEL_LAGS + 1)
    return PaymentShape(np.asarray(severity, float), kernel / kernel.sum())
