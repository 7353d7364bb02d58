"""Wafer map of a campaign: every die coloured by its status or by a result, as dies finish.

The view follows a campaign's output folder (``ftjlab campaign run`` writes it, from this
window's process or any other): ``campaign.json`` gives the wafer and the dies, the index
(``index.jsonl``) and the die folders give what is done (``dies/cNN_rMM``), in progress
(``dies/cNN_rMM.partial``) or interrupted. It re-reads the folder at most once a second
while it is shown; the colour is a status (pending, in progress, completed, failed) or a
number of the index (e.g. ``conductance_median``), the median over a die's runs.
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

STATUS = "status"
_DIE = re.compile(r"^c(\d+)_r(\d+)$")
#: RGBA of each die status
STATUS_COLOURS = {
    "pending": (70, 70, 80, 255),
    "in progress": (240, 200, 40, 255),
    "completed": (60, 170, 90, 255),
    "failed": (210, 60, 50, 255),
    "off": (0, 0, 0, 0),
}


def read_campaign(folder: Path) -> dict[str, Any] | None:
    """The wafer, the dies and each die's status and results (None if not a campaign)."""
    marker = folder / "campaign.json"
    if not marker.exists():
        return None
    spec = json.loads(marker.read_text(encoding="utf-8"))["fingerprint"]
    dies = [tuple(d) for d in spec["dies"]]
    status = dict.fromkeys(dies, "pending")
    results: dict[tuple[int, int], dict[str, list[float]]] = {}
    index = folder / "index.jsonl"
    dies_dir = folder / "dies"
    if dies_dir.is_dir():
        for entry in dies_dir.iterdir():
            m = _DIE.match(entry.name.removesuffix(".partial"))
            if m is None:
                continue
            die = (int(m.group(1)), int(m.group(2)))
            if die in status:
                status[die] = "in progress" if entry.name.endswith(".partial") else "completed"
                record = entry / "die.json"
                if not entry.name.endswith(".partial") and record.exists():
                    _add(results, status, die, json.loads(record.read_text(encoding="utf-8")))
    elif index.exists():
        for line in index.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            _add(results, status, (r["col"], r["row"]), [r])
    return {"wafer": spec["wafer"], "dies": dies, "status": status, "results": results}


