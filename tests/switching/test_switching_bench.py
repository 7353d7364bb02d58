"""switching-noise through the instruments on the simulated bench; bad input from the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ftjlab.procedures import PROCEDURES, build
from switching_physics import Cells, with_mirror

from ftjlab.cli import main
from ftjlab.runner import run_procedure
from ftjlab.session import BenchSession
from ftjlab.store import RunWriter, list_runs, read_dataset

TRIALS_SPEC = PROCEDURES["switching-noise"]().streams()["trials"]


def _calibration_file(folder, table: np.ndarray, procedure: str = "switching-noise") -> str:
    writer = RunWriter.create(folder, procedure, {}, {}, {"trials": TRIALS_SPEC})
    writer.append("trials", table)
    writer.finish("completed")
    return str(writer.path)


def _known_law_table(rng) -> np.ndarray:
    rows = []
    for pol in (1, -1):
        for c in range(8):
            for t in (1e-6, 4e-6):
                for v in np.linspace(1.7, 2.2, 11):
                    p = 1 - np.exp(-((t / (20e-9 * np.exp((3.0 / v) ** 3))) ** 2))
                    rows.append((0, c, pol, v, t, 400, rng.binomial(400, p)))
    return np.array(rows, dtype=np.float64)


@pytest.mark.slow
def test_chain_through_the_instruments_flips_at_the_target_rate(tmp_path):
    """Operating points from a calibration of the bench's own cells (their flip counts drawn
    from the simulated device), then 126 chain steps through the controller: the observed
    flip rate of SET and RESET pulses is 0.5 within binomial error, the noise stream is the
    standardised Hamming weight of the bits stream (every second cell counting OFF as 1)."""
    with BenchSession.open(seed=7) as session:
        domains = session.sim.array.domains
        cols = session.sim.array.cols
        cells = Cells(8, seed=1, domains=domains, index=np.arange(8) + 0 * cols)
        table = cells.calibration_table(+1, local_repeats=1300)
        cal = _calibration_file(tmp_path / "cal", with_mirror(table))
        procedure = build(PROCEDURES["switching-noise"],
                          {"calibration": cal, "steps": "126", "check_every": "63",
                           "p_tolerance": "0.03"})
        outcome = run_procedure(procedure, session, tmp_path)
    assert outcome.status == "completed", outcome.error
    bits = read_dataset(outcome.path, "bits").astype(int)
    noise = read_dataset(outcome.path, "noise")
    settings = read_dataset(outcome.path, "settings")
    assert bits.shape == (126, 8) and noise.shape == (126, 1)
    # balanced readout: cells 1, 3, 5, 7 of the unit count OFF as 1
    counted = bits ^ np.array([0, 1, 0, 1, 0, 1, 0, 1])
    np.testing.assert_allclose(noise[:, 0], (counted.sum(axis=1) - 4) / np.sqrt(2))
    before = np.vstack([np.zeros((1, 8), int), bits[:-1]])
    flipped = bits != before
    for state in (0, 1):
        n = np.count_nonzero(before == state)
        rate = flipped[before == state].mean()
        assert abs(rate - 0.5) < 4 * np.sqrt(0.25 / n), (state, rate, n)
    assert np.all(np.diff(settings[:, 3]) > 0)  # instrument time advances every step
    r = outcome.results
    assert r["cells_in_use"] == 8 and r["steps_done"] == 126
    # 8 single-cell pulses + 2 row-parallel restores per step for 8 bits
    assert r["pulses_per_bit"] == pytest.approx(10 / 8, rel=0.01)
    # an OFF cell's SET and an ON cell's RESET share a trigger (outputs 1 and 2): per step
    # max(#OFF, #ON) weak triggers plus one restoring trigger for the row; each window
    # re-measure (every check_every = 63 steps) saturates ON, OFF and back: 3 triggers
    n_on = before.sum(axis=1)
    triggers = np.maximum(n_on, 8 - n_on) + 1
    assert r["triggers_per_bit"] == pytest.approx((triggers.sum() + 2 * 3) / bits.size,
                                                  rel=1e-9)
    # the run's flips are the TRNG's raw bits: rng-test reads them (1,008 bits)
    assert main(["rng-test", str(outcome.path), "--source", "switching", "--length", "1000",
                 "--no-store"]) == 0
    # and draws them live through the bench from the same calibration (1,000 bits)
    assert main(["rng-test", "--bench", "--seed", "7", "--source", "switching",
                 "--calibration", cal, "--sequences", "1", "--length", "1000",
                 "--no-store"]) == 0
    # live noise for diffusion: one k = 8 value per chain step of the 8 cells
    from ftjlab.procedures.switching_noise import load_calibration

    from ftjlab.controller import ArrayController
    from ftjlab.switching.diffusion import LiveNoise
    from ftjlab.switching.engine import SwitchingCells

    calibration = load_calibration(cal)
    with BenchSession.open(seed=7) as session:
        live = LiveNoise(SwitchingCells(ArrayController(session), calibration.cells),
                         calibration)
        values = live((4, 3))
    assert values.shape == (4, 3) and live.steps == 12
    assert set(np.round(values.ravel() * np.sqrt(2)).astype(int)) <= set(range(-4, 5))


def test_bad_calibration_and_unreachable_p_stop_before_anything_is_pulsed(
    tmp_path, capsys, rng
):
    out = tmp_path / "runs"
    wrong = _calibration_file(tmp_path / "a", _known_law_table(rng), "conductance-map")
    assert main(["run", "switching-noise", "--out", str(out), "--quiet",
                 "--set", f"calibration={wrong}"]) == 2
    err = capsys.readouterr().err
    assert "calibration" in err and "'conductance-map' run" in err
    good = _calibration_file(tmp_path / "b", _known_law_table(rng))
    # 10 ns pulses: the law tends to p = 0.22 however large the amplitude
    assert main(["run", "switching-noise", "--out", str(out), "--quiet",
                 "--set", f"calibration={good}", "--set", "width=1e-8"]) == 2
    err = capsys.readouterr().err
    assert "p: 0.5 is unreachable at width 1e-08 s" in err and "Traceback" not in err
    assert main(["run", "switching-noise", "--out", str(out), "--quiet",
                 "--set", f"calibration={tmp_path / 'none.h5'}"]) == 2
    assert "does not exist" in capsys.readouterr().err
    # a restoring pulse shorter than the bench allows (limits: 10 ns .. 10 ms)
    assert main(["run", "switching-noise", "--out", str(out), "--quiet",
                 "--set", f"calibration={good}", "--set", "saturate_width=5e-9"]) == 2
    err = capsys.readouterr().err
    assert "saturate_width=5e-09" in err and "below the limit" in err
    assert not out.exists() or not list_runs_in(out)


def list_runs_in(folder):
    return [r for f in folder.glob("*.h5") for r in list_runs(f)]


@pytest.mark.slow
def test_a_cell_excluded_mid_chain_takes_its_whole_unit_out(tmp_path):
    """Two word lines of 8 cells, k = 4: four units, each on one word line. Cell (0, 5) is
    calibrated 1 V too easy (its trials shifted), so at its chosen amplitude it never flips
    and the first drift check (step 40) excludes it: its unit (cells 4..7 of word line 0) is
    dropped whole, with the reason, and keeps its noise column (NaN from then on); the other
    three units go on unchanged, none regrouped across word lines."""
    with BenchSession.open(seed=7) as session:
        domains = session.sim.array.domains
        cols = session.sim.array.cols
        tables = []
        for row in (0, 1):
            cells = Cells(8, seed=3 + row, domains=domains, index=np.arange(8) + row * cols)
            table = cells.calibration_table(+1, local_repeats=300)
            table[:, 0] = row
            tables.append(table)
        table = np.concatenate(tables)
        bad = (table[:, 0] == 0) & (table[:, 1] == 5)
        table[bad, 3] += 1.0
        cal = _calibration_file(tmp_path / "cal", with_mirror(table))
        procedure = build(PROCEDURES["switching-noise"], {
            "calibration": cal, "rows": "2", "cells": "8", "k": "4", "steps": "80",
            "check_every": "40", "p_tolerance": "0.2"})
        outcome = run_procedure(procedure, session, tmp_path)
    assert outcome.status == "completed", outcome.error
    r = outcome.results
    units = np.asarray(r["units"]).reshape(-1, 4, 2)
    assert units.tolist() == [[[w, b] for b in range(s, s + 4)] for w in (0, 1) for s in (0, 4)]
    dropped = json.loads(r["units_dropped"])
    assert [(d["unit"], d["cell"], d["step"]) for d in dropped] == [(1, [0, 5], 39)], (
        r["drift_events"], r["set_volts"])
    assert "drift" in dropped[0]["reason"]
    assert np.asarray(r["units_in_use_final"]).tolist() == [1, 0, 1, 1]
    bits = read_dataset(outcome.path, "bits").astype(int)  # (steps, 16 cells)
    noise = read_dataset(outcome.path, "noise")
    assert noise.shape == (80, 4)
    assert np.all(np.isnan(noise[40:, 1])) and np.all(np.isfinite(noise[:40, 1]))
    counted = bits ^ np.tile([0, 1, 0, 1], 4)  # balanced readout within each unit
    for u in (0, 2, 3):
        expected = (counted[:, 4 * u:4 * u + 4].sum(axis=1) - 2) / 1.0
        np.testing.assert_allclose(noise[:, u], expected)


@pytest.mark.slow
def test_refinement_stage_through_the_instruments(tmp_path):
    """switching-noise with a fresh (coarse) calibration and the refinement stage, every pulse
    through the instruments: the refinement's trials are streamed after the calibration's at
    each cell's own amplitudes, the chain runs at the refined points (each within a few mV of
    where the refinement measured last), excluded cells carry reasons, and the stage reports
    its trials, instrument and wall time."""
    with BenchSession.open(seed=7) as session:
        procedure = build(PROCEDURES["switching-noise"], {
            "cells": "4", "k": "4", "steps": "20", "check_every": "10",
            "sweep_repeats": "2", "local_repeats": "2", "local_step": "0.01",
            "refine_half_width": "0.15",
            "p_tolerance": "0.2"})
        outcome = run_procedure(procedure, session, tmp_path)
    assert outcome.status == "completed", outcome.error
    r = outcome.results
    assert r["refine_instrument_s"] > 0 and r["refine_wall_s"] > 0
    trials = read_dataset(outcome.path, "trials")
    # calibration rows hold 1 or 2 trials; the refinement's stages follow them
    assert (trials[:, 5] > 2).any()  # else argmax gives 0 and every row passes as refinement
    refinement = trials[int(np.argmax(trials[:, 5] > 2)):]
    assert refinement.shape[0] and np.all(refinement[:, 5] > 0)
    excluded = json.loads(r["refine_excluded"])
    assert len(excluded) < 4  # at least one cell is checked below, not only exclusion reasons
    for j in range(4):
        for pol, name in ((1, "set"), (-1, "reset")):
            mine = refinement[(refinement[:, 1] == j) & (refinement[:, 2] == pol)]
            volts = np.asarray(r[f"{name}_volts"])[j]
            if f"(0, {j})" in excluded:
                assert excluded[f"(0, {j})"]  # says why
                continue
            assert np.isfinite(volts)
            assert mine[:, 5].sum() >= np.asarray(r[f"refine_{name}_trials"])[j] > 0
            assert abs(abs(volts) - mine[-1, 3]) <= 0.0035  # the point measured last
