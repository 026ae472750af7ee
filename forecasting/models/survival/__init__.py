"""The survival family: time to a unit's first payment with a share that never pays (a Weibull mixture model), at
loan level (SurvivalLoanModel) or pool level (SurvivalPoolModel)."""
from forecasting.models import registry
from forecasting.models.survival.kaplan_meier import kaplan_meier_by
from forecasting.models.survival.loan_level import SurvivalLoanModel
from forecasting.models.survival.pool_level import SurvivalPoolModel


def _from_survival(entry: dict, has_loans: bool | None) -> dict:
    level = entry.pop("level", "auto")
    loan = level == "loan" or (level == "auto" and has_loans is not False)
    return {**entry, "kind": "survival_loan" if loan else "survival_pool"}


registry.DEPRECATED["survival"] = (
    "kind 'survival' is deprecated (npas 0.6) and will be refused in 0.7: use 'survival_loan' or 'survival_pool' "
    "(the key 'level' goes; 'auto' meant loan level where loan tables exist)", _from_survival)

__all__ = ["SurvivalLoanModel", "SurvivalPoolModel", "kaplan_meier_by"]
