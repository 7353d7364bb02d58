"""Work off the GUI thread: jobs (a procedure run, a generation) on a Python thread, their
events carried to the GUI thread by a queued Qt signal.

The worker thread never waits for the GUI: its listener appends ``(topic, data)`` to a buffer
under a lock and, when the buffer was empty, posts one queued signal. The GUI thread drains
the whole buffer per signal (so a flood of small records costs one slot call), feeds the
views, and the views repaint at most once per frame (the main window's frame timer).

Procedure runs go through :func:`ftjlab.runner.run_procedure` only: it owns the run file, the
stop flag and the safe shutdown. Aborting sets the stop flag; the run stops at its next safe
point, the bench is made safe, the run is marked ``aborted`` and keeps its data.

The bench's connections are used by one thread at a time: whatever else must reach the bench
(closing it when the window closes) goes through :meth:`Worker.when_idle`, which runs it at
once when no job runs and otherwise on the worker's thread right after the job, so it never
lands between a job's message and the reply to it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtCore import QObject, Qt, pyqtSignal

from ftjlab.errors import BadInput

log = logging.getLogger(__name__)

Post = Callable[[str, Any], None]
Event = tuple[str, Any]


class EventPump(QObject):
    """Carries events from any thread to ``handler(events)`` on the GUI thread, in order."""

    _arrived = pyqtSignal()

    def __init__(self, handler: Callable[[list[Event]], None], parent: QObject | None = None):
        super().__init__(parent)
        self._handler = handler
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._arrived.connect(self.drain, Qt.ConnectionType.QueuedConnection)

    def post(self, topic: str, data: Any) -> None:
        """Queue an event (any thread). Record blocks are copied: the sender may reuse them."""
        if topic == "record":
            name, block = data
            data = (name, np.array(block, copy=True))
        with self._lock:
            first = not self._events
            self._events.append((topic, data))
        if first:
            self._arrived.emit()

    def drain(self) -> None:
        """Hand every pending event to the handler (GUI thread)."""
        with self._lock:
            events, self._events = self._events, []
        if events:
            self._handler(events)


# ---------------------------------------------------------------------------------- jobs


@dataclass
class JobOutcome:
    """How a job ended (procedure runs carry the runner's RunOutcome in ``run``)."""

    status: str  # completed / aborted / failed / refused
    error: str = ""
    run: Any = None  # ftjlab.runner.RunOutcome for procedure runs
    wall_s: float = 0.0


@dataclass
class Job:
    """Something the worker runs: a title for the queue and ``run(session, post, stop)``."""

    title: str
    kind: str = "job"

    def run(self, session: Any, post: Post, stop: threading.Event) -> JobOutcome:
        raise NotImplementedError


@dataclass
class ProcedureJob(Job):
    """A procedure with its settings as text (validated again when it starts)."""

    procedure: str = ""
    settings: dict[str, str] = field(default_factory=dict)
    out_dir: Path = Path("runs")
    kind: str = "procedure"

    def run(self, session: Any, post: Post, stop: threading.Event) -> JobOutcome:
        from ftjlab.procedures import PROCEDURES, build
        from ftjlab.runner import run_procedure

        t0 = time.perf_counter()
        procedure = build(PROCEDURES[self.procedure], self.settings)
        post("begin", (self.procedure, procedure.parameter_values(), procedure.estimate_s()))
        outcome = run_procedure(procedure, session, self.out_dir, post, stop)
        return JobOutcome(outcome.status, outcome.error, outcome, time.perf_counter() - t0)


class Worker(QObject):
    """Runs one job at a time on a Python thread; events go through an :class:`EventPump`.

    Besides the job's own events it posts ``("job-started", job)`` first and
    ``("job-finished", (job, JobOutcome))`` last, always (also when the job raised).
    """

    def __init__(self, handler: Callable[[list[Event]], None], parent: QObject | None = None):
        super().__init__(parent)
        self.pump = EventPump(handler, self)
        self._thread: threading.Thread | None = None
        self.stop = threading.Event()
        self.job: Job | None = None
        self.abort_requested_at: float | None = None
        self._handover = threading.Lock()
        self._in_job = False  # from start() until the job has returned
        self._after_job: Callable[[], None] | None = None

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, job: Job, session: Any) -> None:
        if self.busy:
            raise RuntimeError("a job is already running")
        self.stop = threading.Event()
        self.job = job
        self.abort_requested_at = None
        with self._handover:
            self._in_job = True
        self._thread = threading.Thread(
            target=self._run, args=(job, session, self.stop), name="ftjlab-worker", daemon=True
        )
        self._thread.start()

    def _run(self, job: Job, session: Any, stop: threading.Event) -> None:
        post = self.pump.post
        try:
            post("job-started", job)
            t0 = time.perf_counter()
            try:
                outcome = job.run(session, post, stop)
            except BadInput as exc:  # refused before anything was recorded or sent
                outcome = JobOutcome("refused", str(exc), wall_s=time.perf_counter() - t0)
            except Exception as exc:
                log.exception("%s failed", job.title)
                outcome = JobOutcome("failed", f"{type(exc).__name__}: {exc}",
                                     wall_s=time.perf_counter() - t0)
            post("job-finished", (job, outcome))
        finally:
            with self._handover:
                self._in_job = False
                after, self._after_job = self._after_job, None
            if after is not None:
                try:
                    after()
                except Exception:
                    log.exception("after %s: handed-over bench action failed", job.title)

    def abort(self) -> None:
        """Ask the running job to stop at its next safe point."""
        if self.busy and not self.stop.is_set():
            self.abort_requested_at = time.perf_counter()
            self.stop.set()

    def when_idle(self, action: Callable[[], None]) -> bool:
        """Run ``action`` (something that talks to the bench) now if no job is running and
        return True; else hand it to the worker's thread, which runs it right after the job
        has returned, and return False. A later call replaces a handed-over action not yet
        run. Call it from the thread that starts jobs (the GUI thread)."""
        with self._handover:
            if self._in_job:
                self._after_job = action
                return False
        action()
        return True

    def wait(self, timeout_s: float | None = None) -> bool:
        """Join the worker thread; True if no job is running any more."""
        if self._thread is not None:
            self._thread.join(timeout_s)
        return not self.busy


class Background(QObject):
    """Run one callable off the GUI thread (e.g. connecting a bench, fitting an HMM) and
    deliver ``done(result)`` or ``failed(message)`` on the GUI thread."""

    done = pyqtSignal(object)
    failed = pyqtSignal(str)

    def __init__(self, func: Callable[[], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._func = func
        self._thread = threading.Thread(target=self._run, name="ftjlab-background",
                                        daemon=True)

    def start(self) -> Background:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            result = self._func()
        except Exception as exc:
            self.failed.emit(f"{type(exc).__name__}: {exc}" if not isinstance(exc, BadInput)
                             else str(exc))
            return
        self.done.emit(result)

    def wait(self, timeout_s: float | None = None) -> bool:
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

