"""SP 800-22 sections 2.7 - 2.12: templates, universal, linear complexity, serial, ApEn."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ftjlab.errors import BadInput

from ._base import TestResult, _erfc, _igamc, _not_applicable, _result, as_bits

# ------------------------------------------------------------------------------ 2.7 / 2.8


def _window_codes(e: np.ndarray, m: int, cyclic: bool = False) -> np.ndarray:
    """Integer value of every m-bit window (first bit most significant); cyclic windows wrap
    around the end (n windows) else only full ones (n - m + 1)."""
    src = np.concatenate([e, e[: m - 1]]) if cyclic else e
    count = e.size if cyclic else e.size - m + 1
    dtype = np.int32 if m < 31 else np.int64
    code = np.zeros(count, dtype=dtype)
    for k in range(m):
        code <<= 1
        code |= src[k : k + count]
    return code


def aperiodic_templates(m: int) -> np.ndarray:
    """All m-bit templates without a proper border (no shift of the template overlaps
    itself), in increasing binary order: NIST's template files (148 for m = 9)."""
    out = []
    for v in range(1 << m):
        b = [(v >> (m - 1 - i)) & 1 for i in range(m)]
        if not any(b[:p] == b[m - p :] for p in range(1, m)):
            out.append(v)
    return np.asarray(out, dtype=np.int64)


def _template_label(v: int, m: int) -> str:
    return format(int(v), f"0{m}b")


def non_overlapping_template(
    bits, m: int = 9, n_blocks: int = 8, templates: Iterable[int | str] | None = None
) -> TestResult:
    """2.7 Non-overlapping template matching: occurrences W_j of each aperiodic m-bit template
    in N blocks; chi^2 = sum (W_j - mu)^2 / sigma^2. One p-value per template. (An aperiodic
    template cannot overlap itself, so its non-overlapping count is its plain count.)"""
    e = as_bits(bits)
    allowed = aperiodic_templates(m)
    if templates is None:
        tpl = allowed
    else:
        tpl = np.asarray([int(t, 2) if isinstance(t, str) else int(t) for t in templates])
        if not np.all(np.isin(tpl, allowed)):
            raise BadInput(f"templates: every template must be an aperiodic {m}-bit pattern")
    labels = tuple(_template_label(t, m) for t in tpl)
    block = e.size // n_blocks
    if block < m:
        return _not_applicable("non_overlapping_template", labels, "blocks shorter than m")
    codes = _window_codes(e[: block * n_blocks], m)
    counts = np.zeros((n_blocks, 1 << m), dtype=np.int64)
    for j in range(n_blocks):  # windows fully inside block j start at j*M .. j*M + M - m
        counts[j] = np.bincount(codes[j * block : j * block + block - m + 1], minlength=1 << m)
    w = counts[:, tpl]  # (N, templates)
    mu = (block - m + 1) / 2**m
    var = block * (1 / 2**m - (2 * m - 1) / 2 ** (2 * m))
    chi2 = np.sum((w - mu) ** 2, axis=0) / var
    return _result(
        "non_overlapping_template", _igamc(n_blocks / 2, chi2 / 2), labels, chi2, W=w
    )


# Probabilities of 0..4 and >= 5 occurrences of 1^9 in 1032 bits as corrected by Hamano &
# Kaneko (rev1a section 2.8.4). NIST STS 2.1.2 and the worked example of section 2.8.8 use the
# compound-Poisson formula instead (pi_0 = 0.367879 ...); that is the default here, so results
# match the text's example and NIST's reference code. ``pi="corrected"`` selects this table.
_OVERLAP_PI_9_1032 = (0.364091, 0.185659, 0.139381, 0.100571, 0.070432, 0.139865)


def _overlap_pi(m: int, block: int, k: int, pi: str = "formula") -> np.ndarray:
    if pi == "corrected":
        if (m, block, k) != (9, 1032, 5):
            raise BadInput("pi: the corrected table exists only for m = 9, M = 1032, K = 5")
        return np.asarray(_OVERLAP_PI_9_1032)
    if pi != "formula":
        raise BadInput(f"pi: expected 'formula' or 'corrected', got {pi!r}")
    eta = (block - m + 1) / 2**m / 2
    out = [math.exp(-eta)]
    for u in range(1, k):
        s = sum(math.comb(u - 1, ell - 1) * eta**ell / math.factorial(ell)
                for ell in range(1, u + 1))
        out.append(math.exp(-eta) / 2**u * s)
    out.append(1.0 - sum(out))
    return np.asarray(out)


