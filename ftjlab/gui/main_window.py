"""The main window: bench panel, procedure picker and generated form, queue, start / abort,
progress, live views, generation, run browser and log.

Threads: procedures and generation run on the worker thread (:mod:`ftjlab.gui.worker`); the
GUI thread only validates forms, feeds views with the blocks the worker posts, and repaints
them once per frame (a 30 Hz timer redraws the visible view if it changed). The session is
used by one job at a time; the GUI thread reads only its config and IDN strings.
Closing the window during a run stops the run at its next safe point (bench safe, run
``aborted``, data kept) before the session closes. A run that has not stopped within
:attr:`MainWindow.stop_wait_s` keeps the bench: its own thread shuts the bench down and
closes it when the run ends (:meth:`~ftjlab.gui.worker.Worker.when_idle`), so the shutdown
never lands between the run's message to an instrument and the reply.
"""

from __future__ import annotations

import collections
import logging
import sys
import time
from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QCloseEvent
from PyQt6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ftjlab.gui.browser import RunBrowser
from ftjlab.gui.form import ProcedureForm
from ftjlab.gui.generation import GenerationJob, GenerationView, SourceFactory
from ftjlab.gui.panels import BenchPanel, LogPanel
from ftjlab.gui.views import LiveView, make_view
from ftjlab.gui.wafer import WaferMapView
from ftjlab.gui.worker import Background, Event, Job, JobOutcome, ProcedureJob, Worker

log = logging.getLogger("ftjlab.gui")
FRAME_MS = 33
#: GIL switch interval while the window is open: the simulated bench runs CPU-bound Python
#: on the worker thread; a short interval hands the GIL back to the GUI thread sooner
SWITCH_INTERVAL_S = 5e-4
#: how long closing the window waits for a running job to stop at its safe point
STOP_WAIT_S = 60.0


