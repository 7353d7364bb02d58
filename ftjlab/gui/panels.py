"""The bench panel (instruments, limits, connect / disconnect) and the log panel."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

INSTRUMENT_COLUMNS = ("name", "model", "resource", "IDN", "state")


def _table(columns: tuple[str, ...]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


class BenchPanel(QWidget):
    """Which bench, its instruments (model, resource, IDN, connected / simulated) and limits.

    ``connect_requested(path_or_empty, seed_or_minus_1)`` and ``disconnect_requested`` are
    handled by the main window (connecting runs off the GUI thread)."""

    connect_requested = pyqtSignal(str, int)
    disconnect_requested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        layout.addLayout(row)
        row.addWidget(QLabel("Bench config"))
        self.path = QLineEdit()
        self.path.setObjectName("bench-path")
        self.path.setPlaceholderText("(shipped simulated bench)")
        row.addWidget(self.path, 1)
        browse = QPushButton("Open…")
        browse.clicked.connect(self._browse)
        row.addWidget(browse)
        row.addWidget(QLabel("seed"))
        self.seed = QSpinBox()
        self.seed.setRange(-1, 2**31 - 1)
        self.seed.setSpecialValueText("config")
        self.seed.setValue(-1)
        row.addWidget(self.seed)
        self.connect_button = QPushButton("Connect")
        self.connect_button.setObjectName("bench-connect")
        self.disconnect_button = QPushButton("Disconnect")
        self.disconnect_button.setObjectName("bench-disconnect")
        self.connect_button.clicked.connect(
            lambda: self.connect_requested.emit(self.path.text().strip(), self.seed.value()))
        self.disconnect_button.clicked.connect(self.disconnect_requested.emit)
        row.addWidget(self.connect_button)
        row.addWidget(self.disconnect_button)
        self.state = QLabel("not connected")
        self.state.setObjectName("bench-state")
        self.state.setWordWrap(True)
        layout.addWidget(self.state)
        layout.addWidget(QLabel("<b>Instruments</b>"))
        self.instruments = _table(INSTRUMENT_COLUMNS)
        layout.addWidget(self.instruments, 1)
        layout.addWidget(QLabel("<b>Safety limits</b> (checked before any command is sent)"))
        self.limits = _table(("limit", "value"))
        layout.addWidget(self.limits, 2)
        self.array = QLabel("")
        layout.addWidget(self.array)
        self.safe_state = QLabel("")
        self.safe_state.setObjectName("bench-safe-state")
        self.safe_state.setWordWrap(True)
        layout.addWidget(self.safe_state)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Bench config", "", "TOML (*.toml)")
        if path:
            self.path.setText(path)

    def set_busy(self, busy: bool, connected: bool) -> None:
        """Connecting / disconnecting is not allowed while a job runs."""
        self.connect_button.setEnabled(not busy and not connected)
        self.disconnect_button.setEnabled(not busy and connected)

    def show_session(self, session: Any, config: Any = None) -> None:
        """Fill the tables from a connected session (or just a config, disconnected)."""
        config = session.config if session is not None else config
        self.instruments.setRowCount(0)
        self.limits.setRowCount(0)
        if config is None:
            self.state.setText("not connected")
            self.array.setText("")
            return
        sim = session is not None and session.sim is not None
        for name, inst in config.instruments.items():
            if session is None:
                state = "disconnected"
            elif inst.simulated and sim:
                state = "simulated (in-process)"
            else:
                state = "connected"
            idn = session.idn.get(name, "") if session is not None else ""
            values = (name, inst.model, inst.resource, idn, state)
            r = self.instruments.rowCount()
            self.instruments.insertRow(r)
            for c, value in enumerate(values):
                self.instruments.setItem(r, c, QTableWidgetItem(str(value)))
        for key, value in dict(config.limits).items():
            r = self.limits.rowCount()
            self.limits.insertRow(r)
            self.limits.setItem(r, 0, QTableWidgetItem(key))
            self.limits.setItem(r, 1, QTableWidgetItem(f"{value:g}" if isinstance(
                value, int | float) else str(value)))
        # the instruments' own protections, programmed at session start (the second line)
        hardware = getattr(session, "hardware_limits", None) or {}
        for name, programmed in hardware.items():
            for part, values in programmed.items():
                items = values.items() if isinstance(values, dict) else [(part, values)]
                for key, value in items:
                    r = self.limits.rowCount()
                    self.limits.insertRow(r)
                    where = f"{name}.{part}" if isinstance(values, dict) else name
                    self.limits.setItem(r, 0, QTableWidgetItem(f"{where} {key} (instrument)"))
                    self.limits.setItem(r, 1, QTableWidgetItem(
                        f"{value:g}" if isinstance(value, int | float)
                        and not isinstance(value, bool) else str(value)))
        if getattr(session, "supervisor", None) is not None:
            r = self.limits.rowCount()
            self.limits.insertRow(r)
            self.limits.setItem(r, 0, QTableWidgetItem("dead-man supervisor (process)"))
            self.limits.setItem(r, 1, QTableWidgetItem(f"pid {session.supervisor.pid}"))
        a = config.array
        seed = f", seed {session.sim.seed}" if sim else ""
        self.array.setText(f"Array: {a.rows} word lines x {a.cols} bit lines{seed}")
        self.show_safe_state(session)
        where = config.source
        self.state.setText(f"{'connected' if session is not None else 'disconnected'}: "
                           f"{config.description or where} ({where})")


    def show_safe_state(self, session: Any) -> None:
        """The simulated bench's switch and source state (read from the model, no I/O);
        call only while no job runs."""
        if session is None or session.sim is None:
            self.safe_state.setText("")
            return
        state = session.sim.describe()
        on = [t for t, d in state["terminals"].items() if d["output_on"]]
        closed = state["closed"]
        safe = not on and not closed
        self.safe_state.setText(
            f"<b>Bench state</b> (simulated): {'safe' if safe else 'ACTIVE'} · closed "
            f"crosspoints: {', '.join(closed) if closed else 'none'} · outputs on: "
            f"{', '.join(on) if on else 'none'} · virtual clock {state['clock_s']:.4g} s"
        )


class _LogSignal(QObject):
    line = pyqtSignal(str)


class QtLogHandler(logging.Handler):
    """A logging handler that hands formatted records to the GUI thread (queued signal)."""

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.signal = _LogSignal()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                            "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(RuntimeError):  # the panel is gone (window closed)
            self.signal.line.emit(self.format(record))


class LogPanel(QPlainTextEdit):
    """Read-only log: the ``ftjlab`` loggers and the window's own messages."""

    def __init__(self, parent: QWidget | None = None, max_lines: int = 5000) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(max_lines)
        self.setObjectName("log")
        self.handler = QtLogHandler()
        self.handler.signal.line.connect(self.appendPlainText)
        self._previous_level: int | None = None

    def attach(self, logger_name: str = "ftjlab") -> None:
        """Show INFO and above of ``logger_name`` (its level is restored by detach)."""
        logger = logging.getLogger(logger_name)
        logger.addHandler(self.handler)
        self._previous_level = logger.level
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)

    def detach(self, logger_name: str = "ftjlab") -> None:
        logger = logging.getLogger(logger_name)
        logger.removeHandler(self.handler)
        if self._previous_level is not None:
            logger.setLevel(self._previous_level)
            self._previous_level = None

    def lines(self) -> list[str]:
        return self.toPlainText().splitlines()
