"""Confidence intervals of hidden Markov model fits: observed information and batch means.

Observed information (Louis 1982): by Fisher's identity the score of the observed-data
log-likelihood equals the expected complete-data score given the data, which the E-step's
sufficient statistics give exactly (``_score_stats`` of the models). The observed information is
minus the derivative of that score, taken by central differences (two E-steps per parameter).
Its inverse is the covariance of the maximum-likelihood estimate; the delta method carries it
to (log tau_c, log tau_e, amplitude, occupancy) of each trap. Unlike intervals from counted
dwells (chi^2), it includes what the noise hides: uncertain states, uncertain levels, and
their feedback into the time constants. tau intervals are formed in log tau.

Batch means (long traces): the trace in ``BATCHES`` contiguous parts, each refitted from the
full fit, and the spread of their estimates; it also catches what the model leaves out
(drifts, slow extra traps). When both exist the wider interval is reported and named.
"""

from __future__ import annotations

import copy
import math

import numpy as np
from scipy import stats as sstats

from ftjlab.errors import BadInput

Z95 = 1.959963984540054
BATCHES = 8
MIN_BATCH = 20_000

OBSERVED = "observed information"
BATCH_MEANS = "batch means"
DWELLS = "exponential dwells (assumes the states are seen)"


def quantities(model) -> np.ndarray | None:
    """Per trap (log tau_c, log tau_e, amplitude, occupancy) of the model's current
    parameters, or None (no trap that can be timed)."""
    try:
        est = model._estimates(jackknife=False)
    except BadInput:
        return None
    if not est:
        return None
    q = np.array(
        [
            [
                math.log(t.tau_c_s) if t.tau_c_s > 0 else math.nan,
                math.log(t.tau_e_s) if t.tau_e_s > 0 else math.nan,
                t.amplitude_a,
                t.occupancy,
            ]
            for t in est
        ]
    )
    return q if np.all(np.isfinite(q)) else None


def observed_covariance(model, estep, step: float = 1e-3) -> np.ndarray | None:
    """Covariance of :func:`quantities` (flattened) from the observed information at the
    model's current (fitted) parameters; None if the information is not positive definite.
    ``estep()``: the E-step statistics at the current parameters. Restores the parameters
    and the last statistics."""
    theta = model._theta().copy()
    saved = model._last_stats
    p = theta.size
    h = np.zeros((p, p))
    try:
        for i in range(p):
            d = np.zeros(p)
            d[i] = step
            model._set_theta(theta + d)
            sp = model._score_stats(estep())
            model._set_theta(theta - d)
            sm = model._score_stats(estep())
            h[:, i] = (sp - sm) / (2 * step)
        model._set_theta(theta)
        model._last_stats = saved
        info = -(h + h.T) / 2
        w, v = np.linalg.eigh(info)
        if not np.all(np.isfinite(w)) or w.min() <= 0:
            return None
        cov_theta = (v / w) @ v.T
        q0 = quantities(model)
        if q0 is None:
            return None
        q0 = q0.ravel()
        jac = np.zeros((q0.size, p))
        for i in range(p):
            d = np.zeros(p)
            d[i] = step
            model._set_theta(theta + d)
            qp = quantities(model)
            model._set_theta(theta - d)
            qm = quantities(model)
            if qp is None or qm is None:
                return None
            jac[:, i] = (qp.ravel() - qm.ravel()) / (2 * step)
        return jac @ cov_theta @ jac.T
    finally:
        model._set_theta(theta)
        model._last_stats = saved


def batch_means_se(model, trace, lookahead: int, batches: int = BATCHES) -> np.ndarray | None:
    """Standard errors of :func:`quantities` from ``batches`` contiguous parts of the trace,
    each refitted (warm-started from the full fit); None when a part would hold fewer than
    ``MIN_BATCH`` samples or a part's fit loses a trap."""
    full = quantities(model)
    size = trace.n // batches
    if full is None or size < MIN_BATCH:
        return None
    reps = []
    for b in range(batches):
        m = copy.deepcopy(model)
        try:
            m.fit(
                trace.window(b * size, (b + 1) * size),
                max_iter=300,
                tol=model._tol,
                lookahead=lookahead,
                warm_start=True,
                errors=False,
            )
        except BadInput:
            return None
        q = quantities(m)
        if q is None or q.shape != full.shape:
            return None
        reps.append(q)
    return np.array(reps).std(axis=0, ddof=1) / math.sqrt(batches)


def apply(
    est: list, cov: np.ndarray | None, bm_se: np.ndarray | None, batches: int = BATCHES
) -> list:
    """Set each trap's 95 % intervals: observed information when ``cov`` is given (else the
    exponential-dwell intervals stay), widened to the batch-means interval when that is
    wider; ``ci_method`` names what was used."""
    zt = float(sstats.t.ppf(0.975, batches - 1))
    for k, t in enumerate(est):
        se = None
        method = DWELLS
        if cov is not None and cov.shape[0] >= 4 * (k + 1):
            d = np.sqrt(np.maximum(np.diag(cov)[4 * k : 4 * k + 4], 0.0))
            se = (Z95 * d[0], Z95 * d[1], Z95 * d[2], Z95 * d[3])
            method = OBSERVED
        if bm_se is not None and bm_se.shape[0] > k:
            b = tuple(zt * v for v in bm_se[k])
            if se is None or b[0] > se[0] or b[1] > se[1]:
                se = b if se is None else tuple(max(u, v) for u, v in zip(se, b, strict=True))
                method = BATCH_MEANS if method == DWELLS else f"{OBSERVED} widened to {BATCH_MEANS}"
        if se is None:
            t.ci_method = method
            continue
        t.tau_c_ci_s = _log_interval(t.tau_c_s, se[0])
        t.tau_e_ci_s = _log_interval(t.tau_e_s, se[1])
        t.amplitude_ci_a = (t.amplitude_a - se[2], t.amplitude_a + se[2])
        t.occupancy_ci = (max(0.0, t.occupancy - se[3]), min(1.0, t.occupancy + se[3]))
        t.ci_method = method
    return est


def _log_interval(tau: float, half_width_log: float) -> tuple[float, float]:
    """tau x exp(-/+ half width); an unbounded width (a trap barely seen) gives (0, inf)."""
    w = min(half_width_log, 700.0)
    return (tau * math.exp(-w), tau * math.exp(w) if w < 700.0 else math.inf)
