"""A PNG of every main view, taken in a real run of the window: under Xvfb (an X server in
memory, the xcb platform: the window as a screen shows it) when ``xvfb-run`` is installed,
else on the offscreen platform. Each file must be non-blank and smaller than 300 kB.

The files go to ``$FTJLAB_SCREENSHOTS`` when set (``FTJLAB_SCREENSHOTS=docs/screenshots``
refreshes the README's pictures), else to a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ftjlab.gui.screenshots import pixel_std

VIEWS = ("bench", "rtn", "iv", "write-verify", "conductance-map", "vmm", "switching",
         "generation", "runs")
MAX_BYTES = 300_000


def _take(out: Path, platform: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "ftjlab", "gui", "--screenshots", str(out)]
    if platform == "xcb":
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", *cmd]
    env = {**os.environ, "QT_QPA_PLATFORM": platform}
    env.pop("DISPLAY", None) if platform == "offscreen" else None
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def test_screenshot_of_every_main_view_is_a_real_non_blank_png(tmp_path):
    out = Path(os.environ.get("FTJLAB_SCREENSHOTS") or tmp_path / "screenshots")
    xvfb = shutil.which("xvfb-run") is not None
    proc = _take(out, "xcb") if xvfb else None
    if proc is None or (proc.returncode != 0 and "platform plugin" in proc.stderr):
        proc = _take(out, "offscreen")  # no Xvfb, or Qt's xcb plugin cannot load here
    assert proc.returncode == 0, proc.stderr[-3000:]
    platform = proc.stdout.splitlines()[0]
    assert platform in ("platform: xcb", "platform: offscreen")
    if xvfb:
        assert platform == "platform: xcb", proc.stderr[-2000:]
    for name in VIEWS:
        path = out / f"{name}.png"
        assert path.is_file(), proc.stdout
        assert 5_000 < path.stat().st_size < MAX_BYTES, (name, path.stat().st_size)
        assert pixel_std(path) > 10.0, name  # a blank (one-colour) image has 0
