"""Kill ``ftjlab run`` with SIGKILL mid-run against a sim-server and time how long the bench
stays energised (shared by the suite test and the study in ``tests/benchmarks``).

The sim-server runs in this process (``SimServer`` threads), so the judge reads the emulators
directly: the SMU outputs, the generator outputs and the matrix relays the array sees.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

#: procedure -> its settings for a run long enough to be killed in the middle
CASES: dict[str, list[str]] = {
    "conductance-map": [],
    "write-verify": [],
    "rtn-acquisition": ["--set", "readings=2000000", "--set", "block=20000"],
}
#: procedure -> how long after the bench is energised the kill comes: a whole map takes well
#: under a second of wall time (one script call per row), so its kill comes at once
SETTLE_S: dict[str, float] = {"conductance-map": 0.0}


@dataclass
class KillResult:
    procedure: str
    energised_after_s: float  # from the start of ftjlab run to outputs on and relays closed
    safe_after_s: float  # from SIGKILL to every output off and every relay open (inf: never)
    returncode: int


def energised(server: Any) -> tuple[list[str], int]:
    """Outputs that are on and the number of closed relays, read from the emulators."""
    on: list[str] = []
    for name, emulator in server.emulators.items():
        for letter in ("a", "b"):
            smu = getattr(emulator, f"smu{letter}", None)
            if smu is not None and smu.source.output:
                on.append(f"{name}.{letter}")
        for n, channel in enumerate(getattr(emulator, "ch", []), start=1):
            if channel.output:
                on.append(f"{name}.{n}")
        if getattr(emulator, "output", False) is True:
            on.append(name)
    return on, len(server.bench.closed())


def kill_mid_run(
    server: Any,
    procedure: str,
    out_dir: str,
    settle_s: float | None = None,
    timeout_s: float = 120.0,
) -> KillResult:
    """Start ``ftjlab run procedure`` against ``server``, SIGKILL it once the bench is
    energised (+ ``settle_s``, by default the procedure's ``SETTLE_S`` or 0.3 s), and time
    until the emulators are safe again (max 5 s)."""
    if settle_s is None:
        settle_s = SETTLE_S.get(procedure, 0.3)
    args = [sys.executable, "-m", "ftjlab", "run", procedure, "--out", out_dir]
    for name, resource in server.resources.items():
        args += ["--resource", f"{name}={resource}"]
    args += CASES.get(procedure, [])
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    start = time.monotonic()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        while time.monotonic() - start < timeout_s:
            on, closed = energised(server)
            if on and closed:
                break
            if process.poll() is not None:
                raise RuntimeError(
                    f"ftjlab run {procedure} ended before it energised the "
                    f"bench (exit {process.returncode})"
                )
            time.sleep(0.01)
        else:
            raise RuntimeError(f"ftjlab run {procedure} did not energise the bench")
        energised_after = time.monotonic() - start
        time.sleep(settle_s)
        if process.poll() is not None:
            raise RuntimeError(f"ftjlab run {procedure} ended before the kill")
        process.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        safe_after = float("inf")
        while time.monotonic() - killed < 5.0:
            on, closed = energised(server)
            if not on and not closed:
                safe_after = time.monotonic() - killed
                break
            time.sleep(0.005)
        process.wait(timeout=10)
        return KillResult(procedure, energised_after, safe_after, process.returncode)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
