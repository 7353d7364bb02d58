"""Growing buffers behind the live views (numpy only, no Qt): what lets a view take a block
in O(block) and redraw in O(pixels), however long the run.

* :class:`TraceEnvelope` - a growing 1-D trace with a min/max pyramid: the display of any
  range of a 1e6..1e7-point RTN trace is a few thousand (min, max) pairs, found from the
  pyramid without touching the raw samples.
* :class:`GrowingRows` - records of a stream (scalars or fixed-shape rows) appended block by
  block with amortised doubling.
* :class:`RunningHistogram` - counts on fixed bins, updated per block; the bins widen (and the
  counts are rebuilt once) only when data falls outside them.
* :func:`two_means_levels` - two current levels from a histogram (weighted two-means), cheap
  enough to refit every frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np


class GrowingRows:
    """Records appended along axis 0 (amortised O(1) per record)."""

    def __init__(self, dtype: np.dtype | type = np.float64, capacity: int = 1024) -> None:
        self._dtype = np.dtype(dtype)
        self._capacity = max(1, int(capacity))
        self._data: np.ndarray | None = None
        self.n = 0

    def clear(self) -> None:
        self._data = None
        self.n = 0

    def append(self, block: np.ndarray) -> None:
        """Append ``block`` (one record per row; a scalar stream takes 1-D blocks)."""
        block = np.asarray(block, dtype=self._dtype)
        if block.ndim == 0:
            block = block[None]
        if self._data is None:
            shape = (max(self._capacity, block.shape[0]), *block.shape[1:])
            self._data = np.empty(shape, dtype=self._dtype)
        elif block.shape[1:] != self._data.shape[1:]:
            block = block.reshape((-1, *self._data.shape[1:]))
        need = self.n + block.shape[0]
        if need > self._data.shape[0]:
            grown = np.empty((max(need, 2 * self._data.shape[0]), *self._data.shape[1:]),
                             dtype=self._dtype)
            grown[: self.n] = self._data[: self.n]
            self._data = grown
        self._data[self.n : need] = block
        self.n = need

    @property
    def data(self) -> np.ndarray:
        """The records so far (a view; valid until the next append)."""
        if self._data is None:
            return np.empty((0,), dtype=self._dtype)
        return self._data[: self.n]

    def __len__(self) -> int:
        return self.n


class TraceEnvelope:
    """A growing trace with per-bin minima and maxima (bins of ``bin_size`` samples).

    :meth:`append` costs O(block); :meth:`envelope` returns at most ``max_points`` display
    points for any index range, reducing the pyramid (``n / bin_size`` values) instead of the
    samples, so a redraw costs the same at 1e4 and at 1e7 samples.
    """

    def __init__(self, bin_size: int = 64) -> None:
        if bin_size < 1:
            raise ValueError("bin_size must be >= 1")
        self.bin_size = int(bin_size)
        self._y = GrowingRows(np.float32, 1 << 16)
        self._mins = GrowingRows(np.float32, 1 << 10)
        self._maxs = GrowingRows(np.float32, 1 << 10)

    def clear(self) -> None:
        self._y.clear()
        self._mins.clear()
        self._maxs.clear()

    def __len__(self) -> int:
        return self._y.n

    @property
    def samples(self) -> np.ndarray:
        """All samples so far (a view)."""
        return self._y.data

    def append(self, block: np.ndarray) -> None:
        """Append samples and fold every completed bin into the pyramid."""
        block = np.asarray(block, dtype=np.float32).ravel()
        if block.size == 0:
            return
        self._y.append(block)
        b = self.bin_size
        done = self._mins.n  # complete bins already folded in
        full = self._y.n // b
        if full > done:
            chunk = self._y.data[done * b : full * b].reshape(-1, b)
            self._mins.append(chunk.min(axis=1))
            self._maxs.append(chunk.max(axis=1))

    def envelope(
        self, start: int = 0, stop: int | None = None, max_points: int = 4000
    ) -> tuple[np.ndarray, np.ndarray]:
        """Display points of samples ``[start, stop)``: ``(index, value)`` arrays, the raw
        samples when they fit in ``max_points``, else a (min, max) pair per bucket of whole
        bins (both points at the bucket's first index and its middle)."""
        n = len(self)
        stop = n if stop is None else min(int(stop), n)
        start = max(0, min(int(start), stop))
        if stop - start <= max_points:
            index = np.arange(start, stop, dtype=np.float64)
            return index, self._y.data[start:stop]
        b = self.bin_size
        buckets = max(1, max_points // 2)
        per = max(1, math.ceil((stop - start) / buckets / b))  # bins per bucket
        b0, b1 = start // b, math.ceil(stop / b)
        complete = min(b1, self._mins.n)
        mins, maxs = self._mins.data[b0:complete], self._maxs.data[b0:complete]
        if b1 > complete:  # the partial last bin, from the samples
            tail = self._y.data[complete * b : stop]
            mins = np.append(mins, tail.min())
            maxs = np.append(maxs, tail.max())
        starts = np.arange(0, mins.size, per)
        lo = np.minimum.reduceat(mins, starts)
        hi = np.maximum.reduceat(maxs, starts)
        first = (b0 + starts) * b
        index = np.empty(2 * starts.size, dtype=np.float64)
        index[0::2] = first
        index[1::2] = first + 0.5 * per * b
        value = np.empty(2 * starts.size, dtype=np.float32)
        value[0::2] = lo
        value[1::2] = hi
        return index, value


class RunningHistogram:
    """Counts of all values seen, on ``bins`` equal bins over a range that only widens.

    ``rebuild`` is called (with no arguments) to fetch every value seen so far when the range
    has to widen; it returns them as one array.
    """

    def __init__(self, bins: int = 160, margin: float = 0.25) -> None:
        self.bins = int(bins)
        self.margin = float(margin)
        self.lo = self.hi = float("nan")
        self.counts = np.zeros(self.bins, dtype=np.int64)

    def clear(self) -> None:
        self.lo = self.hi = float("nan")
        self.counts[:] = 0

    @property
    def edges(self) -> np.ndarray:
        return np.linspace(self.lo, self.hi, self.bins + 1)

    @property
    def centres(self) -> np.ndarray:
        e = self.edges
        return 0.5 * (e[1:] + e[:-1])

    def _range_for(self, lo: float, hi: float) -> tuple[float, float]:
        span = hi - lo
        if not span > 0:
            span = abs(hi) * 1e-3 or 1e-12
        return lo - self.margin * span, hi + self.margin * span

    def add(self, block: np.ndarray, rebuild: Callable[[], np.ndarray]) -> None:
        """Count ``block``; widen the bins (recounting ``rebuild()``) if it falls outside."""
        block = np.asarray(block).ravel()
        block = block[np.isfinite(block)]
        if block.size == 0:
            return
        lo, hi = float(block.min()), float(block.max())
        if math.isnan(self.lo) or lo < self.lo or hi > self.hi:
            if not math.isnan(self.lo):
                lo, hi = min(lo, self.lo), max(hi, self.hi)
            self.lo, self.hi = self._range_for(lo, hi)
            everything = np.asarray(rebuild()).ravel()
            everything = everything[np.isfinite(everything)]
            self.counts, _ = np.histogram(everything, bins=self.bins, range=(self.lo, self.hi))
            return
        counts, _ = np.histogram(block, bins=self.bins, range=(self.lo, self.hi))
        self.counts += counts


def two_means_levels(centres: np.ndarray, counts: np.ndarray) -> tuple[float, float] | None:
    """Two levels of a histogram by weighted two-means (None without data)."""
    w = np.asarray(counts, dtype=np.float64)
    x = np.asarray(centres, dtype=np.float64)
    total = w.sum()
    if total <= 0:
        return None
    cdf = np.cumsum(w) / total
    lo = float(x[min(np.searchsorted(cdf, 0.1), x.size - 1)])
    hi = float(x[min(np.searchsorted(cdf, 0.9), x.size - 1)])
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        below, above = x < mid, x >= mid
        wb, wa = w[below].sum(), w[above].sum()
        if wb == 0 or wa == 0:
            break
        new = float((w[below] * x[below]).sum() / wb), float((w[above] * x[above]).sum() / wa)
        if new == (lo, hi):
            break
        lo, hi = new
    return lo, hi
