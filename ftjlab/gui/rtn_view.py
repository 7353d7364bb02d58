"""Live view of ``rtn``: the decimated trace, its histogram and the fitted levels."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import QWidget

from ftjlab.gui.buffers import RunningHistogram, TraceEnvelope, two_means_levels
from ftjlab.gui.liveview import LEVEL_PENS, LiveView, _plot, si


class RTNView(LiveView):
    """RTN trace (decimated envelope of up to 1e7 points), its histogram, fitted levels.

    While following a run the axes are fixed (time: the run's whole duration, current: the
    histogram's range, which only widens), so a frame redraws the curve, not the axes; after
    the user zooms or pans, the visible range is re-decimated from the pyramid."""

    procedure = "rtn-acquisition"
    streams = ("current", "time")
    HMM_SAMPLES = 200_000
    DETAIL = 1000  # raw readings in the detail plot

    def __init__(self, procedure: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(procedure, parent)
        self.trace = TraceEnvelope(bin_size=64)
        self.hist = RunningHistogram(bins=160)
        self.t0_s = 0.0
        self.dt_s = 1.0
        self.levels: tuple[float, float] | None = None
        self.fit_text = ""
        self.following = True
        self._ranges: tuple[Any, Any] = (None, None)
        self.trace_plot = _plot(self.graphics, 0, 0, "RTN trace", ("time", "s"),
                                ("current", "A"))
        self.hist_plot = self.graphics.addPlot(row=0, col=1, title="histogram")
        self.hist_plot.setLabel("bottom", "relative count")
        self.hist_plot.getAxis("left").setStyle(showValues=False)
        self.hist_plot.setXRange(0, 1.05, padding=0)
        self.hist_plot.setMouseEnabled(x=False, y=True)
        self.graphics.ci.layout.setColumnStretchFactor(0, 5)
        self.graphics.ci.layout.setColumnStretchFactor(1, 1)
        self.hist_plot.setYLink(self.trace_plot)
        self.detail_plot = _plot(self.graphics, 1, 0, f"latest {self.DETAIL:,} readings",
                                 ("time before the latest reading", "s"), ("current", "A"))
        self.detail_plot.setYLink(self.trace_plot)
        self.detail_plot.setMouseEnabled(x=False, y=False)
        self.detail_plot.hideButtons()
        self.detail_curve = self.detail_plot.plot(pen=pg.mkPen("#3060a0", width=1))
        self.graphics.ci.layout.setRowStretchFactor(0, 3)
        self.graphics.ci.layout.setRowStretchFactor(1, 2)
        vb = self.trace_plot.getViewBox()
        vb.disableAutoRange()
        self.trace_plot.hideButtons()
        vb.sigRangeChangedManually.connect(self._on_manual_range)
        self.curve = self.trace_plot.plot(pen=pg.mkPen("#3060a0", width=1))
        self.curve.setSkipFiniteCheck(True)
        self.bars = pg.BarGraphItem(x0=[0], y0=[0], width=[0], height=[0],
                                    brush="#7fa7d9", pen=None)
        self.hist_plot.addItem(self.bars)
        self.level_lines = []
        for pen in LEVEL_PENS:
            lines = tuple(pg.InfiniteLine(angle=0, pen=pen) for _ in range(3))
            for plot, line in zip((self.trace_plot, self.hist_plot, self.detail_plot), lines,
                                  strict=True):
                plot.addItem(line)
                line.hide()
            self.level_lines.append(lines)
        self.graphics.scene().sigMouseClicked.connect(self._on_click)

    def clear(self) -> None:
        self.trace.clear()
        self.hist.clear()
        self.levels = None
        self.fit_text = ""
        self.t0_s = 0.0
        self.dt_s = float(self.params.get("interval_s", 1.0) or 1.0)
        self._have_t0 = False
        self.following = True
        self._ranges = (None, None)

    def _on_manual_range(self, *_: Any) -> None:
        self.following = False  # the user zoomed or panned: re-decimate what is visible
        self.dirty = True

    def _on_click(self, event: Any) -> None:
        if event.double():  # double-click: follow the whole run again
            self.follow()

    def follow(self) -> None:
        """Show the whole run again (after a zoom)."""
        self.following = True
        self._ranges = (None, None)
        self.dirty = True

    def feed(self, stream: str, block: np.ndarray) -> None:
        if stream == "current":
            self.trace.append(block)
            self.hist.add(block, lambda: self.trace.samples)
            self.dirty = True
        elif stream == "time" and not self._have_t0 and np.size(block):
            stamps = np.asarray(block, dtype=np.float64).ravel()
            self.t0_s = float(stamps[0])
            if stamps.size > 1 and "interval_s" not in self.params:
                self.dt_s = float(stamps[1] - stamps[0])
            self._have_t0 = True

    def visible_range(self) -> tuple[int, int]:
        """Sample indices on screen (all of them while following the run)."""
        n = len(self.trace)
        if self.following:
            return 0, n
        x0, x1 = self.trace_plot.getViewBox().viewRange()[0]
        i0 = int(max(0, math.floor((x0 - self.t0_s) / self.dt_s)))
        i1 = int(min(n, math.ceil((x1 - self.t0_s) / self.dt_s) + 1))
        return i0, max(i0, i1)

    def _follow_ranges(self) -> None:
        """Fixed axes while following: the run's duration, the histogram's current range."""
        n = len(self.trace)
        total = max(n, int(self.params.get("readings", 0) or 0), 1)
        x = (self.t0_s, self.t0_s + total * self.dt_s)
        y = (self.hist.lo, self.hist.hi) if np.isfinite(self.hist.lo) else None
        if (x, y) != self._ranges:
            self._ranges = (x, y)
            vb = self.trace_plot.getViewBox()
            vb.setXRange(*x, padding=0)
            if y is not None:
                vb.setYRange(*y, padding=0)
            self.detail_plot.setXRange(-(self.DETAIL - 1) * self.dt_s, 0, padding=0.01)

    def draw(self) -> None:
        n = len(self.trace)
        if self.following:
            self._follow_ranges()
        if n:
            i0, i1 = self.visible_range()
            width = max(400, int(self.trace_plot.getViewBox().width()))
            index, value = self.trace.envelope(i0, i1, max_points=2 * width)
            self.curve.setData(index * self.dt_s + self.t0_s, value)
            tail = self.trace.samples[-self.DETAIL:]
            self.detail_curve.setData(self.dt_s * np.arange(1 - tail.size, 1), tail)
            if np.isfinite(self.hist.lo):
                edges = self.hist.edges
                peak = max(int(self.hist.counts.max()), 1)
                self.bars.setOpts(x0=np.zeros(self.hist.bins), y0=edges[:-1],
                                  width=self.hist.counts / peak, height=np.diff(edges))
                if self.fit_text == "":  # live: two-means on the histogram
                    self.levels = two_means_levels(self.hist.centres, self.hist.counts)
        else:
            self.curve.setData([], [])
            self.detail_curve.setData([], [])
        self._draw_levels()
        self.stats.setText(self._stats_text())

    def _draw_levels(self) -> None:
        for k, pair in enumerate(self.level_lines):
            for line in pair:
                if self.levels is None:
                    line.hide()
                else:
                    line.setValue(self.levels[k])
                    line.show()

    def _stats_text(self) -> str:
        n = len(self.trace)
        parts = [f"{n:,} readings", f"Δt = {si(self.dt_s, 's')}"]
        if self.levels is not None:
            lo, hi = self.levels
            rel = (hi - lo) / abs(hi) if hi else float("nan")
            parts.append(f"levels {si(lo, 'A')} / {si(hi, 'A')} (ΔI/I = {100 * rel:.2f} %)")
        if not self.following:
            parts.append("zoomed (double-click: whole run)")
        text = " · ".join(parts)
        return text + (f"\n{self.fit_text}" if self.fit_text else "")

    def finish(self, status: str, error: str = "") -> None:
        super().finish(status, error)
        if len(self.trace) >= 1000:
            samples = np.array(self.trace.samples[-self.HMM_SAMPLES:], dtype=np.float64)
            self._later(lambda: fit_levels(samples, self.dt_s), self._show_fit)

    def _show_fit(self, fit: tuple[tuple[float, float], str]) -> None:
        self.levels, self.fit_text = fit
        self.dirty = True


def fit_levels(samples: np.ndarray, interval_s: float) -> tuple[tuple[float, float], str]:
    """Two fitted current levels and a one-line description: a two-level Gaussian HMM
    (:mod:`ftjlab.rtn.hmm`), else (not installed, or no transitions to fit) the two-level
    statistics of :mod:`ftjlab.rtn.levels`."""
    why = ""
    try:
        from ftjlab.rtn.hmm import GaussianHMM

        hmm = GaussianHMM(2).fit(samples, interval_s)
        trap = hmm.trap()
        lo, hi = (float(m) for m in hmm.means)
        text = (f"HMM fit (last {samples.size:,} readings): levels {si(lo, 'A')} / "
                f"{si(hi, 'A')}, τc = {si(trap.tau_c_s, 's')}, τe = {si(trap.tau_e_s, 's')}, "
                f"occupancy {trap.occupancy:.2f}")
        return (lo, hi), text
    except ImportError:
        why = "HMM not installed"
    except Exception as exc:  # e.g. BadInput: no transitions, not a two-level trace
        why = f"HMM: {exc}"
    from ftjlab.rtn.levels import two_level_statistics

    st = two_level_statistics(samples, interval_s)
    text = (f"two-level fit: levels {si(st.low_a, 'A')} / {si(st.high_a, 'A')}, "
            f"{st.transitions} transitions ({why})")
    return (st.low_a, st.high_a), text
