"""Simulate a whole market: the deal roster, every loan, every payment, the observed tables and the truth."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.data.dataset import Dataset, DatasetMeta
from forecasting.data.periods import month_index, observed_periods
from forecasting.simulation import facts
from forecasting.simulation.calendar import calendar_factors, log_factors_by_period_end, shocked
from forecasting.simulation.process import RecoveryProcess, expected_level, prior_level, prior_timing
from forecasting.simulation.roster import roster
from forecasting.simulation.tranches import illustrative_structure

DEFAULT_SEED = 2025
TRUTH_PERIODS = 84
AGENCY_NOISE_SD = 0.10


@dataclass(frozen=True)
class SimulatedMarket:
    """A simulated dataset with what the simulator knows and a forecaster does not."""

    dataset: Dataset
    truth: pd.DataFrame  # deal_id, period, expected_cum_rate, prior_cum_rate (periods 1..TRUTH_PERIODS)
    effects: pd.DataFrame  # deal_id, level_effect (u_d), speed_effect (w_d)
    realized: pd.DataFrame = field(repr=False, compare=False)  # collections (CNY) by deal and period 1..TRUTH_PERIODS,
    # the unobserved periods included: what the pools go on to collect (the observed ones are the dataset's)
    calendar: pd.Series = field(repr=False, compare=False)  # log calendar factor by month end (empty: none)

    redraw: _PaymentDraw = field(repr=False, compare=False)  # the loans and effects behind the payments

    def truth_at(self, period: int, deal_ids) -> pd.DataFrame:
        """expected_cum_rate and prior_cum_rate of the deals (in the order given) at one period."""
        return self.truth[self.truth["period"] == period].set_index("deal_id").loc[list(deal_ids)]

    def redraw_collections(self, rng: np.random.Generator) -> pd.DataFrame:
        """Another draw of the recovery process on the same loans and deal effects: collections by deal (rows,
        indexed by deal_id in the dataset's order) and period (columns 1 to TRUTH_PERIODS, unobserved ones
        included), the shape of ``RecoveryHistory.amounts``. What an oracle who knows everything but the luck would
        expect to see; benchmarks use it to ask what the best possible forecast band can cover."""
        return self.redraw(rng)

    def oracle_quantiles(self, period: int, quantiles=(0.1, 0.9), draws: int = 200, seed: int = 0) -> pd.DataFrame:
        """Quantiles of each deal's realized cum_rate at ``period`` for an oracle that knows every loan, the process
        and the deal's own effects: its observed collections plus fresh draws of the periods still to come (drawn
        unconditionally, so if anything too wide). The narrowest honest band for realized cash; index deal_id."""
        ds = self.dataset
        ids = ds.deals["deal_id"].to_numpy()
        opb = ds.deals["opb"].to_numpy()
        seen = ds.history.amounts.reindex(ids)
        n_obs = seen.notna().sum(axis=1).to_numpy()
        rng = np.random.default_rng(seed)
        future = np.empty((draws, len(ids)))
        ahead = np.arange(1, TRUTH_PERIODS + 1)
        to_come = (ahead > n_obs[:, None]) & (ahead <= period)
        for i in range(draws):
            future[i] = np.sum(self.redraw_collections(rng).loc[ids].to_numpy() * to_come, axis=1)
        paths = (seen.sum(axis=1).to_numpy() + future) / opb
        return pd.DataFrame({q: np.quantile(paths, q, axis=0) for q in quantiles}, index=pd.Index(ids, name="deal_id"))


@dataclass(frozen=True)
class _PaymentDraw:
    loans: pd.DataFrame  # with _deal, the deal's row
    deal_ids: np.ndarray
    logit: np.ndarray
    level_effect: np.ndarray
    scale: np.ndarray
    process: RecoveryProcess
    cutoff_month: np.ndarray  # per deal, months since year 0
    calendar: pd.Series  # the market's calendar factor by month (the same months' risk on every redraw)

    def __call__(self, rng: np.random.Generator) -> pd.DataFrame:
        pay = _payments(self.loans, self.logit, self.level_effect, self.scale, self.process, rng)
        pay = shocked(pay, self.loans["_deal"].to_numpy(), self.cutoff_month, self.calendar)
        return _amounts(pay, self.loans["_deal"].to_numpy(), self.deal_ids)


def _amounts(pay: pd.DataFrame, loan_deal: np.ndarray, deal_ids: np.ndarray) -> pd.DataFrame:
    """Payments summed by deal (rows, in ``deal_ids`` order) and period (columns 1..TRUTH_PERIODS)."""
    deal = loan_deal[pay["row"].to_numpy()]
    k = len(deal_ids)
    sums = np.bincount(deal * TRUTH_PERIODS + pay["period"].to_numpy() - 1, pay["amount"].to_numpy(),
                       minlength=k * TRUTH_PERIODS)
    return pd.DataFrame(sums.reshape(k, TRUTH_PERIODS), index=pd.Index(deal_ids, name="deal_id"),
                        columns=pd.RangeIndex(1, TRUTH_PERIODS + 1, name="period"))


def _loans(deals: pd.DataFrame, process: RecoveryProcess, rng: np.random.Generator) -> pd.DataFrame:
    """Loan tape: one loan per borrower, balances summing to the pool, WA delinquency at the deal's target."""
    n = deals["n_borrowers"].to_numpy()
    deal_index = np.repeat(np.arange(len(deals)), n)
    weight = rng.lognormal(0.0, process.balance_sigma, n.sum())
    pool = (deals["target_avg_balance"].to_numpy() * n)[deal_index]
    balance = np.maximum(np.round(pool * weight / np.bincount(deal_index, weight)[deal_index], 2), 100.0)
    floor = process.delinquency_floor
    excess = rng.gamma(3.0, 1.0, n.sum())
    target = deals["target_wa_delinquency"].to_numpy() - floor
    w_mean = np.bincount(deal_index, balance * excess) / np.bincount(deal_index, balance)
    months = np.round(floor + excess * (target / w_mean)[deal_index], 1)
    within = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    loan_id = pd.Series(deals["deal_id"].to_numpy()[deal_index]) + "-L" + pd.Series(within + 1).astype(str).str.zfill(5)
    return pd.DataFrame({"deal_id": deals["deal_id"].to_numpy()[deal_index], "loan_id": loan_id,
                         "balance": balance, "months_delinquent": months, "_deal": deal_index})


