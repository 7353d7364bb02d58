"""SP 800-22 sections 2.1 - 2.6: frequency, block frequency, runs, longest run, matrix rank, DFT."""

from __future__ import annotations

import math

import numpy as np

from ._base import TestResult, _erfc, _igamc, _not_applicable, _result, as_bits

# ------------------------------------------------------------------------------ 2.1 - 2.4


def frequency(bits) -> TestResult:
    """2.1 Frequency (monobit): p = erfc(|S_n| / sqrt(2 n))."""
    e = as_bits(bits)
    n = e.size
    s = 2 * int(np.count_nonzero(e)) - n
    s_obs = abs(s) / math.sqrt(n)
    return _result("frequency", _erfc(s_obs / math.sqrt(2)), statistic=s_obs, s_n=s)


def block_frequency(bits, m: int = 128) -> TestResult:
    """2.2 Frequency within M-bit blocks: chi^2 = 4 M sum (pi_i - 1/2)^2 over N = n // M blocks."""
    e = as_bits(bits)
    n_blocks = e.size // m
    if n_blocks < 1:
        return _not_applicable("block_frequency", ("",), f"needs at least M = {m} bits")
    ones = e[: n_blocks * m].reshape(n_blocks, m).sum(axis=1, dtype=np.int64)
    pi = ones / m
    chi2 = 4.0 * m * float(np.sum((pi - 0.5) ** 2))
    return _result("block_frequency", _igamc(n_blocks / 2, chi2 / 2), statistic=chi2, M=m)


def runs(bits) -> TestResult:
    """2.3 Runs: the number of runs V_n given the proportion of ones; the prerequisite
    |pi - 1/2| < 2/sqrt(n) must hold (else the frequency test already failed: p = 0)."""
    e = as_bits(bits)
    n = e.size
    pi = np.count_nonzero(e) / n
    if abs(pi - 0.5) >= 2.0 / math.sqrt(n):
        return _result("runs", 0.0, statistic=np.nan, prerequisite_failed=True)
    v = 1 + int(np.count_nonzero(e[1:] != e[:-1]))
    num = abs(v - 2.0 * n * pi * (1 - pi))
    den = 2.0 * math.sqrt(2.0 * n) * pi * (1 - pi)
    return _result("runs", _erfc(num / den), statistic=v)


# (M, N fixed by NIST's table for the block size; v classes; probabilities) - section 2.4.4
_LONGEST_RUN = {
    8: (3, 1, (0.2148, 0.3672, 0.2305, 0.1875)),
    128: (5, 4, (0.1174, 0.2430, 0.2493, 0.1752, 0.1027, 0.1124)),
    10_000: (6, 10, (0.0882, 0.2092, 0.2483, 0.1933, 0.1208, 0.0675, 0.0727)),
}


def _longest_runs_of_ones(blocks: np.ndarray) -> np.ndarray:
    """Longest run of ones in every row of a (N, M) 0/1 array."""
    n_blocks, m = blocks.shape
    padded = np.zeros((n_blocks, m + 2), dtype=np.uint8)
    padded[:, 1:-1] = blocks
    flat = padded.ravel()
    zeros = np.flatnonzero(flat == 0)
    gaps = np.diff(zeros) - 1  # run length between consecutive zeros
    row = zeros[:-1] // (m + 2)
    longest = np.zeros(n_blocks, dtype=np.int64)
    np.maximum.at(longest, row, gaps)
    return longest


def longest_run(bits) -> TestResult:
    """2.4 Longest run of ones in M-bit blocks (M = 8, 128 or 10^4 chosen by n)."""
    e = as_bits(bits)
    n = e.size
    if n < 128:
        return _not_applicable("longest_run", ("",), "needs n >= 128 bits")
    m = 8 if n < 6272 else 128 if n < 750_000 else 10_000
    k, v_min, pi = _LONGEST_RUN[m]
    n_blocks = n // m
    longest = _longest_runs_of_ones(e[: n_blocks * m].reshape(n_blocks, m))
    nu = np.bincount(np.clip(longest - v_min, 0, k), minlength=k + 1)
    expected = n_blocks * np.asarray(pi)
    chi2 = float(np.sum((nu - expected) ** 2 / expected))
    return _result("longest_run", _igamc(k / 2, chi2 / 2), statistic=chi2, M=m, nu=nu)


