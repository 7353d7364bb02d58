"""Live view of ``switching-noise``: the calibration P(V) of every cell with the chosen
operating points, the noise histogram against N(0, 1) as values arrive, and digits from the
shipped DDPM sampled with this run's noise once it ends."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import QWidget

from ftjlab.gui.buffers import GrowingRows
from ftjlab.gui.liveview import LiveView, _plot
from ftjlab.gui.views import VIEWS

POLARITY_PENS = {1: "#d62728", -1: "#1f77b4"}


class SwitchingNoiseView(LiveView):
    """P(V, t) with operating points, noise histogram vs N(0, 1), DDPM digits."""

    procedure = "switching-noise"
    streams = ("trials", "noise", "settings")

    def __init__(self, procedure: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(procedure, parent)
        self.trials = GrowingRows(np.float64)
        self.noise: list[np.ndarray] = []
        self.flips = GrowingRows(np.float64)
        self.points: dict[int, np.ndarray] = {}
        self.digits: np.ndarray | None = None
        self.p_plot = _plot(self.graphics, 0, 0, "flip probability per cell (calibration)",
                            ("amplitude", "V"), ("P", ""))
        self.h_plot = _plot(self.graphics, 0, 1, "unit noise vs N(0, 1)", ("value", ""),
                            ("density", ""))
        self.d_plot = self.graphics.addPlot(row=0, col=2, title="DDPM digits from this noise")
        self.d_plot.hideAxis("bottom")
        self.d_plot.hideAxis("left")
        self.d_plot.setAspectLocked(True)
        self.d_plot.invertY(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.d_plot.addItem(self.image)
        self.scatter = {pol: pg.ScatterPlotItem(size=4, pen=None,
                                                brush=pg.mkBrush(POLARITY_PENS[pol]))
                        for pol in (1, -1)}
        for item in self.scatter.values():
            self.p_plot.addItem(item)
        self.op_lines: list[Any] = []
        self.hist = pg.BarGraphItem(x=[0], height=[0], width=0.3, brush="#999999")
        self.h_plot.addItem(self.hist)
        x = np.linspace(-4, 4, 200)
        self.h_plot.plot(x, np.exp(-x**2 / 2) / np.sqrt(2 * np.pi),
                         pen=pg.mkPen("#d62728", width=2))

    def clear(self) -> None:
        self.trials.clear()
        self.flips.clear()
        self.noise = []
        self.points = {}
        self.digits = None
        for line in self.op_lines:
            self.p_plot.removeItem(line)
        self.op_lines = []

    def feed(self, stream: str, block: np.ndarray) -> None:
        block = np.atleast_2d(np.asarray(block, dtype=np.float64))
        if stream == "trials":
            self.trials.append(block)
        elif stream == "noise":
            self.noise.append(block[np.isfinite(block)])
        elif stream == "settings":
            self.flips.append(block)
        self.dirty = True

    def result(self, name: str, value: Any, units: str = "") -> None:
        if name in ("set_volts", "reset_volts") and isinstance(value, np.ndarray):
            self.points[1 if name == "set_volts" else -1] = value
            self.dirty = True

    def finish(self, status: str, error: str = "") -> None:
        super().finish(status, error)
        values = np.concatenate(self.noise) if self.noise else np.empty(0)
        if values.size >= 64:
            self._later(lambda: _digits(values), self._got_digits)

    def _got_digits(self, digits: Any) -> None:
        if digits is not None:
            self.digits = digits
            self.dirty = True

    def draw(self) -> None:
        t = self.trials.data
        if t.ndim == 2 and t.size:
            for pol, item in self.scatter.items():
                sel = t[t[:, 2] == pol]
                ok = sel[:, 5] > 0
                item.setData(sel[ok, 3], sel[ok, 6] / sel[ok, 5])
        if self.points and not self.op_lines:
            for pol, volts in self.points.items():
                for v in np.abs(volts[np.isfinite(volts)]):
                    line = pg.InfiniteLine(v, angle=90, pen=pg.mkPen(POLARITY_PENS[pol]))
                    self.p_plot.addItem(line)
                    self.op_lines.append(line)
        values = np.concatenate(self.noise) if self.noise else np.empty(0)
        text = f"{len(self.trials)} calibration points"
        if values.size:
            k = int(self.params.get("k", 8))
            support = (np.arange(k + 1) - k / 2) / np.sqrt(k / 4)
            counts = np.array([np.count_nonzero(np.isclose(values, s)) for s in support])
            width = 1 / np.sqrt(k / 4)
            self.hist.setOpts(x=support, height=counts / values.size / width, width=width * 0.9)
            text += (f" · {values.size} noise values: mean {values.mean():+.3f}, "
                     f"var {values.var():.3f}")
        f = self.flips.data
        if f.ndim == 2 and f.size:
            text += f" · {int(f[-1, 0]) + 1} steps, flip rate {f[:, 4].sum() / f[:, 2].sum():.3f}"
        if self.digits is not None:
            self.image.setImage(self.digits, levels=(0, 1))
        self.stats.setText(text)


def _digits(values: np.ndarray) -> np.ndarray | None:
    """A 4 x 4 grid of DDPM digits sampled with ``values`` (standardised to their own mean and
    SD, reused in permuted order)."""
    try:
        from ftjlab.switching.ddpm import BankNoise, load_ddpm
        from ftjlab.vae.images import grid
    except ImportError:  # pragma: no cover
        return None
    model = load_ddpm()
    spread = values.size > 1 and float(np.std(values)) > 0
    images = model.sample(16, BankNoise(values, seed=0, standardise=spread))
    return grid(images, cols=4).astype(np.float64)


VIEWS[SwitchingNoiseView.procedure] = SwitchingNoiseView
