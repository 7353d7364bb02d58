"""Start values and the convergence loop of the hidden Markov model fits.

Start values (:func:`two_level_starts`): the EM of a two-level HMM converges to the nearest
local maximum, and at SNR < 1 a start from k-means (which splits the noise, not the levels)
lands far from the truth and crawls back over hundreds of iterations. Two starts that do
not depend on the levels being visible in the histogram:

* moments: the autocorrelation of the trace at lags >= 1 is B rho^k with B = dI^2 p (1 - p)
  (read noise is white), and the third central moment is dI^3 p (1 - p)(1 - 2p); together they
  give the level spacing, the occupancy and the memory rho = 1 - P01 - P10;
* a two-component Gaussian mixture (tied variance) fitted by EM to the readings, with the
  memory from the autocorrelation.

The loop (:func:`run_em`): SQUAREM (Varadhan & Roland 2008, scheme S3) accelerates the
monotone EM map: two EM steps give a direction and a step length, the extrapolated point is
kept only if its log-likelihood is higher than that of the plain EM step, and one EM step
from it stabilises the cycle. Stopping rule: the log-likelihood gains less than ``tol`` per
sample over a cycle AND the parameters (levels in read-noise sigmas, log variance, logits of
the transition probabilities) move by less than ``ptol``. The cap on E-steps is a safety
net: reaching it leaves ``converged`` False, and the caller turns that into a warning.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["EMResult", "gmm_levels", "mixture_loglik", "moment_start", "run_em", "two_level_starts"]


@dataclass
class TwoLevelStart:
    """Start values of a two-level fit: levels (low, high), variance, P(low->high),
    P(high->low), and where they came from."""

    low: float
    high: float
    var: float
    p_up: float
    p_down: float
    source: str


def _acf_lags(x: np.ndarray, lags: int) -> np.ndarray:
    """Autocovariance of ``x`` at lags 0..lags (FFT, biased)."""
    d = x - x.mean()
    m = 1 << math.ceil(math.log2(2 * d.size))
    f = np.fft.rfft(d, m)
    return np.fft.irfft(np.abs(f) ** 2, m)[: lags + 1] / d.size


def memory_from_acf(x: np.ndarray) -> tuple[float, float]:
    """(B, rho): the exponential part B rho^k of the autocovariance at lags >= 1, by a
    log-linear fit over the lags where it stands above its noise (rho in (0, 0.9999])."""
    c = _acf_lags(x, min(2000, x.size // 4))
    noise = 2.0 * c[0] / math.sqrt(x.size)
    if c[1] <= noise:
        return max(c[1], 0.0), 0.0
    # lags while the autocovariance is above 3 noise levels (at least 2)
    above = np.flatnonzero(c[1:] < 3 * noise)
    last = int(above[0]) if above.size else c.size - 1
    k = np.arange(1, max(last, 3) + 1)
    ck = np.maximum(c[k], noise / 10)
    w = ck**2  # weight by the squared value (the log of a small value is noisy)
    a = np.vstack([np.ones_like(k, dtype=float), k.astype(float)]).T
    coef = np.linalg.lstsq(a * np.sqrt(w)[:, None], np.log(ck) * np.sqrt(w), rcond=None)[0]
    rho = float(np.clip(math.exp(coef[1]), 1e-3, 0.9999))
    return float(math.exp(coef[0])), rho


def moment_start(x: np.ndarray) -> TwoLevelStart | None:
    """Two-level start from the autocovariance and the third moment (see the module text);
    None if the trace has no exponential memory or no skew to place the levels."""
    b, rho = memory_from_acf(x)
    var = float(x.var())
    if b <= 0 or rho <= 0 or b >= var:
        return None
    mu3 = float(np.mean((x - x.mean()) ** 3))
    g = mu3**2 / b**3
    # (1 - 2q)^2 = g q (1 - q), q = occupancy of the high level, sign from mu3
    q = 0.5 - math.copysign(0.5 * math.sqrt(g / (4 + g)), mu3)
    q = float(np.clip(q, 0.02, 0.98))
    d = math.sqrt(b / (q * (1 - q)))
    low = float(x.mean()) - q * d
    return TwoLevelStart(low, low + d, var - b, q * (1 - rho), (1 - q) * (1 - rho), "moments")


def _mixture_em(
    c: np.ndarray, wts: np.ndarray, lo: float, hi: float, var: float, w: float, iters: int,
    w_floor: float, var_floor: float, rel_tol: float,
) -> tuple[float, float, float, float, float]:
    """EM of a two-Gaussian mixture with one variance on weighted points ``c`` (weights
    ``wts``) from (lo, hi, var, w = weight of hi): (log-likelihood of the last E-step up to a
    constant, lo, hi, var, w). Stops when the gain per point falls below ``rel_tol`` or a
    component empties."""
    n = wts.sum()
    ll = prev = -math.inf
    for _ in range(iters):
        a = -((c - lo) ** 2) / (2 * var) + math.log(max(1 - w, w_floor))
        b = -((c - hi) ** 2) / (2 * var) + math.log(max(w, w_floor))
        m = np.maximum(a, b)
        ea, eb = np.exp(a - m), np.exp(b - m)
        tot = ea + eb
        r = eb / tot
        ll = float(np.dot(wts, m + np.log(tot))) - 0.5 * n * math.log(var)
        sr = float(np.dot(wts, r))
        if sr <= 1e-9 * n or sr >= n * (1 - 1e-9):
            break
        w = sr / n
        lo = float(np.dot(wts * (1 - r), c) / (n - sr))
        hi = float(np.dot(wts * r, c) / sr)
        var = max(
            float(np.dot(wts * (1 - r), (c - lo) ** 2) + np.dot(wts * r, (c - hi) ** 2)) / n,
            var_floor,
        )
        if ll - prev < rel_tol * n:
            break
        prev = ll
    return ll, lo, hi, var, w


def gmm_levels(
    x: np.ndarray, iters: int = 500, bins: int = 512
) -> tuple[float, float, float, float]:
    """Two-component Gaussian mixture with one variance, fitted by EM to the histogram of
    the readings (``bins`` bins: the bin width is far below the noise) from a quantile start:
    (low, high, variance, weight of high)."""
    counts, edges = np.histogram(x, bins)
    c = 0.5 * (edges[1:] + edges[:-1])
    keep = counts > 0
    c, wts = c[keep], counts[keep].astype(np.float64)
    lo, hi = np.quantile(x, [0.25, 0.75])
    var = float(x.var()) * 0.5 + ((edges[1] - edges[0]) ** 2) / 12
    _, lo, hi, var, w = _mixture_em(c, wts, lo, hi, var, 0.5, iters, 1e-12, 1e-300, 1e-10)
    if lo > hi:
        lo, hi, w = hi, lo, 1 - w
    return lo, hi, var, w


def two_level_starts(x: np.ndarray) -> list[TwoLevelStart]:
    """Start values for a two-level fit of the readings ``x`` (a leading sample of the
    trace): from moments, from a Gaussian mixture, and a wide start (levels at the 10th and
    90th percentiles)."""
    out = []
    m = moment_start(x)
    if m is not None:
        out.append(m)
    _, rho = memory_from_acf(x)
    rho = max(rho, 0.5)
    lo, hi, var, w = gmm_levels(x)
    if hi - lo > 1e-12 * max(abs(hi), abs(lo), 1e-300):
        out.append(TwoLevelStart(lo, hi, var, w * (1 - rho), (1 - w) * (1 - rho), "mixture"))
    q10, q90 = np.quantile(x, [0.1, 0.9])
    out.append(
        TwoLevelStart(
            float(q10),
            float(q90),
            float(x.var()) / 2,
            0.5 * (1 - rho),
            0.5 * (1 - rho),
            "percentiles",
        )
    )
    return out


@dataclass
class EMResult:
    """How a fit ended: E-steps run, whether the stopping rule was met, the last
    log-likelihood gain per sample and parameter step, and the reason if not converged."""

    iterations: int
    converged: bool
    loglik: float
    last_gain_per_sample: float
    last_step: float
    reason: str = ""


def _moved(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a - b, with 0 where both are the same infinity: a parameter resting at a bound (the
    logit of a transition probability 0 or 1 is -inf or +inf) has not moved. Without this its
    difference is NaN, which blocks every SQUAREM step and the stopping rule."""
    with np.errstate(invalid="ignore"):
        d = a - b
    return np.where(a == b, 0.0, d)


