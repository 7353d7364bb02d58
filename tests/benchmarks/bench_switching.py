"""Stochastic-switching noise benchmarks: noise rate through the bench, the switching TRNG
at the SP 800-22 100 x 1e6 level (DDPM quality: bench_diffusion.py).

``switching.calibration`` chooses the operating points by the product's own path, every pulse
through the instruments (calibration, closed-loop refinement at the points, then a
verification with 1e4 trials per cell and polarity, and the exact flip probability of each
chosen point from the simulated cells' domains): tens of instrument minutes and hours of wall
on a loaded machine (one trial costs ~6 ms of CPU per cell through the emulated instruments).
``switching.operating_points`` makes the same choice with every trial drawn from the array's
domains (seconds). The noise-rate and TRNG benchmarks take their
calibration trials from the simulated device (fast to draw); everything else of the noise
path runs through the instruments. The 1e8-bit TRNG study draws each raw bit from the
device model's flip probability of each cell at its chosen operating point (through the
instruments the bench gives ~100 bits per second of wall time).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ftjlab.benchmarks import BenchResult

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "switching"))
from switching_physics import Cells, with_mirror
from test_switching_operating_points import (
    P_LARGE,
    P_SMALL,
    array_cells,
    choose_and_verify,
    device_calibration,
    exact_flip_probability,
)

_CACHE: dict = {}
CELLS = 16


def _bench_calibration():
    """A calibration file of word line 0, cells 0..15 of the seed-2026 simulated bench."""
    if "cal" not in _CACHE:
        from ftjlab.procedures import PROCEDURES

        from ftjlab.session import BenchSession
        from ftjlab.store import RunWriter

        folder = Path(tempfile.mkdtemp(prefix="bench-switching-"))
        with BenchSession.open(seed=2026) as session:
            cells = Cells(CELLS, seed=3, domains=session.sim.array.domains,
                          index=np.arange(CELLS))
        table = cells.calibration_table(+1, local_repeats=1300,
                                        anchors=(0.5, 0.52))
        spec = PROCEDURES["switching-noise"]().streams()["trials"]
        writer = RunWriter.create(folder, "switching-noise", {}, {}, {"trials": spec})
        writer.append("trials", with_mirror(table))
        writer.finish("completed")
        _CACHE.update(cal=str(writer.path), cells=cells, folder=folder)
    return _CACHE["cal"], _CACHE["cells"], _CACHE["folder"]


def _noise_run(steps: int, bench: str | None = None, **settings: str):
    from ftjlab.procedures import PROCEDURES, build

    from ftjlab.runner import run_procedure
    from ftjlab.session import BenchSession

    cal, _, folder = _bench_calibration()
    with BenchSession.open(bench, seed=2026) as session:
        procedure = build(PROCEDURES["switching-noise"], {
            "calibration": cal, "cells": str(CELLS), "steps": str(steps),
            "check_every": str(max(10, steps // 4)), "p_tolerance": "0.03", **settings})
        t0 = time.perf_counter()
        outcome = run_procedure(procedure, session, folder)
        wall = time.perf_counter() - t0
    assert outcome.status == "completed", outcome.error
    return outcome, wall


#: the chain as first built: one routing and trigger per cell, restores at 10 us (a
#: generator reconfiguration between weak and restoring pulses)
BASELINE = {"pair_pulses": "false", "saturate_width": "1e-5"}
FOUR_CHANNELS = str(Path(__file__).resolve().parents[2] / "data" / "benches" / "sim-4ch.toml")


def bench_noise_rate(quick: bool) -> list[BenchResult]:
    """Noise values per second through the in-process bench (wall) and per second of
    instrument time, against the chain as first built (:data:`BASELINE`) in the same run, on
    the default bench (one read channel) and on the 3-read-channel bench."""
    from ftjlab.store import read_dataset
    from ftjlab.switching.noise import noise_quality

    steps = 150 if quick else 600
    # the baseline runs first and last: on a shared machine the load drifts during the
    # benchmark, and its wall rate is the mean of the two
    runs = {"baseline": _noise_run(steps, **BASELINE)}
    runs["paired"] = _noise_run(steps)
    runs["paired_3ch"] = _noise_run(steps, FOUR_CHANNELS)
    again = _noise_run(steps, **BASELINE)
    runs["baseline"] = (runs["baseline"][0], 0.5 * (runs["baseline"][1] + again[1]))

    def rates(name):
        o, w = runs[name]
        values = steps * (o.results["cells_in_use"] // 8)
        return values / w, o.results["noise_values_per_instrument_s"], o.results

    base_wall, base_inst, _ = rates("baseline")
    out = []
    for name in ("paired", "paired_3ch"):
        wall_rate, inst_rate, r = rates(name)
        q = noise_quality(read_dataset(runs[name][0].path, "noise")[:, :r["cells_in_use"] // 8],
                          8)
        note = (f"{r['cells_in_use']} cells, k = 8, {steps} steps; triggers per bit "
                f"{r['triggers_per_bit']:.3f} (baseline 1.125)")
        out += [
            BenchResult(f"switching.noise_values_per_wall_s_{name}", wall_rate, base_wall,
                        "values/s", None, higher_is_better=True, note=note + ", in-process",
                        extra={"kurtosis": q.excess_kurtosis, "lag1": q.lag1,
                               "variance": q.variance}),
            BenchResult(f"switching.noise_values_per_instrument_s_{name}", inst_rate,
                        base_inst, "values/s", None, higher_is_better=True,
                        note=note + f"; bits per instrument s {r['bits_per_instrument_s']:.1f}"),
        ]
    return out


#: the targets verified: p = 1/2 and the smallest and largest p_t of switching-noise's
#: default DDPM schedule (beta_t from 0.05 to 0.4)
TARGETS = (0.5, P_SMALL, P_LARGE)
HALF_WIDTH = 0.007


def bench_calibration(quick: bool) -> list[BenchResult]:
    """Operating points for p = 0.5 and the schedule's smallest and largest p_t chosen by the
    product's own path, every pulse through the instruments, on the seed-2026 bench (word
    line 0; full: 16 cells, quick: 8): a calibration (row-parallel trials of both polarities,
    per-cell laws; a coarse one: the refinement does the rest), then for each target the
    closed-loop refinement at the operating points (half-width 0.007, the procedure's stage
    sizes), then a verification of the chosen (V, t) with 1e4 fresh trials per cell and
    polarity (chain steps through the instruments: on board where the bench runs them) and
    the exact flip probability of each chosen point from the simulated cell's domains
    (:func:`exact_flip_probability`). Reports the cells in use within +-0.02 (both
    polarities, instrument trials) out of all cells, the worst |p - target| of the trials and
    of the exact values, trials and pulses per cell, instrument minutes and wall seconds."""
    return calibration_study(8 if quick else CELLS)


def calibration_study(n_cells: int, seed: int = 2026, verify: int = 10_000,
                      half_width: float = HALF_WIDTH,
                      targets: tuple[float, ...] = TARGETS) -> list[BenchResult]:
    """:func:`bench_calibration` on ``n_cells`` cells of word line 0 of the ``seed`` bench."""
    from ftjlab.controller import ArrayController
    from ftjlab.session import BenchSession
    from ftjlab.switching.engine import SwitchingCells
    from ftjlab.switching.refine import stage_sizes

    out = []
    with BenchSession.open(seed=seed) as session:
        sw = SwitchingCells(ArrayController(session), [(0, j) for j in range(n_cells)],
                            saturate_width_s=1e-6)
        domains, model = session.sim.array.domains, session.sim.array.domains.params
        vmax = session.limits.max_program_voltage_v
        t0, i0 = time.perf_counter(), session.now_s()
        cal = sw.calibrate(vmax, sweep_repeats=8, local_repeats=40, local_step_v=0.01,
                           target_p=targets)
        cal_wall, cal_inst = time.perf_counter() - t0, session.now_s() - i0
        cal_trials = float(cal.trials[:, 5].sum()) / n_cells / 2
        for target in targets:
            t1, i1, pulses0 = time.perf_counter(), session.now_s(), sw.pulses
            report = sw.refine(cal, target, 1e-6, vmax, half_width=half_width,
                               **stage_sizes(target, half_width))
            pulses = (sw.pulses - pulses0) / n_cells
            pts = {pol: cal.points(target, pol, 1e-6, vmax, p_tolerance=0.02)
                   for pol in (1, -1)}
            use = pts[1].usable & pts[-1].usable
            exact = np.full((2, n_cells), np.nan)
            for pi, pol in enumerate((1, -1)):
                for j in np.flatnonzero(use):
                    exact[pi, j] = exact_flip_probability(
                        domains.va[j], domains.area[j], float(pts[pol].volts[j]),
                        float(pts[pol].width_s[j]), model.tau0_s, model.alpha, model.beta,
                        model.imprint_v)
            t2, i2 = time.perf_counter(), session.now_s()
            counts = sw.measure_points(np.where(use, np.abs(pts[1].volts), np.nan),
                                       np.where(use, np.abs(pts[-1].volts), np.nan), 1e-6,
                                       verify)
            t3, i3 = time.perf_counter(), session.now_s()
            rate = counts[:, 1] / np.maximum(counts[:, 0], 1)  # (polarity, cell)
            err = np.abs(rate - target)[:, use]
            exact_err = np.abs(exact - target)[:, use]
            within = int(np.all(err <= 0.02, axis=0).sum()) if use.any() else 0
            refine_trials = (report.trials[1] + report.trials[-1])[use] / 2
            reasons = {f"{sw.cells[j]}": report.reasons[1].get(j) or report.reasons[-1].get(j)
                       or pts[1].reasons.get(j) or pts[-1].reasons.get(j)
                       for j in np.flatnonzero(~use)}
            worst = float(err.max()) if err.size else float("nan")
            worst_exact = float(exact_err.max()) if exact_err.size else float("nan")
            note = (f"p = {target:.4g}: {within}/{n_cells} cells within +-0.02 in both "
                    f"polarities ({int(use.sum())} in use), worst |p - target| {worst:.4f} "
                    f"(verification trials), {worst_exact:.4f} (exact, from the cells' "
                    f"domains); verification "
                    f"{int(counts[:, 0, use].min()) if use.any() else 0} trials per cell and "
                    f"polarity at least; calibration {cal_trials:.0f} + refinement "
                    f"{float(np.median(refine_trials)) if use.any() else 0:.0f} (median) trials "
                    f"per cell and polarity (half-width {half_width:g}), refinement pulses per "
                    f"cell {pulses:.0f}; instrument: calibration {cal_inst / 60:.1f} min "
                    f"({len(targets)} anchors), refinement {(i2 - i1) / 60:.1f} min, "
                    f"verification {(i3 - i2) / 60:.1f} min; wall: calibration {cal_wall:.0f} "
                    f"s, refinement {t2 - t1:.0f} s, verification {t3 - t2:.0f} s; excluded: "
                    f"{reasons}")
            out.append(BenchResult(
                f"switching.calibration_cells_within_0.02_p{target:.4g}", float(within),
                float(n_cells), "cells", 1.0, higher_is_better=True, note=note,
                extra={"set": rate[0].tolist(), "reset": rate[1].tolist(),
                       "exact_set": exact[0].tolist(), "exact_reset": exact[1].tolist(),
                       "in_use": use.tolist(), "refine_trials": refine_trials.tolist(),
                       "refine_pulses_per_cell": pulses, "half_width": half_width,
                       "instrument_min": (i3 - i1 + cal_inst / len(targets)) / 60,
                       "wall_s": t3 - t1 + cal_wall / len(targets), "excluded": reasons,
                       "onboard": sw.onboard}))
            print(note, flush=True)
    return out


def bench_operating_points(quick: bool) -> list[BenchResult]:
    """The operating-point choice of :func:`bench_calibration` with every trial drawn from the
    simulated array's domains instead of pulsed (seconds instead of hours): 16 cells (quick:
    8) of word line 0 of the seed-2026 bench, the bench's calibration design, the refinement
    (half-width 0.007; 0.01 for comparison), then per chosen point the exact flip probability
    and 1e4 fresh trials (tests/switching/test_switching_operating_points.py). Reports the
    cells within +-0.02 (both polarities, exact and trials), the worst |p - target| of each
    and the refinement's trials per cell and polarity."""
    n = 8 if quick else CELLS
    t0 = time.perf_counter()
    cells = array_cells(n)
    cal = device_calibration(cells)
    cal_wall = time.perf_counter() - t0
    out = []
    for half_width in (HALF_WIDTH, 0.01):
        for target in TARGETS:
            t1 = time.perf_counter()
            v = choose_and_verify(cells, cal, target, half_width, verify_trials=10_000)
            exact = np.abs(v.exact - target)
            rate = np.abs(v.rate - target)
            note = (f"p = {target:.4g}, half-width {half_width:g}: {v.within(0.02)}/{n} cells "
                    f"within +-0.02 ({n - len(v.reasons)} in use), worst |p - target| exact "
                    f"{np.nanmax(exact):.4f}, 1e4 trials {np.nanmax(rate):.4f}; refinement "
                    f"trials per cell and polarity median {np.median(v.trials):.0f}, max "
                    f"{v.trials.max()}; wall {time.perf_counter() - t1:.1f} s (calibration "
                    f"{cal_wall:.1f} s once)")
            out.append(BenchResult(
                f"switching.operating_points_within_0.02_p{target:.4g}_hw{half_width:g}",
                float(v.within(0.02)), float(n), "cells", 1.0, higher_is_better=True,
                note=note, extra={"exact": v.exact.tolist(), "rate": v.rate.tolist(),
                                  "trials": v.trials.tolist(), "excluded": v.reasons}))
            print(note, flush=True)
    return out


