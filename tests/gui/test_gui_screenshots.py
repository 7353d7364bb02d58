"""A PNG of every main view, taken in a real run of the window: under Xvfb (an X server in
memory, the xcb platform: the window as a screen shows it) when Xvfb is installed, else on
the offscreen platform. Each file must be non-blank and smaller than 300 kB.

The files go to ``$FTJLAB_SCREENSHOTS`` when set (``FTJLAB_SCREENSHOTS=docs/screenshots``
refreshes the README's pictures), else to a temporary folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from ftjlab.gui.screenshots import pixel_std

VIEWS = ("bench", "rtn", "iv", "write-verify", "conductance-map", "vmm", "switching",
         "generation", "runs")
MAX_BYTES = 300_000


@contextlib.contextmanager
def xvfb() -> Iterator[str | None]:
    """An Xvfb server of our own on a free display (``-displayfd`` picks it atomically, so
    parallel runs do not race for a number); yields its DISPLAY, or None without Xvfb."""
    if shutil.which("Xvfb") is None:
        yield None
        return
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        with os.fdopen(read) as f:
            number = f.readline().strip()  # written once the server accepts clients
        yield f":{number}" if number else None
    finally:
        server.terminate()
        server.wait(10)


def _take(out: Path, display: str | None) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb" if display else "offscreen"}
    env.pop("WAYLAND_DISPLAY", None)
    if display:
        env["DISPLAY"] = display
    cmd = [sys.executable, "-m", "ftjlab", "gui", "--screenshots", str(out)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def test_screenshot_of_every_main_view_is_a_real_non_blank_png(tmp_path):
    out = Path(os.environ.get("FTJLAB_SCREENSHOTS") or tmp_path / "screenshots")
    with xvfb() as display:
        proc = _take(out, display)
    xcb_failed = display is not None and "platform plugin" in proc.stderr
    if display is None or xcb_failed:
        proc = _take(out, None)  # no Xvfb, or Qt's xcb plugin cannot load here
    assert proc.returncode == 0, proc.stderr[-3000:]
    platform = proc.stdout.splitlines()[0]
    assert platform == ("platform: xcb" if display and not xcb_failed else "platform: offscreen")
    for name in VIEWS:
        path = out / f"{name}.png"
        assert path.is_file(), proc.stdout
        assert 5_000 < path.stat().st_size < MAX_BYTES, (name, path.stat().st_size)
        assert pixel_std(path) > 10.0, name  # a blank (one-colour) image has 0