def run_em(
    estep: Callable[[], object],
    mstep: Callable[[object], None],
    get_theta: Callable[[], np.ndarray],
    set_theta: Callable[[np.ndarray], None],
    n_samples: int,
    max_iter: int = 3000,
    tol: float = 1e-9,
    ptol: float = 1e-5,
    accelerate: bool = True,
    history: list[float] | None = None,
) -> tuple[EMResult, object]:
    """EM (SQUAREM-accelerated) until the stopping rule holds or ``max_iter`` E-steps ran.

    ``estep()`` returns sufficient statistics with a ``loglik`` attribute at the current
    parameters; ``mstep(stats)`` updates the parameters; ``get_theta``/``set_theta`` map them
    to an unconstrained, scaled vector (levels in read-noise sigmas, log variance, logits of
    probabilities) in which the step is measured. Returns (result, last statistics: those
    of the E-step at the final parameters)."""
    hist = history if history is not None else []
    steps = 0
    last_ll = -math.inf
    gain = step = math.inf

    def e() -> object:
        nonlocal steps
        steps += 1
        s = estep()
        hist.append(float(s.loglik))
        return s

    s0 = e()
    while steps < max_iter:
        th0 = get_theta()
        ll0 = float(s0.loglik)
        mstep(s0)
        th1 = get_theta()
        s1 = e()
        ll1 = float(s1.loglik)
        if not accelerate or steps + 2 > max_iter:
            s_new, th_new = s1, th1
        else:
            mstep(s1)
            th2 = get_theta()
            r = _moved(th1, th0)
            with np.errstate(invalid="ignore"):  # a move to a bound: v is NaN, no step
                v = _moved(th2, th1) - r
            nv = float(np.linalg.norm(v))
            accepted = False
            if nv > 0 and np.all(np.isfinite(v)):
                alpha = min(-float(np.linalg.norm(r)) / nv, -1.0)
                with np.errstate(over="ignore", invalid="ignore"):
                    th_x = th0 - 2 * alpha * r + alpha**2 * v
                # a parameter resting at a bound (r = v = 0 there) stays where it is
                th_x = np.where(np.isfinite(th2) | (r != 0) | (v != 0), th_x, th2)
                if np.all(np.isfinite(th_x) | (th_x == th2)) and alpha < -1.0:
                    try:
                        set_theta(th_x)
                        s_x = e()
                        accepted = bool(np.isfinite(s_x.loglik) and s_x.loglik >= ll1)
                    except (ArithmeticError, ValueError, np.linalg.LinAlgError):
                        # ArithmeticError: also ZeroDivisionError/OverflowError from the
                        # compiled kernels at a degenerate extrapolated point
                        accepted = False
                    if accepted:
                        mstep(s_x)  # stabilising EM step
                        th_new = get_theta()
                        s_new = e()
            if not accepted:
                set_theta(th2)
                th_new = th2
                s_new = e()
        ll_new = float(s_new.loglik)
        if not np.isfinite(ll_new) or ll_new < ll0 - 1e-6 * n_samples:
            # never move to a worse point: fall back to the plain EM step
            set_theta(th1)
            s_new, th_new, ll_new = s1, th1, ll1
        gain = (ll_new - max(last_ll, ll0)) / n_samples
        step = float(np.max(np.abs(_moved(th_new, th0))))
        last_ll = ll_new
        s0 = s_new
        if abs(gain) < tol and step < ptol:
            return EMResult(steps, True, ll_new, gain, step), s0
    reason = (
        f"stopped at the cap of {max_iter} E-steps: the log-likelihood still gained "
        f"{gain:.2g} per sample and the parameters moved by {step:.2g} in the last cycle"
    )
    return EMResult(steps, False, last_ll, gain, step, reason), s0