def _device_bits(cells, points, n_bits: int, rng) -> np.ndarray:
    """Raw flip bits of the device model: cell j flips with its exact probability at its
    operating point (1e6-trial estimate), bits interleaved over cells."""
    p = np.array([cells.p_true(j, points.volts[j], points.width_s[j], 1_000_000)
                  for j in range(len(points.volts)) if points.usable[j]])
    per_cell = -(-n_bits // p.size)
    bits = (rng.random((per_cell, p.size)) < p).astype(np.uint8)
    return bits, p


def bench_trng(quick: bool) -> list[BenchResult]:
    """SP 800-22 at 100 x 1e6 bits (quick: 20 x 1e6) of switching bits at p = 0.5 after von
    Neumann per cell; the same cells tuned to p = 0.52 (raw) must fail; min-entropy per raw
    bit (SP 800-90B estimators)."""
    from ftjlab.procedures.switching_noise import load_calibration

    from ftjlab.rtn import bits as bitops
    from ftjlab.rtn import entropy
    from ftjlab.rtn.rng import rng_report

    cal_path, cells, _ = _bench_calibration()
    cal = load_calibration(cal_path)
    m = 20 if quick else 100
    rng = np.random.default_rng(5)
    out = []
    for target, post in ((0.5, "vn"), (0.52, "none")):
        pts = cal.points(target, +1, 1e-6, 4.5, p_tolerance=0.03)
        raw_per_seq = 4_100_000 if post == "vn" else 1_000_000
        first, p = _device_bits(cells, pts, 1_000_000, rng)

        def feed(n, p=p, post=post, raw_per_seq=raw_per_seq):
            raw = (rng.random((-(-raw_per_seq // p.size), p.size)) < p).astype(np.uint8)
            bits = (np.concatenate([bitops.von_neumann(raw[:, j]) for j in range(p.size)])
                    if post == "vn" else raw.ravel())
            assert bits.size >= n
            return bits[:n]

        t0 = time.perf_counter()
        report = rng_report(feed, m, 1_000_000, {"p": target, "post": post},
                            raw_bits=first.ravel()[:1_000_000])
        h_raw = entropy.min_entropy(first.ravel()[:1_000_000]).min_entropy
        good = report.verdict if target == 0.5 else not report.verdict
        out.append(BenchResult(
            f"switching.trng_p{target:g}_{post}_" + ("passes" if target == 0.5 else "fails"),
            float(good), 1.0, "1 = as expected", 1.0, higher_is_better=True,
            note=f"{m} x 1e6 bits, cells' p {p.min():.3f}..{p.max():.3f}, flagged sets "
            f"{report.assessment.flagged}, raw min-entropy {h_raw:.4f} bit, "
            f"{time.perf_counter() - t0:.0f} s",
            extra={"verdict": report.verdict, "reasons": report.assessment.reasons,
                   "min_entropy_raw": h_raw}))
    return out
