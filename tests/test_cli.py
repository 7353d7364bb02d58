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
    (path,) = out.glob("*.h5")
    from ftjlab.store import list_runs, read_dataset

    (info,) = list_runs(path)
    assert info.procedure == "demo" and info.status == "completed"
    assert read_dataset(path, "images").shape == (200, 28, 28)
    assert read_dataset(path, "tuning_fcd").shape == (2, 2)
    assert read_dataset(path, "bench_measured_map").shape == (32, 32)
    assert {p.name for p in out.glob("*.png")} == {
        "generated_measured_map.png",
        "generated_software.png",
        "tuning.png",
    }
