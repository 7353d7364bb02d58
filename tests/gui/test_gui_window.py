"""The window driven as a user would (pytest-qt, offscreen): run, watch, abort, refuse bad
input, generate, browse past runs, close during a run."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import RTN_CELL, pick, set_field
from PyQt6.QtCore import Qt, QTimer

from ftjlab.gui.generation import toy_source
from ftjlab.store import open_run, read_dataset


def _click(qtbot, button) -> None:
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _finished(window, count: int):
    return lambda: len(window.outcomes) >= count and not window.worker.busy


def _bench_safe(session) -> None:
    """Simulated bench: matrix open, every source output off (model and drivers agree)."""
    assert session.sim.closed() == []
    state = session.sim.describe()
    assert not any(d["output_on"] for d in state["terminals"].values()), state["terminals"]
    smu = session.instruments["smu"]
    assert smu.smua.output_enabled is False
    assert smu.smub.output_enabled is False
    assert session.instruments["pg"].ch_1.output is False


def test_rtn_run_watch_trace_abort_leaves_bench_safe_and_keeps_data(qtbot, window, tmp_path):
    pick(window, "rtn-acquisition")
    for name, text in {**RTN_CELL, "readings": "2000000", "block": "10000"}.items():
        set_field(qtbot, window, name, text)
    assert window.form.validate(window.session) == []
    ticks: list[float] = []  # the GUI thread's event loop, sampled every 10 ms
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    _click(qtbot, window.start_button)
    view = window.views["rtn-acquisition"]
    assert window.live_stack.currentWidget() is view

    # the trace view updates as blocks arrive (fed by the worker's events)
    qtbot.waitUntil(lambda: len(view.trace) >= 30_000 and view.frames >= 2, timeout=30_000)
    qtbot.wait(300)
    timer.stop()
    gaps_ms = 1e3 * np.diff(ticks)
    print(f"event loop during the run: {gaps_ms.size} ticks, median {np.median(gaps_ms):.0f} "
          f"ms, max {gaps_ms.max():.0f} ms")
    assert gaps_ms.size >= 5 and gaps_ms.max() < 2000  # the window never freezes
    x, y = view.curve.getData()
    assert x is not None and 0 < y.size <= 2 * max(400, int(view.trace_plot.width())) + 2
    assert window.progress.value() > 0
    assert "remaining" in window.time_label.text()
    assert view.levels is not None  # live two-level fit on the histogram

    t_abort = time.perf_counter()
    _click(qtbot, window.abort_button)
    qtbot.waitUntil(_finished(window, 1), timeout=10_000)
    outcome = window.last_outcome
    assert outcome.status == "aborted"
    assert window.abort_latency_s is not None and window.abort_latency_s < 1.0
    assert time.perf_counter() - t_abort < 5.0
    _bench_safe(window.session)

    info = open_run(outcome.run.path)
    assert info.status == "aborted"
    current = read_dataset(outcome.run.path, "current")
    assert 30_000 <= current.size < 2_000_000
    assert current.size == len(view.trace)  # the view saw every recorded block
    np.testing.assert_array_equal(current, view.trace.samples)
    # the fitted levels of the finished run (HMM on the latest readings)
    assert view.wait_background(60)
    qtbot.waitUntil(lambda: "fit" in view.stats.text(), timeout=5_000)
    lo, hi = view.levels
    assert 0.2 < (hi - lo) / hi < 0.5  # cell (3, 7): ~35 % two-level RTN
    assert "aborted" in "\n".join(window.log_panel.lines())


BAD_INPUT = [
    ("bias_v", "2.0", "outside 0 .. 1.5 V"),  # out of the parameter's range
    ("bias_v", "high", "'high' is not a number"),  # wrong type
    ("readings", "12.5", "not an integer"),  # wrong type
    ("readings", "", "empty"),
    ("interval_s", "nan", "not a finite number"),
    ("bias_v", "1.4", "max_sample_voltage_v"),  # the bench's safety limit
    ("row", "40", "row=40"),  # outside the 32 x 32 array
    ("nplc", "25", "aperture"),  # cross-parameter check: aperture > interval
]


def test_bad_input_is_refused_in_the_form_before_anything_starts(qtbot, window):
    pick(window, "rtn-acquisition")
    for field, text, reason in BAD_INPUT:
        set_field(qtbot, window, field, text)
        _click(qtbot, window.start_button)
        qtbot.wait(20)
        errors = window.form.errors.text()
        assert reason in errors, (field, text, errors)
        assert field in errors or reason == "aperture", (field, errors)
        assert not window.worker.busy and window.queue == [] and window.outcomes == []
        assert not window.out_dir.exists() or list(window.out_dir.glob("*.h5")) == []
        # fixing the field clears the refusal
        set_field(qtbot, window, field, str(window.form.parameters[field].default))
        assert window.form.validate(window.session) == []
        assert window.form.errors.text() == ""
    assert "refused rtn-acquisition" in "\n".join(window.log_panel.lines())


def test_queue_runs_jobs_in_order(qtbot, window):
    pick(window, "iv-sweep")
    set_field(qtbot, window, "points", "10")
    set_field(qtbot, window, "nplc", "0.01")
    _click(qtbot, window.queue_button)
    set_field(qtbot, window, "v_max", "0.5")
    _click(qtbot, window.queue_button)
    assert window.worker.busy and len(window.queue) == 1
    assert window.queue_list.count() == 1
    qtbot.waitUntil(_finished(window, 2), timeout=30_000)
    runs = [open_run(o.run.path) for o in window.outcomes]
    assert [r.status for r in runs] == ["completed", "completed"]
    assert [r.parameters["v_max"] for r in runs] == [1.0, 0.5]
    iv = window.views["iv-sweep"].iv.data  # the view shows the latest run
    assert iv.shape == (19, 2) and iv[:, 0].max() == pytest.approx(0.5)
    _bench_safe(window.session)


def test_generation_fills_the_grid_and_controls_retune_the_next_batches(qtbot, tmp_path):
    from ftjlab.gui.main_window import MainWindow

    win = MainWindow(out_dir=tmp_path, connect=False,
                     generation_source=toy_source(seed=1, batch=10, delay_s=0.05))
    qtbot.addWidget(win)
    win.show()
    win.connect_bench(None, 5, wait=True)
    gen = win.generation
    gen.count.setValue(100)
    _click(qtbot, gen.start_button)
    qtbot.waitUntil(lambda: gen.images_shown >= 20, timeout=10_000)
    gen.bias.setValue(0.4)  # a user turns the bias down while it runs
    gen.time.setValue(10.0)
    qtbot.waitUntil(_finished(win, 1), timeout=20_000)
    assert win.last_outcome.status == "completed"
    assert gen.filled_tiles() == 100
    gen.redraw(force=True)
    tiles = gen.gallery.mosaic.reshape(10, 30, 10, 30)[:, 1:29, :, 1:29]
    assert np.all(np.isfinite(tiles)) and tiles.max() > 0.5
    settings = gen.batch_settings
    assert sum(n for n, *_ in settings) == 100
    assert settings[0][1:3] == (pytest.approx(0.8), pytest.approx(4e-3))
    assert settings[-1][1:3] == (pytest.approx(0.4), pytest.approx(10e-3))
    assert gen.gallery.latent_n == 100 * 16
    assert "std" in gen.stats.text()
    # recorded as a run: every image with its latents and the settings it was taken with
    path = win.last_outcome.run.path
    assert open_run(path).status == "completed" and path.name in gen.caption.text()
    assert read_dataset(path, "images").shape == (100, 28, 28)
    assert read_dataset(path, "latents").shape == (100, 16)
    sampling = read_dataset(path, "sampling")
    assert [tuple(row[:2]) for row in sampling[[0, -1]]] == [(0.8, 4e-3), (0.4, 10e-3)]
    # and the browser shows it again
    win.browser.refresh()
    view = win.browser.open_row(win.browser.row_of(path))
    assert view.gallery.filled_tiles() == 100 and "0.4..0.8 V" in view.stats.text()
    win.close()


def test_generation_with_the_vae_on_rtn_latents(qtbot, window):
    pytest.importorskip("ftjlab.vae.model")
    gen = window.generation
    gen.count.setValue(40)
    _click(qtbot, gen.start_button)
    qtbot.waitUntil(_finished(window, 1), timeout=60_000)
    assert window.last_outcome.status == "completed", window.last_outcome.error
    assert gen.filled_tiles() == 40
    z_mean, z_std = gen.gallery.moments()
    assert abs(z_mean) < 0.05 and z_std == pytest.approx(1.0, abs=0.05)  # standardised RTN
    assert np.nanmax(gen.gallery.mosaic) <= 1.0 and np.nanmin(gen.gallery.mosaic) >= 0.0
    _bench_safe(window.session)


def test_open_a_past_run_from_the_browser_and_export_it(qtbot, window):
    from ftjlab.procedures import PROCEDURES, build

    from ftjlab.runner import run_procedure

    procedure = build(PROCEDURES["iv-sweep"], {"points": "5", "nplc": "0.01", **RTN_CELL})
    outcome = run_procedure(procedure, window.session, window.out_dir)
    browser = window.browser
    window.tabs.setCurrentWidget(browser)
    browser.refresh()
    row = browser.row_of(outcome.path)
    assert row >= 0
    browser.table.selectRow(row)
    _click(qtbot, browser.open_button)
    view = browser.views["iv-sweep"]
    assert browser.stack.currentWidget() is view
    assert view.iv.data.shape == (9, 2)
    np.testing.assert_array_equal(view.iv.data, read_dataset(outcome.path, "iv"))
    assert "completed" in view.caption.text() and outcome.path.name in view.caption.text()
    assert "v_max=1.0" in browser.details.text()
    text = browser.export_selected("csv")
    folder = Path(str(outcome.path).removesuffix(".h5") + "_csv")
    assert "wrote" in text and (folder / "iv.csv").is_file()


def test_closing_the_window_during_a_run_stops_it_safely_and_keeps_its_data(qtbot, window):
    pick(window, "rtn-acquisition")
    for name, text in {**RTN_CELL, "readings": "2000000", "block": "10000"}.items():
        set_field(qtbot, window, name, text)
    _click(qtbot, window.start_button)
    view = window.views["rtn-acquisition"]
    qtbot.waitUntil(lambda: len(view.trace) >= 20_000, timeout=30_000)
    session = window.session
    window.close()
    assert not window.worker.busy
    (path,) = window.out_dir.glob("*.h5")
    info = open_run(path)
    assert info.status == "aborted"
    assert info.datasets["current"][0][0] >= 20_000
    assert session.sim.closed() == []  # closed by the session's safe shutdown, too
    assert window.session is None


def test_bench_panel_disconnects_and_reconnects(qtbot, window):
    panel = window.bench_panel
    table = panel.instruments
    assert [table.item(r, 1).text() for r in range(table.rowCount())] == ["2636B", "81160A",
                                                                          "707B"]
    assert all(table.item(r, 3).text() for r in range(3))  # IDN strings
    assert table.item(0, 4).text() == "simulated (in-process)"
    keys = [panel.limits.item(r, 0).text() for r in range(panel.limits.rowCount())]
    bench_keys = list(dict(window.session.config.limits))
    assert keys[: len(bench_keys)] == bench_keys  # the bench's own limits first
    hardware = [k for k in keys if k.endswith("(instrument)")]  # then each instrument's own
    assert any(k.startswith("smu") for k in hardware) and any(k.startswith("pg") for k in hardware)
    assert "safe" in panel.safe_state.text()
    session = window.session
    _click(qtbot, panel.disconnect_button)
    assert window.session is None and table.item(0, 4).text() == "disconnected"
    assert session.sim.closed() == []
    pick(window, "iv-sweep")
    _click(qtbot, window.start_button)  # queued: waits for a bench
    assert window.queue and not window.worker.busy
    assert "waiting for the bench" in window.time_label.text()
    _click(qtbot, panel.connect_button)
    qtbot.waitUntil(_finished(window, 1), timeout=30_000)  # connected, then the run went
    assert window.last_outcome.status == "completed"
    assert table.item(0, 4).text() == "simulated (in-process)"
