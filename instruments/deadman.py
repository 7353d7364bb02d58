"""A dead-man switch for a bench: a small supervisor process that makes the bench safe when
the process running a measurement disappears without releasing it.

:func:`start_supervisor` spawns the supervisor (``_deadman_child.py``, standard library only
for raw-socket instruments, so it is ready in a fraction of a second). It opens its own
connection to every instrument of the bench (it only ever switches off), says ``ready`` and
then waits on a pipe from its parent. If the parent releases it (a normal end, an error,
Ctrl-C: the session closed), it closes its connections and exits. If the pipe reaches end of
file, or its parent process is gone (``kill -9``, a crash, an out-of-memory kill), it drives
the bench safe at once: every output off (confirmed), then probes separated and matrices
open, and exits.

What it cannot cover: a power failure of the PC (the supervisor dies too), a supervisor
killed together with the run, a lost network to the instruments. The TSP instruments have no
host watchdog of their own (a polling script would block their command queue), so there is
no on-instrument timeout.

:func:`connect` and :func:`make_safe` (the drivers and
:func:`~ftjlab.instruments.shutdown.shutdown_safely`) serve ``ftjlab safe``.
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

READY = "ready"
RELEASE = "release"


@dataclass(frozen=True)
class Target:
    """One instrument to make safe: its bench name, model, VISA resource and timeout."""

    name: str
    model: str
    resource: str
    timeout_ms: int = 5000


def _driver(model: str) -> type:
    from . import (
        Keithley707B,
        Keithley2450,
        Keithley2636B,
        Keysight33500B,
        Keysight81160A,
    )

    drivers: dict[str, type] = {
        "2636B": Keithley2636B,
        "2450": Keithley2450,
        "81160A": Keysight81160A,
        "33500B": Keysight33500B,
        "707B": Keithley707B,
    }
    if model == "SENTIO":
        from .mpi_sentio import SentioProber

        return SentioProber
    return drivers[model]


def connect(targets: Iterable[Target]) -> list[tuple[Target, Any]]:
    """Open a plain driver for every target (``@py`` for TCP resources)."""
    opened = []
    for target in targets:
        kwargs: dict[str, Any] = {"timeout": target.timeout_ms}
        if target.resource.upper().startswith("TCPIP"):
            kwargs["visa_library"] = "@py"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            opened.append((target, _driver(target.model)(target.resource, **kwargs)))
    return opened


def make_safe(instruments: Iterable[Any]) -> list[tuple[Any, BaseException]]:
    """Outputs off, then matrices open (probes separated); returns the failures."""
    from .shutdown import shutdown_safely

    return shutdown_safely(*instruments, logger=log)


def close_all(instruments: Iterable[Any]) -> None:
    for instrument in instruments:
        try:
            instrument.adapter.close()
        except Exception:  # already gone
            log.debug("closing %s failed", instrument, exc_info=True)


class Supervisor:
    """The parent's handle on a running supervisor process."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.ready = False

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Block until the supervisor holds its connections.

        :raises RuntimeError: if it could not connect (its message says why).
        """
        if self.ready:
            return
        process = self.process
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], timeout_s)
        line = process.stdout.readline().strip() if ready else ""
        if line != READY:
            process.kill()
            _, err = process.communicate(timeout=5)
            raise RuntimeError(f"dead-man supervisor did not start: {line or err.strip()[-300:]}")
        process.stdout.close()
        self.ready = True

    @property
    def pid(self) -> int:
        return self.process.pid

    def release(self, timeout_s: float = 5.0) -> None:
        """The run ended normally: tell the supervisor to leave the bench alone and exit."""
        if self.process.poll() is not None:
            return
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(RELEASE + "\n")
            self.process.stdin.flush()
            self.process.stdin.close()
            self.process.wait(timeout=timeout_s)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait(timeout=timeout_s)


def start_supervisor(
    targets: Iterable[Target], wait: bool = True, ready_timeout_s: float = 30.0
) -> Supervisor:
    """Spawn the supervisor for ``targets``; with ``wait``, return once it holds its
    connections (else call :meth:`Supervisor.wait_ready` before anything is switched on).

    :raises RuntimeError: if it could not connect (its message says why).
    """
    payload = json.dumps([t.__dict__ for t in targets])
    child = Path(__file__).with_name("_deadman_child.py")  # stdlib only: starts at once
    process = subprocess.Popen(
        [sys.executable, "-I", str(child), str(os.getpid())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a Ctrl-C or kill of the run's process group spares it
    )
    assert process.stdin is not None
    process.stdin.write(payload + "\n")
    process.stdin.flush()
    supervisor = Supervisor(process)
    if wait:
        supervisor.wait_ready(ready_timeout_s)
    return supervisor


def targets_of(config: Any, resources: Mapping[str, str] | None = None) -> list[Target]:
    """The instruments of a bench config that live outside this process (real ones, or
    ``resources`` overrides such as sim-server ports)."""
    resources = dict(resources or {})
    out = []
    for name, inst in config.instruments.items():
        resource = resources.get(name) or (None if inst.simulated else inst.resource)
        if resource is not None:
            out.append(Target(name, inst.model, resource, int(inst.timeout_ms or 5000)))
    return out
