"""Run a procedure on a bench and record it: the one place that owns the run file, the stop
flag and the safe shutdown, for the CLI, the GUI and tests alike.

Whatever happens (completion, an exception, a stop request, Ctrl-C) the procedure's
``shutdown`` runs, then the bench is made safe (outputs off, matrix open), then the run is
closed with its status (``completed`` / ``aborted`` / ``failed``) and every block recorded so
far stays in the file.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ftjlab.controller import ArrayController
from ftjlab.interrupts import shielded
from ftjlab.session import BenchSession
from ftjlab.store import RunWriter
from ftjlab.traffic import Accounting, Meter

log = logging.getLogger(__name__)


@dataclass
class RunOutcome:
    """How a run ended and where its data is."""

    path: Path
    run_id: str
    status: str
    error: str = ""
    results: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    instrument_s: float | None = None  # simulated benches: virtual time the run took
    #: instrument time, wall time, messages and replies, real-bench projections
    accounting: Accounting | None = None


Listener = Callable[[str, Any], None]


def run_procedure(
    procedure: Any,
    session: BenchSession,
    out_dir: str | Path,
    listener: Listener | None = None,
    stop: threading.Event | None = None,
) -> RunOutcome:
    """Run ``procedure`` (an :class:`~ftjlab.procedures.base.FTJProcedure` with parameters
    set) on ``session``, recording into a new file in ``out_dir``. ``listener(topic, data)``
    sees every record/progress/result as it happens (topics ``record``, ``progress``,
    ``result``, ``status``); ``stop.set()`` stops it at the next safe point."""
    stop = stop or threading.Event()
    procedure.check_limits(session.limits)  # before anything is recorded or sent
    procedure.controller = ArrayController(session)  # streams() may need the array's size
    procedure.preflight()
    params = procedure.parameter_values()
    units = {name: p.units for name, p in procedure._parameters.items() if getattr(p, "units", "")}
    writer: RunWriter | None = None
    results: dict[str, Any] = {}
    arrays: dict[str, tuple[np.ndarray, str]] = {}
    scalars: dict[str, Any] = {}

    def sink(topic: str, data: Any) -> None:
        if topic == "record" and writer is not None:
            name, block = data
            writer.append(name, block)
        elif topic == "result":
            name, value, unit = data
            results[name] = value
            if isinstance(value, np.ndarray):
                arrays[name] = (value, unit)
            else:
                scalars[name] = value
                if unit:
                    scalars[f"{name}.units"] = unit
        if listener is not None:
            listener(topic, data)

    procedure._sink = sink
    procedure._stop = stop.is_set
    virtual = bool(getattr(session, "virtual_clock", False))
    t_sim0 = session.now_s() if virtual else None
    wall0 = time.perf_counter()
    meter = Meter(session).__enter__()  # instrument time, wall time, round trips of the run
    status, error = "completed", ""
    escaping: list[BaseException] = []

    def settle() -> None:
        """Shut the procedure and the bench down, then close the run with its status. Runs
        shielded from signals; every step runs whatever the others did."""
        nonlocal status, error
        try:
            procedure.shutdown()
        except BaseException as exc:
            log.error("%s shutdown failed: %s: %s", procedure.name, type(exc).__name__, exc)
        try:
            failures = session.shutdown()  # again: the bench ends safe whatever shutdown did
        except BaseException as exc:
            failures = [("session", exc)]
        if failures and status == "completed":
            status = "failed"
            error = "safe shutdown failed: " + "; ".join(f"{i}: {e}" for i, e in failures)
        if writer is None:
            return
        try:
            scalars.update(meter.stop().attrs())
        except BaseException as exc:  # accounting must never cost the run its data
            log.error("time accounting failed: %s", exc)
        try:
            writer.finish(status, error, arrays=arrays, attrs=scalars)
        except BaseException as exc:  # finish settled the file first
            escaping.append(exc)
        if writer.status != status:
            status = writer.status
            error = (error + "; " if error else "") + writer.finish_error

    try:
        with shielded():  # a signal now stops the run at its first safe point instead
            writer = RunWriter.create(
                out_dir, procedure.name, params, session.snapshot(), procedure.streams(),
                units=units, attrs={"estimated_duration_s": procedure.estimate_s()},
            )
        if stop.is_set():
            status, error = "aborted", "stopped before it started"
        else:
            procedure.startup()
            procedure.execute()
            if stop.is_set():
                status, error = "aborted", "stopped at a safe point"
    except KeyboardInterrupt:
        if writer is None:
            raise
        status, error = "aborted", "interrupted"
    except Exception as exc:  # the run fails, its data stays
        if writer is None:  # no run file (bad output folder): nothing was sent either
            raise
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            log.error("%s failed: %s", procedure.name, exc)
        else:
            log.error("%s failed:\n%s", procedure.name, traceback.format_exc())
    except BaseException as exc:  # SystemExit and the like: settle the run, then go on
        if writer is None:
            raise
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        escaping.append(exc)
    finally:
        try:
            with shielded():
                settle()
        except KeyboardInterrupt:  # the one interrupt came before the shield went up
            with shielded():
                settle()
    outcome = RunOutcome(
        writer.path, writer.run_id, status, error, results, time.perf_counter() - wall0,
        (session.now_s() - t_sim0) if virtual else None, meter.result,
    )
    if escaping:
        raise escaping[0]
    if listener is not None:
        listener("status", outcome)
    return outcome
