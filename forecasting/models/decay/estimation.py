"""Estimating the decay model: the effects for given variances, and the variances themselves.

Inner step: for given effect variances tau^2 and dispersion phi, maximise the penalised quasi-likelihood over the
shared parameters theta and every deal's effects b, each step solved on the block system (blocks.py, linear in the
number of pools): Newton steps on the observed information (Fisher scoring where it is not positive definite) with a
backtracking line search, until the Newton decrement g' H^-1 g / 2 is below NEWTON_TOL, or below NEWTON_RTOL of the
objective (large data sets: rounding).

Outer step: the Laplace-EM update of the variances, tau_k^2 = mean over the effects of component k of
((effect - centre)^2 + posterior variance); for the deals' own level and timing sds the sum over the n deals is
divided by n - 1, the EM step of a Gamma(2, 0) prior on each of those sds (Chung et al. 2013), whose log density
log tau_k the marginal quasi-likelihood below gains. With few pools (a small market, an early as-of cut) maximum
likelihood often puts a deal sd at zero, so every pool's forecast is its group's and its band carries no pool-level
uncertainty; the prior keeps the sd about a standard error above zero when the pools show no spread, and is
negligible when they do (n / (n - 1)). phi is re-estimated from Pearson residuals over the cells less the
effective number of parameters, with a shrunk dispersion factor per level of the nesting group and an own factor
for an aberrant pool (``dispersion_factors``), so one miscounted pool cannot move every other deal's band. The factors change the
weights, so they form an outer fixed point: variances to convergence with the factors held, then the factors, until
they move by less than PSI_TOL, each round taking half the step on the log scale (updating both at once was
measured to drift for hundreds of updates on the CAS triangles, and full steps to cycle with period 5). The first
round, whose weights the first factors will change, is solved to LOOSE_TOL only (on the 3,840 usable CAS pools it
took 91 of 388 inner fits at ``tol``; tolerances that follow each round's moves were measured to stop the demo's
variances short of a vanishing component's floor, tripling its inner fits); every later round to ``tol``.
Plain EM crawls where a component's information is small (a few group levels, a
small sd): near its fixed point each log tau_k^2 contracts at its own rate rho_k, close to 1 for such a component.
After every two updates Aitken's delta-squared moves each component by its own rate (one step length for all, as
in SQUAREM, was measured to fit none when the rates differ), and the move is kept when the Laplace approximation to
the marginal quasi-likelihood (fixed effects integrated out too)

    l(tau) = quasi-loglik(theta^, b^) - sum_j (effect_j - centre_j)^2 / (2 tau_j^2) - sum_j log(tau_j^2) / 2
             - log|H| / 2 + sum_k log tau_k          (theta^, b^ the inner maximum; H their information; k over the
                                                       deals' own sds, the prior above)

does not fall. Where a variance's maximum is at zero, EM approaches it sublinearly (each update shrinks tau^2 by a
factor 1 - c tau^2): a component whose sd is below BOUNDARY_SD and still falling is tested at its floor, and fixed
there if l is no lower (its effects do not vary by what the data can show; mixed-model software calls this a
singular fit). The fit stops when, in one update, every effect sd moves by less than ``tol`` and every fixed
parameter by less than ``tol`` (logit and log units).

Why not maximise l directly, as lme4 does: measured on the demo market, l is flat in the group sds (0.1 units over
sds 0 to 0.1), so a search over them stops wherever its path enters the flat region (two starts, two answers of
equal l) at 3-6 times the cost; the EM fixed point is not l's maximum either (EM ignores how H moves with the
estimates), but it is reproducible and fast, and forecasts differ by less than their Monte Carlo noise
(docs/models.md).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

from forecasting.models.base import FitError
from forecasting.models.decay.blocks import SingularInformation
from forecasting.models.decay.likelihood import Prior, QuasiLikelihood

NEWTON_TOL = 1e-9
NEWTON_RTOL = 1e-11  # of the objective: what remains to gain is rounding, whatever the data's scale
MAX_NEWTON = 100
MAX_STEP = 3.0  # largest move of one parameter in one Newton step (logit / log units)
SD_FLOOR, SD_CEILING = 1e-4, 5.0
BOUNDARY_SD = 0.05  # below this a falling sd is tested at its floor
MAX_RATE = 0.99  # largest contraction rate an extrapolation trusts
MAX_JUMP = 4.0  # largest extrapolated move of a log variance
SHRINK_DF = 10.0  # pseudo degrees of freedom pulling each originator's dispersion factor toward 1
OUTLIER_LEVEL = 0.999  # a pool whose dispersion is beyond this chi-square point gets its own factor
DISPERSION_ROUNDS = 20
PSI_TOL = 0.01  # the dispersion factors have settled when none moves by more than 1% in a round
LOOSE_TOL = 0.01  # the variances' tolerance in the first round, before any dispersion factor is known


@dataclass
class Estimate:
    theta: np.ndarray
    deal_effects: np.ndarray  # (n, 2): posterior modes of (u_d, v_d)
    tau2: np.ndarray
    phi: float
    theta_cov: np.ndarray
    deal_cov: np.ndarray  # (n, 2, 2)
    iterations: int
    converged: bool
    message: str
    at_boundary: tuple[int, ...] = ()
    psi: np.ndarray | None = None


@dataclass
class _State:
    theta: np.ndarray
    b: np.ndarray
    phi: float
    tau2: np.ndarray
    pearson: tuple[np.ndarray, np.ndarray] | None = None  # (X_d, df_d) at this state's fit


def fit_effects(lik: QuasiLikelihood, theta: np.ndarray, b: np.ndarray, phi_c: float, prior: Prior):
    """Penalised maximum for given variances; returns theta, b and the expected-information block system there.

    Newton steps on the observed information (quadratic convergence where the model does not fit the data
    exactly: measured on the CAS triangles, Fisher scoring contracted by only 0.91 a step), Fisher scoring where the
    observed information is not positive definite, a backtracking line search on both."""
    value = lik.penalised(theta, b, phi_c, prior)
    for _ in range(MAX_NEWTON):
        fisher = None  # the expected-information system at (theta, b), once built
        try:
            g_t, g_b, system = lik.system(theta, b, phi_c, prior, observed=True)
        except SingularInformation:
            g_t, g_b, system = fisher = lik.system(theta, b, phi_c, prior)
        step_t, step_b = system.solve(g_t, g_b)
        decrement = 0.5 * (g_t @ step_t + np.sum(g_b * step_b))
        if decrement < 0:  # observed information indefinite along the step: take the Fisher direction
            g_t, g_b, system = fisher = lik.system(theta, b, phi_c, prior)
            step_t, step_b = system.solve(g_t, g_b)
            decrement = 0.5 * (g_t @ step_t + np.sum(g_b * step_b))
        if decrement < max(NEWTON_TOL, NEWTON_RTOL * abs(value)):
            return theta, b, (fisher or lik.system(theta, b, phi_c, prior))[2]
        alpha = min(1.0, MAX_STEP / max(np.abs(step_t).max(initial=0), np.abs(step_b).max(initial=0)))
        while alpha > 1e-10:
            new_t, new_b = theta + alpha * step_t, b + alpha * step_b
            new_value = lik.penalised(new_t, new_b, phi_c, prior)
            if np.isfinite(new_value) and new_value >= value:
                break
            alpha /= 2
        else:  # no ascent left at rounding precision: this is the optimum
            return theta, b, lik.system(theta, b, phi_c, prior)[2]
        theta, b, value = new_t, new_b, new_value
    raise FitError(f"the penalised fit did not converge in {MAX_NEWTON} Newton steps (decrement {decrement:.1e})")


def pearson(lik: QuasiLikelihood, m: np.ndarray, edf_shared: float, edf_deal: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """Each deal's Pearson statistic X_d = sum_t n_d (r - m)^2 / m (before any dispersion) and its degrees of
    freedom df_d = cells_d - its effects' degrees of freedom - its share of the shared ones."""
    c = lik.cells
    x2 = np.bincount(c.deal, c.w * (c.r - m) ** 2 / m, c.n_deals)
    k = np.bincount(c.deal, minlength=c.n_deals).astype(float)
    return x2, np.maximum(k - edf_deal - edf_shared * k / max(len(m), 1), 0.0)


