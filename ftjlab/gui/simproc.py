"""A simulated bench out of the GUI's process: ``ftjlab sim-server`` as a child process, the
session connected to it over TCP like to a real bench.

The simulated instruments then compute in another process, so their work never holds the
GUI process's interpreter: the window's event loop keeps running while a simulated bench
works (``ftjlab gui --sim-server``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

from ftjlab.errors import BadInput


class SimServerProcess:
    """``python -m ftjlab sim-server`` for a bench file; ``resources`` once it serves."""

    def __init__(self, bench: str | None = None, seed: int | None = None) -> None:
        argv = [sys.executable, "-m", "ftjlab", "sim-server"]
        if bench:
            argv += ["--bench", str(bench)]
        if seed is not None:
            argv += ["--seed", str(seed)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            self.proc.wait()
            raise BadInput(f"sim-server did not start: {err.strip()[-500:]}")
        self.info: dict[str, Any] = json.loads(line)
        self.resources: dict[str, str] = self.info["resources"]

    def stop(self) -> None:
        """Stop the server (SIGTERM, then kill after 10 s)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def open_out_of_process(bench: str | None, seed: int | None) -> tuple[Any, SimServerProcess]:
    """A :class:`~ftjlab.session.BenchSession` on the bench's simulated instruments served by
    a child ``sim-server``; the caller stops the server after closing the session."""
    from ftjlab.session import BenchSession

    server = SimServerProcess(bench, seed)
    try:
        return BenchSession.open(bench, seed=seed, resources=server.resources), server
    except BaseException:
        server.stop()
        raise