def overlapping_template(
    bits, m: int = 9, block: int = 1032, k: int = 5, pi: str = "formula"
) -> TestResult:
    """2.8 Overlapping template matching of 1^m in N = n // M blocks; counts 0..K-1 and >= K
    against the probabilities of section 2.8.4 (see ``_OVERLAP_PI_9_1032`` for ``pi``)."""
    e = as_bits(bits)
    n_blocks = e.size // block
    if n_blocks < 1:
        return _not_applicable("overlapping_template", ("",), f"needs at least M = {block} bits")
    blocks = e[: n_blocks * block].reshape(n_blocks, block)
    # a window of m ones starts at i when the run of ones from i has length >= m
    window = np.lib.stride_tricks.sliding_window_view(blocks, m, axis=1)
    hits = window.all(axis=2).sum(axis=1)
    nu = np.bincount(np.minimum(hits, k), minlength=k + 1)
    expected = n_blocks * _overlap_pi(m, block, k, pi)
    chi2 = float(np.sum((nu - expected) ** 2 / expected))
    return _result("overlapping_template", _igamc(k / 2, chi2 / 2), statistic=chi2, nu=nu)


# ------------------------------------------------------------------------------ 2.9 universal

# (expected value, variance) of f_n for L = 1..16 (section 2.9.4)
_UNIVERSAL = {
    1: (0.7326495, 0.690), 2: (1.5374383, 1.338), 3: (2.4016068, 1.901),
    4: (3.3112247, 2.358), 5: (4.2534266, 2.705), 6: (5.2177052, 2.954),
    7: (6.1962507, 3.125), 8: (7.1836656, 3.238), 9: (8.1764248, 3.311),
    10: (9.1723243, 3.356), 11: (10.170032, 3.384), 12: (11.168765, 3.401),
    13: (12.168070, 3.410), 14: (13.167693, 3.416), 15: (14.167488, 3.419),
    16: (15.167379, 3.421),
}  # fmt: skip
_UNIVERSAL_N = (387_840, 904_960, 2_068_480, 4_654_080, 10_342_400, 22_753_280, 49_643_520,
                107_560_960, 231_669_760, 496_435_200, 1_059_061_760)  # L = 6 .. 16


def universal_fn(e: np.ndarray, ell: int, q: int) -> tuple[float, int]:
    """Maurer's f_n: mean log2 distance to the previous occurrence of each L-bit block of the
    test segment (blocks Q+1 .. Q+K, 1-based), with blocks 1..Q as initialisation."""
    n_blocks = e.size // ell
    k = n_blocks - q
    weights = (1 << np.arange(ell - 1, -1, -1)).astype(np.int64)
    vals = e[: n_blocks * ell].reshape(n_blocks, ell).astype(np.int64) @ weights
    idx = np.arange(1, n_blocks + 1)
    order = np.lexsort((idx, vals))
    sv, si = vals[order], idx[order]
    prev = np.zeros(n_blocks, dtype=np.int64)
    same = sv[1:] == sv[:-1]
    prev_sorted = np.zeros(n_blocks, dtype=np.int64)
    prev_sorted[1:] = np.where(same, si[:-1], 0)
    prev[order] = prev_sorted
    test = idx > q
    fn = float(np.sum(np.log2(idx[test] - prev[test]))) / k
    return fn, k


def universal(bits, ell: int | None = None, q: int | None = None) -> TestResult:
    """2.9 Maurer's universal statistical test; L and Q = 10 * 2^L from the table of section
    2.9.7 unless given."""
    e = as_bits(bits)
    if ell is None:
        if e.size < _UNIVERSAL_N[0]:
            return _not_applicable("universal", ("",), "needs n >= 387,840 bits")
        ell = 6 + int(np.searchsorted(_UNIVERSAL_N, e.size, side="right")) - 1
    if q is None:
        q = 10 * 2**ell
    if ell not in _UNIVERSAL or e.size // ell <= q:
        return _not_applicable("universal", ("",), f"n too small for L = {ell}, Q = {q}")
    fn, k = universal_fn(e, ell, q)
    expected, variance = _UNIVERSAL[ell]
    c = 0.7 - 0.8 / ell + (4 + 32 / ell) * k ** (-3 / ell) / 15
    sigma = c * math.sqrt(variance / k)
    p = _erfc(abs(fn - expected) / (math.sqrt(2) * sigma))
    return _result("universal", p, statistic=fn, L=ell, Q=q, K=k)


# ------------------------------------------------------------------------------ 2.10 linear


def _shl1(x: np.ndarray) -> np.ndarray:
    """Multi-word left shift by one bit of rows of little-endian uint64 words."""
    out = x << np.uint64(1)
    out[:, 1:] |= x[:, :-1] >> np.uint64(63)
    return out