def pooled_phi(x2: np.ndarray, df: np.ndarray, psi: np.ndarray | None) -> float:
    return max(float(np.sum(x2 / (1.0 if psi is None else psi)) / max(np.sum(df), 1.0)), 1e-6)


def dispersion_factors(x2: np.ndarray, df: np.ndarray, group: np.ndarray | None, flagged: np.ndarray
                       ) -> tuple[float, np.ndarray, np.ndarray]:
    """phi, each deal's dispersion factor psi_d, and which deals are aberrant (module docstring).

    Pools of one originator (the nesting group) share its servicing and its scale of payments: each level gets a
    factor shrunk toward 1 with SHRINK_DF pseudo degrees of freedom, psi_o = (sum_(d in o) X_d / phi + nu) /
    (sum df_d + nu), over its pools that are not aberrant. A pool whose X_d / (phi psi_o df_d) is beyond the
    OUTLIER_LEVEL point of chi-square(df_d) / df_d (a miscounted pool, or one of a few independent payers) is
    aberrant, and keeps that ratio as its own factor; ``flagged`` (those found before) stay so, which makes the
    outer fixed point terminate. phi = sum X_d / psi_d over the rest / their df."""
    usable = df >= 1
    levels = 0 if group is None else int(group.max()) + 1
    flagged = flagged.copy()
    own = np.ones(len(x2))
    for _ in range(DISPERSION_ROUNDS):
        keep = ~flagged
        phi = pooled_phi(x2[keep], df[keep], own[keep])
        if group is not None:
            psi_o = (np.bincount(group[keep], x2[keep] / phi, levels) + SHRINK_DF) / (
                np.bincount(group[keep], df[keep], levels) + SHRINK_DF)
            own = psi_o[group]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(usable, x2 / (phi * own * np.maximum(df, 1e-12)), 1.0)
        limit = np.where(usable, stats.chi2.ppf(OUTLIER_LEVEL, np.maximum(df, 1.0)) / np.maximum(df, 1.0), np.inf)
        grown = flagged | (usable & (ratio > limit))
        if np.array_equal(grown, flagged):
            break
        flagged = grown
    return phi, own * np.where(flagged, np.maximum(ratio, 1.0), 1.0), flagged


