"""Live views of the array procedures (write-verify, VMM, switching probability, I-V) and
the generic stream view for procedures without their own."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtWidgets import QWidget

from ftjlab.gui.buffers import GrowingRows
from ftjlab.gui.liveview import CMAP, LiveView, _plot, si

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