class MainWindow(QMainWindow):
    """The ftjlab window. ``session``: an open :class:`~ftjlab.session.BenchSession` to use
    (the window closes it when it closes); else it connects ``bench`` (None: the shipped
    simulated bench) when shown, off the GUI thread."""

    def __init__(
        self,
        bench: str | Path | None = None,
        seed: int | None = None,
        out_dir: str | Path = "runs",
        session: Any = None,
        generation_source: SourceFactory | None = None,
        connect: bool = True,
        sim_server: bool = False,
    ) -> None:
        from ftjlab.procedures import PROCEDURES

        super().__init__()
        self.setWindowTitle("ftjlab — FTJ NOR array lab")
        self.out_dir = Path(out_dir)
        self.session = session
        self.bench_path = str(bench) if bench else ""
        self.seed = seed
        self.generation_source = generation_source  # None: the tab's choices
        #: simulated instruments in a child ``ftjlab sim-server`` (see ftjlab.gui.simproc)
        self.sim_server = sim_server
        self._sim_proc: Any = None
        self.queue: list[Job] = []
        self.paused = False
        self.job_started_at = 0.0
        self.estimate_s = 0.0
        self.last_outcome: JobOutcome | None = None
        self.outcomes: list[JobOutcome] = []
        self.abort_latency_s: float | None = None
        self.frame_ms: collections.deque[float] = collections.deque(maxlen=300)
        self._background: list[Background] = []
        self._closing = False
        #: closing waits this long for a running job to stop (then hands the bench to it)
        self.stop_wait_s = STOP_WAIT_S
        self.current_view: LiveView | None = None
        self.worker = Worker(self._on_events, self)
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, SWITCH_INTERVAL_S))

        # ---------------------------------------------------------------- left: controls
        controls = QWidget()
        left = QVBoxLayout(controls)
        left.addWidget(QLabel("<b>Procedure</b>"))
        self.picker = QComboBox()
        self.picker.setObjectName("procedure-picker")
        left.addWidget(self.picker)
        self.forms: dict[str, ProcedureForm] = {}
        self.form_stack = QStackedWidget()
        for name, cls in PROCEDURES.items():
            form = ProcedureForm(cls)
            self.forms[name] = form
            self.form_stack.addWidget(form)
            self.picker.addItem(name)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.form_stack)
        left.addWidget(scroll, 1)
        buttons = QHBoxLayout()
        left.addLayout(buttons)
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("start")
        self.start_button.setToolTip("Queue this run and run the queue")
        self.queue_button = QPushButton("Queue")
        self.queue_button.setObjectName("queue")
        self.queue_button.setToolTip("Add this run to the queue")
        self.abort_button = QPushButton("Abort")
        self.abort_button.setObjectName("abort")
        self.abort_button.setToolTip("Stop the running job at its next safe point and hold "
                                     "the queue (bench left safe, data kept)")
        for b in (self.start_button, self.queue_button, self.abort_button):
            buttons.addWidget(b)
        self.start_button.clicked.connect(self.start)
        self.queue_button.clicked.connect(lambda: self.enqueue_current())
        self.abort_button.clicked.connect(self.abort)
        self.progress = QProgressBar()
        self.progress.setObjectName("progress")
        self.progress.setRange(0, 1000)
        self.progress.setFormat("%p %")
        left.addWidget(self.progress)
        self.time_label = QLabel("idle")
        self.time_label.setObjectName("time-remaining")
        left.addWidget(self.time_label)
        left.addWidget(QLabel("<b>Queue</b>"))
        self.queue_list = QListWidget()
        self.queue_list.setObjectName("queue-list")
        self.queue_list.setMaximumHeight(110)
        left.addWidget(self.queue_list)
        qbuttons = QHBoxLayout()
        left.addLayout(qbuttons)
        self.resume_button = QPushButton("Resume queue")
        self.resume_button.clicked.connect(self.resume)
        self.clear_button = QPushButton("Clear queue")
        self.clear_button.clicked.connect(self.clear_queue)
        qbuttons.addWidget(self.resume_button)
        qbuttons.addWidget(self.clear_button)

        # ---------------------------------------------------------------- centre: tabs
        self.tabs = QTabWidget()
        self.tabs.setObjectName("tabs")
        self.live_stack = QStackedWidget()
        self.views: dict[str, LiveView] = {}
        for name in PROCEDURES:
            view = make_view(name)
            self.views[name] = view
            self.live_stack.addWidget(view)
        self.tabs.addTab(self.live_stack, "Live")
        self.generation = GenerationView()
        self.generation.generate_requested.connect(self.generate)
        self.generation.stop_requested.connect(self.abort)
        self.tabs.addTab(self.generation, "Generation")
        self.browser = RunBrowser(self.out_dir)
        self.tabs.addTab(self.browser, "Runs")
        self.bench_panel = BenchPanel()
        self.bench_panel.path.setText(self.bench_path)
        if seed is not None:
            self.bench_panel.seed.setValue(seed)
        self.bench_panel.connect_requested.connect(self._connect_clicked)
        self.bench_panel.disconnect_requested.connect(self.disconnect_bench)
        self.tabs.addTab(self.bench_panel, "Bench")
        self.wafer = WaferMapView()  # a campaign folder, chosen in the view
        self.tabs.addTab(self.wafer, "Wafer")
        self.log_panel = LogPanel()
        self.log_panel.attach()
        self.browser.message.connect(log.info)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(controls)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.tabs)
        right.addWidget(self.log_panel)
        right.setSizes([620, 130])
        split.addWidget(right)
        split.setSizes([330, 950])
        self.setCentralWidget(split)
        self.resize(1300, 820)

        self.picker.currentTextChanged.connect(self.select_procedure)
        self.select_procedure(self.picker.currentText())
        self.frame_timer = QTimer(self)
        self.frame_timer.setInterval(FRAME_MS)
        self.frame_timer.timeout.connect(self.frame)
        self.frame_timer.start()
        self.browser.refresh()
        self._update_buttons()
        if self.session is not None:
            self.bench_panel.show_session(self.session)
            self._limit_controls()
        elif connect:
            QTimer.singleShot(0, lambda: self.connect_bench(self.bench_path or None, seed))

    # ------------------------------------------------------------------ bench
    def _connect_clicked(self, path: str, seed: int) -> None:
        self.connect_bench(path or None, None if seed < 0 else seed)

    def connect_bench(self, path: str | None = None, seed: int | None = None,
                      wait: bool = False) -> None:
        """Open the bench off the GUI thread (``wait``: block until done, for tests)."""

        if self.session is not None or self.worker.busy:
            return
        self.bench_panel.state.setText(f"connecting to {path or 'the simulated bench'}…")
        self.bench_panel.set_busy(True, False)
        job = Background(lambda: self._open(path, seed), self)
        job.done.connect(self._connected)
        job.failed.connect(self._connect_failed)
        self._background.append(job)
        job.start()
        if wait:
            from PyQt6.QtWidgets import QApplication

            job.wait(60)
            deadline = time.monotonic() + 10
            while job in self._background and time.monotonic() < deadline:
                QApplication.processEvents()  # delivers done/failed

    def _open(self, path: str | None, seed: int | None) -> Any:
        from ftjlab.session import BenchSession

        if not self.sim_server:
            return BenchSession.open(path, seed=seed)
        from ftjlab.gui.simproc import open_out_of_process

        session, self._sim_proc = open_out_of_process(path, seed)
        return session

    def _stop_sim_server(self) -> None:
        if self._sim_proc is not None:
            self._sim_proc.stop()
            self._sim_proc = None

    def _connected(self, session: Any) -> None:
        self._background.clear()
        if self._closing:
            session.close()
            self._stop_sim_server()
            return
        self.session = session
        self.bench_panel.show_session(session)
        self._limit_controls()
        names = ", ".join(f"{n} ({i.model})" for n, i in session.config.instruments.items())
        log.info("connected %s: %s", session.config.source, names)
        self._update_buttons()
        self._next()

    def _connect_failed(self, message: str) -> None:
        self._background.clear()
        self.bench_panel.show_session(None)
        self.bench_panel.state.setText(f"connection failed: {message}")
        log.error("connection failed: %s", message)
        self._update_buttons()

    def disconnect_bench(self) -> None:
        """Shut the bench down safely and close it (not while a job runs)."""
        if self.session is None or self.worker.busy:
            return
        config = self.session.config
        self.session.close()
        self.session = None
        self._stop_sim_server()
        self.bench_panel.show_session(None, config)
        log.info("disconnected (outputs off, matrix open)")
        self._update_buttons()

    def _limit_controls(self) -> None:
        limit = float(self.session.limits.max_sample_voltage_v)
        self.generation.bias.setMaximum(limit)

    # ------------------------------------------------------------------ procedures
    def select_procedure(self, name: str) -> None:
        """Show the form and live view of procedure ``name``."""
        if name not in self.forms:
            return
        if self.picker.currentText() != name:
            self.picker.setCurrentText(name)
        self.form_stack.setCurrentWidget(self.forms[name])
        if not self.worker.busy:
            self.live_stack.setCurrentWidget(self.views[name])

    @property
    def form(self) -> ProcedureForm:
        return self.forms[self.picker.currentText()]

    def enqueue_current(self) -> ProcedureJob | None:
        """Validate the form; queue a run of it, or show why not (nothing starts then)."""
        form = self.form
        reasons = form.validate(self.session)
        if reasons:
            log.warning("refused %s: %s", form.procedure_cls.name, "; ".join(reasons))
            return None
        settings = form.settings()
        changed = form.changed_settings()
        title = form.procedure_cls.name + (
            " (" + ", ".join(f"{k}={v}" for k, v in changed.items()) + ")" if changed else "")
        job = ProcedureJob(title=title, procedure=form.procedure_cls.name, settings=settings,
                           out_dir=self.out_dir)
        self._enqueue(job)
        return job

    def _enqueue(self, job: Job) -> None:
        self.queue.append(job)
        self.queue_list.addItem(job.title)
        log.info("queued %s", job.title)
        self._next()

    def start(self) -> ProcedureJob | None:
        """Queue the form's run and run the queue (resumes a held queue)."""
        self.paused = False
        return self.enqueue_current()

    def resume(self) -> None:
        self.paused = False
        self._next()
        self._update_buttons()

    def clear_queue(self) -> None:
        self.queue.clear()
        self.queue_list.clear()
        self._update_buttons()

    def abort(self) -> None:
        """Stop the running job at its next safe point and hold the queue."""
        self.paused = True
        if self.worker.busy:
            log.warning("abort requested: stopping %s at the next safe point",
                        self.worker.job.title if self.worker.job else "the job")
            self.worker.abort()
        self._update_buttons()

    def generate(self, n: int) -> GenerationJob:
        """Queue a generation of ``n`` images (runs now if idle)."""
        self.paused = False
        job = GenerationJob(title=f"generation ({n} images)", n=n,
                            factory=self.generation_source
                            or self.generation.source_factory(),
                            controls=self.generation.controls,
                            out_dir=self.out_dir)
        self._enqueue(job)
        return job

    def _next(self) -> None:
        if self.worker.busy or self.paused or not self.queue or self._closing:
            self._update_buttons()
            return
        if self.session is None:
            self.time_label.setText("waiting for the bench to connect")
            return
        job = self.queue.pop(0)
        self.queue_list.takeItem(0)
        self.abort_latency_s = None
        self.worker.start(job, self.session)
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.worker.busy
        self.abort_button.setEnabled(busy)
        self.resume_button.setEnabled(self.paused and bool(self.queue))
        self.clear_button.setEnabled(bool(self.queue))
        self.bench_panel.set_busy(busy, self.session is not None)
        self.generation.start_button.setEnabled(self.session is not None)
        self.generation.stop_button.setEnabled(busy and isinstance(self.worker.job,
                                                                   GenerationJob))

    # ------------------------------------------------------------------ events
    def _context(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        from ftjlab.controller import ArrayController

        if self.session is None:
            return {}
        c = ArrayController(self.session)  # config only
        context: dict[str, Any] = {"rows": c.rows, "cols": c.cols}
        if "read_v" in params:
            context["g_range"] = c.conductance_range(float(params["read_v"]))
        return context

    def _on_events(self, events: list[Event]) -> None:
        for topic, data in events:
            view = self.current_view
            if topic == "record" and view is not None:
                view.feed(*data)
            elif topic == "progress":
                self._progress(float(data))
            elif topic == "images":
                self.generation.add(*data)
            elif topic == "result" and view is not None:
                view.result(*data)
            elif topic == "begin":
                self._begin(*data)
            elif topic == "status":
                self._run_status(data)
            elif topic == "job-started":
                self._job_started(data)
            elif topic == "job-finished":
                self._job_finished(*data)

    def _job_started(self, job: Job) -> None:
        self.job_started_at = time.perf_counter()
        self.estimate_s = 0.0
        self.progress.setValue(0)
        self.time_label.setText("starting…")
        if isinstance(job, ProcedureJob):
            self.current_view = self.views[job.procedure]
            self.live_stack.setCurrentWidget(self.current_view)
            self.tabs.setCurrentWidget(self.live_stack)
        else:
            self.current_view = None
            self.tabs.setCurrentWidget(self.generation)
            self.generation.begin()
        log.info("started %s", job.title)
        self._update_buttons()

    def _begin(self, name: str, params: dict[str, Any], estimate_s: float) -> None:
        self.estimate_s = float(estimate_s)
        if self.current_view is not None:
            self.current_view.begin(params, self._context(name, params))
        if estimate_s:
            self.time_label.setText(f"estimated instrument time {estimate_s:.3g} s")

    def _progress(self, percent: float) -> None:
        self.progress.setValue(round(10 * percent))
        elapsed = time.perf_counter() - self.job_started_at
        if 0 < percent < 100:
            left = elapsed * (100 - percent) / percent
            self.time_label.setText(f"{percent:5.1f} % · elapsed {elapsed:.1f} s · "
                                    f"remaining ~{left:.1f} s")
        else:
            self.time_label.setText(f"{percent:5.1f} % · elapsed {elapsed:.1f} s")

    def _run_status(self, outcome: Any) -> None:
        if self.current_view is not None:
            self.current_view.finish(outcome.status, outcome.error)

    def _job_finished(self, job: Job, outcome: JobOutcome) -> None:
        self.last_outcome = outcome
        self.outcomes.append(outcome)
        if self.worker.abort_requested_at is not None:
            self.abort_latency_s = time.perf_counter() - self.worker.abort_requested_at
        self.worker.wait(5)
        where = f" → {outcome.run.path}" if outcome.run is not None else ""
        message = f"{job.title}: {outcome.status}" + (
            f" ({outcome.error})" if outcome.error else "") + f" in {outcome.wall_s:.2f} s{where}"
        if self.abort_latency_s is not None:
            message += f"; stopped {self.abort_latency_s:.2f} s after abort, bench safe"
        if outcome.status in ("completed", "aborted"):
            log.info(message)
        else:
            log.error(message)
        if outcome.status == "refused" and isinstance(job, ProcedureJob):
            self.forms[job.procedure].errors.setText(outcome.error)
        if isinstance(job, GenerationJob):
            self.generation.finish(outcome.status, outcome.error,
                                   outcome.run.path if outcome.run is not None else None)
        elif outcome.run is None and self.current_view is not None:
            self.current_view.finish(outcome.status, outcome.error)
        self.time_label.setText(f"{outcome.status} · {outcome.wall_s:.1f} s")
        if self.session is not None:
            self.bench_panel.show_safe_state(self.session)
        self.browser.refresh()
        self._update_buttons()
        self._next()

    # ------------------------------------------------------------------ frames
    def frame(self) -> None:
        """Repaint what is visible and changed (called by the frame timer)."""
        t0 = time.perf_counter()
        drew = False
        if self.tabs.currentWidget() is self.live_stack:
            view = self.live_stack.currentWidget()
            if isinstance(view, LiveView):
                drew = view.redraw()
        elif self.tabs.currentWidget() is self.generation:
            drew = self.generation.redraw()
        elif self.tabs.currentWidget() is self.browser:
            view = self.browser.stack.currentWidget()
            if isinstance(view, LiveView):
                drew = view.redraw()
        if drew:
            self.frame_ms.append(1e3 * (time.perf_counter() - t0))

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop a running job safely (its data kept), then close the bench: here, or on the
        job's thread after the job if it has not stopped within :attr:`stop_wait_s`."""
        self._closing = True
        self.queue.clear()
        if self.worker.busy:
            log.warning("window closing: stopping the running job at its next safe point")
            self.worker.abort()
            self.worker.wait(self.stop_wait_s)
            self.worker.pump.drain()
        for job in list(self._background):
            job.wait(30)
        if self._background:  # a connection finished meanwhile: deliver it (it closes)
            from PyQt6.QtWidgets import QApplication

            QApplication.processEvents()
        for view in (*self.views.values(), *self.browser.views.values()):
            view.wait_background(30)
        self.frame_timer.stop()
        session, sim_proc = self.session, self._sim_proc
        self.session, self._sim_proc = None, None
        if not self.worker.when_idle(lambda: _close_bench(session, sim_proc)):
            log.error("window closing: %s did not stop within %g s; its thread shuts the "
                      "bench down and closes it when it ends",
                      self.worker.job.title if self.worker.job else "the job", self.stop_wait_s)
        self.log_panel.detach()
        sys.setswitchinterval(self._switch_interval)
        event.accept()


def _close_bench(session: Any, sim_proc: Any) -> None:
    """Shut the bench down safely and close it, then stop its sim-server process (if any)."""
    try:
        if session is not None:
            session.close()
    finally:
        if sim_proc is not None:
            sim_proc.stop()
