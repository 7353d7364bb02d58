"""The base of the live views: the begin/feed/result/finish protocol (:class:`LiveView`),
SI formatting, plot and colour conventions shared by every view."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel, QVBoxLayout, QWidget

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