def _payments(loans: pd.DataFrame, logit: np.ndarray, u: np.ndarray, scale: np.ndarray, process: RecoveryProcess,
              rng: np.random.Generator) -> pd.DataFrame:
    """Every instalment of every paying borrower within TRUTH_PERIODS months: loan row, period, amount."""
    deal = loans["_deal"].to_numpy()
    pays = rng.random(len(loans)) < 1.0 / (1.0 + np.exp(-(logit + u[deal])))
    payer = np.flatnonzero(pays)
    a = process.repay_mean * process.repay_concentration
    share = rng.beta(a, process.repay_concentration - a, len(payer))
    first = scale[deal[payer]] * rng.weibull(process.weibull_shape, len(payer))
    parts = rng.choice(np.arange(1, process.instalments_max + 1), len(payer), p=process.instalment_probs())
    row = np.repeat(payer, parts)
    j = np.arange(len(row)) - np.repeat(np.cumsum(parts) - parts, parts)
    time = np.repeat(first, parts) + rng.gamma(np.maximum(j, 1), process.instalment_gap) * (j > 0)
    amount = np.round(np.repeat(share * loans["balance"].to_numpy()[payer] / parts, parts), 2)
    period = np.maximum(np.ceil(time), 1).astype(int)
    keep = period <= TRUTH_PERIODS
    return pd.DataFrame({"row": row[keep], "period": period[keep], "amount": amount[keep]})


def _rescale_to_vintage(value: np.ndarray, deals: pd.DataFrame, column: str) -> np.ndarray:
    """Scale a per-deal quantity so each (replica, vintage) sums to the published vintage total."""
    totals = facts.VINTAGES[column].reindex(deals["vintage"]).to_numpy() * facts.YI
    group = deals["replica"].astype(str) + "/" + deals["vintage"].astype(str)
    return value * totals / pd.Series(value).groupby(group.to_numpy()).transform("sum").to_numpy()


