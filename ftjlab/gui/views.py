"""Live views, one per procedure, fed block by block and redrawn at most once per frame.

A view gets ``begin(params, context)`` when a run starts, ``feed(stream, block)`` for every
recorded block (from the worker's events, never by re-reading the file), ``result(name,
value, units)`` and ``finish(status, error)``; :meth:`LiveView.redraw` repaints only if
something changed since the last frame. The run browser uses the same views on a past run
(:meth:`LiveView.load_run` feeds the file's streams through the same path).

Ingest is O(block) and drawing is O(pixels): the RTN trace is decimated to a (min, max)
envelope from a pyramid (:class:`~ftjlab.gui.buffers.TraceEnvelope`), the conductance map is
kept as a colour-index image updated row by row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QCursor
from PyQt6.QtWidgets import QLabel, QToolTip, QVBoxLayout, QWidget

from ftjlab.gui.buffers import GrowingRows, RunningHistogram, TraceEnvelope, two_means_levels
from ftjlab.gui.worker import Background

pg.setConfigOptions(imageAxisOrder="row-major", background="w", foreground="k", antialias=False)

CMAP = "viridis"
NO_DATA_RGB = (200, 200, 200)
LEVEL_PENS = (pg.mkPen("#d62728", width=2, style=Qt.PenStyle.DashLine),
              pg.mkPen("#1f77b4", width=2, style=Qt.PenStyle.DashLine))


def si(value: float, unit: str) -> str:
    """``value`` with an SI prefix, e.g. ``2.31 nA``."""
    if value is None or not math.isfinite(value):
        return f"- {unit}"
    return pg.siFormat(float(value), precision=3, suffix=unit)


class LiveView(QWidget):
    """Base of the live views: caption, state, the begin/feed/result/finish protocol."""

    procedure: ClassVar[str] = ""
    #: streams this view draws; other datasets of a past run reach :meth:`result`
    streams: ClassVar[tuple[str, ...]] = ()

    def __init__(self, procedure: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if procedure:
            self.procedure = procedure
        self.params: dict[str, Any] = {}
        self.context: dict[str, Any] = {}
        self.dirty = False
        self.frames = 0
        self.status = "idle"
        self.source = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        self.caption = QLabel(self.procedure)
        self.caption.setObjectName("view-caption")
        layout.addWidget(self.caption)
        self.graphics = pg.GraphicsLayoutWidget()
        layout.addWidget(self.graphics, 1)
        self.stats = QLabel("")
        self.stats.setObjectName("view-stats")
        self.stats.setWordWrap(True)
        self.stats.setFixedHeight(2 * self.stats.fontMetrics().lineSpacing() + 6)
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.stats)
        self._jobs: list[Background] = []

    # ------------------------------------------------------------------ protocol
    def begin(self, params: Mapping[str, Any], context: Mapping[str, Any] | None = None,
              source: str = "live") -> None:
        """A new run: forget the old one."""
        self.params = dict(params)
        self.context = dict(context or {})
        self.status = "running"
        self.source = source
        self.clear()
        self.dirty = True

    def clear(self) -> None:
        """Drop all data (subclasses)."""

    def feed(self, stream: str, block: np.ndarray) -> None:
        """One recorded block of ``stream`` (subclasses)."""

    def result(self, name: str, value: Any, units: str = "") -> None:
        """A final result of the run (arrays and scalars)."""

    def finish(self, status: str, error: str = "") -> None:
        self.status = status + (f": {error}" if error else "")
        self.dirty = True

    def redraw(self, force: bool = False) -> bool:
        """Repaint if anything changed since the last frame; True if it did."""
        if not (self.dirty or force):
            return False
        self.dirty = False
        self.draw()
        self.caption.setText(f"<b>{self.procedure}</b> · {self.source} · {self.status}")
        self.frames += 1
        return True

    def draw(self) -> None:
        """Push the current data to the plot items (subclasses)."""

    # ------------------------------------------------------------------ past runs
    def load_run(self, info: Any, context: Mapping[str, Any] | None = None) -> None:
        """Show a recorded run (a :class:`ftjlab.store.RunInfo`): streams block by block
        through :meth:`feed`, other datasets through :meth:`result`."""
        from ftjlab.store import iter_blocks, read_dataset

        self.begin(info.parameters, context, source=f"{info.path.name}")
        names = list(info.datasets)
        for name in self.streams:
            if name in info.datasets:
                for block in iter_blocks(info.path, name, info.run_id):
                    self.feed(name, block)
        for name in names:
            if name in self.streams or "/" in name:
                continue
            self.result(name, read_dataset(info.path, name, info.run_id),
                        info.datasets[name][2])
        self.finish(info.status, info.error)

    def _later(self, func: Any, done: Any) -> None:
        """Run ``func`` off the GUI thread and call ``done(result)`` back on it."""
        job = Background(func, self)
        job.done.connect(done)
        job.failed.connect(lambda msg: self.stats.setText(self.stats.text() + f"  ({msg})"))
        job.done.connect(lambda _=None, j=job: self._jobs.remove(j) if j in self._jobs else None)
        self._jobs.append(job)
        job.start()

    def wait_background(self, timeout_s: float = 10.0) -> bool:
        """Wait for background work (tests)."""
        return all(job.wait(timeout_s) for job in list(self._jobs))


def _plot(layout: pg.GraphicsLayoutWidget, row: int, col: int, title: str,
          x: tuple[str, str], y: tuple[str, str], **kw: Any) -> pg.PlotItem:
    p = layout.addPlot(row=row, col=col, title=title, **kw)
    p.setLabel("bottom", x[0], units=x[1])
    p.setLabel("left", y[0], units=y[1])
    for side, (_, unit) in (("bottom", x), ("left", y)):
        if not unit:  # no "(x0.001)" scaling on unitless axes
            p.getAxis(side).enableAutoSIPrefix(False)
    return p


# ------------------------------------------------------------------------------------- RTN


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


# ------------------------------------------------------------------------------------- map


class ConductanceImage:
    """A conductance map as colour indices (0 = no data, 1..255 = the colour scale), updated
    row by row; the colour range only widens (then the whole map is re-indexed once)."""

    def __init__(self) -> None:
        self.g = np.full((0, 0), np.nan)
        self.index = np.zeros((0, 0), dtype=np.uint8)
        self.lo = self.hi = float("nan")
        self.filled = 0  # rows received

    def reset(self, rows: int, cols: int, g_range: tuple[float, float] | None = None) -> None:
        self.g = np.full((rows, cols), np.nan)
        self.index = np.zeros((rows, cols), dtype=np.uint8)
        self.lo, self.hi = g_range if g_range else (float("nan"), float("nan"))
        self.filled = 0

    def _quantise(self, g: np.ndarray) -> np.ndarray:
        """Colour indices 1..255 over [lo, hi], 0 where there is no (finite) value."""
        t = np.asarray(g, dtype=np.float32) - np.float32(self.lo)  # a new float32 array
        t *= np.float32(254.0 / (self.hi - self.lo))
        t += np.float32(1.0)
        np.clip(t, 1.0, 255.0, out=t)  # +inf -> 255, -inf -> 1; NaN stays NaN
        np.nan_to_num(t, copy=False, nan=0.0)
        return t.astype(np.uint8)

    def _widen(self, block: np.ndarray) -> bool:
        if block.size == 0:
            return False
        lo, hi = float(block.min()), float(block.max())  # NaN if any value is NaN
        if not (math.isfinite(lo) and math.isfinite(hi)):
            finite = block[np.isfinite(block)]
            if finite.size == 0:
                return False
            lo, hi = float(finite.min()), float(finite.max())
        if math.isfinite(self.lo) and lo >= self.lo and hi <= self.hi:
            return False
        if math.isfinite(self.lo):
            lo, hi = min(lo, self.lo), max(hi, self.hi)
        if hi <= lo:
            hi = lo + (abs(lo) * 1e-3 or 1e-12)
        self.lo, self.hi = lo, hi
        return True

    def add_rows(self, block: np.ndarray) -> None:
        """Append rows (k, cols) below the ones received so far."""
        block = np.atleast_2d(np.asarray(block, dtype=np.float64))
        r0, r1 = self.filled, self.filled + block.shape[0]
        if r1 > self.g.shape[0] or block.shape[1] != self.g.shape[1]:
            rows = max(r1, self.g.shape[0])
            grown = np.full((rows, block.shape[1]), np.nan)
            keep = self.g[:, : block.shape[1]]
            grown[: keep.shape[0], : keep.shape[1]] = keep
            self.g = grown
            self.index = np.zeros(grown.shape, dtype=np.uint8)
            self.lo = self.hi = float("nan")
            self._widen(grown)
            self.index = self._quantise(self.g) if math.isfinite(self.lo) else self.index
        self.g[r0:r1] = block
        self.filled = r1
        if self._widen(block):
            self.index = self._quantise(self.g)
        else:
            self.index[r0:r1] = self._quantise(block)

    def set_map(self, g: np.ndarray) -> None:
        """Replace the whole map."""
        g = np.asarray(g, dtype=np.float64)
        self.g = g  # results are handed over, not shared with the sender
        self.filled = g.shape[0]
        self.lo = self.hi = float("nan")
        self._widen(g)
        self.index = self._quantise(g) if math.isfinite(self.lo) else np.zeros(g.shape, np.uint8)


class MapView(LiveView):
    """Conductance map: image with a colour bar, per-cell tooltips (word line, bit line, G)."""

    procedure = "conductance-map"
    streams = ("rows",)

    def __init__(self, procedure: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(procedure, parent)
        self.image_data = ConductanceImage()
        self.plot = self.graphics.addPlot(row=0, col=0, title="conductance map")
        self.plot.setLabel("bottom", "bit line")
        self.plot.setLabel("left", "word line")
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        cmap = pg.colormap.get(CMAP)
        lut = np.empty((256, 3), dtype=np.uint8)
        lut[0] = NO_DATA_RGB
        lut[1:] = cmap.getLookupTable(nPts=255, alpha=False)
        self.lut = lut
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=cmap, interactive=False,
                                   label="conductance (S)")
        self.graphics.addItem(self.bar, row=0, col=1)
        self.graphics.scene().sigMouseMoved.connect(self._hover)
        self.tooltip = ""

    def clear(self) -> None:
        rows = int(self.context.get("rows", 0))
        cols = int(self.context.get("cols", 0))
        self.image_data.reset(rows, cols)

    def feed(self, stream: str, block: np.ndarray) -> None:
        if stream == "rows":
            self.image_data.add_rows(block)
            self.dirty = True

    def result(self, name: str, value: Any, units: str = "") -> None:
        if name == "conductance" and isinstance(value, np.ndarray) and value.ndim == 2:
            self.image_data.set_map(value)
            self.dirty = True

    def draw(self) -> None:
        d = self.image_data
        if d.index.size == 0:
            return
        self.image.setImage(d.index, lut=self.lut, levels=(0, 255), autoLevels=False)
        self.image.setRect(QRectF(-0.5, -0.5, d.index.shape[1], d.index.shape[0]))
        if math.isfinite(d.lo):
            self.bar.setLevels((d.lo, d.hi))
            self.stats.setText(
                f"{d.filled} of {d.g.shape[0]} word lines · {d.g.shape[1]} bit lines · "
                f"G from {si(d.lo, 'S')} to {si(d.hi, 'S')} (the colour range)"
            )

    def cell_text(self, row: int, col: int) -> str:
        """The tooltip of cell (row, col): its word line, bit line and conductance."""
        g = self.image_data.g
        if not (0 <= row < g.shape[0] and 0 <= col < g.shape[1]):
            return ""
        value = g[row, col]
        shown = si(value, "S") if math.isfinite(value) else "not measured yet"
        return f"WL{row}, BL{col}: G = {shown}"

    def _hover(self, pos: QPointF) -> None:
        if not self.plot.sceneBoundingRect().contains(pos):
            return
        point = self.plot.getViewBox().mapSceneToView(pos)
        text = self.cell_text(round(point.y()), round(point.x()))
        if text != self.tooltip:
            self.tooltip = text
            self.graphics.setToolTip(text)
            if text and self.isVisible():
                QToolTip.showText(QCursor.pos(), text, self.graphics)


# ---------------------------------------------------------------------------- write-verify


class WriteVerifyView(LiveView):
    """Write-verify convergence: final vs target per cell, pulses per cell, and the running
    success rate and error as cells are programmed."""

    procedure = "write-verify"
    streams = ("cells",)

    def __init__(self, procedure: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(procedure, parent)
        self.cells = GrowingRows(np.float64)
        self.scatter_plot = _plot(self.graphics, 0, 0, "final vs target",
                                  ("target", "S"), ("final", "S"))
        self.scatter = pg.ScatterPlotItem(size=5, pen=None)
        self.scatter_plot.addItem(self.scatter)
        self.diagonal = self.scatter_plot.plot(pen=pg.mkPen("#888", style=Qt.PenStyle.DashLine))
        self.pulse_plot = _plot(self.graphics, 0, 1, "pulses per cell", ("pulses", ""),
                                ("cells", ""))
        self.pulse_bars = pg.BarGraphItem(x=[0], height=[0], width=0.8, brush="#7fa7d9")
        self.pulse_plot.addItem(self.pulse_bars)
        self.conv_plot = _plot(self.graphics, 1, 0, "convergence", ("cells programmed", ""),
                               ("", "%"), colspan=2)
        self.conv_plot.addLegend(offset=(10, 10))
        self.ok_curve = self.conv_plot.plot(pen=pg.mkPen("#2ca02c", width=2),
                                            name="converged (running %)")
        self.err_curve = self.conv_plot.plot(pen=pg.mkPen("#d62728", width=2),
                                             name="rms error (% of range)")

    def clear(self) -> None:
        self.cells.clear()

    def feed(self, stream: str, block: np.ndarray) -> None:
        if stream == "cells":
            self.cells.append(np.atleast_2d(block))
            self.dirty = True

    def draw(self) -> None:
        c = self.cells.data
        if c.ndim != 2 or c.shape[0] == 0:
            return
        target, final, pulses, ok = c[:, 2], c[:, 3], c[:, 4], c[:, 5] > 0.5
        brushes = np.where(ok, pg.mkBrush("#2ca02c"), pg.mkBrush("#d62728"))
        self.scatter.setData(target, final, brush=list(brushes))
        lo, hi = float(np.nanmin(target)), float(np.nanmax(target))
        self.diagonal.setData([lo, hi], [lo, hi])
        counts = np.bincount(pulses.astype(np.int64).clip(0))
        self.pulse_bars.setOpts(x=np.arange(counts.size), height=counts, width=0.8)
        g_range = self.context.get("g_range")
        span = (g_range[1] - g_range[0]) if g_range else (hi - lo) or 1.0
        k = np.arange(1, c.shape[0] + 1)
        self.ok_curve.setData(k, 100 * np.cumsum(ok) / k)
        err = (final - target) / span
        self.err_curve.setData(k, 100 * np.sqrt(np.cumsum(err**2) / k))
        self.stats.setText(
            f"{c.shape[0]} cells · {100 * ok.mean():.1f} % converged · mean "
            f"{pulses.mean():.1f} pulses · rms error {100 * math.sqrt(np.mean(err**2)):.2f} % "
            "of the conductance range"
        )


# ------------------------------------------------------------------------------------- VMM


class VMMView(LiveView):
    """VMM accuracy: measured against ideal weighted sums, with the normalised RMS error."""

    procedure = "vmm-accuracy"
    streams = ("measured", "ideal")

    def __init__(self, procedure: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(procedure, parent)
        self.measured = GrowingRows(np.float64)
        self.ideal = GrowingRows(np.float64)
        self.plot = _plot(self.graphics, 0, 0, "measured vs ideal", ("ideal", ""),
                          ("measured", ""))
        self.plot.setAspectLocked(True)
        self.scatter = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(31, 119, 180, 160))
        self.plot.addItem(self.scatter)
        self.diagonal = self.plot.plot(pen=pg.mkPen("#888", style=Qt.PenStyle.DashLine))

    def clear(self) -> None:
        self.measured.clear()
        self.ideal.clear()

    def feed(self, stream: str, block: np.ndarray) -> None:
        if stream in ("measured", "ideal"):
            getattr(self, stream).append(np.atleast_2d(block))
            self.dirty = True

    def draw(self) -> None:
        n = min(self.measured.n, self.ideal.n)
        if n == 0:
            return
        m, i = self.measured.data[:n].ravel(), self.ideal.data[:n].ravel()
        self.scatter.setData(i, m)
        lo, hi = float(min(i.min(), m.min())), float(max(i.max(), m.max()))
        self.diagonal.setData([lo, hi], [lo, hi])
        rms = math.sqrt(float(np.mean(i**2))) or 1.0
        nrmse = math.sqrt(float(np.mean((m - i) ** 2))) / rms
        self.stats.setText(f"{n} input vectors · {m.size} outputs · NRMSE {100 * nrmse:.2f} %")


# -------------------------------------------------------------------- switching probability


class SwitchingView(LiveView):
    """P(V, t): switched fraction on the amplitude x width grid, and P against amplitude."""

    procedure = "switching-probability"
    streams = ("points",)

    def __init__(self, procedure: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(procedure, parent)
        self.points = GrowingRows(np.float64)
        self.map_plot = _plot(self.graphics, 0, 0, "switching probability P(V, t)",
                              ("log10 pulse width / s", ""), ("amplitude", "V"))
        self.image = pg.ImageItem(axisOrder="row-major")
        self.map_plot.addItem(self.image)
        cmap = pg.colormap.get(CMAP)
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=cmap, interactive=False, label="P")
        self.bar.setImageItem(self.image, insert_in=self.map_plot)
        self.curve_plot = _plot(self.graphics, 0, 1, "P against amplitude", ("amplitude", "V"),
                                ("P", ""))
        self.curve_plot.addLegend(offset=(10, 10))
        self.curves: list[pg.PlotDataItem] = []
        self.grid: np.ndarray = np.full((1, 1), np.nan)

    def _axes(self) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        volts = np.linspace(float(p.get("v_start", 1)), float(p.get("v_stop", 1)),
                            int(p.get("v_points", 1)))
        widths = np.geomspace(float(p.get("t_start", 1e-6)), float(p.get("t_stop", 1e-6)),
                              int(p.get("t_points", 1)))
        return volts, widths

    def clear(self) -> None:
        self.points.clear()
        volts, widths = self._axes()
        self.grid = np.full((volts.size, widths.size), np.nan)
        for curve in self.curves:
            self.curve_plot.removeItem(curve)
        self.curves = []

    def feed(self, stream: str, block: np.ndarray) -> None:
        if stream != "points":
            return
        block = np.atleast_2d(block)
        self.points.append(block)
        volts, widths = self._axes()
        for v, t, p, _ in block:
            i = int(np.argmin(np.abs(volts - v)))
            j = int(np.argmin(np.abs(np.log(widths) - math.log(t)))) if t > 0 else 0
            if i < self.grid.shape[0] and j < self.grid.shape[1]:
                self.grid[i, j] = p
        self.dirty = True

    def result(self, name: str, value: Any, units: str = "") -> None:
        if (name == "probability" and isinstance(value, np.ndarray)
                and value.shape == self.grid.shape):
            self.grid = np.where(np.isfinite(value), value, self.grid)
            self.dirty = True

    def draw(self) -> None:
        volts, widths = self._axes()
        self.image.setImage(self.grid, levels=(0, 1), autoLevels=False)
        lx = np.log10(widths)
        dx = (lx[-1] - lx[0]) / (lx.size - 1) if lx.size > 1 else 1.0
        dy = (volts[-1] - volts[0]) / (volts.size - 1) if volts.size > 1 else 0.1
        self.image.setRect(QRectF(lx[0] - dx / 2, volts[0] - dy / 2, dx * lx.size,
                                  dy * volts.size))
        while len(self.curves) < widths.size:
            k = len(self.curves)
            color = pg.colormap.get(CMAP).map(k / max(1, widths.size - 1), mode="qcolor")
            self.curves.append(self.curve_plot.plot(
                pen=pg.mkPen(color, width=2), symbol="o", symbolSize=5,
                symbolBrush=color, name=f"{si(widths[k], 's')}"))
        for j, curve in enumerate(self.curves[: widths.size]):
            col = self.grid[:, j]
            ok = np.isfinite(col)
            curve.setData(volts[ok], col[ok])
        done = int(np.isfinite(self.grid).sum())
        self.stats.setText(f"{done} of {self.grid.size} points · amplitudes "
                           f"{volts[0]:g}..{volts[-1]:g} V · widths {si(widths[0], 's')}.."
                           f"{si(widths[-1], 's')}")


# -------------------------------------------------------------------------------------- IV


class IVView(LiveView):
    """I-V curve of one cell: linear and |I| on a log axis."""

    procedure = "iv-sweep"
    streams = ("iv",)

    def __init__(self, procedure: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(procedure, parent)
        self.iv = GrowingRows(np.float64)
        self.lin = _plot(self.graphics, 0, 0, "I-V", ("voltage", "V"), ("current", "A"))
        self.log = _plot(self.graphics, 0, 1, "|I|-V", ("voltage", "V"), ("|current|", "A"))
        self.log.setLogMode(y=True)
        pen = pg.mkPen("#1f77b4", width=2)
        self.lin_curve = self.lin.plot(pen=pen, symbol="o", symbolSize=4, symbolBrush="#1f77b4")
        self.log_curve = self.log.plot(pen=pen, symbol="o", symbolSize=4, symbolBrush="#1f77b4")

    def clear(self) -> None:
        self.iv.clear()

    def feed(self, stream: str, block: np.ndarray) -> None:
        if stream == "iv":
            self.iv.append(np.atleast_2d(block))
            self.dirty = True

    def draw(self) -> None:
        d = self.iv.data
        if d.ndim != 2 or d.shape[0] == 0:
            return
        v, i = d[:, 0], d[:, 1]
        self.lin_curve.setData(v, i)
        nz = np.abs(i) > 0
        self.log_curve.setData(v[nz], np.abs(i[nz]))
        self.stats.setText(f"{d.shape[0]} points · V {v.min():g}..{v.max():g} V · "
                           f"I {si(i.min(), 'A')}..{si(i.max(), 'A')}")


# ------------------------------------------------------------------------------- generic


class StreamView(LiveView):
    """Any other procedure: each stream plotted against ``time``, its first column, or the
    record index (rtn-tuning, endurance, retention)."""

    def __init__(self, procedure: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(procedure, parent)
        self.data: dict[str, GrowingRows] = {}
        self.plots: dict[str, pg.PlotItem] = {}

    @property
    def streams(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("time", "points", "window", "conductance", *self.data)

    def clear(self) -> None:
        self.data = {}
        self.graphics.clear()
        self.plots = {}

    def feed(self, stream: str, block: np.ndarray) -> None:
        self.data.setdefault(stream, GrowingRows(np.float64)).append(np.asarray(block))
        self.dirty = True

    def draw(self) -> None:
        time = self.data.get("time")
        for name, rows in self.data.items():
            if name == "time" and len(self.data) > 1:
                continue
            d = rows.data
            if name not in self.plots:
                self.plots[name] = self.graphics.addPlot(row=len(self.plots), col=0, title=name)
            plot = self.plots[name]
            plot.clear()
            if d.ndim == 1:
                x = time.data[: d.size] if time is not None and name != "time" else None
                ys = [d[: x.size] if x is not None else d]
            else:
                flat = d.reshape(d.shape[0], -1)
                if time is not None:
                    x, ys = time.data[: flat.shape[0]], [flat[: time.n, k]
                                                         for k in range(flat.shape[1])]
                elif flat.shape[1] > 1:
                    x, ys = flat[:, 0], [flat[:, k] for k in range(1, flat.shape[1])]
                else:
                    x, ys = None, [flat[:, 0]]
            if x is None:
                x = np.arange(ys[0].size, dtype=np.float64)
            positive = x.size > 1 and np.all(x > 0) and x.max() / x.min() > 100
            plot.setLogMode(x=bool(positive))
            for k, y in enumerate(ys):
                color = pg.intColor(k, hues=max(len(ys), 1))
                plot.plot(x[: y.size], y, pen=pg.mkPen(color, width=2), symbol="o",
                          symbolSize=4, symbolBrush=color)
        self.stats.setText(" · ".join(f"{n}: {r.n} records" for n, r in self.data.items()))


VIEWS: dict[str, type[LiveView]] = {
    cls.procedure: cls
    for cls in (RTNView, MapView, WriteVerifyView, VMMView, SwitchingView, IVView)
}


def make_view(procedure: str, parent: QWidget | None = None) -> LiveView:
    """The view for ``procedure`` (a generic stream view for procedures without one)."""
    if procedure not in VIEWS:
        import ftjlab.gui.generation  # (registers the generation run view)
        import ftjlab.gui.switching_noise  # noqa: F401  (registers the switching-noise view)
    return VIEWS.get(procedure, StreamView)(procedure, parent)