def linear_complexities(blocks: np.ndarray) -> np.ndarray:
    """Berlekamp-Massey linear complexity of every row of a (N, M) 0/1 array, all rows at
    once on bit-packed polynomials (W 64-bit words; a step costs a few word operations).

    ``D`` carries ``B(x) x^(n-m)`` so every shift is by one bit, the same for all rows."""
    n_blocks, m = blocks.shape
    words = (m + 2) // 64 + 1
    c = np.zeros((n_blocks, words), dtype=np.uint64)
    c[:, 0] = 1
    d_poly = np.zeros_like(c)
    d_poly[:, 0] = 2  # B = 1, m = -1: B x^(n - m) at n = 0
    r = np.zeros_like(c)  # bit i = s_(n-i)
    ell = np.zeros(n_blocks, dtype=np.int64)
    cols = np.ascontiguousarray(blocks.T.astype(np.uint64))
    for n in range(m):
        r = _shl1(r)
        r[:, 0] |= cols[n]
        disc = (np.bitwise_count(c & r).sum(axis=1) & 1).astype(bool)
        reset = disc & (2 * ell <= n)
        t = c.copy()
        c ^= d_poly & (-disc.astype(np.uint64))[:, None]  # all-ones mask where d = 1
        ell = np.where(reset, n + 1 - ell, ell)
        d_poly = _shl1(np.where(reset[:, None], t, d_poly))
    return ell


# Section 2.10.4 lists pi_0 = 0.010417 (= 1/96); NIST STS 2.1.2 uses 0.01047, and so does the
# worked example of section 2.10.8 (chi^2 = 2.700348 only with 0.01047). Kept as NIST has it.
_LC_PI = (0.01047, 0.03125, 0.125, 0.5, 0.25, 0.0625, 0.020833)


def linear_complexity(bits, m: int = 500) -> TestResult:
    """2.10 Linear complexity of N = n // M blocks against its distribution (K = 6)."""
    e = as_bits(bits)
    n_blocks = e.size // m
    if n_blocks < 1:
        return _not_applicable("linear_complexity", ("",), f"needs at least M = {m} bits")
    ell = linear_complexities(e[: n_blocks * m].reshape(n_blocks, m))
    mu = m / 2 + (9 + (-1) ** (m + 1)) / 36 - (m / 3 + 2 / 9) / 2**m
    t = (-1) ** m * (ell - mu) + 2 / 9
    edges = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])
    nu = np.bincount(np.searchsorted(edges, t, side="left"), minlength=7)
    expected = n_blocks * np.asarray(_LC_PI)
    chi2 = float(np.sum((nu - expected) ** 2 / expected))
    return _result("linear_complexity", _igamc(3, chi2 / 2), statistic=chi2, nu=nu, M=m)


# ------------------------------------------------------------------------------ 2.11 / 2.12


def _psi2(codes: np.ndarray, m: int, n: int) -> float:
    if m <= 0:
        return 0.0
    counts = np.bincount(codes, minlength=1 << m).astype(np.float64)
    return float((2**m / n) * np.sum(counts**2) - n)


def serial(bits, m: int = 16, _codes: np.ndarray | None = None) -> TestResult:
    """2.11 Serial: psi^2 of overlapping (cyclic) m, m-1, m-2-bit patterns; two p-values."""
    e = as_bits(bits)
    n = e.size
    codes = _window_codes(e, m, cyclic=True) if _codes is None else _codes
    psi = [_psi2(codes >> k, m - k, n) if m - k > 0 else 0.0 for k in range(3)]
    d1 = psi[0] - psi[1]
    d2 = psi[0] - 2 * psi[1] + psi[2]
    p = [_igamc(2 ** (m - 2), d1 / 2), _igamc(2 ** (m - 3), d2 / 2)]
    return _result("serial", p, ("p1", "p2"), [d1, d2])


def approximate_entropy(bits, m: int = 10, _codes: np.ndarray | None = None) -> TestResult:
    """2.12 Approximate entropy: phi^(m) - phi^(m+1) of cyclic pattern frequencies."""
    e = as_bits(bits)
    n = e.size
    codes = _window_codes(e, m + 1, cyclic=True) if _codes is None else _codes

    def phi(c: np.ndarray, k: int) -> float:
        cnt = np.bincount(c, minlength=1 << k)
        cnt = cnt[cnt > 0] / n
        return float(np.sum(cnt * np.log(cnt)))

    apen = phi(codes >> 1, m) - phi(codes, m + 1)
    chi2 = 2.0 * n * (math.log(2) - apen)
    return _result("approximate_entropy", _igamc(2 ** (m - 1), chi2 / 2), statistic=chi2,
                   apen=apen)
