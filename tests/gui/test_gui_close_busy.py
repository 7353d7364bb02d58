"""Closing the window while a job holds the bench and does not stop in time: the bench is shut
down and closed by the job's own thread after the job, never between one of its messages to
an instrument and the reply (pytest-qt, offscreen, simulated bench)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ftjlab.gui.worker import Job, JobOutcome


@dataclass
class DeafSMUJob(Job):
    """Reads one cell (gate and read outputs on, the cell routed), then keeps the read SMU
    busy with message/reply pairs ``print(i)``, checking that each reply is its own ``i``;
    goes on for ``deaf_s`` after a stop request (an instrument step that cannot be cut
    short)."""

    deaf_s: float = 2.0
    pairs: int = 0
    wrong: list[tuple[int, str]] = field(default_factory=list)
    error: str = ""
    ended_at: float = 0.0

    def run(self, session: Any, post: Any, stop: threading.Event) -> JobOutcome:
        from ftjlab.controller import ArrayController

        ArrayController(session).read_cell(3, 7)
        smu = session.instruments["smu"]
        stopped_at = None
        try:
            while stopped_at is None or time.monotonic() - stopped_at < self.deaf_s:
                if stopped_at is None and stop.is_set():
                    stopped_at = time.monotonic()
                reply = smu.ask(f"print({self.pairs})")
                if float(reply) != self.pairs:
                    self.wrong.append((self.pairs, reply))
                self.pairs += 1
        except Exception as exc:  # a connection closed or a reply garbled under the job
            self.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self.ended_at = time.monotonic()
        return JobOutcome("aborted", "stopped")


def _outputs_on(session: Any) -> list[str]:
    """Source outputs on in the simulated bench's model (no I/O)."""
    return [t for t, d in session.sim.describe()["terminals"].items() if d["output_on"]]


def test_closing_during_a_job_that_outlives_the_wait_hands_the_shutdown_to_it(qtbot, window):
    session = window.session
    job = DeafSMUJob(title="deaf SMU job")
    window.worker.start(job, session)
    qtbot.waitUntil(lambda: job.pairs >= 20, timeout=30_000)
    assert _outputs_on(session), "the job should hold the bench with outputs on"
    window.stop_wait_s = 0.2
    t0 = time.monotonic()
    window.close()
    closed_after_s = time.monotonic() - t0
    # the close did not wait for the job, and it did not shut the bench down under it
    assert window.worker.busy and job.ended_at == 0.0
    assert closed_after_s < job.deaf_s
    assert window.session is None
    assert _outputs_on(session)
    assert window.worker.wait(30)
    # every reply was the job's own, and the job was never cut off
    assert job.error == "" and job.wrong == []
    assert job.pairs >= 40
    # then the job's thread shut the bench down: outputs off, matrix open
    assert _outputs_on(session) == []
    assert session.sim.closed() == []


def test_closing_when_the_job_stops_in_time_shuts_down_on_the_gui_thread(qtbot, window):
    session = window.session
    job = DeafSMUJob(title="short job", deaf_s=0.0)
    window.worker.start(job, session)
    qtbot.waitUntil(lambda: job.pairs >= 5, timeout=30_000)
    window.close()
    assert not window.worker.busy and job.error == "" and job.wrong == []
    assert _outputs_on(session) == [] and session.sim.closed() == []
