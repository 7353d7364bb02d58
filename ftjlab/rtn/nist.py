"""NIST SP 800-22 rev1a: the 15 statistical tests, vectorised with numpy, and the
multi-sequence criteria of section 4.2.

Every test takes a sequence of bits (a numpy array of 0/1, bool, or a string of '0'/'1') and
returns a :class:`TestResult` with one p-value per sub-test (the non-overlapping template test
has 148, random excursions 8, the variant 18, serial and cumulative sums 2). A test that does
not apply to the sequence (random excursions with fewer than 500 cycles, a runs test whose
frequency prerequisite fails) says so instead of returning a number that means nothing.

Parameters default to those of NIST STS 2.1.2 for 1e6-bit sequences: block frequency M = 128,
templates of m = 9 bits (N = 8 blocks), overlapping template M = 1032, universal L from the
table in section 2.9.7, linear complexity M = 500, serial m = 16, approximate entropy m = 10.

Every test is checked against the worked examples in SP 800-22's text (tests/rtn/test_nist.py);
where the text's example is inconsistent with its own formula (sections 2.8.8 and 2.9.8) the
test follows the formula and the test file says why.

:func:`assess` turns the p-values of m sequences into the two section 4.2 criteria per sub-test
(proportion of passing sequences, uniformity of the p-values) and an overall verdict that
accounts for running ~188 sub-tests at once (see its docstring).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ftjlab.errors import BadInput

__all__ = [
    "Assessment",
    "SetResult",
    "TestResult",
    "approximate_entropy",
    "as_bits",
    "assess",
    "block_frequency",
    "cumulative_sums",
    "dft",
    "frequency",
    "linear_complexity",
    "longest_run",
    "non_overlapping_template",
    "overlapping_template",
    "random_excursions",
    "random_excursions_variant",
    "rank",
    "run_suite",
    "runs",
    "serial",
    "universal",
]


@dataclass
class TestResult:
    """Outcome of one SP 800-22 test on one sequence.

    ``p_values`` holds one value per sub-test, named in ``labels``; ``statistic`` the test
    statistic(s) the text calls chi^2 / s_obs / V / ...; ``applicable`` is False when the
    sequence does not meet the test's preconditions (then p-values are NaN and ``note`` says
    why).
    """

    __test__ = False  # not a pytest class

    test: str
    p_values: np.ndarray
    labels: tuple[str, ...]
    statistic: np.ndarray
    applicable: bool = True
    note: str = ""
    detail: dict = field(default_factory=dict)

    @property
    def p_value(self) -> float:
        """The p-value of a single-statistic test (the first sub-test otherwise)."""
        return float(self.p_values[0])


def _result(test, p, labels=("",), statistic=np.nan, **detail) -> TestResult:
    p = np.atleast_1d(np.asarray(p, dtype=np.float64))
    return TestResult(
        test, np.clip(p, 0.0, 1.0), tuple(labels), np.atleast_1d(statistic), detail=detail
    )


def _not_applicable(test: str, labels: Sequence[str], note: str) -> TestResult:
    nan = np.full(len(labels), np.nan)
    return TestResult(test, nan, tuple(labels), nan, applicable=False, note=note)


# ------------------------------------------------------------------------------ input


def as_bits(bits, name: str = "bits") -> np.ndarray:
    """A 1-D uint8 array of 0/1 from an array of 0/1 (any int/bool dtype) or a '0'/'1' string.

    Raises :class:`BadInput` naming ``name`` for anything else (other values, NaN, empty).
    """
    if isinstance(bits, str):
        raw = np.frombuffer(bits.encode("ascii", "replace"), dtype=np.uint8)
        raw = raw[~np.isin(raw, np.frombuffer(b" \n\r\t", np.uint8))]
        if raw.size and not np.all((raw == 48) | (raw == 49)):
            raise BadInput(f"{name}: a bit string may hold only '0' and '1'")
        out = (raw - 48).astype(np.uint8)
    else:
        arr = np.asarray(bits)
        if arr.dtype == bool:
            out = arr.astype(np.uint8).ravel()
        elif np.issubdtype(arr.dtype, np.integer):
            out = arr.ravel()
            if out.size and (out.min() < 0 or out.max() > 1):
                raise BadInput(f"{name}: bits must be 0 or 1, got values in [{out.min()}, "
                               f"{out.max()}]")
            out = out.astype(np.uint8)
        elif np.issubdtype(arr.dtype, np.floating):
            out = arr.ravel()
            if not np.all(np.isfinite(out)):
                raise BadInput(f"{name}: bits contain NaN or inf")
            if out.size and not np.all((out == 0) | (out == 1)):
                raise BadInput(f"{name}: bits must be 0 or 1")
            out = out.astype(np.uint8)
        else:
            raise BadInput(f"{name}: expected an array of 0/1, got dtype {arr.dtype}")
    if out.size == 0:
        raise BadInput(f"{name}: empty bit sequence")
    return np.ascontiguousarray(out)


def _igamc(a, x):
    from scipy import special  # scipy loads on first use, not when the CLI starts

    return special.gammaincc(a, x)


def _erfc(x):
    from scipy import special

    return special.erfc(x)


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


# ------------------------------------------------------------------------------ the suite

TESTS = (
    "frequency", "block_frequency", "cumulative_sums", "runs", "longest_run", "rank", "dft",
    "non_overlapping_template", "overlapping_template", "universal", "approximate_entropy",
    "random_excursions", "random_excursions_variant", "serial", "linear_complexity",
)  # fmt: skip


def run_suite(bits, tests: Iterable[str] | None = None, **params) -> list[TestResult]:
    """Run the SP 800-22 tests (all 15 by default, in NIST STS's report order) on one
    sequence. ``params`` override defaults: ``block_frequency_m``, ``template_m``,
    ``overlapping_m``, ``linear_complexity_m``, ``serial_m``, ``apen_m``."""
    e = as_bits(bits)
    names = tuple(tests) if tests is not None else TESTS
    unknown = sorted(set(names) - set(TESTS))
    if unknown:
        raise BadInput(f"tests: unknown SP 800-22 test(s) {unknown} (known: {list(TESTS)})")
    serial_m = int(params.get("serial_m", 16))
    apen_m = int(params.get("apen_m", 10))
    codes = None
    if {"serial", "approximate_entropy"} & set(names) and serial_m >= apen_m + 1:
        codes = _window_codes(e, serial_m, cyclic=True)
    out = []
    for name in names:
        if name == "block_frequency":
            r = block_frequency(e, int(params.get("block_frequency_m", 128)))
        elif name == "non_overlapping_template":
            r = non_overlapping_template(e, int(params.get("template_m", 9)))
        elif name == "overlapping_template":
            r = overlapping_template(e, int(params.get("overlapping_m", 9)))
        elif name == "linear_complexity":
            r = linear_complexity(e, int(params.get("linear_complexity_m", 500)))
        elif name == "serial":
            r = serial(e, serial_m, _codes=codes)
        elif name == "approximate_entropy":
            sub = None if codes is None else codes >> (serial_m - apen_m - 1)
            r = approximate_entropy(e, apen_m, _codes=sub)
        else:
            r = globals()[name](e)
        out.append(r)
    return out


# ------------------------------------------------------------------------------ assessment


@dataclass
class SetResult:
    """Section 4.2 criteria for one p-value set (one sub-test over the m sequences)."""

    test: str
    label: str
    sequences: int  # sequences to which the test applied
    passed: int  # p >= alpha
    min_pass: int  # NIST STS threshold (integer)
    histogram: np.ndarray  # C1..C10
    uniformity_p: float  # P-value_T (NaN if fewer than 55 sequences)
    proportion_ok: bool
    uniformity_ok: bool
    false_flag_probability: float  # P(flagged | H0) for this set size

    @property
    def flagged(self) -> bool:
        return not (self.proportion_ok and self.uniformity_ok)

    @property
    def name(self) -> str:
        return self.test + (f"[{self.label}]" if self.label else "")


@dataclass
class Assessment:
    """All sets, and the suite verdict (see :func:`assess`)."""

    sets: list[SetResult]
    alpha: float
    sequences: int
    flagged: int
    expected_false_flags: float
    flag_count_p: float  # P(X >= flagged) for X the number of flags of an ideal source
    worst: str  # the set with the smallest binomial tail probability
    worst_tail_p: float
    bonferroni_ok: bool
    verdict: bool
    reasons: list[str]

    def table(self) -> str:
        """A text table in the layout of NIST STS's finalAnalysisReport (flagged rows and one
        row per test; ``*`` marks a NIST flag)."""
        lines = [
            " C1  C2  C3  C4  C5  C6  C7  C8  C9 C10  P-VALUE_T  PROPORTION  TEST",
            "-" * 78,
        ]
        shown: set[str] = set()
        for s in self.sets:
            if s.flagged or s.test not in shown:
                shown.add(s.test)
                hist = " ".join(f"{int(v):3d}" for v in s.histogram)
                u = "   ----  " if math.isnan(s.uniformity_p) else f"{s.uniformity_p:9.6f}"
                prop = f"{s.passed:4d}/{s.sequences:<4d}"
                lines.append(
                    f"{hist} {u}{' *' if not s.uniformity_ok else '  '} {prop}"
                    f"{' *' if not s.proportion_ok else '  '}  {s.name}"
                )
        lines.append("-" * 78)
        lines.append(
            f"{len(self.sets)} p-value sets over {self.sequences} sequences (alpha = "
            f"{self.alpha}); NIST flags: {self.flagged} (expected for an ideal source: "
            f"{self.expected_false_flags:.2f}, P(>= {self.flagged}) = {self.flag_count_p:.3g})"
        )
        lines.append(
            f"weakest set: {self.worst} (binomial tail p = {self.worst_tail_p:.3g}, "
            f"Bonferroni limit {0.01 / max(len(self.sets), 1):.2g})"
        )
        lines.append("VERDICT: " + ("PASS" if self.verdict else "FAIL: " + "; ".join(self.reasons)))
        return "\n".join(lines)


def min_pass_count(sequences: int, alpha: float = 0.01) -> int:
    """Smallest passing count NIST STS 2.1.2 accepts: the integer part of
    m (p - 3 sqrt(p alpha / m)), p = 1 - alpha (96 for m = 100, alpha = 0.01)."""
    p_hat = 1 - alpha
    return int(sequences * (p_hat - 3 * math.sqrt(p_hat * alpha / sequences)))


def assess(
    results: Sequence[Sequence[TestResult]], alpha: float = 0.01, family_alpha: float = 0.01
) -> Assessment:
    """Section 4.2 criteria over m sequences (``results[i]`` = :func:`run_suite` of sequence
    i), for every p-value set.

    Per set, as NIST STS 2.1.2 assess computes them: the proportion of sequences with
    p >= alpha must reach :func:`min_pass_count` of the sequences the test applied to, and
    the p-values must be uniform: chi^2 over 10 bins, P-value_T = igamc(9/2, chi^2/2) >=
    1e-4 (evaluated with >= 55 sequences).

    The verdict then asks the question those flags answer for one set of a 188-set suite:
    an ideal source is flagged on ~0.7 sets per run at m = 100, so "no flag anywhere"
    would reject ideal generators about half of the time. A source passes when (1) the
    number of flagged sets is not improbable for an ideal source (P(X >= flags) >=
    ``family_alpha``, X a sum of independent per-set flag indicators with their exact
    binomial probabilities), (2) no single set's pass count is below what an ideal source
    would show at the Bonferroni level ``family_alpha / sets``, and (3) no set has
    P-value_T < 1e-4 (NIST's own uniformity limit, which is already a family-wise limit).
    """
    if not results:
        raise BadInput("results: no sequences to assess")
    from scipy import stats  # loaded on first use, not when the CLI starts

    sets: dict[tuple[str, str], list[float]] = {}
    order: list[tuple[str, str]] = []
    for seq in results:
        for r in seq:
            for label, p in zip(r.labels, r.p_values, strict=True):
                key = (r.test, label)
                if key not in sets:
                    sets[key] = []
                    order.append(key)
                if r.applicable and np.isfinite(p):
                    sets[key].append(float(p))
    out: list[SetResult] = []
    for key in order:
        p = np.asarray(sets[key])
        m = p.size
        if m == 0:
            continue
        passed = int(np.count_nonzero(p >= alpha))
        threshold = min_pass_count(m, alpha)
        hist = np.bincount(np.minimum((p * 10).astype(int), 9), minlength=10)
        if m >= 55:
            chi2 = float(np.sum((hist - m / 10) ** 2 / (m / 10)))
            u = float(_igamc(4.5, chi2 / 2))
        else:
            u = float("nan")
        # P(passed < threshold | H0): failures ~ Binomial(m, alpha)
        q_prop = float(stats.binom.sf(m - threshold, m, alpha))
        q = q_prop + (1e-4 if m >= 55 else 0.0)
        out.append(
            SetResult(
                key[0], key[1], m, passed, threshold, hist, u,
                passed >= threshold, not (u < 1e-4), q,
            )
        )  # fmt: skip
    flagged = sum(s.flagged for s in out)
    qs = np.array([s.false_flag_probability for s in out])
    expected = float(qs.sum())
    # Poisson-binomial tail P(X >= flagged) by convolution of the per-set indicators
    dist = np.zeros(len(out) + 1)
    dist[0] = 1.0
    for q in qs:
        dist[1:] = dist[1:] * (1 - q) + dist[:-1] * q
        dist[0] *= 1 - q
    tail = float(dist[flagged:].sum())
    # binomial tail of each set's failure count: P(failures >= observed | H0)
    tails = [float(stats.binom.sf(s.sequences - s.passed - 1, s.sequences, alpha)) for s in out]
    worst_i = int(np.argmin(tails))
    bonf_ok = tails[worst_i] >= family_alpha / len(out)
    uni_ok = all(s.uniformity_ok for s in out)
    reasons = []
    if tail < family_alpha:
        reasons.append(f"{flagged} flagged sets (an ideal source: {expected:.2f}, "
                       f"P = {tail:.2g})")
    if not bonf_ok:
        reasons.append(f"{out[worst_i].name}: {out[worst_i].passed}/{out[worst_i].sequences} "
                       f"passing (tail p = {tails[worst_i]:.2g})")
    if not uni_ok:
        bad = [s.name for s in out if not s.uniformity_ok]
        reasons.append(f"non-uniform p-values in {', '.join(bad[:5])}"
                       + (f" and {len(bad) - 5} more" if len(bad) > 5 else ""))
    return Assessment(
        out, alpha, len(results), flagged, expected, tail, out[worst_i].name, tails[worst_i],
        bonf_ok, not reasons, reasons,
    )  # fmt: skip
