"""Choosing the trap model of a trace: number of traps by BIC over factorial fits, and the exact
aperture model for one trap when the readings average over a noticeable part of tau*."""

from __future__ import annotations

import math

from .factorial import FactorialHMM
from .hmm import DEFAULT_LOOKAHEAD, _BaseHMM
from .source import Trace, as_trace

__all__ = ["one_trap_model", "select_traps"]

APERTURE_MIN_TAU = 0.05  # aperture / tau* above which the aperture model is used


def one_trap_model(tr: Trace, aperture_fraction: float | None, screen: _BaseHMM | None = None,
                   max_iter: int = 3000, tol: float = 1e-8):
    """The one-trap model for a trace: the exact aperture model when the readings average
    over at least ``APERTURE_MIN_TAU`` x tau* (tau* from a two-level fit, ``screen`` if
    given), else the two-level HMM; fitted, with errors."""
    from .aperture import ApertureHMM

    m = screen if screen is not None else FactorialHMM(1).fit(tr, max_iter=max_iter, tol=tol,
                                                              errors=False)
    if aperture_fraction:
        t = m.traps(jackknife=False)[0]
        tau_star = (1 / (1 / t.tau_c_s + 1 / t.tau_e_s) if t.tau_c_s > 0 and t.tau_e_s > 0
                    else tr.interval_s)
        if aperture_fraction * tr.interval_s >= APERTURE_MIN_TAU * tau_star:
            return ApertureHMM(aperture_fraction).fit(tr, errors=True)
    if screen is not None or not m.converged:
        m.fit(tr, max_iter=max(max_iter - m.n_iter, 10), tol=tol, warm_start=True,
              errors=True)
    else:
        m._errors(tr, DEFAULT_LOOKAHEAD)
    return m


def select_traps(trace, interval_s: float | None = None, max_traps: int = 3,
                 max_iter: int = 3000, tol: float = 1e-8, screen_iter: int = 25,
                 baseline_bic: float = math.inf, aperture_fraction: float | None = None
                 ) -> tuple[_BaseHMM, dict[int, float]]:
    """Fit factorial models with 1..max_traps traps, keep the one with the lowest BIC, and
    finish its fit (to convergence, with errors). Candidates get ``screen_iter`` E-steps
    first (a model with a spurious extra trap converges slowly and never pays for its
    parameters; a real extra trap wins by far within a few iterations). The winner is not
    finished when ``baseline_bic`` (e.g. of white noise, no trap) beats it. With
    ``aperture_fraction`` (aperture / interval) a one-trap winner whose readings average
    over >= 5 % of tau* is refitted with the exact aperture model. Returns (best model,
    {traps: BIC})."""
    tr = as_trace(trace, interval_s or 1.0)
    if interval_s is not None:
        tr.interval_s = float(interval_s)
    models, scores = {}, {}
    for k in range(1, max_traps + 1):
        m = FactorialHMM(k)
        m.fit(tr, max_iter=min(screen_iter, max_iter), tol=tol, errors=False)
        models[k], scores[k] = m, m.bic()
    if aperture_fraction:
        # readings caught mid-flip look like extra traps to the factorial models: the one-trap
        # candidate is the (exact) aperture model whenever the apertures matter
        m1 = one_trap_model(tr, aperture_fraction, models[1], max_iter, tol)
        models[1], scores[1] = m1, m1.bic()
    k_best = min(scores, key=scores.get)
    best = models[k_best]
    if scores[k_best] < baseline_bic:
        if k_best == 1:
            if not aperture_fraction:
                best = one_trap_model(tr, aperture_fraction, best, max_iter, tol)
        else:
            best.fit(tr, max_iter=max(max_iter - best.n_iter, 10), tol=tol, warm_start=True,
                     errors=True)
        scores[k_best] = best.bic()
    return best, scores
