import subprocess
import sys

from ftjlab.cli import main


def test_help_and_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "ftjlab", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "demo" in out.stdout and "bench" in out.stdout


def _demo_maps(root):
    """Every decoder load's map (targets, 1 % error) in vae-program's layout, so the demo
    skips programming (the full demo, programming included, is in the benchmarks)."""
    import numpy as np

    from ftjlab.controller import ArrayController
    from ftjlab.session import BenchSession
    from ftjlab.vae.bench import decoder_mapping, write_map_file

    with BenchSession.open(seed=3) as session:
        _, mapping = decoder_mapping(ArrayController(session), 32)
    rng = np.random.default_rng(1)
    maps = {k: mapping.load_targets(k) * (1 + 0.01 * rng.standard_normal(mapping.array_shape))
            for k in range(mapping.n_loads)}
    return write_map_file(root / "maps", maps, source="targets, 1 % error"), mapping.n_loads


def test_demo_prints_what_it_measured(capsys, tmp_path):
    out = tmp_path / "demo"
    maps, n_loads = _demo_maps(tmp_path)
    assert main(["demo", "--quick", "--samples", "200", "--seed", "3", "--out", str(out),
                 "--maps", str(maps)]) == 0
    text = capsys.readouterr().out
    assert "[instruments]" in text and "device model" not in text
    summary = text[text.index("ran on"):].splitlines()[2:]
    rows = [line for line in summary if line and not line.startswith(("file:", "PNG:"))]
    assert len(rows) >= 10 and all(line.startswith("instruments ") for line in rows), rows
    assert "FCD measured-map / software" in text
    (path,) = out.glob("*.h5")
    from ftjlab.store import list_runs, read_dataset

    (info,) = list_runs(path)
    assert info.procedure == "demo" and info.status == "completed"
    assert read_dataset(path, "images").shape == (200, 28, 28)
    settings = read_dataset(path, "sampling")
    assert settings.shape == (200, 6) and (settings[:, 5] > 0).all()
    assert read_dataset(path, "tuning_fcd").shape == (2, 2)
    assert read_dataset(path, "measured_maps").shape == (n_loads, 32, 32)
    assert {p.name for p in out.glob("*.png")} == {
        "generated_measured_map.png",
        "generated_software.png",
        "tuning.png",
    }
