"""The Weibull mixture model for durations counted in whole periods, fitted by maximum likelihood.

    S(t | x) = P(no payment by t) = pi + (1 - pi) exp(-(t / lam) ^ rho),  logit pi = x' gamma,  log lam = z' beta

An event in period t contributes log(S(t - 1) - S(t)) (it happened some time in (t - 1, t]); a unit still unpaid
after t contributes log S(t). lifelines' ParametricRegressionFitter cannot express this for a mixture model (its
interval-censored likelihood assumes S(infinity) = 0, false when a share never pays), and treating period numbers
as exact event times biases the shape: on simulated loans with known parameters the continuous fit covered the
true shape 0% and the never-pay slope 58% of the time, this one 95-98% (tests/models/survival/test_fitter.py).
Gradient and Hessian by autograd; standard errors cluster-robust by deal (covariance.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from autograd import grad, hessian
from autograd import numpy as anp
from autograd.scipy.special import expit as a_expit
from scipy.optimize import minimize

from forecasting.models.base import FitError
from forecasting.models.survival.covariance import cluster_robust

NEWTON_TOL = 1e-12  # mean log-likelihood per unit of weight still to gain at an accepted optimum
NEWTON_POLISH = 5  # Newton steps at most after BFGS stops on precision loss
PRECISION_LOSS = 2  # scipy's BFGS status for "desired error not necessarily achieved due to precision loss"
STEP_TOL = 0.01  # or the Newton step left to take, in standard errors of each parameter, at an accepted optimum
WARM_ITER = 50  # trust-region Newton iterations at most from a warm start


@dataclass(frozen=True)
class MixtureFit:
    """Estimates: log scale on X_scale, log shape, logit never-pay share on X_never (in that order in params)."""

    params: np.ndarray
    cov: np.ndarray
    cov_type: str  # "cluster-robust" or "model"
    model_cov: np.ndarray  # the inverse Hessian: every unit independent
    n_free: int  # unpenalised parameters
    n_clusters: int
    newton_decrement: float
    newton_step_se: float  # the largest |Newton step| / standard error over the parameters
    converged: bool
    message: str


def row_loglik(eta_scale, log_shape, eta_never, t, e):
    """Each row's log-likelihood from its linear predictors (autograd-differentiable): log(S(t - 1) - S(t)) for a
    first payment in period t, log S(t) for a unit still unpaid after t."""
    lam, rho = anp.exp(eta_scale), anp.exp(log_shape)
    never = a_expit(eta_never)
    s_t = never + (1.0 - never) * anp.exp(-((t / lam) ** rho))
    s_prev = never + (1.0 - never) * anp.exp(-((anp.maximum(t - 1.0, 1e-12) / lam) ** rho))
    return anp.where(e, anp.log(anp.maximum(s_prev - s_t, 1e-300)), anp.log(s_t))


def row_scores(theta, X_scale, X_never, t, e, w) -> np.ndarray:
    """Each row's weighted score (rows x parameters): the derivative of its log-likelihood by its three linear
    predictors (rows are independent given theta, so one gradient of the sum gives them all) times its design."""
    a = X_scale.shape[1]
    eta = (X_scale @ theta[:a], np.full(len(t), theta[a]), X_never @ theta[a + 1:])
    total = lambda *predictors: anp.sum(row_loglik(*predictors, t, e))  # noqa: E731
    d_scale, d_shape, d_never = (grad(total, i)(*eta) for i in range(3))
    return w[:, None] * np.hstack([d_scale[:, None] * X_scale, d_shape[:, None], d_never[:, None] * X_never])


def fit_mixture(X_scale: np.ndarray, X_never: np.ndarray, duration: np.ndarray, event: np.ndarray, weight: np.ndarray,
                cluster: np.ndarray | None = None, ridge_scale: np.ndarray | None = None,
                ridge_never: np.ndarray | None = None, max_iter: int = 5000, start: np.ndarray | None = None
                ) -> MixtureFit:
    """Penalised maximum likelihood (ridge weights per coefficient, on the total log-likelihood). ``cluster``: a
    deal per row; rows of one deal share its frailty, so the covariance is the cluster-robust sandwich (without
    clusters, the inverse Hessian). ``start``: where the search begins (a fit of the same model under another
    penalty), else at a median duration's scale and zeros."""
    X_scale, X_never = np.asarray(X_scale, float), np.asarray(X_never, float)
    t, e, w = np.asarray(duration, float), np.asarray(event, bool), np.asarray(weight, float)
    a, c = X_scale.shape[1], X_never.shape[1]
    ridge = np.r_[np.zeros(a) if ridge_scale is None else ridge_scale, 0.0,
                  np.zeros(c) if ridge_never is None else ridge_never]

    def nll(theta):
        ll = row_loglik(anp.dot(X_scale, theta[:a]), theta[a], anp.dot(X_never, theta[a + 1:]), t, e)
        return -anp.sum(w * ll) / w.sum() + anp.sum(ridge * theta**2) / w.sum()

    warm = start is not None
    if warm:  # near the optimum: a few exact Newton steps in a trust region, where BFGS would take thousands
        res = minimize(nll, start, jac=grad(nll), hess=hessian(nll), method="trust-exact",
                       options={"gtol": 1e-9, "maxiter": WARM_ITER})
    else:
        start = np.zeros(a + 1 + c)
        start[0] = np.log(max(np.median(t), 1.0))
        res = minimize(nll, start, jac=grad(nll), method="BFGS", options={"gtol": 1e-9, "maxiter": max_iter})
    if not np.isfinite(res.fun) or (not warm and np.allclose(res.x, start)):
        raise FitError(f"the mixture model did not converge ({res.message})")
    x = _newton_polish(nll, res.x) if not warm and res.status == PRECISION_LOSS else res.x
    H = hessian(nll)(x)
    cov = model_cov = np.linalg.pinv(H * w.sum())
    # the summed scores of G clusters span at most G - 1 directions of the unpenalised parameters: with fewer
    # clusters than that the sandwich would claim certainty it does not have, so the model-based one stays
    n_free = int(np.sum(ridge == 0))
    index = None if cluster is None else np.unique(np.asarray(cluster), return_inverse=True)[1]
    n_clusters = 0 if index is None else int(index.max()) + 1
    robust = n_clusters > n_free
    if robust:
        cov = cluster_robust(cov, row_scores(x, X_scale, X_never, t, e, w), index, 2 * ridge)
    # BFGS may stop on "precision loss" at the optimum, when rounding noise in the gradient exceeds gtol: the
    # Newton decrement (the log-likelihood still to gain, per unit of weight) and the Newton step against the
    # standard errors (how far the optimum still is, in the units inference uses) say whether there is more to gain
    g = grad(nll)(x)
    step = np.linalg.pinv(H) @ g
    decrement = float(0.5 * g @ step)
    step_se = float(np.max(np.abs(step) / np.sqrt(np.maximum(np.diag(cov), 1e-300)), initial=0.0))
    at_a_maximum = bool(np.linalg.eigvalsh(H).min() > 0)  # away from one the Newton figures mean nothing
    converged = at_a_maximum and (bool(res.success) or decrement < NEWTON_TOL or step_se < STEP_TOL)
    return MixtureFit(x, cov, "cluster-robust" if robust else "model", model_cov, n_free, n_clusters, decrement,
                      step_se, converged, f"{res.message}; Newton decrement {decrement:.1e}, step {step_se:.1e} se")


