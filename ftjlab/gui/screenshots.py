"""A scripted tour of the window on the simulated bench that saves a PNG of every main view:
``ftjlab gui --screenshots DIR`` (under Xvfb: ``xvfb-run -a ftjlab gui --screenshots DIR``).

Each procedure runs for real (short settings) through the GUI as a user would start it; the
view is captured when its run has finished. On a display server (xcb: a real or Xvfb X
display) the window is taken from the screen (what a person would see); on the offscreen
platform the window renders itself into the image.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

#: (file stem, procedure, settings) of the tour, in order
TOUR: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("rtn", "rtn-acquisition",
     {"row": "3", "col": "7", "readings": "400000", "block": "20000"}),
    ("iv", "iv-sweep", {"row": "3", "col": "7", "points": "21", "nplc": "0.1"}),
    ("write-verify", "write-verify", {"rows_used": "6", "pairs_used": "3"}),
    ("conductance-map", "conductance-map", {"nplc": "0.01"}),
    ("vmm", "vmm-accuracy",
     {"program": "false", "rows_used": "6", "pairs_used": "3", "inputs": "8"}),
    ("switching", "switching-probability",
     {"row": "30", "cells": "8", "v_points": "5", "t_points": "3"}),
)

def wait_until(predicate: Callable[[], bool], timeout_s: float = 120.0) -> bool:
    """Process Qt events until ``predicate()`` holds (True) or the time is up (False)."""
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        app.processEvents()
        if predicate():
            return True
        time.sleep(0.005)
    return False


def image_array(image: Any) -> np.ndarray:
    """A QImage as an (h, w, 4) uint8 array (a copy)."""
    from PyQt6.QtGui import QImage

    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    rows = np.frombuffer(ptr, dtype=np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : 4 * image.width()].reshape(image.height(), image.width(), 4).copy()


def pixel_std(path: str | Path) -> float:
    """Standard deviation of a PNG's grey levels: 0 for a blank image."""
    from PyQt6.QtGui import QImage

    rgba = image_array(QImage(str(path))).astype(np.float64)
    return float(rgba[..., :3].mean(axis=2).std())


def grab(window: Any, path: Path) -> Path:
    """Save the window as the screen shows it (xcb), or rendered (offscreen)."""
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance()
    window.raise_()
    wait_until(lambda: False, 0.15)  # let the window system paint
    window.frame()  # views repaint what changed
    wait_until(lambda: False, 0.05)
    pixmap = None
    if app.platformName() == "xcb":
        screen = window.screen() or app.primaryScreen()
        g = window.frameGeometry()
        pixmap = screen.grabWindow(0, g.x(), g.y(), g.width(), g.height())
    if pixmap is None or pixmap.isNull() or pixel_std_pixmap(pixmap) < 1.0:
        pixmap = window.grab()
    pixmap.save(str(path), "PNG")
    return path


def pixel_std_pixmap(pixmap: Any) -> float:
    rgba = image_array(pixmap.toImage()).astype(np.float64)
    return float(rgba[..., :3].mean(axis=2).std())


def take_screenshots(out_dir: str | Path, seed: int | None = None, bench: str | None = None,
                     size: tuple[int, int] = (1280, 800)) -> list[Path]:
    """Run the tour and save ``<out_dir>/<view>.png``; returns the files written."""
    from PyQt6.QtWidgets import QApplication

    from ftjlab.gui.main_window import MainWindow

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    runs = Path(tempfile.mkdtemp(prefix="ftjlab-screenshots-"))
    window = MainWindow(bench=bench, seed=seed, out_dir=runs, connect=False)
    window.resize(*size)
    window.move(0, 0)
    window.show()
    written: list[Path] = []
    try:
        window.connect_bench(bench, seed, wait=True)
        if window.session is None:
            raise RuntimeError("the bench did not connect: "
                               + window.bench_panel.state.text())
        window.tabs.setCurrentWidget(window.bench_panel)
        written.append(grab(window, out / "bench.png"))
        for stem, name, settings in TOUR:
            window.select_procedure(name)
            for key, text in settings.items():
                window.form.set_value(key, text)
            before = len(window.outcomes)
            if window.start() is None:
                raise RuntimeError(f"{name} refused: {window.form.errors.text()}")
            if not wait_until(lambda b=before: len(window.outcomes) > b, 300):
                raise RuntimeError(f"{name} did not finish")
            view = window.views[name]
            view.wait_background(60)
            wait_until(lambda: False, 0.05)
            written.append(grab(window, out / f"{stem}.png"))
        window.tabs.setCurrentWidget(window.generation)
        before = len(window.outcomes)
        window.generation.count.setValue(100)
        window.generate(100)
        wait_until(lambda: len(window.outcomes) > before, 120)
        written.append(grab(window, out / "generation.png"))
        window.tabs.setCurrentWidget(window.browser)
        window.browser.refresh()
        row = next((r for r, info in enumerate(window.browser.runs)
                    if info.procedure == "rtn-acquisition"), 0)
        window.browser.table.selectRow(row)
        window.browser.open_row(row)
        written.append(grab(window, out / "runs.png"))
    finally:
        window.close()
        app.processEvents()
        shutil.rmtree(runs, ignore_errors=True)  # the tour's own run files
    return written


if __name__ == "__main__":  # pragma: no cover - manual use
    target = sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    for p in take_screenshots(target):
        print(p)
