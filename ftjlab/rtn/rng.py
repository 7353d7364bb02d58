"""Random bit sources and the randomness report.

* :class:`DeviceBitSource` - bits from the RTN of a (simulated) FTJ array: cells screened
  once for two-level RTN with balanced occupancy and fast traps, read every ``spacing_s``
  with short apertures, each reading thresholded at its cell's level split (Otsu), then XOR
  of ``xor_cells`` cells (bias 2^(k-1) prod eps_i, lag correlation prod rho_i) and, if asked,
  von Neumann on consecutive pairs (exactly unbiased for a stationary time-reversible source).
* :func:`reference_bits` - numpy PCG64 (should pass) and a biased source P(1) = p (should
  fail), the two controls of the SP 800-22 criteria.
* :func:`rng_report` - SP 800-22 over m sequences plus SP 800-90B min-entropy of the raw and
  the post-processed bits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from ftjlab.errors import BadInput

from . import bits as bitops
from . import entropy, nist

__all__ = ["DeviceBitSource", "RNGReport", "otsu_thresholds", "reference_bits", "rng_report"]


def otsu_thresholds(x: np.ndarray, candidates: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``x`` (cells, n): the threshold that best splits the readings into two
    groups (Otsu: largest between-group variance), and that variance as a fraction of the
    total (1 for two clean levels, ~0.64 for a single Gaussian)."""
    x = np.asarray(x, dtype=np.float64)
    thr = np.empty(x.shape[0])
    sep = np.empty(x.shape[0])
    q = np.linspace(0.01, 0.99, candidates)
    for i, row in enumerate(x):
        s = np.sort(row)
        n = s.size
        cs = np.cumsum(s)
        k = np.clip(np.searchsorted(s, np.quantile(s, q), side="right"), 1, n - 1)
        w0 = k / n
        m0 = cs[k - 1] / k
        m1 = (cs[-1] - cs[k - 1]) / (n - k)
        between = w0 * (1 - w0) * (m0 - m1) ** 2
        j = int(np.argmax(between))
        thr[i] = 0.5 * (s[k[j] - 1] + s[k[j]])
        var = row.var()
        sep[i] = between[j] / var if var > 0 else 0.0
    return thr, sep