def survival(params: dict[str, np.ndarray], X_scale: np.ndarray, X_never: np.ndarray, t: np.ndarray,
             offset: np.ndarray | float = 0.0, scale_offset: np.ndarray | float = 0.0) -> np.ndarray:
    """S(t) for parameter draws (arrays (draws, coefficients)); designs (cells, coefficients); t (periods,);
    ``offset`` (draws, cells) is added to the logit of the never-pay share and ``scale_offset`` to the log scale
    (a deal's frailties u and v)."""
    from scipy.special import expit
    lam = np.exp(params["scale"] @ X_scale.T + scale_offset)[..., None]
    rho = np.exp(params["shape"][:, 0])[:, None, None]  # a single shape parameter
    never = expit(params["never_pay"] @ X_never.T + offset)[..., None]
    t = np.asarray(t, dtype=float)[None, None, :]
    return never + (1.0 - never) * np.exp(-((t / lam) ** rho))


def _newton_polish(nll, x: np.ndarray, steps: int = NEWTON_POLISH) -> np.ndarray:
    """Newton steps (exact Hessian, halved until the objective does not rise) from where BFGS stopped on precision
    loss: its line search gives up when rounding noise in the gradient exceeds its tolerance, a Newton step near the
    optimum does not need one. Only where the Hessian is positive definite (near a maximum of the likelihood)."""
    for _ in range(steps):
        g, H = grad(nll)(x), hessian(nll)(x)
        if np.linalg.eigvalsh(H).min() <= 0:
            break
        step = np.linalg.solve(H, g)
        if 0.5 * g @ step < NEWTON_TOL:
            break
        f0, size = nll(x), 1.0
        while size > 1e-3 and not nll(x - size * step) <= f0:
            size /= 2
        if not nll(x - size * step) <= f0:
            break
        x = x - size * step
    return x
