"""Live view of ``conductance-map``: the map as a colour-index image updated row by row."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, QRectF
from PyQt6.QtGui import QCursor
from PyQt6.QtWidgets import QToolTip, QWidget

from ftjlab.gui.liveview import CMAP, NO_DATA_RGB, LiveView, si


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
