"""Traces for analysis: one cell's readings from memory or from a run file, read block by block.

A :class:`Trace` never holds more than a block (plus a short look-ahead) of a file-backed
trace in memory, so every analysis built on it works on 1e7-sample traces. The RTN
acquisition procedure writes a stream ``current`` (float32, A; record shape ``()`` for one
cell or ``(n_cells,)`` for several) with run parameters ``bias_v``, ``interval_s`` and
``aperture_s``; :meth:`Trace.from_run` reads those.

:meth:`Trace.check` is the gate every analysis passes first: NaN/inf readings, a constant
trace or one too short to say anything raise :class:`~ftjlab.errors.BadInput` with a message
that says which, never a wrong number.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ftjlab import store
from ftjlab.errors import BadInput

DEFAULT_BLOCK = 1 << 18  # 262144 samples: ~2 MB per float64 block
MIN_SAMPLES = 100


@dataclass
class TraceStats:
    """One streaming pass over a trace: count, range, mean, standard deviation."""

    n: int
    minimum: float
    maximum: float
    mean: float
    std: float


class Trace:
    """One cell's readings, in memory (``data``) or in a run file (``path``).

    Parameters
    ----------
    data: 1-D readings (A) when the trace is in memory.
    interval_s: time between readings; ``aperture_s`` the averaging time of one reading.
    name: how messages refer to the trace.
    block: samples per block when reading a file.
    """

    def __init__(
        self,
        data: np.ndarray | None = None,
        interval_s: float = 1.0,
        aperture_s: float | None = None,
        name: str = "trace",
        block: int = DEFAULT_BLOCK,
        _reader=None,
        _length: int | None = None,
        meta: dict | None = None,
    ) -> None:
        if not (isinstance(interval_s, int | float) and math.isfinite(interval_s)
                and interval_s > 0):
            raise BadInput(f"interval_s: must be a finite time > 0 s, got {interval_s!r}")
        self.interval_s = float(interval_s)
        self.aperture_s = float(aperture_s) if aperture_s is not None else None
        self.name = name
        self.block = int(block)
        self.meta = dict(meta or {})
        if data is not None:
            arr = np.asarray(data)
            if arr.ndim != 1:
                raise BadInput(f"{name}: expected a 1-D trace of one cell, got shape {arr.shape}")
            if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype,
                                                                            np.integer)):
                raise BadInput(f"{name}: readings must be numbers, got dtype {arr.dtype}")
            self._data = arr
            self.n = int(arr.size)
            self._reader = None
        else:
            self._data = None
            self._reader = _reader
            self.n = int(_length or 0)
        self._stats: TraceStats | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_run(
        cls,
        path: str | Path,
        run_id: str | None = None,
        dataset: str = "current",
        cell: int = 0,
        interval_s: float | None = None,
        block: int = DEFAULT_BLOCK,
    ) -> Trace:
        """The trace of ``cell`` in stream ``dataset`` of a run (``interval_s`` from the run's
        parameters unless given)."""
        info = store.open_run(path, run_id)
        if dataset not in info.datasets:
            raise BadInput(f"dataset: run {info.run_id!r} has no dataset {dataset!r} "
                           f"(has: {sorted(info.datasets)})")
        shape, dtype, units = info.datasets[dataset]
        if np.dtype(dtype).kind not in "fiu":
            raise BadInput(f"dataset: {dataset!r} holds {dtype}, not readings (numbers)")
        if len(shape) == 1:
            if cell != 0:
                raise BadInput(f"cell: dataset {dataset!r} holds one cell, got cell={cell}")
        elif len(shape) == 2:
            if not 0 <= cell < shape[1]:
                raise BadInput(f"cell: must be within 0..{shape[1] - 1}, got {cell}")
        else:
            raise BadInput(f"dataset: {dataset!r} has shape {shape}; expected (n,) or (n, cells)")
        params = info.parameters
        if interval_s is None:
            interval_s = params.get("interval_s")
            if interval_s is None:
                raise BadInput(f"interval_s: run {info.run_id!r} has no parameter interval_s; "
                               "give it explicitly")
        if isinstance(interval_s, bool) or not isinstance(interval_s, int | float):
            raise BadInput(f"interval_s: the run's parameter must be a number, got "
                           f"{interval_s!r}; give it explicitly")
        two_d = len(shape) == 2

        def reader(blk: int, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
            with store.open_file(info.path) as f:
                ds = f["runs"][info.run_id][dataset]
                n = min(ds.shape[0], shape[0])  # committed records (store.committed_length)
                end = n if stop is None else min(stop, n)
                for lo in range(start, end, blk):
                    chunk = store.read_slice(ds, lo, min(lo + blk, end))
                    yield chunk[:, cell] if two_d else chunk

        aperture = params.get("aperture_s")
        if aperture is None:  # the RTN acquisition records it as a result (run attribute)
            with store.open_file(info.path) as f:
                value = f["runs"][info.run_id].attrs.get("aperture_s")
            try:
                aperture = float(value) if value is not None and value != "" else None
            except (TypeError, ValueError):
                raise BadInput(f"aperture_s: run attribute must be a number, got {value!r}"
                               ) from None
        meta = {"path": str(info.path), "run_id": info.run_id, "dataset": dataset, "cell": cell,
                "units": units, "bias_v": params.get("bias_v"), "aperture_s": aperture,
                "procedure": info.procedure}
        return cls(
            None, float(interval_s), aperture,
            name=f"{Path(path).name}:{info.run_id}/{dataset}[cell {cell}]", block=block,
            _reader=reader, _length=shape[0], meta=meta,
        )  # fmt: skip

    # ------------------------------------------------------------------ reading
    def window(self, start: int, stop: int) -> Trace:
        """The samples ``start:stop`` as a trace of their own (no copy: a view of an
        in-memory trace, a ranged reader of a file)."""
        start, stop = max(0, int(start)), min(self.n, int(stop))
        if self._data is not None:
            return Trace(self._data[start:stop], self.interval_s, self.aperture_s,
                         f"{self.name}[{start}:{stop}]", self.block, meta=self.meta)
        parent = self._reader

        def reader(blk: int, lo: int = 0, hi: int | None = None) -> Iterator[np.ndarray]:
            end = stop if hi is None else min(stop, start + hi)
            yield from parent(blk, start + lo, end)

        return Trace(None, self.interval_s, self.aperture_s, f"{self.name}[{start}:{stop}]",
                     self.block, _reader=reader, _length=stop - start, meta=self.meta)

    def blocks(self, block: int | None = None) -> Iterator[np.ndarray]:
        """The readings as float64 blocks of ``block`` samples (the last may be shorter)."""
        blk = int(block or self.block)
        if self._data is not None:
            for start in range(0, self.n, blk):
                yield np.asarray(self._data[start : start + blk], dtype=np.float64)
        else:
            buf: list[np.ndarray] = []
            have = 0
            for chunk in self._reader(blk):
                buf.append(np.asarray(chunk, dtype=np.float64))
                have += buf[-1].size
                while have >= blk:
                    joined = np.concatenate(buf)
                    yield joined[:blk]
                    rest = joined[blk:]
                    buf, have = ([rest] if rest.size else []), rest.size
            if have:
                yield np.concatenate(buf)

    def blocks_with_lookahead(self, block: int, lookahead: int
                              ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(block, the next ``lookahead`` samples) pairs; the look-ahead of the last block is
        empty. Memory: two blocks at a time."""
        it = self.blocks(max(block, lookahead))
        cur = next(it, None)
        while cur is not None:
            nxt = next(it, None)
            ahead = nxt[:lookahead] if nxt is not None else np.empty(0)
            yield cur, ahead
            cur = nxt

    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Samples ``start:stop`` as float64 (reads only the blocks it needs)."""
        stop = self.n if stop is None else min(stop, self.n)
        if self._data is not None:
            return np.asarray(self._data[start:stop], dtype=np.float64)
        out, pos = [], 0
        for blk in self.blocks():
            lo, hi = max(start - pos, 0), min(stop - pos, blk.size)
            if hi > lo:
                out.append(blk[lo:hi])
            pos += blk.size
            if pos >= stop:
                break
        return np.concatenate(out) if out else np.empty(0)

    # ------------------------------------------------------------------ checks
    def stats(self) -> TraceStats:
        """Count, range, mean and std in one streaming pass (cached); raises
        :class:`BadInput` on NaN/inf."""
        if self._stats is not None:
            return self._stats
        n, lo, hi, total, pos = 0, math.inf, -math.inf, 0.0, 0
        shift = None
        m2 = 0.0
        for blk in self.blocks():
            bad = ~np.isfinite(blk)
            if bad.any():
                first = pos + int(np.argmax(bad))
                raise BadInput(f"{self.name}: {int(bad.sum())} NaN/inf reading(s) in the block "
                               f"starting at sample {pos} (first at sample {first}); "
                               "remove or interpolate them before analysis")
            if shift is None:
                shift = float(blk[0])
            d = blk - shift
            total += float(d.sum())
            m2 += float(np.dot(d, d))
            lo, hi = min(lo, float(blk.min())), max(hi, float(blk.max()))
            n += blk.size
            pos += blk.size
        if n == 0:
            raise BadInput(f"{self.name}: empty trace")
        mean_d = total / n
        var = max(m2 / n - mean_d**2, 0.0)
        self._stats = TraceStats(n, lo, hi, (shift or 0.0) + mean_d, math.sqrt(var))
        return self._stats

    def check(self, min_samples: int = MIN_SAMPLES) -> TraceStats:
        """Raise :class:`BadInput` unless the trace is finite, long enough and not constant."""
        if self.n < min_samples:
            raise BadInput(f"{self.name}: {self.n} samples is too short; this analysis needs "
                           f">= {min_samples}")
        st = self.stats()
        scale = max(abs(st.mean), abs(st.maximum), abs(st.minimum), 1e-300)
        if st.maximum == st.minimum or st.std <= 1e-12 * scale:
            raise BadInput(f"{self.name}: the trace is constant ({st.minimum:g} in all "
                           f"{st.n} samples): no fluctuations to analyse")
        return st


def as_trace(trace, interval_s: float = 1.0, name: str = "trace") -> Trace:
    """A :class:`Trace` from a Trace or a 1-D array (``interval_s`` for arrays)."""
    if isinstance(trace, Trace):
        return trace
    return Trace(np.asarray(trace), interval_s=interval_s, name=name)
