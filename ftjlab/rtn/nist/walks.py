"""SP 800-22 sections 2.13 - 2.15: cumulative sums, random excursions and their variant."""

from __future__ import annotations

import math

import numpy as np

from ._base import TestResult, _erfc, _igamc, _not_applicable, _result, as_bits

# ------------------------------------------------------------------------------ 2.13 - 2.15


def _cusum_p(z: int, n: int) -> float:
    """P-value of the maximal excursion z of a +-1 walk of n steps (section 2.13.4), with the
    summation bounds of NIST STS (C integer division, truncating toward zero)."""

    def tdiv(a: int, b: int) -> int:
        return int(a / b) if a * b >= 0 else -(abs(a) // abs(b))

    nz = tdiv(n, z)
    sq = math.sqrt(n)
    k1 = np.arange(tdiv(-nz + 1, 4), tdiv(nz - 1, 4) + 1)
    k2 = np.arange(tdiv(-nz - 3, 4), tdiv(nz - 1, 4) + 1)
    from scipy import stats

    phi = stats.norm.cdf
    s1 = np.sum(phi((4 * k1 + 1) * z / sq) - phi((4 * k1 - 1) * z / sq))
    s2 = np.sum(phi((4 * k2 + 3) * z / sq) - phi((4 * k2 + 1) * z / sq))
    return float(1.0 - s1 + s2)


def cumulative_sums(bits) -> TestResult:
    """2.13 Cumulative sums, forward and reverse: the maximal excursion of the +-1 walk."""
    e = as_bits(bits)
    n = e.size
    walk = np.cumsum(2 * e.astype(np.int64) - 1)
    z_fwd = int(np.max(np.abs(walk)))
    total = int(walk[-1])
    # reverse walk: partial sums from the end = total - walk[k-1]
    rev = total - np.concatenate([[0], walk[:-1]])
    z_rev = int(np.max(np.abs(rev)))
    p = [_cusum_p(max(z_fwd, 1), n), _cusum_p(max(z_rev, 1), n)]
    return _result("cumulative_sums", p, ("forward", "reverse"), [z_fwd, z_rev])


_EXCURSION_STATES = (-4, -3, -2, -1, 1, 2, 3, 4)
_VARIANT_STATES = tuple(x for x in range(-9, 10) if x != 0)


def _excursion_pi(x: int) -> np.ndarray:
    a = 1.0 / (2 * abs(x))
    pi = [1 - a] + [a * a * (1 - a) ** (k - 1) for k in range(1, 5)] + [a * (1 - a) ** 4]
    return np.asarray(pi)


def _walk_cycles(e: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """The walk S' = (0, S_1..S_n, 0) (the closing 0 only if S_n != 0, as NIST STS does),
    the cycle index of every step and the number of cycles J."""
    s = np.cumsum(2 * e.astype(np.int64) - 1)
    walk = np.concatenate([[0], s, [0]] if s[-1] != 0 else [[0], s])
    zero = walk == 0
    cycle = np.cumsum(zero) - 1  # cycle index of every step (the closing 0 starts the next)
    j = int(np.count_nonzero(zero)) - 1
    return walk, cycle, j


def _cycles_needed(n: int) -> float:
    return max(0.005 * math.sqrt(n), 500)


def random_excursions(bits) -> TestResult:
    """2.14 Random excursions: visits to x = -4..4 per cycle of the walk; needs J >= 500."""
    e = as_bits(bits)
    labels = tuple(f"x={x:+d}" for x in _EXCURSION_STATES)
    walk, cycle, j = _walk_cycles(e)
    if j < _cycles_needed(e.size):
        return _not_applicable("random_excursions", labels, f"J = {j} cycles < 500")
    near = np.flatnonzero((np.abs(walk) <= 4) & (walk != 0))
    p, chi = [], []
    for x in _EXCURSION_STATES:
        pos = near[walk[near] == x]
        visits = np.bincount(cycle[pos], minlength=j)[:j]
        nu = np.bincount(np.minimum(visits, 5), minlength=6)
        expected = j * _excursion_pi(x)
        c2 = float(np.sum((nu - expected) ** 2 / expected))
        chi.append(c2)
        p.append(_igamc(2.5, c2 / 2))
    return _result("random_excursions", p, labels, chi, J=j)


def random_excursions_variant(bits) -> TestResult:
    """2.15 Random excursions variant: total visits xi(x) to x = -9..9; needs J >= 500."""
    e = as_bits(bits)
    labels = tuple(f"x={x:+d}" for x in _VARIANT_STATES)
    walk, _, j = _walk_cycles(e)
    if j < _cycles_needed(e.size):
        return _not_applicable("random_excursions_variant", labels, f"J = {j} cycles < 500")
    inner = walk[np.abs(walk) <= 9]
    counts = np.bincount(inner + 9, minlength=19)
    xs = np.asarray(_VARIANT_STATES)
    xi = counts[xs + 9].astype(np.float64)
    p = _erfc(np.abs(xi - j) / np.sqrt(2.0 * j * (4 * np.abs(xs) - 2)))
    return _result("random_excursions_variant", p, labels, xi, J=j)
