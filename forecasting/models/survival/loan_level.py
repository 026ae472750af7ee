"""Survival at loan level (loans and loan_collections given): each loan's first payment is the event.

x = the loan's log(balance / 100,000) (binned at 0.2) and months delinquent, in place of the pool averages, any other
deal-level covariate of the config, and the group levels. A paying loan repays a share s(x) of its balance, spread
after its first payment by the kernel K (severity.py). A pool's expected cum_rate is

    observed + sum over loans unpaid at t0 of B s(x) sum_k K(k) P(T in (t0, t - k] | T > t0) / opb
             + the rest of the kernel of loans already paying at t0

with P(T in (t0, u] | T > t0) = (S(t0) - S(u)) / S(t0): a seasoned pool is conditioned on which loans have paid.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from forecasting.data.dataset import Dataset
from forecasting.models.base import EstimatorTags
from forecasting.models.curve_forecast import CurveForecast
from forecasting.models.design import covariate_values
from forecasting.models.fit_checks import check_recovered
from forecasting.models.paths import observed_rates, realized_paths
from forecasting.models.registry import register
from forecasting.models.survival.base import MixtureSurvival
from forecasting.models.survival.cells import DEAL, aggregate, loan_durations, observed_periods
from forecasting.models.survival.fitter import survival
from forecasting.models.survival.frailty import Evidence
from forecasting.models.survival.severity import fit_payment_shape

BALANCE_STEP = 0.2
N_PARAM_DRAWS = 200  # parameter (and frailty) draws; paths beyond reuse them in turn with fresh process noise
LOAN_ANALOGUES = {"log_avg_balance", "avg_balance", "wa_delinquency_months"}  # a loan's own values replace these


@register("survival_loan")
class SurvivalLoanModel(MixtureSurvival):
    """Weibull mixture model of each loan's first payment, with severity and instalment timing (module docstring)."""

    _tags = EstimatorTags(needs_loans=True, uses_loans=True, gives_expected_curve=True, gives_never_pay_share=True)
    level = "loan"

    @classmethod
    def check_options(cls, options) -> list[tuple[str, str]]:
        problems = super().check_options(options)
        if options.calendar_effects:
            problems.append(("calendar_effects", "survival_loan has none: use survival_pool or a decay model"))
        return problems

    def _deal_covariates(self) -> list[str]:
        return [c for c in self.covariates if c not in LOAN_ANALOGUES]

    def _row_covariates(self) -> tuple[str, ...]:
        return ("log_balance", "months_delinquent", *self._deal_covariates())

    def _loan_frame(self, table: pd.DataFrame, deals: pd.DataFrame) -> pd.DataFrame:
        """Per loan: its binned features, the deal-level covariates and the group columns."""
        info = deals.set_index("deal_id")
        x = pd.DataFrame({"log_balance": np.round(np.log(table["balance"].to_numpy() / 1e5) / BALANCE_STEP) * BALANCE_STEP,
                          "months_delinquent": np.round(table["months_delinquent"].to_numpy())})
        for c in self._deal_covariates():
            x[c] = pd.Series(covariate_values(info, c), index=info.index).reindex(table["deal_id"]).to_numpy()
        for g in self.groups:
            x[g] = info[g].reindex(table["deal_id"]).to_numpy()
        return x

    # ------------------------------------------------------------------------------------------------ fit
    def _fit(self, dataset: Dataset):
        check_recovered(dataset)
        n_obs = observed_periods(dataset)
        table = loan_durations(dataset.loans, dataset.loan_collections, n_obs)
        table = table[table["duration"] > 0].reset_index(drop=True)
        x = self._loan_frame(table, dataset.deals)
        self.payment_ = fit_payment_shape(table, dataset.loan_collections, x)
        rows = aggregate(pd.concat([x, table[["duration", "event"]]], axis=1).assign(**{DEAL: table["deal_id"]}))
        return self._fit_rows(rows, lambda: self._loan_evidence(dataset.deal_ids, n_obs.to_numpy(), x, table),
                              {"deals": len(dataset.deals), "loans": len(table)})

    def _loan_evidence(self, ids: pd.Index, t0: np.ndarray, x: pd.DataFrame, table: pd.DataFrame) -> Evidence:
        """Cells of identical features within a deal, with how many of their loans paid by t0, and the first
        payments by period (frailty.py)."""
        pos = ids.get_indexer(table["deal_id"])
        cells = x.assign(_deal=pos, _paid=table["event"].to_numpy()).groupby(list(x.columns) + ["_deal"], sort=False)
        agg = cells["_paid"].agg(["size", "sum"]).reset_index()
        X_scale, X_never = self._designs(agg)
        deal = agg["_deal"].to_numpy()
        count = agg["size"].to_numpy(float)
        n = np.bincount(deal, count, len(ids))
        paid = np.bincount(deal, agg["sum"].to_numpy(float), len(ids)) / np.maximum(n, 1.0)
        payers = table["event"].to_numpy() == 1
        first = aggregate(x[payers].assign(_deal=pos[payers], _period=table["duration"].to_numpy()[payers]))
        return Evidence(X_scale, X_never, count, deal, t0, paid, n, self._designs(first)[0], first["_deal"].to_numpy(),
                        first["_period"].to_numpy(float), first["weight"].to_numpy(float))

    # -------------------------------------------------------------------------------------------- predict
    def _loan_tape(self, dataset: Dataset) -> pd.DataFrame:
        """The deals' loans; a deal without a tape is taken as n_borrowers loans of its average balance and WA
        delinquency, with a warning."""
        loans = dataset.loans
        have = set() if loans is None else set(loans["deal_id"])
        missing = dataset.deals[~dataset.deals["deal_id"].isin(have)]
        parts = [] if loans is None else [loans[loans["deal_id"].isin(set(dataset.deal_ids))]]
        if len(missing):
            warnings.warn(f"{self.name}: no loan tape for {len(missing)} pool(s); each is taken as n_borrowers loans "
                          f"of its average balance and WA delinquency", RuntimeWarning, stacklevel=4)
            n = missing["n_borrowers"].to_numpy(int)
            parts.append(pd.DataFrame({
                "deal_id": np.repeat(missing["deal_id"].to_numpy(), n), "loan_id": [f"avg-{i}" for i in range(n.sum())],
                "balance": np.repeat((missing["opb"] / missing["n_borrowers"]).to_numpy(), n),
                "months_delinquent": np.repeat(missing["wa_delinquency_months"].to_numpy(float), n)}))
        return pd.concat(parts, ignore_index=True)

    def _observed_loans(self, dataset: Dataset, n_obs: np.ndarray) -> pd.DataFrame:
        """The deals' loans with what each had paid by its deal's last observed period."""
        t0 = pd.Series(n_obs, index=dataset.deal_ids)
        lc = dataset.loan_collections if dataset.loan_collections is not None else \
            pd.DataFrame({"deal_id": pd.Series(dtype=str), "loan_id": pd.Series(dtype=str), "period": [], "amount": []})
        lc = lc[lc["deal_id"].isin(t0.index) & (lc["period"] <= lc["deal_id"].map(t0).fillna(0))]
        return loan_durations(self._loan_tape(dataset), lc, t0)

    def _predict(self, dataset: Dataset, horizon: int, n_draws: int, seed: int) -> CurveForecast:
        ids = dataset.deal_ids
        params = self._param_draws(min(n_draws, N_PARAM_DRAWS), seed)
        _, cum_obs, n_obs = observed_rates(dataset, horizon)
        table = self._observed_loans(dataset, n_obs)
        x = self._loan_frame(table, dataset.deals)
        evidence = self._loan_evidence(ids, n_obs, x, table)
        # each deal's frailty is anchored to what its loans say under each parameter draw (frailty.py)
        frailty = self._frailty_draws(evidence, params, ids, seed).with_levels(
            self._new_levels(dataset.deals, len(params["shape"]), seed))
        u, v = frailty.anchored(self._shift(evidence, params))
        opb = dataset.deals["opb"].to_numpy(float)
        t = np.arange(0, horizon + 1)
        future = self._future(ids, params, t, n_obs, opb, table, x, u, v)
        # the expected curve: every loan from cut-off, under the frailties the evidence gives (for pools with
        # nothing observed that is the forecast itself)
        expected = future if not n_obs.any() else self._future(ids, params, t, np.zeros_like(n_obs), opb,
                                                               table.assign(event=0, duration=0), x, u, v)
        turn = np.arange(n_draws) % len(params["shape"])
        paths = realized_paths(cum_obs, n_obs, future[turn], 1.0 / dataset.deals["n_borrowers"].to_numpy(float), ids,
                               seed)
        return CurveForecast(ids, paths.mean(axis=0), paths, n_obs, expected=np.minimum(expected[turn], 1.0))

    def _future(self, ids, params, t, n_obs, opb, table, x, u, v) -> np.ndarray:
        """Expected future cum_rate per draw: new first payments of loans unpaid at t0 spread by the kernel, plus the
        rest of the kernel of loans already paying. ``u``, ``v``: each deal's frailties per draw."""
        horizon = len(t) - 1
        deal_pos = ids.get_indexer(table["deal_id"])
        share = self.payment_.share(x["log_balance"].to_numpy(), x["months_delinquent"].to_numpy())
        expected = table["balance"].to_numpy() * share / opb[deal_pos]  # eventual recovery of a paying loan
        K = self.payment_.kernel
        future_cash = np.zeros((len(params["shape"]), len(ids), horizon))
        unpaid = table["event"].to_numpy() == 0
        cells = x[unpaid].reset_index(drop=True).assign(_deal=deal_pos[unpaid], _amount=expected[unpaid])
        cells = cells.groupby(list(x.columns) + ["_deal"], sort=False)["_amount"].sum().reset_index()
        d = cells["_deal"].to_numpy()
        S = survival(params, *self._designs(cells), t, offset=u[:, d], scale_offset=v[:, d])  # (draws, cells, H+1)
        S0 = np.take_along_axis(S, np.broadcast_to(n_obs[d][None, :, None], S.shape[:2] + (1,)), -1)
        first = (S[..., :-1] - S[..., 1:]) / S0 * (np.arange(1, horizon + 1)[None, None, :] > n_obs[d][None, :, None])
        first_amount = first * cells["_amount"].to_numpy()[None, :, None]
        spread = np.zeros_like(first_amount)
        for lag, k in enumerate(K[:horizon]):
            spread[..., lag:] += k * first_amount[..., : horizon - lag]
        np.add.at(future_cash, (slice(None), d), spread)
        paying = ~unpaid
        if paying.any():
            f = table["duration"].to_numpy()[paying].astype(int)
            rest = np.zeros((len(ids), horizon))
            for lag, k in enumerate(K):
                period = f + lag
                later = (period > n_obs[deal_pos[paying]]) & (period <= horizon)
                np.add.at(rest, (deal_pos[paying][later], period[later] - 1), k * expected[paying][later])
            future_cash += rest[None]
        return np.cumsum(future_cash, axis=-1)

    # --------------------------------------------------------------------------------------------- report
    def never_pay_share(self, dataset: Dataset) -> pd.Series:
        """Balance-weighted over each deal's loans."""
        self._check_fitted()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            tape = self._loan_tape(dataset)
        share = self._never_pay(self._loan_frame(tape, dataset.deals))
        balance = tape["balance"].to_numpy(float)
        weighted = pd.Series(share * balance).groupby(tape["deal_id"].to_numpy()).sum()
        total = pd.Series(balance).groupby(tape["deal_id"].to_numpy()).sum()
        return (weighted / total).reindex(dataset.deal_ids).rename("never_pay_share")