@dataclass
class DeviceBitSource:
    """Bits from the RTN of an FTJ array read through the instruments
    (:class:`ftjlab.rtn.bench.BenchCellReader`; any object with ``rows``, ``cols`` and
    ``acquire(rows_on, cols, bias_v, n, interval_s, aperture_s)`` works).

    Parameters
    ----------
    array: the device.
    bias_v: sampling bias.
    spacing_s: time between readings of a cell; ``aperture_s`` the integration of one.
    xor_cells: cells XOR-ed per output bit (k); ``von_neumann``: also VN on the XOR stream.
    min_separation, max_bias, max_lag_rho: screening limits (two-level split quality,
    |P(1) - 1/2| of a cell's bits, lag correlation at ``spacing_s``).
    """

    array: object
    bias_v: float = 0.8
    spacing_s: float = 1e-3
    aperture_s: float = 1e-5
    xor_cells: int = 8
    von_neumann: bool = False
    min_separation: float = 0.85
    max_bias: float = 0.2
    max_lag_rho: float = 0.5
    screen_readings: int = 20_000
    screen_interval_s: float = 1e-4
    seed: int = 0
    cells: list[tuple[int, int]] = field(default_factory=list)
    thresholds: np.ndarray = field(default_factory=lambda: np.empty(0))
    screening: dict = field(default_factory=dict)
    readings: int = 0

    def screen(self) -> None:
        """Find the usable cells and their thresholds (once)."""
        a = self.array
        cols = np.arange(a.cols)
        lag = max(1, round(self.spacing_s / self.screen_interval_s))
        cells, thr, stats = [], [], []
        for r in range(a.rows):
            x = a.acquire([r], cols, self.bias_v, self.screen_readings, self.screen_interval_s,
                          min(self.aperture_s, self.screen_interval_s)).astype(np.float64)
            t, sep = otsu_thresholds(x)
            b = (x > t[:, None]).astype(np.float64)
            p = b.mean(axis=1)
            bc = b - p[:, None]
            var = np.maximum(bc.var(axis=1), 1e-12)
            rho = (bc[:, lag:] * bc[:, :-lag]).mean(axis=1) / var
            ok = (sep >= self.min_separation) & (np.abs(p - 0.5) <= self.max_bias) & (
                rho <= self.max_lag_rho)
            for c in cols[ok]:
                cells.append((r, int(c)))
                thr.append(t[c])
                stats.append((p[c], rho[c], sep[c]))
        usable = len(cells) // self.xor_cells * self.xor_cells
        if usable == 0:
            raise BadInput(f"the device has {len(cells)} usable RTN cells at {self.bias_v} V; "
                           f"xor_cells = {self.xor_cells} needs at least that many")
        order = np.random.default_rng(self.seed).permutation(len(cells))[:usable]
        self.cells = [cells[i] for i in order]
        self.thresholds = np.asarray(thr)[order]
        st = np.asarray(stats)[order]
        self.screening = {
            "cells_screened": a.rows * a.cols, "cells_used": usable,
            "p_one_mean": float(st[:, 0].mean()),
            "abs_bias_max": float(np.abs(st[:, 0] - 0.5).max()),
            "lag_rho_median": float(np.median(st[:, 1])),
            "xor_bias_bound": float(np.max(np.prod(np.abs(2 * st[:, 0] - 1).reshape(
                -1, self.xor_cells), axis=1)) / 2),
        }  # fmt: skip

    def _raw(self, n: int) -> np.ndarray:
        from .latent import acquire_cells

        x = acquire_cells(self.array, self.cells, self.bias_v, n, self.spacing_s,
                          self.aperture_s)
        self.readings += x.size
        return (x > self.thresholds[:, None]).astype(np.uint8)

    def raw_bits(self, n: int) -> np.ndarray:
        """Raw thresholded bits (cells, n), before any post-processing."""
        if not self.cells:
            self.screen()
        return self._raw(n)

    def stream(self, chunk: int = 50_000) -> Iterator[np.ndarray]:
        """Post-processed bits, chunk after chunk (XOR groups interleaved in time order)."""
        if not self.cells:
            self.screen()
        while True:
            raw = self._raw(chunk)
            x = bitops.xor_cells(raw, self.xor_cells)
            out = np.ascontiguousarray(x.T).ravel()
            yield bitops.von_neumann(out) if self.von_neumann else out

    def take(self, n_bits: int) -> np.ndarray:
        """Exactly ``n_bits`` post-processed bits."""
        parts, have = [], 0
        for b in self.stream():
            parts.append(b)
            have += b.size
            if have >= n_bits:
                break
        return np.concatenate(parts)[:n_bits]

    def describe(self) -> dict:
        return {
            "source": "FTJ RTN (through the instruments)", "bias_v": self.bias_v,
            "spacing_s": self.spacing_s, "aperture_s": self.aperture_s,
            "xor_cells": self.xor_cells, "von_neumann": self.von_neumann, **self.screening,
        }  # fmt: skip


