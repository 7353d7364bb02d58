"""Start the window: ``ftjlab gui`` (and ``--screenshots DIR``)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

#: how long the process waits at exit for a job that outlived the window (see run_app)
EXIT_WAIT_S = 300.0
#: platforms that need no display server
HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "linuxfb", "eglfs")

NO_DISPLAY = (
    "ftjlab gui: no display found (DISPLAY / WAYLAND_DISPLAY are not set).\n"
    "  On a desktop: run `ftjlab gui` in a graphical session.\n"
    "  Headless: `xvfb-run -a ftjlab gui --screenshots DIR` saves a PNG of every view, or\n"
    "  run the end-to-end job without a window: `ftjlab demo`."
)


def display_problem() -> str | None:
    """Why a window cannot open here (None if it can, as far as can be told)."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform.split(":")[0] in HEADLESS_PLATFORMS:
        return None
    if sys.platform in ("win32", "darwin"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return NO_DISPLAY


def run_app(bench: str | None = None, seed: int | None = None, out_dir: str = "runs",
            quit_after_s: float | None = None, sim_server: bool = False) -> int:
    """Open the window and run the event loop until it closes (or ``quit_after_s``)."""
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from ftjlab.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("ftjlab")
    window = MainWindow(bench=bench, seed=seed, out_dir=Path(out_dir), sim_server=sim_server)
    window.show()
    if quit_after_s is not None:

        def stop() -> None:
            window.close()
            app.quit()

        QTimer.singleShot(int(1000 * quit_after_s), stop)
    code = int(app.exec())
    # a job that did not stop while the window closed shuts the bench down and closes it on
    # its own thread when it ends: let it, before the process (and that daemon thread) ends
    if not window.worker.wait(EXIT_WAIT_S):
        logging.getLogger("ftjlab.gui").error(
            "a job still runs %g s after the window closed: exiting; the bench may not be "
            "safe (run `ftjlab safe`)", EXIT_WAIT_S)
    return code
