"""Run files survive every stop: one trial of each kind (tests/crash_rig.py; the bulk, 50+
trials, is `ftjlab bench store_crash`). After a SIGKILL, a kill between a stream's resize and
its write, or a kill inside ``finish``, ``ftjlab repair`` makes the file open with plain h5py;
after a stop Python saw (signals every 20 ms, an exception or Ctrl-C inside ``finish``, a full
disk) it opens plainly as it is and never says ``running``; every committed block is there,
intact; a live SWMR reader never breaks the writer."""

from __future__ import annotations

import signal
import subprocess
import sys

import crash_rig
import numpy as np
import pytest
from crash_rig import check_file, run_trials

from ftjlab.cli import main
from ftjlab.store import RunWriter, StreamSpec


def test_one_trial_of_every_kind(tmp_path):
    trials = run_trials(tmp_path, 9, seed=14)
    assert {t.kind for t in trials} >= {"sigkill", "torn", "finish-exc", "finish-kbint",
                                        "finish-kill", "reader", "signals"}
    assert {t.kind for t in trials} & {"disk", "disk-raw", "disk-injected"}
    failed = [t for t in trials if not t.ok]
    assert not failed, failed


def test_the_checks_catch_what_they_look_for(tmp_path):
    """The rig is not vacuous: a killed file fails the plain open without repair, and a torn
    block left in place is found."""
    proc = subprocess.run([sys.executable, str(crash_rig.HERE), str(tmp_path), "torn", "8"],
                          capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL
    (path,) = tmp_path.glob("*.h5")
    assert "cannot open" in check_file(path, 4, False, repair=False)
    import h5py

    from ftjlab.h5super import clear_status_flags

    clear_status_flags(path)  # readable now, but the torn block is still there
    assert "torn or zero-filled" in check_file(path, 4, False, repair=False)
    assert main(["repair", str(path)]) == 0
    assert check_file(path, 4, False, repair=False) == ""
    with h5py.File(path, "r") as f:
        (g,) = f["runs"].values()
        assert g["current"].shape == (4 * 4096,) and g.attrs["status"] == "interrupted"


def test_repair_is_idempotent_and_leaves_good_files_alone(tmp_path, capsys):
    writer = RunWriter.create(tmp_path, "ok", {}, {}, {"x": StreamSpec(np.float64, "V")})
    writer.append("x", np.arange(10.0))
    writer.finish("completed")
    before = writer.path.read_bytes()
    assert main(["repair", str(writer.path)]) == 0
    assert "nothing to repair" in capsys.readouterr().out
    assert writer.path.read_bytes() == before


def test_a_full_disk_at_the_start_is_bad_input_and_leaves_nothing(tmp_path, monkeypatch):
    from ftjlab import store
    from ftjlab.errors import BadInput

    monkeypatch.setattr(store, "_free_bytes", lambda folder: 100_000)
    with pytest.raises(BadInput, match="disk full"):
        RunWriter.create(tmp_path, "x", {}, {}, {})
    monkeypatch.setattr(store, "_free_bytes", lambda folder: None)

    def no_space(path):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(store, "_make_reserve", no_space)
    with pytest.raises(BadInput, match="disk full"):
        RunWriter.create(tmp_path, "x", {}, {}, {})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fail_at", ["create", "finish"])
def test_an_exception_anywhere_never_leaves_running(tmp_path, monkeypatch, fail_at):
    from ftjlab import store

    if fail_at == "create":
        monkeypatch.setattr(store, "_make_reserve", lambda p: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            RunWriter.create(tmp_path, "x", {}, {}, {})
        assert list(tmp_path.iterdir()) == []  # no half-made file, no reserve
        return
    writer = RunWriter.create(tmp_path, "x", {}, {}, {"x": StreamSpec(np.float64, "V")})
    monkeypatch.setattr(store, "_store_array", lambda *a: 1 / 0)
    writer.finish("completed", arrays={"r": (np.ones(2), "1")})
    info = store.open_run(writer.path)
    assert info.status == "failed" and "ZeroDivisionError" in info.error
    assert [p.name for p in tmp_path.iterdir()] == [writer.path.name]


def test_sigterm_closes_the_window_like_its_close_button(tmp_path):
    """``ftjlab gui`` ends on SIGTERM/Ctrl-C through the window's own close (a running job
    would be aborted at a safe point): exit 0 (or 1 before the window exists), never 143."""
    import os
    import time

    env = os.environ | {"QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen([sys.executable, "-m", "ftjlab", "gui", "--out", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(4)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 1), err[-500:]
    assert "Traceback" not in err


def test_signal_handler_semantics(monkeypatch):
    """First signal: stop request; a burst right after it: counted; later: one interrupt;
    an interrupt lost inside a C callback re-arms; inside shielded(): counted only."""
    import threading
    import types

    from ftjlab import interrupts

    clock = [100.0]
    monkeypatch.setattr(interrupts.time, "monotonic", lambda: clock[0])
    previous = interrupts.install()
    try:
        stop = threading.Event()
        with interrupts.stop_on(stop):
            interrupts.handler(signal.SIGTERM, None)
            assert stop.is_set()
            interrupts.handler(signal.SIGINT, None)  # same burst: no interrupt
            clock[0] += interrupts.GRACE_S + 0.1
            with interrupts.shielded():
                interrupts.handler(signal.SIGINT, None)  # settling: no interrupt
            with pytest.raises(KeyboardInterrupt):
                interrupts.handler(signal.SIGINT, None)
            interrupts.handler(signal.SIGINT, None)  # once only
            lost = types.SimpleNamespace(exc_value=KeyboardInterrupt(), exc_type=KeyboardInterrupt)
            interrupts._unraisable(lost)  # swallowed by a callback: the next one raises
            with pytest.raises(KeyboardInterrupt):
                interrupts.handler(signal.SIGINT, None)
    finally:
        interrupts.reset()
        interrupts.restore(previous)
    assert signal.getsignal(signal.SIGINT) is previous[signal.SIGINT]
