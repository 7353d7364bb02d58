"""Fixtures of the GUI tests: a window on the simulated bench, driven through pytest-qt."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_helpers import SEED


@pytest.fixture
def window(qtbot, tmp_path: Path):
    """The main window, connected to the shipped simulated bench, recording into tmp_path."""
    from ftjlab.gui.main_window import MainWindow

    win = MainWindow(seed=SEED, out_dir=tmp_path / "runs", connect=False)
    qtbot.addWidget(win)
    win.show()
    win.connect_bench(None, SEED, wait=True)
    assert win.session is not None, win.bench_panel.state.text()
    yield win
    win.close()


@pytest.fixture(autouse=True)
def _no_widget_outlives_its_test(qapp):
    """After each test, close every top-level widget and let Qt delete what was scheduled for
    deletion, so a window of one test is never painted during the next test's event
    processing (pyqtgraph items whose C++ side is gone would be painted and crash)."""
    yield
    import gc

    from PyQt6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    qapp.processEvents()
    gc.collect()
