"""The Generation tab on a bench opened through ``ftjlab sim-server`` (TCP, another process):
the grid fills from RTN latents acquired through the SMU buffers and a decoder built from
measured maps; changing the bias mid-run changes the commands sent to the SMU from the next
batch (seen in the recorded traffic); the bench ends safe; the run holds every image's
settings; the GUI's event loop keeps running (gaps p99 <= 50 ms)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import Qt, QTimer

from ftjlab.store import list_runs, read_dataset

LEVEL = re.compile(r"smua\.source\.levelv\s*=\s*([-+0-9.eE]+)")


def _map_file(session, root: Path) -> str:
    """Every decoder load's map in vae-program's layout: the targets with 1 % cell-to-cell
    error (programming all loads through TCP would take the test far too long)."""
    from ftjlab.controller import ArrayController
    from ftjlab.vae.bench import decoder_mapping, write_map_file

    _, mapping = decoder_mapping(ArrayController(session), 32)
    rng = np.random.default_rng(1)
    maps = {k: mapping.load_targets(k) * (1 + 0.01 * rng.standard_normal(mapping.array_shape))
            for k in range(mapping.n_loads)}
    return str(write_map_file(root / "maps", maps, source="targets with 1 % error (test)"))


def _record_writes(instrument, sent: list[str]) -> None:
    """Record every message that leaves for ``instrument`` (after its guard passed it), at
    its transport adapter."""
    from ftjlab.instruments.safety import raw_adapter

    adapter = raw_adapter(instrument.adapter)
    inner = adapter._write

    def write(command, **kwargs):
        sent.append(command)
        return inner(command, **kwargs)

    adapter._write = write


def _sent_levels(sent: list[str]) -> list[float]:
    return [float(v) for message in sent for v in LEVEL.findall(message)]


def test_generation_tab_on_a_sim_server_bench(qtbot, tmp_path):
    from ftjlab.gui.main_window import MainWindow

    win = MainWindow(seed=13, out_dir=tmp_path / "runs", connect=False, sim_server=True)
    qtbot.addWidget(win)
    win.show()
    try:
        win.connect_bench(None, 13, wait=True)  # `ftjlab gui --sim-server`
        session = win.session
        assert session is not None, win.bench_panel.state.text()
        assert session.sim is None and win._sim_proc.proc.poll() is None  # another process
        maps = _map_file(session, tmp_path)
        smu = session.instruments["smu"]
        traffic: list[str] = []
        _record_writes(smu, traffic)
        _generate_and_check(qtbot, win, session, smu, maps, traffic)
    finally:
        proc = win._sim_proc
        win.close()  # closes the session (bench safe), then stops the server
        assert proc is None or proc.proc.poll() is not None


def _generate_and_check(qtbot, win, session, smu, maps: str, traffic: list[str]) -> None:
    view = win.generation
    view.latent_source.setCurrentText("bench-rtn")
    view.decoder_mode.setCurrentText("measured-map")
    view.maps_from.setText(maps)
    view.cells.setValue(2)
    view.bias.setValue(0.8)
    view.time.setValue(2.0)
    view.count.setValue(60)
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(5)
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(view.batch_settings) >= 1, timeout=60_000)
    view.bias.setValue(0.6)  # re-tunes the instruments from the next batch
    qtbot.waitUntil(lambda: len(win.outcomes) >= 1 and not win.worker.busy, timeout=90_000)
    timer.stop()
    outcome = win.outcomes[-1]
    assert outcome.status == "completed", outcome.error

    # the grid filled from bench latents, decoded from the measured maps
    assert view.filled_tiles() == 60
    biases = [b for _, b, _, _ in view.batch_settings]
    assert biases[0] == pytest.approx(0.8) and biases[-1] == pytest.approx(0.6)
    assert all(np.isfinite(t) and t > 0 for *_, t in view.batch_settings)

    # the SMU was told the new sampling bias only after the first batch
    sent = [v for v in _sent_levels(traffic) if v > 0.3]
    assert 0.8 in sent and 0.6 in sent, sent
    assert sent.index(0.8) < sent.index(0.6)
    assert 0.8 not in sent[sent.index(0.6):]

    # the run: every image with the settings it was taken with
    path = outcome.run.path
    (info,) = list_runs(path)
    assert info.procedure == "vae-generation" and info.status == "completed"
    settings = read_dataset(path, "sampling")
    images = read_dataset(path, "images")
    assert images.shape == (60, 28, 28) and settings.shape == (60, 6)
    assert settings[0, 0] == pytest.approx(0.8) and settings[-1, 0] == pytest.approx(0.6)
    assert np.all(settings[:, 1] == pytest.approx(2e-3)) and np.all(settings[:, 3] == 2)
    assert np.all(settings[:, 5] > 0)  # instrument time per image
    z = read_dataset(path, "latents")
    assert abs(float(z.mean())) < 0.2 and 0.8 < float(z.std()) < 1.2

    # the bench ended safe: outputs off, matrix open (asked through the drivers)
    assert smu.smua.output_enabled is False and smu.smub.output_enabled is False
    assert session.instruments["matrix"].closed() == []

    # the GUI's event loop never stalled during the bench generation
    gaps_ms = 1e3 * np.diff(ticks)
    p99 = float(np.percentile(gaps_ms, 99))
    print(f"event loop: {gaps_ms.size} ticks, p99 gap {p99:.1f} ms, max {gaps_ms.max():.1f}")
    assert gaps_ms.size > 50 and p99 <= 50.0
