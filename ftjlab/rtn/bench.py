"""RTN readings through the instruments: the array seen by the RTN analysis as the bench
sees it (controller, drivers, wiring, safety guard), never the simulator's objects.

:class:`BenchCellReader` offers the one operation the bench-sourced RTN code needs,
``acquire(rows_on, cols, bias_v, n, interval_s, aperture_s) -> (cols, n)`` readings, with
``rows`` and ``cols`` for the array size, ``apply_pulse`` and ``clock.now_s``, so
:func:`ftjlab.vae.latents.rtn_latents`, :class:`ftjlab.rtn.rng.DeviceBitSource`,
:func:`ftjlab.rtn.latent.select_rtn_cells` and the latent sources of :mod:`ftjlab.vae.engine`
run on any bench a :class:`~ftjlab.session.BenchSession` opens: in-process simulated, over
TCP to ``ftjlab sim-server``, or real.

Each reading is an SMU buffer reading taken by
:meth:`~ftjlab.controller.ArrayController.acquire_rtn` (timed acquisition, ``sample`` role,
so the bias is checked against the bench's sample limit before anything is sent). The
aperture is rounded to the SMU's integration time in power-line cycles. When the controller
offers a multi-channel acquisition (``acquire_rtn_cells``: several cells at once on benches
with several sample channels), it is used; otherwise cells are acquired one after the other.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ftjlab.errors import BadInput

SET_PULSE_V = 3.0
SET_PULSE_S = 1e-5
#: the shortest SMU integration time when the read role does not say (2636B: 0.001 NPLC)
MIN_NPLC = 0.001


class _SessionClock:
    def __init__(self, session) -> None:
        self._session = session

    @property
    def now_s(self) -> float:
        return float(self._session.now_s())


class BenchCellReader:
    """Timed RTN acquisitions of array cells through an ``ArrayController``."""

    def __init__(self, controller, block: int = 50_000) -> None:
        self.controller = controller
        self.rows, self.cols = controller.rows, controller.cols
        self.shape = (self.rows, self.cols)
        self.block = block
        self.readings = 0

    @property
    def session(self):
        return self.controller.session

    @property
    def clock(self) -> _SessionClock:
        """The session's time (``now_s``): virtual on a simulated bench, wall time on a real
        one; differences are instrument time."""
        return _SessionClock(self.controller.session)

    def apply_pulse(self, rows, cols, volts: float, width_s: float, count: int = 1) -> None:
        """``count`` pulses of ``volts`` / ``width_s`` on the cells ``rows`` x ``cols``."""
        self.controller.apply_pulses([int(r) for r in np.atleast_1d(rows)],
                                     [int(c) for c in np.atleast_1d(cols)], volts, width_s,
                                     count=count)

    def nplc(self, aperture_s: float) -> float:
        """SMU integration time (NPLC) for an aperture."""
        return float(aperture_s) * self.controller.linefreq

    def set_on(self, cells: Sequence[tuple[int, int]], count: int = 3) -> None:
        """SET cells fully on (largest RTN current above the read noise): ``count`` SET pulses
        per word line through the pulser (``program`` role, checked by the guard)."""
        by_row: dict[int, list[int]] = {}
        for r, c in cells:
            by_row.setdefault(int(r), []).append(int(c))
        for r, cols in sorted(by_row.items()):
            self.controller.apply_pulses([r], sorted(cols), SET_PULSE_V, SET_PULSE_S, count=count)

    def acquire_cells(
        self,
        cells: Sequence[tuple[int, int]],
        bias_v: float,
        n: int,
        interval_s: float,
        aperture_s: float,
    ) -> np.ndarray:
        """Readings (len(cells), n) in A, each cell with only its own word line on."""
        cells = [(int(r), int(c)) for r, c in cells]
        if n < 1 or not cells:
            raise BadInput("acquire: need n >= 1 readings of >= 1 cell")
        if aperture_s > interval_s:
            raise BadInput(
                f"aperture {aperture_s:g} s is longer than the interval {interval_s:g} s"
            )
        nplc = self.nplc(aperture_s)
        read = getattr(self.controller, "read", None)
        shortest = float(getattr(read, "nplc_range", (MIN_NPLC, None))[0])
        if nplc < shortest:
            raise BadInput(
                f"aperture: {aperture_s:g} s is shorter than the SMU's shortest integration "
                f"({shortest:g} NPLC = {shortest / self.controller.linefreq:.3g} s); sample "
                "more slowly (the aperture is half the sampling interval)"
            )
        c = self.controller
        out = np.empty((len(cells), n))
        width = int(getattr(c, "parallel_reads", 1))
        if width > 1 and len({cell for cell in cells}) == len(cells):
            # cells of one word line, up to `width` at a time, one per read channel
            by_row: dict[int, list[tuple[int, int]]] = {}
            for i, (r, col) in enumerate(cells):
                by_row.setdefault(int(r), []).append((i, int(col)))
            for r, items in by_row.items():
                for k in range(0, len(items), width):
                    chunk = items[k:k + width]
                    parts = [cur for cur, _ in c.acquire_rtn_cells(
                        r, [col for _, col in chunk], bias_v, interval_s, nplc, n,
                        min(n, self.block))]
                    x = np.concatenate(parts)[:n]
                    for j, (i, _) in enumerate(chunk):
                        out[i] = x[:, j]
        else:
            for i, (r, col) in enumerate(cells):
                parts = [cur for cur, _ in c.acquire_rtn(r, col, bias_v, interval_s, nplc, n,
                                                          min(n, self.block))]
                out[i] = np.concatenate(parts)[:n]
        self.readings += out.size
        return out

    def acquire(
        self,
        rows_on: Sequence[int],
        cols: Sequence[int],
        bias_v: float,
        n: int,
        interval_s: float,
        aperture_s: float,
    ) -> np.ndarray:
        """Readings (len(cols), n) of bit lines ``cols``; with several word lines ``rows_on``,
        a bit line's reading is the sum of its cells' readings (what the bit line carries with
        those word lines on together; the cells are acquired one by one)."""
        rows_on = [int(r) for r in rows_on]
        cols = [int(c) for c in cols]
        cells = [(r, c) for c in cols for r in rows_on]
        x = self.acquire_cells(cells, bias_v, n, interval_s, aperture_s)
        return x.reshape(len(cols), len(rows_on), n).sum(axis=1)
