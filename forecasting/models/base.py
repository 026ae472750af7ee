"""The one interface every estimator shares, models and baselines alike (scikit-learn style).

- ``fit(dataset) -> self`` learns from a :class:`~forecasting.data.dataset.Dataset` (its deals, recovery history,
  loan tape and agency estimates); learned state lives in attributes ending in ``_``; constructor arguments are kept
  as given, so ``get_params`` / ``set_params`` / ``sklearn.base.clone`` work.
- ``predict(dataset, horizon, *, n_draws, random_state) -> CurveForecast`` forecasts every deal of a dataset, its
  observed periods carried unchanged and the rest conditioned on them.
- ``summary(alpha)`` gives one table shape for every family (``SUMMARY_COLUMNS``); ``diagnostics_`` says whether the
  fit converged, what it warned and what it counted.
- ``tags`` (:class:`EstimatorTags`, the class's ``_tags`` unless options change them) declares what an estimator
  needs and gives; the forecast, backtest and report code reads only these and the methods above.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as _SklearnNotFitted

from forecasting.data.dataset import Dataset
from forecasting.data.periods import PERIOD_LENGTHS
from forecasting.data.problems import InputError, Problem
from forecasting.models.curve_forecast import CurveForecast
from forecasting.models.summary import SUMMARY_COLUMNS


class FitError(RuntimeError):
    """The fit failed or cannot be trusted (optimiser failure, nothing to learn from, a singular information): it
    must not be used. The message says what went wrong; whoever reports it names the model."""


class NotFittedError(_SklearnNotFitted):
    """predict or summary before fit."""


@dataclass(frozen=True)
class EstimatorTags:
    """What an estimator needs and gives. Flow code reads these, never kind strings or names."""

    is_baseline: bool = False  # a reference method analysts use today, scored beside the models
    needs_loans: bool = False  # fit needs the loan tables
    uses_loans: bool = False  # uses the loan tables where given
    uses_agency: bool = False  # needs est_gross_recovery for every deal
    gives_expected_curve: bool = False  # CurveForecast.expected: the pool's expected curve besides its realized cash
    gives_never_pay_share: bool = False  # never_pay_share(dataset): the share of principal never recovered
    gives_calendar_effects: bool = False  # calendar_table() and plot_calendar(): each calendar period's common effect


@dataclass(frozen=True)
class Diagnostics:
    """How a fit went. ``counts``: what it was fitted on (deals, cells, loans, ...)."""

    converged: bool
    iterations: int | None = None
    warnings: tuple[str, ...] = ()
    counts: dict = field(default_factory=dict)
    message: str = ""


class RecoveryEstimator(BaseEstimator):
    """Base of every estimator. Subclasses implement ``_fit`` (returning Diagnostics), ``_predict`` and
    ``_summary_rows``; they declare ``tags`` and register a config ``kind`` (models/registry.py)."""

    _tags: ClassVar[EstimatorTags] = EstimatorTags()
    kind: ClassVar[str] = ""

    name: str

    @property
    def tags(self) -> EstimatorTags:
        """This estimator's tags (the class's, adjusted by its options where a family says so)."""
        return self._tags

    @classmethod
    def check_options(cls, options) -> list[tuple[str, str]]:
        """Checks across config keys: (key, reason) per problem (the keys' own types are checked already)."""
        return []

    # ------------------------------------------------------------------------------------------------ fit
    def fit(self, dataset: Dataset) -> RecoveryEstimator:
        self._check_inputs(dataset, "fit")
        for attr in [a for a in vars(self) if a.endswith("_") and not a.startswith("_")]:
            delattr(self, attr)  # a refit starts clean
        diagnostics = self._fit(dataset)
        self.diagnostics_ = diagnostics
        self.period_months_ = int(dataset.meta.period_months)  # the unit of every period the model learnt
        for message in diagnostics.warnings:
            warnings.warn(message, RuntimeWarning, stacklevel=2)
        return self

    def _check_inputs(self, dataset: Dataset, step: str) -> None:
        if not isinstance(dataset, Dataset):
            raise TypeError(f"{self._label()}.{step} takes a Dataset (forecasting.load_dataset), got "
                            f"{type(dataset).__name__}")
        if step == "fit" and self.tags.needs_loans and not dataset.has_loans:
            raise FitError("needs the loan tables (loans and loan_collections)")
        if step == "predict" and dataset.meta.period_months != self.period_months_:  # fitted: predict checked
            raise InputError(Problem("dataset.yaml", None, "period_months",
                                     f"{self.name} was fitted on {self.period_months_}-month periods and this "
                                     f"dataset's are {dataset.meta.period_months}-month: its curves would be read in "
                                     f"the wrong unit; forecast data of {self.period_months_}-month periods, or refit "
                                     f"on this data"))
        if self.tags.uses_agency:
            est = dataset.agency_estimates
            missing = dataset.deals["deal_id"] if est is None else est.index[est.isna()]
            if len(missing):
                raise InputError(Problem("deals", None, "est_gross_recovery",
                                         f"{self.name} needs every pool's est_gross_recovery; missing for "
                                         f"{len(missing)} pool(s): {', '.join(map(str, list(missing)[:5]))}"))

    def _fit(self, dataset: Dataset) -> Diagnostics:  # pragma: no cover - abstract
        raise NotImplementedError

    # -------------------------------------------------------------------------------------------- predict
    def predict(self, dataset: Dataset, horizon: int, *, n_draws: int = 1000, random_state: int = 0) -> CurveForecast:
        """Forecast every deal of ``dataset`` for periods 1..horizon (its collections are what is observed)."""
        self._check_fitted()
        self._check_inputs(dataset, "predict")
        if int(horizon) < 1 or int(n_draws) < 1:
            raise ValueError(f"horizon and n_draws must be >= 1, got {horizon} and {n_draws}")
        return self._predict(dataset, int(horizon), int(n_draws), int(random_state))

    def _predict(self, dataset: Dataset, horizon: int, n_draws: int, random_state: int) -> CurveForecast:
        raise NotImplementedError  # pragma: no cover - abstract

    # --------------------------------------------------------------------------------------------- report
    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """Estimates with standard errors, test statistic, p-value and the (1 - alpha) interval, one row per term:
        columns ``SUMMARY_COLUMNS``. Rows without a standard error (effect sds, dispersion) leave those blank."""
        self._check_fitted()
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        table = self._summary_rows(alpha)
        return table[SUMMARY_COLUMNS].reset_index(drop=True)

    def _summary_rows(self, alpha: float) -> pd.DataFrame:  # pragma: no cover - abstract
        raise NotImplementedError

    def plot(self, ax=None, alpha: float = 0.05):
        """Coefficients with their (1 - alpha) intervals, one line per term that has a standard error."""
        import matplotlib.pyplot as plt
        table = self.summary(alpha).dropna(subset=["se"])
        if ax is None:
            ax = plt.subplots(figsize=(7, 0.3 * len(table) + 1))[1]
        y = np.arange(len(table))[::-1]
        ax.errorbar(table["coef"], y, xerr=[table["coef"] - table["lower"], table["upper"] - table["coef"]],
                    fmt="o", color="#234", capsize=2)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(y, [f"{b}: {t}" for b, t in zip(table["block"], table["term"])], fontsize=8)
        ax.set_title(f"{self.name}: estimates with {1 - alpha:.0%} intervals")
        return ax

    def print_summary(self, alpha: float = 0.05) -> None:
        d = self.diagnostics_ if self.__sklearn_is_fitted__() else None
        state = "not fitted" if d is None else (f"converged={d.converged}, iterations={d.iterations}, "
                                                + ", ".join(f"{k}={v}" for k, v in d.counts.items()))
        print(f"<{type(self).__name__} {self.name!r}: {state}>")
        print(self.summary(alpha).to_string(index=False, float_format=lambda x: f"{x:.4f}"))

    # ---------------------------------------------------------------------------------------------- state
    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "diagnostics_")

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(f"{self._label()} is not fitted yet: call fit(dataset) first")

    def _label(self) -> str:
        return f"{type(self).__name__}({getattr(self, 'name', '?')!r})"

    def fitted_state(self) -> dict:
        """Everything fit learned (public attributes ending in ``_``): what an artifact stores."""
        self._check_fitted()
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}

    def check_state(self) -> None:
        """Raise ValueError if learned state loaded from an artifact is not what fit would have made (shapes,
        finiteness): subclasses add their own checks. An artifact is data; this keeps a damaged one from giving a
        number instead of an error."""
        for key, value in self.fitted_state().items():
            if isinstance(value, np.ndarray) and value.dtype.kind == "f" and not np.isfinite(value).all():
                raise ValueError(f"{key} holds non-finite values")
        if getattr(self, "period_months_", None) not in PERIOD_LENGTHS:
            raise ValueError(f"period_months_ is {getattr(self, 'period_months_', None)!r}, not one of {PERIOD_LENGTHS}")
