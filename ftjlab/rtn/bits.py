"""Random bits from RTN traces, and the post-processing that removes bias and correlation.

Raw bits:

* :func:`threshold_bits` - one bit per reading: above or below a per-cell threshold (the
  median by default, i.e. the middle of the levels a cell visits).
* :func:`dwell_parity_bits` - one bit per dwell: the parity of its length in samples (from a
  decoded level sequence, e.g. :meth:`ftjlab.rtn.hmm.GaussianHMM.decode`). For dwells much
  longer than the sampling interval the parity of a geometric length is nearly fair
  (bias ~ dt / (4 tau)).

Post-processing:

* :func:`von_neumann` - pairs 01 -> 0, 10 -> 1, 00/11 dropped. Exactly unbiased for
  independent bits, and also for adjacent samples of any stationary time-reversible process
  (P(01) = P(10)), which RTN (a sum of two-state Markov chains plus white noise) is.
* :func:`xor_cells` - XOR of k independent cells: bias becomes 2^(k-1) prod(eps_i)
  (piling-up lemma) and the lag correlation of the +-1 bits the product of the cells' ones.
* :func:`xor_fold` - XOR of k consecutive bits of one stream.
"""

from __future__ import annotations

import numpy as np

from ftjlab.errors import BadInput

from ._checks import as_cells
from .nist import as_bits

__all__ = [
    "dwell_lengths",
    "dwell_parity_bits",
    "pack",
    "threshold_bits",
    "unpack",
    "von_neumann",
    "xor_cells",
    "xor_fold",
]


def threshold_bits(trace, threshold=None) -> np.ndarray:
    """Bits (uint8, same shape as ``trace``): 1 where a reading is above its cell's threshold.

    ``threshold``: None for each cell's median, a scalar, or one value per cell. A cell whose
    readings are all equal has no randomness to offer: :class:`BadInput`.
    """
    x = as_cells(trace, "trace", 2)
    if threshold is None:
        thr = np.median(x, axis=1)
    else:
        thr = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (x.shape[0],))
    flat = np.ptp(x, axis=1) == 0
    if np.any(flat):
        raise BadInput(f"trace: cell(s) {np.flatnonzero(flat).tolist()[:10]} are constant: "
                       "no bits to extract")
    bits = (x > thr[:, None]).astype(np.uint8)
    return bits[0] if np.ndim(trace) == 1 else bits


def dwell_lengths(states) -> tuple[np.ndarray, np.ndarray]:
    """Run-length encoding of a level sequence: (level of each dwell, its length in samples).
    The first and last dwells are censored by the record edges; callers drop them."""
    s = np.asarray(states)
    if s.ndim != 1 or s.size == 0:
        raise BadInput("states: expected a non-empty 1-D level sequence")
    change = np.flatnonzero(s[1:] != s[:-1]) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [s.size]]))
    return s[starts], lengths


def dwell_parity_bits(states, drop_edges: bool = True) -> np.ndarray:
    """One bit per dwell: its length in samples modulo 2 (edge dwells dropped)."""
    _, lengths = dwell_lengths(states)
    if drop_edges:
        lengths = lengths[1:-1]
    return (lengths & 1).astype(np.uint8)


def von_neumann(bits) -> np.ndarray:
    """Von Neumann extractor on consecutive non-overlapping pairs of a stream (or each row of
    a 2-D array separately, returning a list-like object array when rows differ in yield)."""
    b = np.asarray(bits)
    if b.ndim == 2:
        return np.array([von_neumann(row) for row in b], dtype=object)
    e = as_bits(b)
    pairs = e[: e.size // 2 * 2].reshape(-1, 2)
    keep = pairs[:, 0] != pairs[:, 1]
    return pairs[keep, 0].copy()


def xor_fold(bits, k: int) -> np.ndarray:
    """XOR of every k consecutive bits (non-overlapping): n // k output bits."""
    if k < 1:
        raise BadInput(f"k: must be >= 1, got {k}")
    e = as_bits(bits)
    n = e.size // k
    return np.bitwise_xor.reduce(e[: n * k].reshape(n, k), axis=1)


def xor_cells(bits, k: int) -> np.ndarray:
    """XOR across groups of k cells: ``bits`` (cells, n) -> (cells // k, n). Rows are grouped
    in order (0..k-1, k..2k-1, ...); leftover cells are dropped."""
    b = np.asarray(bits)
    if b.ndim != 2:
        raise BadInput("bits: expected (cells, n) bits for xor_cells")
    if k < 1 or k > b.shape[0]:
        raise BadInput(f"k: must be within 1..{b.shape[0]} (cells), got {k}")
    g = b.shape[0] // k
    return np.bitwise_xor.reduce(b[: g * k].reshape(g, k, -1), axis=1).astype(np.uint8)


def pack(bits) -> bytes:
    """Bits -> bytes, most significant bit first (as NIST STS reads binary files)."""
    return np.packbits(as_bits(bits)).tobytes()


def unpack(data: bytes, n_bits: int | None = None) -> np.ndarray:
    """Bytes -> bits (most significant bit first), optionally truncated to ``n_bits``."""
    out = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    return out if n_bits is None else out[:n_bits]