def mixture_loglik(blocks, lo: float, hi: float, bins: int = 1024) -> tuple[float, int]:
    """Log-likelihood of the readings under the best two-level model WITHOUT memory (an
    independent two-component Gaussian mixture, fitted to the histogram of all readings);
    the null of the trap test. ``blocks``: a callable returning an iterator over the
    readings in blocks (called twice: histogram, then the exact log-likelihood). Returns
    (log-likelihood, number of readings)."""
    edges = np.linspace(lo, hi, bins + 1)
    counts = np.zeros(bins)
    for b in blocks():
        counts += np.histogram(b, edges)[0]
    c = 0.5 * (edges[1:] + edges[:-1])
    # expand the histogram into weighted points for the mixture EM (bin centres)
    keep = counts > 0
    pts, wts = c[keep], counts[keep]
    lo_m, hi_m, var, w = _weighted_gmm(pts, wts, (edges[1] - edges[0]) ** 2 / 12)
    ll, n = 0.0, 0
    for b in blocks():
        a = np.log(max(1 - w, 1e-300)) - (b - lo_m) ** 2 / (2 * var)
        e = np.log(max(w, 1e-300)) - (b - hi_m) ** 2 / (2 * var)
        m = np.maximum(a, e)
        ll += float(np.sum(m + np.log(np.exp(a - m) + np.exp(e - m))))
        n += b.size
    return ll - 0.5 * n * math.log(2 * math.pi * var), n


def _weighted_gmm(
    c: np.ndarray, wts: np.ndarray, var_floor: float, iters: int = 2000
) -> tuple[float, float, float, float]:
    n = wts.sum()
    mean = float(np.dot(wts, c) / n)
    sd = math.sqrt(max(float(np.dot(wts, (c - mean) ** 2) / n), 1e-300))
    best = None
    for lo, hi, w in (
        (mean - sd, mean + sd, 0.5),
        (mean - 0.5 * sd, mean + 1.5 * sd, 0.2),
        (mean - 1.5 * sd, mean + 0.5 * sd, 0.8),
    ):
        ll, lo, hi, var, w = _mixture_em(
            c, wts, lo, hi, sd**2 / 2, w, iters, 1e-300, var_floor, 1e-12
        )
        if best is None or ll > best[0]:
            best = (ll, lo, hi, var, w)
    return best[1], best[2], best[3], best[4]
