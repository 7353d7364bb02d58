"""The run browser: the HDF5 run files of a folder, a past run plotted in its procedure's view
(the same views as live runs), and export to CSV or NPZ (``ftjlab export``'s logic)."""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ftjlab.errors import BadInput
from ftjlab.gui.views import LiveView, make_view

log = logging.getLogger(__name__)
COLUMNS = ("started", "procedure", "status", "file", "datasets")


def is_recording(path: Path) -> bool:
    """True while this process records into ``path`` (not opened then: HDF5 would share the
    writer's handle)."""
    from ftjlab import store

    return path.resolve() in store._LIVE


def scan_runs(folder: Path) -> list[Any]:
    """RunInfo of every readable run file in ``folder``, newest first; unreadable files and
    files still recording here are listed with a status saying so."""
    from ftjlab.store import RunInfo, list_runs

    out: list[Any] = []
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.h5"), reverse=True):
        if is_recording(path):
            out.append(RunInfo(path, path.stem, "", "recording", "", "", "", {}, {}, {}, "", {}))
            continue
        try:
            out.extend(reversed(list_runs(path)))
        except BadInput as exc:
            out.append(RunInfo(path, path.stem, "", "unreadable", "", "", str(exc), {}, {}, {},
                               "", {}))
    return out


def export_run(path: Path, run_id: str | None, fmt: str, out: Path | None = None) -> str:
    """Export a run as ``ftjlab export`` does; returns what it printed."""
    from ftjlab.commands.export import run as export

    args = argparse.Namespace(file=str(path), run=run_id, format=fmt,
                              out=str(out) if out else None)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        export(args)
    return buffer.getvalue().strip()


class RunBrowser(QWidget):
    """Folder of runs on the left, the selected run's plot on the right."""

    message = pyqtSignal(str)

    def __init__(self, folder: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs: list[Any] = []
        self.views: dict[str, LiveView] = {}
        self.shown: Any = None
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        layout.addLayout(row)
        row.addWidget(QLabel("Folder"))
        self.folder = QLineEdit(str(folder))
        self.folder.setObjectName("runs-folder")
        self.folder.returnPressed.connect(self.refresh)
        row.addWidget(self.folder, 1)
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose)
        row.addWidget(browse)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        row.addWidget(refresh)
        split = QSplitter(Qt.Orientation.Horizontal)
        layout.addWidget(split, 1)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("runs-table")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.table.cellDoubleClicked.connect(lambda r, _c: self.open_row(r))
        left_layout.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        left_layout.addLayout(buttons)
        self.open_button = QPushButton("Open")
        self.open_button.setObjectName("runs-open")
        self.open_button.clicked.connect(lambda: self.open_row(self.table.currentRow()))
        self.csv_button = QPushButton("Export CSV")
        self.csv_button.clicked.connect(lambda: self.export_selected("csv"))
        self.npz_button = QPushButton("Export NPZ")
        self.npz_button.clicked.connect(lambda: self.export_selected("npz"))
        for b in (self.open_button, self.csv_button, self.npz_button):
            buttons.addWidget(b)
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        left_layout.addWidget(self.details)
        split.addWidget(left)
        self.stack = QStackedWidget()
        self.placeholder = QLabel("Open a run to plot it here.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(self.placeholder)
        split.addWidget(self.stack)
        split.setSizes([420, 800])

    def _choose(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of runs", self.folder.text())
        if folder:
            self.folder.setText(folder)
            self.refresh()

    def refresh(self) -> None:
        """Re-scan the folder."""
        self.runs = scan_runs(Path(self.folder.text()).expanduser())
        self.table.setRowCount(len(self.runs))
        for r, info in enumerate(self.runs):
            values = (info.started, info.procedure, info.status, info.path.name,
                      ", ".join(f"{k} {v[0]}" for k, v in info.datasets.items()))
            for c, value in enumerate(values):
                self.table.setItem(r, c, QTableWidgetItem(str(value)))

    def row_of(self, path: Path) -> int:
        """Table row of a run file (-1 if not listed)."""
        for r, info in enumerate(self.runs):
            if info.path.resolve() == Path(path).resolve():
                return r
        return -1

    def open_row(self, row: int) -> LiveView | None:
        """Plot the run on ``row`` in its procedure's view."""
        if not 0 <= row < len(self.runs):
            return None
        info = self.runs[row]
        if info.status in ("recording", "unreadable") or not info.procedure:
            self.message.emit(f"{info.path.name}: {info.status} {info.error}".strip())
            return None
        view = self.views.get(info.procedure)
        if view is None:
            view = make_view(info.procedure)
            self.views[info.procedure] = view
            self.stack.addWidget(view)
        try:
            view.load_run(info, context_of(info))
        except (BadInput, OSError, KeyError, ValueError) as exc:
            self.message.emit(f"cannot plot {info.path.name}: {exc}")
            return None
        view.redraw(force=True)
        self.stack.setCurrentWidget(view)
        self.shown = info
        self.details.setText(
            f"<b>{info.run_id}</b><br>status {info.status}"
            + (f" ({info.error})" if info.error else "")
            + f"<br>started {info.started}, finished {info.finished}<br>parameters: "
            + ", ".join(f"{k}={v}{' ' + info.units[k] if info.units.get(k) else ''}"
                        for k, v in info.parameters.items())
        )
        self.message.emit(f"opened {info.path.name} ({info.procedure}, {info.status})")
        return view

    def export_selected(self, fmt: str) -> str:
        row = self.table.currentRow()
        if not 0 <= row < len(self.runs):
            self.message.emit("export: select a run first")
            return ""
        info = self.runs[row]
        try:
            text = export_run(info.path, info.run_id, fmt)
        except (BadInput, OSError) as exc:
            text = f"export failed: {exc}"
        self.message.emit(text)
        return text


def context_of(info: Any) -> dict[str, Any]:
    """What a view needs beyond the parameters, from a run's bench snapshot."""
    array = dict(info.bench.get("array", {}) or {})
    out: dict[str, Any] = {}
    if "rows" in array and "cols" in array:
        out["rows"], out["cols"] = int(array["rows"]), int(array["cols"])
    return out
