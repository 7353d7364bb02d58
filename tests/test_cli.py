import subprocess
import sys

from ftjlab.cli import main


def test_help_and_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "ftjlab", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "demo" in out.stdout and "bench" in out.stdout


def test_demo_prints_what_it_measured(capsys, tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--samples", "200", "--seed", "3", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "[instruments]" in text and "[device model]" in text and "FCD ratio" in text
    assert len(list(out.glob("*.h5"))) == 1
    assert {p.name for p in out.glob("*.png")} == {
        "generated_measured_map.png",
        "generated_software.png",
        "tuning.png",
    }
