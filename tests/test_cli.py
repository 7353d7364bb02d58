import subprocess
import sys

from ftjlab.cli import main


def test_help_and_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "ftjlab", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "demo" in out.stdout and "bench" in out.stdout


def test_demo_prints_what_it_measured(capsys):
    assert main(["demo", "--size", "16", "--seed", "3"]) == 0
    text = capsys.readouterr().out
    assert "programmed checkerboard" in text and "RTN at 0.8 V" in text and "VMMs" in text
