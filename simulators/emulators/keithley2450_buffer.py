"""Keithley 2450 emulator: one reading buffer (capacity, fill mode, lazily grown storage)."""

from __future__ import annotations

import numpy as np

__all__ = ["ReadingBuffer"]

_COLUMNS = ("_reading", "_source", "_time", "_sstat", "_func", "_mrange", "_srange")


class ReadingBuffer:
    """A 2450 reading buffer: fixed capacity, fill mode ONCE or CONT, storage grown lazily.

    Logical index 0 is the oldest reading held. ``REL`` times are relative to the first reading
    stored since the last clear.
    """

    def __init__(self, name: str, capacity: int, fill_mode: str, style: str = "STAN") -> None:
        self.name = name
        self.style = style
        self.fill_mode = fill_mode
        self.capacity = int(capacity)
        self.clear()

    def clear(self) -> None:
        """Remove all readings (capacity and fill mode stay)."""
        size = min(self.capacity, 1024)
        self._reading = np.empty(size)
        self._source = np.empty(size)
        self._time = np.empty(size)
        self._sstat = np.zeros(size, dtype=np.uint8)
        self._func = np.zeros(size, dtype=np.uint8)
        self._mrange = np.zeros(size)  # measure range of each reading (for FORMatted)
        self._srange = np.zeros(size)  # source range (for SOURFORMatted)
        self._start = 0
        self.count = 0
        self.t_ref: float | None = None

    def resize(self, capacity: int) -> None:
        """Change the capacity (clears the buffer, as on the instrument)."""
        self.capacity = int(capacity)
        self.clear()

    def _grow(self, needed: int) -> None:
        size = len(self._reading)
        if needed <= size:
            return
        new = min(self.capacity, max(needed, 2 * size))
        for name in _COLUMNS:
            old = getattr(self, name)
            arr = np.zeros(new, dtype=old.dtype)
            arr[:size] = old
            setattr(self, name, arr)

    def append(
        self,
        reading: np.ndarray,
        source: np.ndarray,
        t: np.ndarray,
        sstat: np.ndarray,
        func: int,
        ranges: tuple[float, float] = (0.0, 0.0),
    ) -> int:
        """Store readings per the fill mode; returns how many were stored. ``ranges`` are the
        measure and source ranges they were taken on."""
        n = len(reading)
        if n == 0:
            return 0
        if self.fill_mode == "ONCE":
            n_store = min(n, self.capacity - self.count)
            sl = slice(0, n_store)
        else:
            n_store = min(n, self.capacity)
            sl = slice(n - n_store, n)
        if n_store <= 0:
            return 0
        if self.t_ref is None:
            self.t_ref = float(t[sl][0])
        cols = (
            reading[sl], source[sl], t[sl], sstat[sl], np.full(n_store, func, np.uint8),
            np.full(n_store, ranges[0]), np.full(n_store, ranges[1]),
        )  # fmt: skip
        linear = min(n_store, self.capacity - self.count)
        if linear > 0:
            self._grow(self.count + linear)
            a, b = self.count, self.count + linear
            for name, col in zip(_COLUMNS, cols, strict=True):
                getattr(self, name)[a:b] = col[:linear]
            self.count += linear
        rest = n_store - linear
        if rest > 0:  # CONT and full: overwrite the oldest
            self._grow(self.capacity)
            idx = (self._start + np.arange(rest)) % self.capacity
            for name, col in zip(_COLUMNS, cols, strict=True):
                getattr(self, name)[idx] = col[linear:]
            self._start = int((self._start + rest) % self.capacity)
        return n_store

    def _index(self, first: int, last: int) -> np.ndarray:
        return (self._start + np.arange(first, last + 1)) % max(self.capacity, 1)

    def columns(self, first: int, last: int) -> dict[str, np.ndarray]:
        """Columns for logical indices ``first..last`` (0-based, inclusive)."""
        idx = self._index(first, last)
        return {
            "reading": self._reading[idx],
            "source": self._source[idx],
            "time": self._time[idx],
            "sstat": self._sstat[idx],
            "func": self._func[idx],
            "mrange": self._mrange[idx],
            "srange": self._srange[idx],
        }

    def readings(self) -> np.ndarray:
        """All readings held, oldest first."""
        if self.count == 0:
            return np.empty(0)
        return self.columns(0, self.count - 1)["reading"]