def reference_bits(kind: str, n_bits: int, seed: int = 0, p: float = 0.51) -> np.ndarray:
    """Control sources: ``"pcg64"`` (numpy's default generator, unbiased) or ``"biased"``
    (independent bits with P(1) = p)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    if kind == "pcg64":
        return np.unpackbits(rng.integers(0, 256, (n_bits + 7) // 8, dtype=np.uint8))[:n_bits]
    if kind == "biased":
        if not 0 < p < 1:
            raise BadInput(f"p: must be within (0, 1), got {p}")
        return (rng.random(n_bits) < p).astype(np.uint8)
    raise BadInput(f"reference: 'pcg64' or 'biased', got {kind!r}")


@dataclass
class RNGReport:
    """SP 800-22 assessment over m sequences, min-entropy, and where the bits came from."""

    source: dict
    sequences: int
    length: int
    assessment: nist.Assessment
    entropy_post: entropy.EntropyReport
    entropy_raw: entropy.EntropyReport | None
    seconds: float
    results: list[list[nist.TestResult]] = field(repr=False, default_factory=list)

    @property
    def verdict(self) -> bool:
        return self.assessment.verdict

    def text(self) -> str:
        src = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in self.source.items())
        lines = [f"Randomness of {self.sequences} sequences x {self.length} bits ({src})",
                 self.assessment.table(), "", "post-processed bits:", self.entropy_post.table()]
        if self.entropy_raw is not None:
            lines += ["raw bits (before post-processing):", self.entropy_raw.table()]
        lines.append(f"({self.seconds:.1f} s)")
        return "\n".join(lines)

    def arrays(self) -> dict[str, tuple[np.ndarray, str]]:
        sets = self.assessment.sets
        return {
            "set_names": (np.array([s.name for s in sets], dtype="S64"), ""),
            "passed": (np.array([s.passed for s in sets]), ""),
            "sequences": (np.array([s.sequences for s in sets]), ""),
            "min_pass": (np.array([s.min_pass for s in sets]), ""),
            "uniformity_p": (np.array([s.uniformity_p for s in sets]), ""),
            "histogram": (np.array([s.histogram for s in sets]), ""),
            "p_values": (self.p_value_matrix(), ""),
        }

    def p_value_matrix(self) -> np.ndarray:
        """(sequences, sets) p-values (NaN where a test did not apply)."""
        rows = []
        for seq in self.results:
            rows.append(np.concatenate([r.p_values for r in seq]))
        return np.array(rows) if rows else np.empty((0, 0))

    def attrs(self) -> dict:
        a = self.assessment
        return {
            "verdict": "pass" if a.verdict else "fail", "reasons": a.reasons,
            "sequences": self.sequences, "length": self.length, "flagged_sets": a.flagged,
            "expected_false_flags": a.expected_false_flags, "flag_count_p": a.flag_count_p,
            "weakest_set": a.worst, "weakest_tail_p": a.worst_tail_p,
            "min_entropy_post": self.entropy_post.min_entropy,
            "min_entropy_post_estimates": self.entropy_post.estimates,
            "min_entropy_raw": (self.entropy_raw.min_entropy if self.entropy_raw else None),
            "source": self.source, "table": a.table(),
        }  # fmt: skip


def rng_report(
    next_sequence: Callable[[int], np.ndarray],
    sequences: int,
    length: int,
    source: dict,
    raw_bits: np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
) -> RNGReport:
    """Draw ``sequences`` sequences of ``length`` bits from ``next_sequence(length)``, run the
    SP 800-22 suite on each, assess the criteria, and estimate min-entropy on the first
    sequence (and on ``raw_bits`` if given)."""
    if sequences < 1 or length < 1000:
        raise BadInput(f"sequences >= 1 and length >= 1000 needed, got {sequences}, {length}")
    t0 = time.perf_counter()
    results = []
    first = None
    for i in range(sequences):
        seq = nist.as_bits(next_sequence(length))
        if seq.size < length:
            raise BadInput(f"source ran out of bits at sequence {i} ({seq.size} < {length})")
        if first is None:
            first = seq
        results.append(nist.run_suite(seq))
        if progress:
            progress(i + 1)
    ent_post = entropy.min_entropy(first)
    ent_raw = entropy.min_entropy(raw_bits) if raw_bits is not None else None
    return RNGReport(source, sequences, length, nist.assess(results), ent_post, ent_raw,
                     time.perf_counter() - t0, results)


def split_sequences(bits: np.ndarray, length: int, sequences: int | None) -> list[np.ndarray]:
    """Cut a bit array into ``sequences`` (default: as many as fit) sequences of ``length``."""
    n = bits.size // length
    if n < 1:
        raise BadInput(f"only {bits.size} bits: fewer than one sequence of {length}")
    if sequences is not None:
        if sequences > n:
            raise BadInput(f"only {bits.size} bits: {sequences} sequences of {length} need "
                           f"{sequences * length}")
        n = sequences
    return [bits[i * length : (i + 1) * length] for i in range(n)]


def sequence_feeder(seqs: Sequence[np.ndarray]) -> Callable[[int], np.ndarray]:
    it = iter(seqs)
    return lambda _n: next(it)


def describe_rate(source: DeviceBitSource, n_bits: int) -> dict:
    """Bits per reading and per second of device time."""
    t = source.readings / max(len(source.cells), 1) * source.spacing_s
    return {"bits_per_reading": n_bits / max(source.readings, 1),
            "bits_per_device_second": n_bits / t if t > 0 else math.nan}