def _add(results: dict, status: dict, die: tuple[int, int], records: list[dict]) -> None:
    for r in records:
        if r.get("status") != "completed":
            status[die] = "failed"
        for key, value in r.get("results", {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                results.setdefault(die, {}).setdefault(key, []).append(float(value))


def grid_of(wafer: dict[str, Any]) -> tuple[int, int]:
    """Columns and rows of a wafer map (as ``ftjlab.campaign.wafermap.WaferMap``)."""
    return (
        max(1, math.ceil(wafer["diameter_um"] / wafer["die_um"][0])),
        max(1, math.ceil(wafer["diameter_um"] / wafer["die_um"][1])),
    )


def wafer_image(state: dict[str, Any], colour_by: str) -> tuple[np.ndarray, tuple[float, float]]:
    """An RGBA image (rows, cols, 4) of the dies and the value range of ``colour_by``."""
    cols, rows = grid_of(state["wafer"])
    image = np.zeros((rows, cols, 4), dtype=np.uint8)
    if colour_by == STATUS:
        for (c, r), s in state["status"].items():
            image[r, c] = STATUS_COLOURS[s]
        return image, (math.nan, math.nan)
    values = {
        d: float(np.median(v[colour_by])) for d, v in state["results"].items() if colour_by in v
    }
    for c, r in state["dies"]:
        image[r, c] = STATUS_COLOURS["pending"]
    if not values:
        return image, (math.nan, math.nan)
    lo, hi = min(values.values()), max(values.values())
    lut = pg.colormap.get("viridis").getLookupTable(nPts=256, alpha=True)
    for (c, r), v in values.items():
        t = 0.5 if hi <= lo else (v - lo) / (hi - lo)
        image[r, c] = lut[round(t * 255)]
    return image, (lo, hi)


class WaferMapView(QWidget):
    """Dies of a campaign folder coloured by status or by a result."""

    REFRESH_S = 1.0

    def __init__(self, folder: str | Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        bar = QHBoxLayout()
        layout.addLayout(bar)
        self.path = QLineEdit(str(folder or ""))
        self.path.setPlaceholderText("campaign output folder")
        browse = QPushButton("Open...")
        browse.clicked.connect(self._browse)
        self.path.editingFinished.connect(self.refresh)
        self.colour_by = QComboBox()
        self.colour_by.addItem(STATUS)
        self.colour_by.currentTextChanged.connect(lambda _: self.redraw(force=True))
        bar.addWidget(QLabel("Campaign"))
        bar.addWidget(self.path, 1)
        bar.addWidget(browse)
        bar.addWidget(QLabel("colour by"))
        bar.addWidget(self.colour_by)
        self.plot = pg.PlotWidget()
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)
        self.plot.setLabel("bottom", "column")
        self.plot.setLabel("left", "row")
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.outline = pg.PlotDataItem(pen=pg.mkPen((150, 150, 150), width=1))
        self.plot.addItem(self.outline)
        layout.addWidget(self.plot, 1)
        self.summary = QLabel("")
        layout.addWidget(self.summary)
        self.state: dict[str, Any] | None = None
        self._last = 0.0
        self.timer = QTimer(self)
        self.timer.setInterval(int(self.REFRESH_S * 1000))
        self.timer.timeout.connect(self._tick)

    def showEvent(self, event: Any) -> None:
        """Follow the folder while shown."""
        self.timer.start()
        super().showEvent(event)

    def hideEvent(self, event: Any) -> None:
        """Stop following it when hidden (and before the widget goes away)."""
        self.timer.stop()
        super().hideEvent(event)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Campaign folder", self.path.text())
        if folder:
            self.path.setText(folder)
            self.refresh()

    def _tick(self) -> None:
        if self.isVisible():
            self.refresh()

    def refresh(self) -> None:
        """Re-read the folder and redraw."""
        text = self.path.text().strip()
        self.state = read_campaign(Path(text)) if text else None
        self._last = time.monotonic()
        keys = sorted({k for v in (self.state or {}).get("results", {}).values() for k in v})
        current = self.colour_by.currentText()
        if [self.colour_by.itemText(i) for i in range(1, self.colour_by.count())] != keys:
            self.colour_by.blockSignals(True)
            self.colour_by.clear()
            self.colour_by.addItems([STATUS, *keys])
            self.colour_by.setCurrentText(current if current in (STATUS, *keys) else STATUS)
            self.colour_by.blockSignals(False)
        self.redraw(force=True)

    def redraw(self, force: bool = False) -> bool:
        """Draw the current state; returns True if something was drawn."""
        if self.state is None:
            self.image.clear()
            self.outline.setData([], [])
            self.summary.setText("no campaign (campaign.json) in this folder")
            return False
        colour_by = self.colour_by.currentText() or STATUS
        image, (lo, hi) = wafer_image(self.state, colour_by)
        self.image.setImage(np.transpose(image, (1, 0, 2)), autoLevels=False, levels=(0, 255))
        self.image.setRect(-0.5, -0.5, image.shape[1], image.shape[0])
        wafer = self.state["wafer"]
        cols, rows = grid_of(wafer)
        radius = wafer["diameter_um"] / 2 / wafer["die_um"][0]
        t = np.linspace(0, 2 * np.pi, 181)
        self.outline.setData(
            (cols - 1) / 2 + radius * np.cos(t),
            (rows - 1) / 2 + radius * np.sin(t) * wafer["die_um"][0] / wafer["die_um"][1],
        )
        counts: dict[str, int] = {}
        for s in self.state["status"].values():
            counts[s] = counts.get(s, 0) + 1
        text = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        if colour_by != STATUS and math.isfinite(lo):
            text += f"   {colour_by}: {lo:.4g} .. {hi:.4g} (dark to bright)"
        self.summary.setText(text)
        return True
