"""``ftjlab gui``: opens the window (offscreen here), or says how to run without a display."""

from __future__ import annotations

import contextlib

from ftjlab.cli import main


def test_gui_without_a_display_says_how_to_run_headless(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert main(["gui"]) == 1
    err = capsys.readouterr().err
    assert "no display" in err and "xvfb-run" in err and "ftjlab demo" in err


def test_gui_opens_the_window_on_the_simulated_bench_and_closes(qtbot, tmp_path, monkeypatch):
    from PyQt6.QtWidgets import QApplication

    from ftjlab.gui.main_window import MainWindow

    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    seen: list[MainWindow] = []

    def exec_(self) -> int:  # the event loop, without ending the test's QApplication
        seen.extend(w for w in self.topLevelWidgets() if isinstance(w, MainWindow)
                    and w.isVisible())
        qtbot.waitUntil(lambda: seen and not seen[-1].isVisible(), timeout=20_000)
        return 0

    monkeypatch.setattr(QApplication, "exec", exec_)
    monkeypatch.setattr(QApplication, "quit", lambda *a: None)
    assert main(["gui", "--quit-after", "1.0", "--out", str(tmp_path), "--seed", "3"]) == 0
    assert seen and seen[-1].session is None  # it connected, then closed the bench
    assert seen[-1].bench_panel.instruments.rowCount() == 3


def test_gui_is_listed_in_the_help(capsys):
    with contextlib.suppress(SystemExit):
        main(["--help"])
    assert "gui" in capsys.readouterr().out


def test_gui_with_a_bad_bench_file_exits_2_naming_it(tmp_path, capsys):
    bench = tmp_path / "bench.toml"
    bench.write_text("[instruments.smu]\nmodel = '2636B'\nbogus = [\n")
    assert main(["gui", "--bench", str(bench)]) == 2
    assert "bench.toml" in capsys.readouterr().err