class VarianceEstimation:
    """The outer fixed point (module docstring) for one model and data."""

    def __init__(self, lik: QuasiLikelihood, theta_mean: np.ndarray, cum_dispersion: float):
        self.lik, self.mean, self.c = lik, theta_mean, cum_dispersion
        self.layout = lik.layout
        self.vc = self.layout.theta_vc
        self.evaluations = 0
        self.pinned: set[int] = set()

    def _fit(self, state: _State):
        self.evaluations += 1
        prior = Prior.from_variances(self.layout, state.tau2, self.mean)
        theta, b, system = fit_effects(self.lik, state.theta, state.b, state.phi * self.c, prior)
        return theta, b, system, prior

    def update(self, state: _State) -> _State:
        """One Laplace-EM update of the variances and phi from ``state``."""
        theta, b, system, prior = self._fit(state)
        theta_cov = system.theta_cov()
        v_theta, deal_cov = np.diag(theta_cov), system.deal_cov(theta_cov)
        v_b = np.stack([deal_cov[:, 0, 0], deal_cov[:, 1, 1]], 1)
        tau2 = state.tau2.copy()
        shrunk = theta - self.mean
        for k in range(len(tau2)):
            members = self.vc == k
            if members.any():
                tau2[k] = np.mean(shrunk[members] ** 2 + v_theta[members])
        for j, k in enumerate(self.layout.deal_vc):
            tau2[k] = np.sum(b[:, j] ** 2 + v_b[:, j]) / max(len(b) - 1, 1)  # n - 1: the prior (module docstring)
        tau2 = np.clip(tau2, SD_FLOOR**2, SD_CEILING**2)
        tau2[list(self.pinned)] = SD_FLOOR**2
        # a shrunk effect uses up 1 - (posterior variance / prior variance) of a degree of freedom
        edf_shared = np.sum(1.0 - v_theta * prior.theta_precision)
        edf_deal = np.sum(1.0 - v_b * prior.deal_precision, axis=1)
        x2, df = pearson(self.lik, self.lik.means(theta, b), edf_shared, edf_deal)
        return _State(theta, b, pooled_phi(x2, df, self.lik.psi), tau2, (x2, df))

    def laplace(self, state: _State) -> tuple[float, _State]:
        """l(tau) of the module docstring at the state's variances and dispersion (effects refitted there)."""
        theta, b, system, prior = self._fit(state)
        random = self.vc >= 0
        # n deal effects per deal sd, less the one the sd's prior, log tau, gives back (module docstring)
        log_tau2 = np.sum(np.log(state.tau2[self.vc[random]])) + (len(b) - 1) * np.sum(
            np.log(state.tau2[list(self.layout.deal_vc)]))
        value = self.lik.penalised(theta, b, state.phi * self.c, prior) - 0.5 * log_tau2 - 0.5 * system.logdet
        return value, _State(theta, b, state.phi, state.tau2)

    def _extrapolate(self, s0: _State, s1: _State, s2: _State) -> tuple[_State, float | None]:
        """Aitken's delta-squared per component on log tau^2 from three updates: each variance contracts toward its
        fixed point at its own rate rho, so it moves to x2 + d2 rho / (1 - rho); kept if l does not fall."""
        x0, x1, x2 = (np.log(s.tau2) for s in (s0, s1, s2))
        d1, d2 = x1 - x0, x2 - x1
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = np.clip(np.where(d1 * d2 > 0, d2 / d1, 0.0), 0.0, MAX_RATE)
        jump = np.clip(d2 * rho / (1.0 - rho), -MAX_JUMP, MAX_JUMP)
        jump[list(self.pinned)] = 0.0
        if not np.any(np.abs(jump) > 1e-12):
            return s2, None
        target, at_em = self.laplace(s2)
        x = np.clip(x2 + jump, 2 * np.log(SD_FLOOR), 2 * np.log(SD_CEILING))
        try:
            value, state = self.laplace(_State(s2.theta, s2.b, s2.phi, np.exp(x)))
        except (FitError, SingularInformation, FloatingPointError):
            return at_em, target
        return (state, value) if np.isfinite(value) and value >= target else (at_em, target)

    def _test_boundary(self, before: _State, now: _State, current: float | None) -> _State:
        """Fix at the floor every small, falling sd whose floor is no worse (module docstring)."""
        falling = [k for k in range(len(now.tau2)) if k not in self.pinned and now.tau2[k] < BOUNDARY_SD**2
                   and now.tau2[k] < before.tau2[k]]
        if not falling:
            return now
        if current is None:
            current, now = self.laplace(now)
        for k in falling:
            trial = now.tau2.copy()
            trial[k] = SD_FLOOR**2
            value, state = self.laplace(_State(now.theta, now.b, now.phi, trial))
            if value >= current - 1e-9 * max(1.0, abs(current)):
                self.pinned.add(k)
                now, current = state, value
        return now

    def _moved(self, old: _State, new: _State, tol: float) -> bool:
        fixed = self.vc < 0
        return bool(np.max(np.abs(np.sqrt(new.tau2) - np.sqrt(old.tau2))) >= tol
                    or np.max(np.abs(new.theta[fixed] - old.theta[fixed]), initial=0.0) >= tol)

    def run(self, theta: np.ndarray, b: np.ndarray, tau2: np.ndarray, max_iter: int, tol: float) -> Estimate:
        try:
            return self._run(_State(theta, b, 1.0, tau2), max_iter, tol)
        except SingularInformation as err:
            raise FitError(f"{err}: too few deals or periods for the model's parameters (use fewer covariates or "
                           f"groups)") from None

    def _run(self, state: _State, max_iter: int, tol: float) -> Estimate:
        """Variances to their fixed point with the dispersion factors held; the factors from that fit; again, until
        the factors move by less than PSI_TOL (relative)."""
        flagged = np.zeros(self.lik.cells.n_deals, bool)
        round_tol = max(tol, LOOSE_TOL)
        while True:
            state, settled = self._variances(state, max_iter, round_tol)
            was = flagged
            phi, proposed, flagged = dispersion_factors(*state.pearson, self.lik.nested_level, flagged)
            old = np.ones_like(proposed) if self.lik.psi is None else self.lik.psi
            # half a step on the log scale: the factors and the fit they weight were measured to cycle otherwise
            psi = np.where(flagged, proposed, np.sqrt(old * proposed))
            judged = ~flagged  # an aberrant pool's factor may still move: its weight is negligible either way
            moved = float(np.max(np.abs(np.log(psi[judged] / old[judged])), initial=0.0))
            moved = moved if np.array_equal(was, flagged) else np.inf
            self.lik = replace(self.lik, psi=psi)
            state = _State(state.theta, state.b, phi, state.tau2, state.pearson)
            if not settled or self.evaluations >= max_iter:
                return self._estimate(state, False)
            if moved < PSI_TOL and round_tol <= tol:
                return self._estimate(state, True)
            round_tol = tol

    def _variances(self, s0: _State, max_iter: int, tol: float) -> tuple[_State, bool]:
        s0 = self.update(s0)
        while True:
            s1 = self.update(s0)
            if not self._moved(s0, s1, tol):
                return s1, True
            s2 = self.update(s1)
            if not self._moved(s1, s2, tol):
                return s2, True
            if self.evaluations >= max_iter:
                return s2, False
            state, value = self._extrapolate(s0, s1, s2)
            s0 = self._test_boundary(s2, state, value)

    def _estimate(self, state: _State, converged: bool) -> Estimate:
        """The effects refitted at the final variances, so estimates, covariance and variances belong together."""
        theta, b, system, _ = self._fit(state)
        theta_cov = system.theta_cov()
        message = (f"converged in {self.evaluations} inner fits" if converged
                   else f"stopped at its limit of {self.evaluations} inner fits")
        psi = np.ones(self.lik.cells.n_deals) if self.lik.psi is None else self.lik.psi
        return Estimate(theta, b, state.tau2, state.phi, theta_cov, system.deal_cov(theta_cov), self.evaluations,
                        converged, message, tuple(sorted(self.pinned)), psi)
