"""Shared pieces of the third-party driver tests: an ``ftjlab sim-server`` subprocess, raw
pyvisa-py sessions that read the instruments' error queues independently of the drivers, and an
operation runner that fails on any error entry or slow reply."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyvisa

REPO = Path(__file__).resolve().parents[2]
BENCHES = REPO / "data" / "benches"
#: what a pyvisa-py client of a raw-socket resource needs (LF-terminated messages)
VISA = {"read_termination": "\n", "write_termination": "\n"}
#: drivers' timeout: a reply the emulator owes arrives in well under this
TIMEOUT_MS = 1000
#: a query the instrument refuses gets no reply: this short timeout proves it
REFUSED_TIMEOUT_MS = 150


@contextlib.contextmanager
def sim_server(bench: Path, seed: int = 7) -> Iterator[dict[str, str]]:
    """``ftjlab sim-server --bench <bench>`` as a subprocess; yields its resources."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ftjlab", "sim-server", "--bench", str(bench), "--seed", str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            stderr = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"sim-server did not start: {stderr}")
        yield json.loads(line)["resources"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Raw:
    """A plain pyvisa-py session to one instrument, for checks that must not go through the
    driver under test (error queues, refused queries)."""

    def __init__(self, rm: pyvisa.ResourceManager, resource: str, tsp: bool = False) -> None:
        self.handle = rm.open_resource(resource, timeout=TIMEOUT_MS, **VISA)
        self.tsp = tsp

    def query(self, text: str) -> str:
        return self.handle.query(text).strip()

    def write(self, text: str) -> None:
        self.handle.write(text)

    def errors(self) -> list[str]:
        """Drain the error queue: every entry, oldest first (empty list: no error)."""
        out = []
        for _ in range(50):
            if self.tsp:
                if float(self.query("print(errorqueue.count)")) == 0:
                    break
                out.append(self.query("print(errorqueue.next())"))
            else:
                entry = self.query(":SYSTem:ERRor?")
                if entry.startswith(("0,", "+0,")):
                    break
                out.append(entry)
        return out

    def refused(self, query: str) -> list[str]:
        """Send a query the instrument refuses: assert it gets no reply (the client times
        out, as on the instrument) and return the error entries it left."""
        old = self.handle.timeout
        self.handle.timeout = REFUSED_TIMEOUT_MS
        try:
            self.handle.write(query)
            with contextlib.suppress(pyvisa.errors.VisaIOError):
                reply = self.handle.read()
                raise AssertionError(f"{query!r} was answered: {reply!r}")
        finally:
            self.handle.timeout = old
        return self.errors()

    def close(self) -> None:
        self.handle.close()


class Ops:
    """Runs driver operations one by one; each must finish inside the driver's timeout and
    leave the instrument's error queue empty. ``done`` counts the operations that passed.

    The raw session is a second connection, served concurrently: before it reads the error
    queue, ``sync`` (set it once the driver is connected, e.g. ``lambda: drv.ask("*OPC?")``)
    makes sure the instrument has executed what the driver sent.
    """

    def __init__(self, raw: Raw, max_s: float = 0.9 * TIMEOUT_MS / 1000) -> None:
        self.raw, self.max_s, self.done = raw, max_s, 0
        self.sync: Callable[[], Any] | None = None

    def __call__(self, label: str, fn: Callable[[], Any], max_s: float | None = None) -> Any:
        t0 = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t0
        if self.sync is not None:
            self.sync()
        errors = self.raw.errors()
        assert not errors, f"{label}: instrument errors {errors}"
        limit = self.max_s if max_s is None else max_s
        assert dt < limit, f"{label}: took {dt:.2f} s (a reply missing?)"
        self.done += 1
        return result


def pymeasure_connect(bench: tuple[dict[str, str], dict[str, Raw]], role: str, driver: Any) -> Any:
    """A pymeasure ``driver`` on the bench's ``role`` over pyvisa-py, and an :class:`Ops` runner
    on that role's raw session, synced by the driver's ``*OPC?``: returns ``(instrument, ops)``."""
    resources, raws = bench
    ops = Ops(raws[role])
    inst = driver(resources[role], visa_library="@py", timeout=TIMEOUT_MS, **VISA)
    ops.sync = lambda: inst.ask("*OPC?")
    return inst, ops
