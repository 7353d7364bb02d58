"""Profile-likelihood (likelihood-ratio) intervals of a two-level fit's time constants.

The 95 % interval of log tau_c (or log tau_e) is the set of values psi where
2 (l_max - l_p(psi)) <= chi^2_1(0.95) = 3.84, l_p(psi) being the log-likelihood maximised over
the other parameters (both levels, the read-noise variance, the other time constant) with
log tau held at psi. Unlike the observed-information (Wald) interval it follows the shape of
the likelihood, so it is asymmetric where the likelihood is skewed.

l_p(psi) is computed by a constrained EM (SQUAREM-accelerated, :func:`ftjlab.rtn.em.run_em`):
the M-step of the levels and the variance is the usual one; the transition part maximises
sum xi_ij log P_ij over the free time constant with the other held (a one-dimensional
maximisation), P01 and P10 being those of the continuous-time chain sampled every dt. The
ends are found on the signed root r(psi) = sign(psi - psi_hat) sqrt(2 (l_max - l_p)), which is
close to linear in psi, by the secant method from the Wald ends.

Measured on an independent two-state simulator (SNR 0.7, tau_c = 20, tau_e = 60 samples, 100
seeds per length; ``ftjlab bench rtn.coverage95_profile``): against the observed-information
interval in log tau that the fits report, the mean width ratio is 1.000 at 1e5 samples
(~1,250 trap cycles), 1.01 at 5e3 (~60 cycles) and 1.04-1.05 at 2e3 (~25 cycles); the high
side is longer by a median 2 %, 7-8 % and 11-13 %; the two contain the truth as often (within
2 of 100, not more often for the profile). So the fits report the observed-information
interval at every length and this module is the check, at one to a few fits' cost per time
constant (more at low memory, where the constrained EM is slow).
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
from scipy.optimize import minimize_scalar

from ftjlab.errors import BadInput

from . import em
from .hmm import continuous_rates
from .source import as_trace

CHI2_95 = 3.841458820694124  # chi^2, 1 dof, 0.95
_R95 = math.sqrt(CHI2_95)
#: An end is found when sqrt(2 (l_max - l_p)) is within this of sqrt(3.84).
ROOT_TOL = 0.005


class ProfileConvergenceWarning(UserWarning):
    """An end of a profile-likelihood interval was not found within the steps allowed."""


class TauInterval(tuple):
    """A 95 % profile-likelihood interval of a time constant.

    Unpacks as ``(low_s, high_s, e_steps)``. ``ends_converged`` (low, high) says whether the
    search met 2 (l_max - l_p) = 3.84 at each end, with the constrained fit there converged
    (``converged``: both ends);
    ``lr_stat`` (low, high) is 2 (l_max - l_p) at the ends returned. An end not found is the
    evaluated point nearest to the target, and its ``lr_stat`` says how far it is from 3.84.
    """

    def __new__(cls, low_s: float, high_s: float, e_steps: int,
                ends_converged: tuple[bool, bool], lr_stat: tuple[float, float]) -> TauInterval:
        self = super().__new__(cls, (low_s, high_s, e_steps))
        self.ends_converged = ends_converged
        self.lr_stat = lr_stat
        return self

    def __getnewargs__(self) -> tuple:
        return (*self, self.ends_converged, self.lr_stat)

    @property
    def low_s(self) -> float:
        return self[0]

    @property
    def high_s(self) -> float:
        return self[1]

    @property
    def e_steps(self) -> int:
        return self[2]

    @property
    def converged(self) -> bool:
        """Both ends found."""
        return all(self.ends_converged)

    def __repr__(self) -> str:
        return (f"TauInterval(low_s={self[0]!r}, high_s={self[1]!r}, e_steps={self[2]}, "
                f"ends_converged={self.ends_converged}, lr_stat={self.lr_stat})")


def _probs(log_tc: float, log_te: float, dt: float) -> tuple[float, float]:
    """(P01 capture, P10 emission) of the chain with tau_c = e^log_tc, tau_e = e^log_te
    sampled every ``dt``."""
    lc, le = math.exp(-log_tc), math.exp(-log_te)
    lam = lc + le
    s = -math.expm1(-lam * dt)
    return lc / lam * s, le / lam * s


class _Constrained:
    """A fitted two-level GaussianHMM with one log time constant held (``which`` 0: tau_c,
    1: tau_e); free: both levels (in read-noise sigmas), log variance, the other log tau.
    ``f``/``e``: indices of the filled and empty levels."""

    def __init__(self, model, which: int, value: float, filled: int) -> None:
        self.m, self.which, self.value = model, which, value
        self.f, self.e = filled, 1 - filled
        self.dt = model.interval_s

    def log_taus(self) -> tuple[float, float]:
        lc, le = continuous_rates(self.m.trans[self.e, self.f], self.m.trans[self.f, self.e],
                                  self.dt)
        return -math.log(lc), -math.log(le)

    def _set_taus(self, free: float) -> None:
        ltc, lte = (self.value, free) if self.which == 0 else (free, self.value)
        p01, p10 = _probs(ltc, lte, self.dt)
        t = np.empty((2, 2))
        t[self.e, self.f], t[self.e, self.e] = p01, 1 - p01
        t[self.f, self.e], t[self.f, self.f] = p10, 1 - p10
        self.m.trans = t

    def get(self) -> np.ndarray:
        m = self.m
        free = self.log_taus()[1 - self.which]
        return np.concatenate([m.means / m._scale, [math.log(m.variances[0]), free]])

    def set(self, th: np.ndarray) -> None:
        m = self.m
        m.means = th[:2] * m._scale
        with np.errstate(over="ignore"):  # inf variance: rejected by the E-step
            m.variances = np.full(2, max(math.exp(min(th[2], 700.0)), m._var_floor))
        self._set_taus(float(th[3]))

    def mstep(self, s) -> None:
        cur = self.log_taus()[1 - self.which]
        self.m._mstep(s)  # levels, tied variance, start; its free transitions replaced below
        xi, e, f = s.xi, self.e, self.f

        def neg_q(free: float) -> float:
            ltc, lte = (self.value, free) if self.which == 0 else (free, self.value)
            p01, p10 = _probs(ltc, lte, self.dt)
            if not (0 < p01 < 1 and 0 < p10 < 1):
                return math.inf
            return -(xi[e, f] * math.log(p01) + xi[e, e] * math.log1p(-p01)
                     + xi[f, e] * math.log(p10) + xi[f, f] * math.log1p(-p10))

        r = minimize_scalar(neg_q, bounds=(cur - 2.0, cur + 2.0), method="bounded",
                            options={"xatol": 1e-8})
        self._set_taus(float(r.x))


def profile_loglik(model, trace, which: str, log_tau: float, filled: str = "low",
                   lookahead: int = 4096, tol: float = 1e-10) -> tuple[float, int]:
    """(maximum log-likelihood with log ``which`` (``"tau_c"`` or ``"tau_e"``, in log
    seconds) held at ``log_tau``, E-steps used), from the fitted ``model`` (a two-level
    :class:`~ftjlab.rtn.hmm.GaussianHMM`; left unchanged)."""
    ll, used, _ = _profile(model, trace, which, log_tau, filled, lookahead, tol)
    return ll, used


def _profile(model, trace, which: str, log_tau: float, filled: str, lookahead: int,
             tol: float = 1e-10) -> tuple[float, int, bool]:
    """:func:`profile_loglik` and whether its constrained EM met the stopping rule (if not,
    the value is a lower bound of the profile log-likelihood)."""
    if getattr(model, "n_states", 0) != 2 or model.n_iter == 0 or not getattr(model, "tied",
                                                                                 False):
        raise BadInput("profile intervals: need a fitted two-level GaussianHMM with one "
                       "(tied) read-noise variance")
    if which not in ("tau_c", "tau_e"):
        raise BadInput(f"which: 'tau_c' or 'tau_e', got {which!r}")
    if filled not in ("low", "high"):
        raise BadInput(f"filled: 'low' or 'high', got {filled!r}")
    tr = as_trace(trace, model.interval_s)
    m = copy.deepcopy(model)
    c = _Constrained(m, 0 if which == "tau_c" else 1, float(log_tau), 0 if filled == "low" else 1)
    c.set(c.get())  # onto the constraint, the other parameters as fitted
    res, s = em.run_em(lambda: m._estep(tr, lookahead), c.mstep, c.get, c.set, tr.n,
                       max_iter=500, tol=tol, ptol=1e-6)
    return float(s.loglik), res.iterations, bool(res.converged)


def tau_interval(model, trace, which: str = "tau_c", filled: str = "low",
                 se_log: float | None = None, lookahead: int = 4096,
                 max_steps: int = 8) -> TauInterval:
    """95 % profile-likelihood interval of ``which`` (seconds) of a fitted two-level
    GaussianHMM on the ``trace`` it was fitted to: a :class:`TauInterval`, which unpacks as
    (low, high, E-steps used). ``se_log``: a guess of the standard error of log tau (default:
    the observed-information one, else 0.1) where the secant search starts; ``max_steps``:
    profile fits per end at most.

    An end the search does not find in ``max_steps``, or finds where the constrained fit did
    not converge, is flagged (``ends_converged``), its likelihood-ratio statistic is in
    ``lr_stat``, and a :class:`ProfileConvergenceWarning` says which end, why, and how far it
    is from 3.84.
    """
    if which not in ("tau_c", "tau_e"):
        raise BadInput(f"which: 'tau_c' or 'tau_e', got {which!r}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise BadInput(f"max_steps: a whole number >= 1, got {max_steps!r}")
    if se_log is not None and not (math.isfinite(se_log) and se_log > 0):
        raise BadInput(f"se_log: a finite standard error > 0 of log tau, got {se_log!r}")
    trap = model.trap(filled, jackknife=False)
    hat = math.log(trap.tau_c_s if which == "tau_c" else trap.tau_e_s)
    if se_log is None:
        cov = getattr(model, "_oi_cov", None)
        k = 0 if which == "tau_c" else 1
        se_log = math.sqrt(cov[k, k]) if cov is not None and filled == "low" else 0.1
    ends, found, stats, used, reasons = [], [], [], 0, []
    for sign in (-1.0, 1.0):
        pts = [(hat, 0.0, True)]
        psi = hat + sign * _R95 * se_log
        met = False
        for _ in range(max_steps):
            ll, n, fit_ok = _profile(model, trace, which, psi, filled, lookahead)
            used += n
            r = math.sqrt(max(2.0 * (model.loglik - ll), 0.0))
            pts.append((psi, r, fit_ok))
            if abs(r - _R95) < ROOT_TOL:
                met = True
                break
            (p1, r1, _), (p2, r2, _) = pts[-2], pts[-1]
            if r2 - r1 <= 1e-9:  # flat: step out
                psi = hat + 2.0 * (psi - hat)
            else:
                psi = p2 + (_R95 - r2) * (p2 - p1) / (r2 - r1)
        if met:
            psi, r_end, fit_ok = pts[-1]
        else:  # the next guess is unchecked: the evaluated point nearest to the target
            psi, r_end, fit_ok = min(pts[1:], key=lambda pt: abs(pt[1] - _R95))
        ends.append(psi)
        found.append(met and fit_ok)
        stats.append(r_end * r_end)
        reasons.append(
            "" if met and fit_ok
            else f"not found in {max_steps} steps" if fit_ok
            else "found where the constrained fit stopped at its cap of E-steps (its "
            "statistic is an upper bound)" if met
            else f"not found in {max_steps} steps, and the constrained fit there stopped at "
            "its cap of E-steps"
        )
    result = TauInterval(math.exp(ends[0]), math.exp(ends[1]), used,
                         (found[0], found[1]), (stats[0], stats[1]))
    for side, reason, stat in zip(("low", "high"), reasons, stats, strict=True):
        if reason:
            warnings.warn(
                f"profile interval of {which}: the {side} end was {reason}; 2 (l_max - l_p) = "
                f"{stat:.3g} there, not {CHI2_95:.2f} (the interval is "
                f"{'too narrow' if stat < CHI2_95 else 'too wide'} on that side)",
                ProfileConvergenceWarning, stacklevel=2,
            )
    return result
