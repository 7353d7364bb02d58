"""``vae-program`` and ``vae-generate`` on the in-process simulated bench (issue 6)."""

from pathlib import Path

import numpy as np
import pytest
from ftjlab.procedures import PROCEDURES, build
from ftjlab.procedures.vae import decoder_mapping, write_map_file

from ftjlab.controller import ArrayController
from ftjlab.runner import run_procedure
from ftjlab.session import BenchSession
from ftjlab.store import list_runs, read_dataset


def test_vae_program_writes_targets_maps_and_pulses(tmp_path: Path) -> None:
    procedure = build(PROCEDURES["vae-program"], {"max_rows": "2"})
    with BenchSession.open(seed=7) as session:
        outcome = run_procedure(procedure, session, tmp_path)
    assert outcome.status == "completed", outcome.error
    (info,) = list_runs(outcome.path)
    assert info.procedure == "vae-program"
    maps = read_dataset(outcome.path, "measured_maps")
    targets = read_dataset(outcome.path, "targets")
    pulses = read_dataset(outcome.path, "pulses")
    assert maps.shape == targets.shape == pulses.shape == (1, 32, 32)
    signs = read_dataset(outcome.path, "pair_signs")  # pair polarities kept with the maps
    assert signs.shape == (1, 32, 32) and set(np.unique(signs)) <= {-1, 0, 1}
    with BenchSession.open(seed=7) as session:
        _, mapping = decoder_mapping(ArrayController(session), 32)
    assert np.array_equal(signs[0] != 0, np.isfinite(mapping.load_targets(0)))
    done = np.isfinite(targets)
    assert done.sum() == 64 and np.array_equal(np.isfinite(maps), done)
    assert np.all(pulses[done] >= 0) and pulses[~done].sum() == 0
    span = targets[done].max() - targets[done].min()
    assert np.median(np.abs(maps[done] - targets[done])) < 0.05 * span
    assert outcome.results["success_rate"] > 0.8
    with BenchSession.open(seed=7) as session:
        _, mapping = decoder_mapping(ArrayController(session), 32)
    assert outcome.results["n_loads_total"] == mapping.n_loads > 100
    cells = read_dataset(outcome.path, "cells")
    assert cells.shape == (64, 7)


def test_vae_program_refuses_loads_that_do_not_exist(tmp_path: Path) -> None:
    procedure = build(PROCEDURES["vae-program"], {"first_load": "10000"})
    with BenchSession.open(seed=7) as session, pytest.raises(Exception, match="do not exist"):
        run_procedure(procedure, session, tmp_path)


@pytest.fixture(scope="module")
def map_file(bench_map_file) -> Path:
    return bench_map_file


def test_vae_generate_bench_rtn_latents_measured_maps(tmp_path: Path, map_file: Path) -> None:
    settings = {"maps_from": str(map_file), "samples": "200", "png_dir": str(tmp_path)}
    procedure = build(PROCEDURES["vae-generate"], settings)
    with BenchSession.open(seed=7) as session:
        outcome = run_procedure(procedure, session, tmp_path / "runs")
    assert outcome.status == "completed", outcome.error
    images = read_dataset(outcome.path, "images")
    latents = read_dataset(outcome.path, "latents")
    assert images.shape == (200, 28, 28) and images.dtype == np.float32
    assert latents.shape == (200, 16)
    np.testing.assert_allclose(latents.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(latents.std(axis=0), 1, rtol=1e-9)
    assert images.min() >= 0.0 and images.max() <= 1.0
    r = outcome.results
    assert 0.8 < r["fcd_ratio"] < 1.5, r["fcd_ratio"]  # 200 samples: FCD is noisy
    assert r["classes_present"] >= 9 and r["class_entropy_over_ln10"] > 0.85
    png = Path(r["png"])
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_vae_generate_refuses_incomplete_maps(tmp_path: Path) -> None:
    with BenchSession.open(seed=7) as session:
        _, mapping = decoder_mapping(ArrayController(session), 32)
    one = write_map_file(tmp_path, {0: mapping.load_targets(0)})
    procedure = build(PROCEDURES["vae-generate"], {"maps_from": str(one)})
    with BenchSession.open(seed=7) as session, pytest.raises(Exception, match="lacks"):
        run_procedure(procedure, session, tmp_path)


def test_bench_programmer_and_vmm_adapter_match_the_array() -> None:
    from ftjlab.procedures.vae import BenchVMM, bench_programmer

    with BenchSession.open(seed=7) as session:
        c = ArrayController(session)
        _, mapping = decoder_mapping(c, 32)
        targets = mapping.load_targets(0)
        targets[2:] = np.nan  # two word lines: quick
        report = bench_programmer(c)(targets)
        done = np.isfinite(targets)
        assert report.success_rate > 0.9
        assert np.nanmedian(np.abs(report.measured_s - targets)) < 0.5 * mapping.levels.step_s
        vmm = BenchVMM(c)
        array = session.sim.array
        assert vmm.shape == array.shape
        assert vmm.current_factor(0.2) == pytest.approx(float(array.current_factor(0.2)))
        x = np.zeros((2, 32), dtype=np.int64)
        x[:, :2] = [[255, 17], [3, 200]]
        bench = vmm.vmm_batch(x, 8, 0.2, 1e-3)
        ideal = float(array.current_factor(0.2)) * (x @ array.conductance())
        cols = np.flatnonzero(done.any(axis=0))
        np.testing.assert_allclose(bench[:, cols], ideal[:, cols], rtol=0.05)
