"""The loan-level recovery process of the simulated market, and the expected curves it implies.

For loan i of deal d (originator o, vintage v), with balance B_i and months delinquent m_i at cut-off:

    P(borrower ever pays)   pi_i = logistic(a + lvl_o + vin_v + u_d - b_bal * log(B_i / 100,000) - b_del * (m_i - 5))
    share repaid if paying  s_i ~ Beta(mean mu_s)
    first payment           T_i ~ Weibull(shape k, scale lam_d), lam_d = lam * exp(spd_o + w_d)   (months since cut-off)
    instalments             J_i = 1 + min(Poisson(mu_J), J_max - 1) equal parts, the j-th at T_i + G_j,
                            G_j a sum of j exponential gaps of mean `gap` months (G_j ~ Gamma(j, gap))

u_d ~ N(0, sd_u) and w_d ~ N(0, sd_w) are deal effects (pool quality and servicing speed), except for the deals
named in `scenario_level`, whose u_d is set to reproduce the originator facts of the market report. The expected
cumulative recovery rate of a deal after t months is then

    E[cum_rate_d(t)] = sum_i B_i pi_i mu_s H_d(t) / opb_d,   H_d(t) = sum_J P(J) / J sum_{j<J} P(T + G_j <= t)

with P(T + G_j <= t) the Weibull CDF convolved with the Gamma(j, gap) density (numerically, on a 0.05-month grid).
``prior`` curves integrate u_d and w_d out (Gauss-Hermite), so they are the best a forecaster who knows the process,
originator, vintage and loan tape (but not the deal's own effects) can do.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import fftconvolve
from scipy.special import expit
from scipy.stats import gamma, poisson

REFERENCE_BALANCE = 100_000.0
REFERENCE_DELINQUENCY = 5.0
TIMING_GRID_STEP = 0.05  # months


@dataclass(frozen=True)
class RecoveryProcess:
    intercept: float = -0.65
    balance_effect: float = 0.30
    delinquency_effect: float = 0.15
    vintage_level: dict[int, float] = field(default_factory=lambda: {
        2021: 0.45, 2022: 0.28, 2023: 0.0, 2024: -0.30, 2025: -0.45})
    originator_level: dict[str, float] = field(default_factory=lambda: {
        "A": 0.10, "B": 0.0, "C": -0.10, "D": 0.05, "E": -0.10})
    originator_speed: dict[str, float] = field(default_factory=lambda: {
        "A": 0.0, "B": 0.15, "C": -0.10, "D": 0.20, "E": 0.05})
    scenario_level: dict[str, float] = field(default_factory=lambda: {
        "A-2024-1": -1.00, "A-2024-2": 0.30, "E-2023-1": -0.35, "E-2024-1": 0.45})
    deal_level_sd: float = 0.20
    deal_speed_sd: float = 0.20
    weibull_shape: float = 0.65
    weibull_scale: float = 12.0
    repay_mean: float = 0.55
    repay_concentration: float = 4.0
    instalments_extra_mean: float = 1.0
    instalments_max: int = 8
    instalment_gap: float = 2.0
    balance_sigma: float = 0.9
    delinquency_floor: float = 3.0  # non-performing: at least 90 days past due
    # common calendar risk on every pool's collections (simulation/calendar.py), off in the demo: a known shock
    # (start month, end month, factor) and a log-normal factor per month of this sd, an AR(1) in logs when persistent
    calendar_shock: tuple[str, str, float] | None = None
    calendar_sd: float = 0.0
    calendar_persistence: float = 0.0  # the AR(1) coefficient of c_m month to month (0: independent months)

    def payer_logit(self, originator: np.ndarray, vintage: np.ndarray, balance: np.ndarray,
                    months_delinquent: np.ndarray) -> np.ndarray:
        """Logit of P(ever pays) before the deal effect u_d."""
        lvl = np.array([self.originator_level.get(o, 0.0) for o in originator])
        vin = np.array([self.vintage_level.get(int(v), min(self.vintage_level.values())) for v in vintage])
        return (self.intercept + lvl + vin - self.balance_effect * np.log(balance / REFERENCE_BALANCE)
                - self.delinquency_effect * (months_delinquent - REFERENCE_DELINQUENCY))

    def speed(self, originator: np.ndarray) -> np.ndarray:
        return np.array([self.originator_speed.get(o, 0.0) for o in originator])

    def instalment_probs(self) -> np.ndarray:
        """P(J = 1..J_max): one payment plus a Poisson number more, the tail folded into J_max."""
        extra = poisson.pmf(np.arange(self.instalments_max), self.instalments_extra_mean)
        extra[-1] += 1.0 - extra.sum()
        return extra

    def timing(self, months: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """H(t): expected share of a paying loan's repaid amount collected by month t; shape (len(scale), len(months))."""
        probs = self.instalment_probs()
        step = TIMING_GRID_STEP
        grid = np.arange(0.0, months.max() + step / 2, step)
        at = np.rint(months / step).astype(int)
        first = 1.0 - np.exp(-(grid[None, :] / scale[:, None]) ** self.weibull_shape)
        out = np.zeros((len(scale), len(months)))
        for j in range(self.instalments_max):
            weight = sum(probs[J - 1] / J for J in range(j + 1, self.instalments_max + 1))
            if j == 0:
                cdf = first
            else:  # P(T + G_j <= t) = sum_s F_T(t - s) g_j(s) ds, G_j ~ Gamma(j, gap)
                density = gamma.pdf(grid, j, scale=self.instalment_gap) * step
                cdf = fftconvolve(first, density[None, :], axes=1)[:, : len(grid)]
            out += weight * cdf[:, at]
        return np.clip(out, 0.0, 1.0)


def gauss_hermite_normal(n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for E[f(Z)], Z ~ N(0, 1)."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return x, w / w.sum()


def expected_level(logit: np.ndarray, balance: np.ndarray, deal_index: np.ndarray, n_deals: int,
                   u: np.ndarray) -> np.ndarray:
    """sum_i B_i pi_i per deal for a given deal effect u_d."""
    return np.bincount(deal_index, weights=balance * expit(logit + u[deal_index]), minlength=n_deals)


def prior_level(logit: np.ndarray, balance: np.ndarray, deal_index: np.ndarray, n_deals: int, sd: float) -> np.ndarray:
    """sum_i B_i E_u[pi_i] per deal, u ~ N(0, sd)."""
    nodes, weights = gauss_hermite_normal()
    return sum(w * expected_level(logit, balance, deal_index, n_deals, np.full(n_deals, sd * z))
               for z, w in zip(nodes, weights))


def prior_timing(process: RecoveryProcess, months: np.ndarray, base_scale: np.ndarray) -> np.ndarray:
    """E_w[H(t)] with lam_d = base_scale * exp(w), w ~ N(0, deal_speed_sd)."""
    nodes, weights = gauss_hermite_normal()
    return sum(w * process.timing(months, base_scale * np.exp(process.deal_speed_sd * z)) for z, w in zip(nodes, weights))
