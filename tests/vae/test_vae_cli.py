"""``ftjlab vae-eval``: discovered by the CLI, figures as a table and JSON, bad input -> 2."""

from __future__ import annotations

import json

from ftjlab.cli import main


def test_vae_eval_software_mode(tmp_path, capsys):
    out = tmp_path / "eval.json"
    grid = tmp_path / "grid"
    code = main(["vae-eval", "--modes", "software", "-n", "300", "--json", str(out),
                 "--grid", str(grid)])
    assert code == 0
    text = capsys.readouterr().out
    assert "software" in text and "FCD" in text
    (row,) = json.loads(out.read_text())
    assert row["mode"] == "software" and row["n"] == 300
    assert row["fcd_ratio"] == 1.0
    assert row["classes_present"] == 10
    png = (tmp_path / "grid-software.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_vae_eval_bad_input(capsys):
    assert main(["vae-eval", "--modes", "dream"]) == 2
    assert "modes" in capsys.readouterr().err
    assert main(["vae-eval", "--modes", "software", "-n", "3"]) == 2
    assert main(["vae-eval", "--interval", "0", "--modes", "measured-map"]) == 2
    assert main(["vae-eval", "--in-array-layers", "x", "--modes", "in-array"]) == 2
