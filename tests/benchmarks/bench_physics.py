"""Physics simulator benchmarks (issue: foundation), each a ratio to a same-run baseline."""

from __future__ import annotations

import numpy as np

from ftjlab.benchmarks import BenchResult, interleaved_ratio
from ftjlab.simulators.array import FTJArray
from ftjlab.simulators.params import ArrayParams

VMM_BIAS_V = 0.2
SAMPLING_BIAS_V = 0.8


def bench_rtn_1024_cells_1e4_readings(quick: bool) -> BenchResult:
    """RTN of 1024 cells x 1e4 readings (20 kHz, 20 us apertures << tau*) incl. read noise,
    against drawing 1.024e7 uniform numbers with numpy."""
    array = FTJArray(ArrayParams(rows=1, cols=1024, initial_state="on"), np.random.default_rng(1))
    rng = np.random.default_rng(2)
    n = 10_000
    cols = np.arange(1024)

    def subject():
        array.acquire([0], cols, SAMPLING_BIAS_V, n, 5e-5, 2e-5)

    def baseline():
        rng.random(1024 * n)

    ts, tb, ratio = interleaved_ratio(subject, baseline, 3 if quick else 7)
    return BenchResult(
        "physics.rtn_1024x1e4", ts, tb, "s", 3.0,
        note=f"ratio median {ratio:.2f}; {array.traps.state.size} traps, exact apertures",
    )


def bench_vmm_1024x1024(quick: bool) -> BenchResult:
    """One VMM on a 1024x1024 array (read noise, every trap kept exact between VMMs) against
    a bare numpy matrix-vector product of the same size and dtype (float64)."""
    array = FTJArray(ArrayParams(rows=1024, cols=1024, initial_state="random"), np.random.default_rng(3))
    array.clock.advance(60.0)  # programmed a minute ago, as after a verify pass
    rng = np.random.default_rng(4)
    inputs = rng.random((64, 1024)) < 0.5
    g = rng.random((1024, 1024))
    xf = inputs.astype(np.float64)
    per_round = 20
    aperture = 1e-5  # 10 us sense time per VMM step
    flips_before = int(array.traps.queue.next_t.size)
    k = [0]

    def subject():
        for _ in range(per_round):
            array.read_bitlines(inputs[k[0] % 64], VMM_BIAS_V, aperture)
            k[0] += 1

    def baseline():
        for j in range(per_round):
            xf[j % 64] @ g

    ts, tb, ratio = interleaved_ratio(subject, baseline, 5 if quick else 15)
    return BenchResult(
        "physics.vmm_1024x1024", ts / per_round, tb / per_round, "s per VMM", 3.0,
        note=f"ratio median {ratio:.2f}; {flips_before} traps, aperture {aperture:g} s",
    )


def bench_memory_per_cell_1024x1024(quick: bool) -> BenchResult:
    """Simulator state per cell at 1024x1024 (all per-cell and per-trap arrays)."""
    array = FTJArray(ArrayParams(rows=1024, cols=1024), np.random.default_rng(5))
    per_cell = array.nbytes / (1024 * 1024)
    return BenchResult(
        "physics.state_bytes_per_cell", per_cell, 256.0, "bytes/cell (baseline = budget)", 1.0,
        note=f"{array.traps.state.size / 1024**2:.2f} traps per cell",
    )