def simulate_market(seed: int = DEFAULT_SEED, replicas: int = 1, process: RecoveryProcess | None = None,
                    as_of: pd.Timestamp = facts.AS_OF) -> SimulatedMarket:
    """The calibrated market (``replicas=1``: the 29 deals of the report) or a larger one of the same process."""
    process = process or RecoveryProcess()
    rng = np.random.default_rng(seed)
    parts = []
    for r in range(replicas):
        part = roster(rng).assign(replica=r)
        if replicas > 1:
            part["deal_id"] = part["deal_id"] + f"-r{r + 1}"
        parts.append(part)
    deals = pd.concat(parts, ignore_index=True)
    k = len(deals)
    loans = _loans(deals, process, rng)
    d_index = loans["_deal"].to_numpy()
    balance = loans["balance"].to_numpy()
    originator, vintage = deals["originator"].to_numpy(), deals["vintage"].to_numpy()
    logit = process.payer_logit(originator[d_index], vintage[d_index], balance, loans["months_delinquent"].to_numpy())

    base_id = deals["deal_id"].str.replace(r"-r\d+$", "", regex=True)
    u = rng.normal(0.0, process.deal_level_sd, k)
    scenario = base_id.map(process.scenario_level)
    u = np.where(scenario.notna(), scenario.fillna(0.0), u)
    w = rng.normal(0.0, process.deal_speed_sd, k)
    base_scale = process.weibull_scale * np.exp(process.speed(originator))
    scale = base_scale * np.exp(w)
    pay = _payments(loans, logit, u, scale, process, rng)
    cutoff_month = month_index(deals["cutoff_date"])
    calendar = calendar_factors(process, cutoff_month, TRUTH_PERIODS, seed)
    pay = shocked(pay, d_index, cutoff_month, calendar)

    opb = np.bincount(d_index, balance, minlength=k)
    wa_delinquency = np.bincount(d_index, balance * loans["months_delinquent"].to_numpy(), minlength=k) / opb
    months = np.arange(1, TRUTH_PERIODS + 1, dtype=float)
    expected = process.repay_mean * (expected_level(logit, balance, d_index, k, u) / opb)[:, None] * \
        process.timing(months, scale)
    prior = process.repay_mean * (prior_level(logit, balance, d_index, k, process.deal_level_sd) / opb)[:, None] * \
        prior_timing(process, months, base_scale)
    truth = pd.DataFrame({"deal_id": np.repeat(deals["deal_id"].to_numpy(), TRUTH_PERIODS),
                          "period": np.tile(months.astype(int), k),
                          "expected_cum_rate": expected.ravel(), "prior_cum_rate": prior.ravel()})

    # The agency rates a pool from the originator's historical data: it sees a level halfway between the previous
    # vintage's and the pool's own (unknown, usually lower) issue-year level.
    history_shift = 0.5 * np.array([process.vintage_level.get(int(v) - 1, process.vintage_level.get(int(v), 0.0))
                                    - process.vintage_level.get(int(v), 0.0) for v in vintage])
    agency = process.repay_mean * prior_level(logit + history_shift[d_index], balance, d_index, k,
                                              process.deal_level_sd) / opb * prior_timing(process, months[-1:], base_scale)[:, -1]
    est = np.clip(agency * np.exp(rng.normal(0.0, AGENCY_NOISE_SD, k)), *facts.EXPECTED_GROSS_RECOVERY_RANGE)
    deals_out = pd.DataFrame({
        "deal_id": deals["deal_id"], "originator": originator, "vintage": vintage,
        "cutoff_date": deals["cutoff_date"], "opb": np.round(opb, 2), "n_borrowers": deals["n_borrowers"],
        "avg_balance": np.round(opb / deals["n_borrowers"].to_numpy(), 2),
        "wa_delinquency_months": np.round(wa_delinquency, 2), "est_gross_recovery": np.round(est, 4),
        "issue_size": np.round(_rescale_to_vintage(opb * est, deals, "issue_size_yi"), 2),
    })

    n_obs = observed_periods(deals["cutoff_date"], as_of, 1)
    pay_deal = d_index[pay["row"].to_numpy()]
    seen = pay["period"].to_numpy() <= n_obs[pay_deal]
    loan_collections = (pay[seen].assign(deal_id=deals["deal_id"].to_numpy()[pay_deal[seen]],
                                          loan_id=loans["loan_id"].to_numpy()[pay["row"].to_numpy()[seen]])
                        .groupby(["deal_id", "loan_id", "period"], as_index=False, sort=True)["amount"].sum())
    grid = pd.DataFrame({"deal_id": np.repeat(deals["deal_id"].to_numpy(), n_obs),
                         "period": np.concatenate([np.arange(1, m + 1) for m in n_obs])})
    sums = loan_collections.groupby(["deal_id", "period"])["amount"].sum().rename("gross_collections")
    collections = grid.join(sums, on=["deal_id", "period"]).fillna({"gross_collections": 0.0})
    collections["gross_collections"] = collections["gross_collections"].round(2)

    meta = DatasetMeta(name=f"simulated-seed{seed}" + (f"-x{replicas}" if replicas > 1 else ""),
                       as_of=as_of.date(), period_months=1, currency="CNY")
    deals_out, tranches = illustrative_structure(deals_out, seed)
    dataset = Dataset(meta, deals_out, collections, loans.drop(columns="_deal"), loan_collections, tranches)
    effects = pd.DataFrame({"deal_id": deals["deal_id"], "level_effect": u, "speed_effect": w})
    redraw = _PaymentDraw(loans, deals["deal_id"].to_numpy(), logit, u, scale, process, cutoff_month, calendar)
    return SimulatedMarket(dataset, truth, effects, _amounts(pay, d_index, deals["deal_id"].to_numpy()),
                           log_factors_by_period_end(calendar), redraw)