# ------------------------------------------------------------------------------ 2.5 rank


def _rank_probability(r: int, m: int, q: int) -> float:
    prod = 1.0
    for i in range(r):
        prod *= (1 - 2.0 ** (i - q)) * (1 - 2.0 ** (i - m)) / (1 - 2.0 ** (i - r))
    return 2.0 ** (r * (q + m - r) - m * q) * prod


def gf2_ranks(rows: np.ndarray, q: int) -> np.ndarray:
    """Ranks over GF(2) of many matrices at once: ``rows`` (N, M) uint64, each row a Q-bit
    mask. Gaussian elimination column by column, vectorised across the N matrices."""
    rows = rows.copy()
    n_mat, m = rows.shape
    used = np.zeros((n_mat, m), dtype=bool)
    rank_ = np.zeros(n_mat, dtype=np.int64)
    idx = np.arange(n_mat)
    one = np.uint64(1)
    for c in range(q):
        bit = ((rows >> np.uint64(c)) & one).astype(bool)
        cand = bit & ~used
        has = cand.any(axis=1)
        if not has.any():
            continue
        piv = np.argmax(cand, axis=1)
        sel = idx[has]
        pivot_rows = rows[sel, piv[has]]
        elim = bit[sel]
        elim[np.arange(sel.size), piv[has]] = False
        rows[sel] ^= np.where(elim, pivot_rows[:, None], np.uint64(0))
        used[sel, piv[has]] = True
        rank_ += has
    return rank_


def rank(bits, m: int = 32, q: int = 32) -> TestResult:
    """2.5 Binary matrix rank of N = n // (M Q) disjoint M x Q matrices (filled row by row)."""
    e = as_bits(bits)
    n_mat = e.size // (m * q)
    if n_mat < 1 or q > 64:
        return _not_applicable("rank", ("",), f"needs at least M*Q = {m * q} bits (Q <= 64)")
    mats = e[: n_mat * m * q].reshape(n_mat, m, q).astype(np.uint64)
    weights = np.uint64(1) << np.arange(q, dtype=np.uint64)
    rows = (mats * weights).sum(axis=2, dtype=np.uint64)
    ranks = gf2_ranks(rows, q)
    full = min(m, q)
    f_m = int(np.count_nonzero(ranks == full))
    f_m1 = int(np.count_nonzero(ranks == full - 1))
    p_m = _rank_probability(full, m, q)
    p_m1 = _rank_probability(full - 1, m, q)
    p_rest = 1.0 - p_m - p_m1
    observed = np.array([f_m, f_m1, n_mat - f_m - f_m1], dtype=np.float64)
    expected = n_mat * np.array([p_m, p_m1, p_rest])
    chi2 = float(np.sum((observed - expected) ** 2 / expected))
    return _result("rank", math.exp(-chi2 / 2), statistic=chi2, counts=observed)


# ------------------------------------------------------------------------------ 2.6 DFT


def dft(bits) -> TestResult:
    """2.6 Discrete Fourier transform (spectral): peaks above T = sqrt(ln(1/0.05) n) among the
    first n/2 moduli against the 95 % expected below it (rev1a threshold and variance)."""
    e = as_bits(bits)
    n = e.size
    x = 2.0 * e.astype(np.float64) - 1.0
    s = np.abs(np.fft.rfft(x))[: n // 2]
    t = math.sqrt(math.log(1 / 0.05) * n)
    n0 = 0.95 * n / 2
    n1 = float(np.count_nonzero(s < t))
    d = (n1 - n0) / math.sqrt(n * 0.95 * 0.05 / 4)
    return _result("dft", _erfc(abs(d) / math.sqrt(2)), statistic=d, n1=n1)
