"""Min-entropy of a noise source, NIST SP 800-90B section 6.3, for binary samples.

Estimators: most common value (6.3.1), collision (6.3.2), Markov (6.3.3) and t-tuple (6.3.5).
The assessment takes the minimum over the estimators it ran; the other 90B estimators
(compression, LRS, MultiMCW, Lag, MultiMMC, LZ78Y) are not implemented, so the minimum here
is an upper bound on what the full 90B procedure would report. Also the health-test cutoffs
of section 4.4 (repetition count, adaptive proportion) and the tests themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ftjlab.errors import BadInput

from .nist import as_bits

# The 99 % upper bound SP 800-90B uses throughout: the text writes 2.576; NIST's reference
# code (SP800-90B_EntropyAssessment) uses the exact quantile, and so do we, so results agree
# with its reports digit for digit.
Z99 = 2.5758293035489008

__all__ = [
    "EntropyReport",
    "adaptive_proportion_cutoff",
    "collision_estimate",
    "health_tests",
    "markov_estimate",
    "markov_p_max",
    "mcv_estimate",
    "min_entropy",
    "repetition_count_cutoff",
    "t_tuple_estimate",
]


def _bits(bits, minimum: int = 2) -> np.ndarray:
    e = as_bits(bits)
    if e.size < minimum:
        raise BadInput(f"bits: need at least {minimum} samples for an entropy estimate, got "
                       f"{e.size}")
    return e


def mcv_estimate(bits) -> tuple[float, dict]:
    """6.3.1 Most common value: p_u = p_hat + 2.576 sqrt(p_hat (1 - p_hat) / (L - 1)),
    H = -log2 p_u (per sample)."""
    e = _bits(bits)
    n = e.size
    ones = int(np.count_nonzero(e))
    mode = max(ones, n - ones)
    p_hat = mode / n
    p_u = min(1.0, p_hat + Z99 * math.sqrt(p_hat * (1 - p_hat) / (n - 1)))
    return -math.log2(p_u), {"mode_count": mode, "p_hat": p_hat, "p_u": p_u}


def collision_estimate(bits) -> tuple[float, dict]:
    """6.3.2 Collision estimate for binary data: mean time to the first repeated value (2 or 3
    samples), lowered to its 99 % bound X', solved for p in X' = 2 + 2 p (1 - p); if no p >= 1/2
    solves it (X' above 2.5) p = 1/2 (the lower bound, 1 bit)."""
    e = _bits(bits, 3)
    n = e.size
    eq = np.zeros(n, dtype=bool)
    eq[:-1] = e[:-1] == e[1:]
    starts = _collision_starts(eq)
    t = np.where(eq[starts], 2, 3)
    t = t[starts + t <= n]  # only complete collisions
    if t.size < 2:
        raise BadInput("bits: too few samples for the collision estimate")
    x_bar = float(t.mean())
    sigma = float(t.std(ddof=1))
    x_prime = x_bar - Z99 * sigma / math.sqrt(t.size)
    detail = {"v": int(t.size), "x_bar": x_bar, "sigma": sigma, "x_prime": x_prime}
    # no solution above 2.5: proceed with the lower bound p = 1/2
    p = 0.5 if x_prime >= 2.5 else 0.5 + 0.5 * math.sqrt(max(0.0, 1.0 - 2.0 * (x_prime - 2.0)))
    detail["p"] = p
    return -math.log2(p), detail


def _collision_starts(eq: np.ndarray) -> np.ndarray:
    """Start indices of the successive collision searches: from i the next search starts at
    i + 2 when s_i == s_(i+1), else at i + 3 (any three bits hold a repeat)."""
    n = eq.size
    step = np.where(eq, 2, 3).tolist()
    out = []
    cur = 0
    while cur < n:  # ~n / 2.5 steps of plain integer work
        out.append(cur)
        cur += step[cur]
    return np.asarray(out, dtype=np.int64)


def markov_p_max(p0: float, p00: float, p01: float, p10: float, p11: float,
                 length: int = 128) -> float:
    """Probability of the most likely ``length``-bit sequence under a first-order Markov model
    (the six candidate sequences of 6.3.3)."""
    p1 = 1.0 - p0
    k = length
    cands = [
        p0 * p00 ** (k - 1),
        p0 * p01 ** (k // 2) * p10 ** (k // 2 - 1),
        p0 * p01 * p11 ** (k - 2),
        p1 * p10 * p00 ** (k - 2),
        p1 * p10 ** (k // 2) * p01 ** (k // 2 - 1),
        p1 * p11 ** (k - 1),
    ]
    return max(cands)


def markov_estimate(bits) -> tuple[float, dict]:
    """6.3.3 Markov estimate: a first-order model of the bits (P0, P00, P01, P10, P11), the
    most likely 128-bit sequence, H = min(-log2(p_max) / 128, 1) per sample."""
    e = _bits(bits, 3)
    n = e.size
    p0 = float(np.count_nonzero(e == 0)) / n
    pairs = 2 * e[:-1].astype(np.int64) + e[1:]
    c = np.bincount(pairs, minlength=4)
    n0, n1 = c[0] + c[1], c[2] + c[3]
    p00 = c[0] / n0 if n0 else 0.0
    p01 = c[1] / n0 if n0 else 0.0
    p10 = c[2] / n1 if n1 else 0.0
    p11 = c[3] / n1 if n1 else 0.0
    p_max = markov_p_max(p0, p00, p01, p10, p11)
    h = min(-math.log2(p_max) / 128, 1.0) if p_max > 0 else 1.0
    return h, {"P0": p0, "P1": 1 - p0, "P00": p00, "P01": p01, "P10": p10, "P11": p11,
               "p_max": p_max}


def t_tuple_estimate(bits, cutoff: int = 35, t_max: int = 40) -> tuple[float, dict]:
    """6.3.5 t-tuple estimate: for every tuple length i up to the largest t whose most common
    (overlapping) t-tuple occurs >= 35 times, P_i = (Q_i / (L - i + 1))^(1/i); p_u from the
    largest P_i as in the MCV estimate."""
    e = _bits(bits, 3)
    n = e.size
    code = np.zeros(n, dtype=np.int64)
    p_best = 0.0
    t_found = 0
    for i in range(1, min(t_max, 62) + 1):
        m = n - i + 1
        if m < 1:
            break
        code = (code[:m] << 1) | e[i - 1 : i - 1 + m]
        q = int(np.max(np.unique(code, return_counts=True)[1]))
        if q < cutoff:
            break
        t_found = i
        p_best = max(p_best, (q / m) ** (1.0 / i))
    if t_found == 0:
        raise BadInput("bits: no 1-tuple occurs 35 times: too few samples for t-tuple")
    p_u = min(1.0, p_best + Z99 * math.sqrt(p_best * (1 - p_best) / (n - 1)))
    return -math.log2(p_u), {"t": t_found, "p_hat_max": p_best, "p_u": p_u}


ESTIMATORS = {
    "mcv": mcv_estimate,
    "collision": collision_estimate,
    "markov": markov_estimate,
    "t_tuple": t_tuple_estimate,
}


@dataclass
class EntropyReport:
    """Min-entropy per bit from each estimator and their minimum."""

    samples: int
    estimates: dict[str, float]
    details: dict[str, dict] = field(default_factory=dict)

    @property
    def min_entropy(self) -> float:
        return min(self.estimates.values())

    def table(self) -> str:
        lines = [f"SP 800-90B min-entropy of {self.samples} binary samples (bits per sample):"]
        for name, h in self.estimates.items():
            lines.append(f"  {name:<10} {h:.6f}")
        lines.append(f"  {'minimum':<10} {self.min_entropy:.6f}  (of the estimators above only)")
        return "\n".join(lines)


def min_entropy(bits, estimators: tuple[str, ...] = ("mcv", "collision", "markov", "t_tuple")
                ) -> EntropyReport:
    """Run the estimators on binary samples (SP 800-90B asks for >= 1e6 samples)."""
    e = _bits(bits, 1000)
    est, det = {}, {}
    for name in estimators:
        if name not in ESTIMATORS:
            raise BadInput(f"estimators: unknown {name!r} (known: {list(ESTIMATORS)})")
        est[name], det[name] = ESTIMATORS[name](e)
    return EntropyReport(e.size, est, det)


# ------------------------------------------------------------------------------ health tests


def repetition_count_cutoff(h_min: float, alpha_log2: int = 20) -> int:
    """4.4.1: C = 1 + ceil(alpha_log2 / H) (false-alarm probability 2^-alpha_log2)."""
    if not 0 < h_min <= 1:
        raise BadInput(f"h_min: must be in (0, 1] bits per binary sample, got {h_min}")
    return 1 + math.ceil(alpha_log2 / h_min)


def adaptive_proportion_cutoff(h_min: float, window: int = 1024, alpha_log2: int = 20) -> int:
    """4.4.2: C = 1 + CRITBINOM(W, 2^-H, 1 - alpha): the count of the first sample's value in a
    window of W that an ideal source with min-entropy H exceeds with probability < alpha."""
    if not 0 < h_min <= 1:
        raise BadInput(f"h_min: must be in (0, 1] bits per binary sample, got {h_min}")
    p = 2.0**-h_min
    return 1 + int(stats.binom.ppf(1 - 2.0**-alpha_log2, window, p))


def health_tests(bits, h_min: float, window: int = 1024) -> dict:
    """Run the repetition count and adaptive proportion tests over a bit stream; returns the
    cutoffs and how many times each fired (an ideal source at h_min: almost never)."""
    e = _bits(bits)
    rc = repetition_count_cutoff(h_min)
    # longest runs: run lengths from change points
    change = np.flatnonzero(np.diff(e.astype(np.int8)) != 0)
    bounds = np.concatenate([[-1], change, [e.size - 1]])
    runs_ = np.diff(bounds)
    rc_fail = int(np.count_nonzero(runs_ >= rc))
    ap = adaptive_proportion_cutoff(h_min, window)
    n_win = e.size // window
    w = e[: n_win * window].reshape(n_win, window)
    same = (w == w[:, :1]).sum(axis=1)
    ap_fail = int(np.count_nonzero(same >= ap))
    return {"repetition_cutoff": rc, "repetition_failures": rc_fail,
            "adaptive_cutoff": ap, "adaptive_windows": n_win, "adaptive_failures": ap_fail}
