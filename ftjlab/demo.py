"""The headless main job on the simulated bench: what ``ftjlab demo`` runs.

It exercises the physics the way the lab uses it: program a weight pattern with pulses, read
the conductance map, sample RTN at the sampling bias, and run VMMs at the low bias, printing
what it did and what it measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ftjlab.simulators.array import FTJArray
from ftjlab.simulators.params import ArrayParams

VMM_BIAS_V = 0.2
SAMPLING_BIAS_V = 0.8


def run_demo(seed: int = 2026, size: int = 32, echo: Callable[[str], None] = print) -> dict:
    """Run the demo on a fresh simulated array; returns the figures it printed."""
    wall = time.perf_counter()
    rng = np.random.default_rng(seed)
    array = FTJArray(ArrayParams(rows=size, cols=size), rng)
    echo(f"simulated FTJ NOR array {size}x{size}, seed {seed}, {array.nbytes / size**2:.0f} B/cell")

    # 1. Program a checkerboard of ON cells, row by row, with 3 V / 1 us SET pulses.
    target_on = (np.add.outer(np.arange(size), np.arange(size)) % 2).astype(bool)
    for r in range(size):
        cols = np.flatnonzero(target_on[r])
        for _ in range(4):
            array.apply_pulse([r], cols, 3.0, 1e-6)
    g = array.conductance()
    g_on, g_off = g[target_on], g[~target_on]
    echo(
        f"programmed checkerboard: G_on median {np.median(g_on) * 1e9:.1f} nS, "
        f"G_off median {np.median(g_off) * 1e9:.2f} nS, "
        f"ratio {np.median(g_on) / np.median(g_off):.0f}"
    )

    # 2. Conductance map, one word line at a time, read at the VMM bias.
    measured = np.empty((size, size))
    for r in range(size):
        measured[r] = array.read_bitlines([r], VMM_BIAS_V, 1e-3) / array.current_factor(VMM_BIAS_V)
    map_err = np.std(measured - array.conductance()) / (np.median(g_on) - np.median(g_off))
    echo(f"conductance map read at {VMM_BIAS_V} V: error sigma {100 * map_err:.3f} % of the window")

    # 3. RTN of the ON cells of row 0 at the sampling bias.
    cols = np.flatnonzero(target_on[0])
    trace = array.acquire([0], cols, SAMPLING_BIAS_V, 20_000, 2e-4, 1e-4)
    rel = trace.std(axis=1) / trace.mean(axis=1)
    echo(
        f"RTN at {SAMPLING_BIAS_V} V: {trace.size} readings, relative fluctuation "
        f"median {100 * np.median(rel):.2f} %, max {100 * rel.max():.2f} %"
    )
    quiet = array.acquire([0], cols, VMM_BIAS_V, 20_000, 2e-4, 1e-4, noise=False)
    rel_q = quiet.std(axis=1) / quiet.mean(axis=1)
    echo(f"same cells at {VMM_BIAS_V} V (no read noise): RTN max {100 * rel_q.max():.4f} %")

    # 4. VMMs: random binary word-line inputs against the ideal Kirchhoff sum.
    errs = []
    for _ in range(50):
        x = rng.random(size) < 0.5
        i = array.read_bitlines(x, VMM_BIAS_V, 1e-4)
        ideal = array.current_factor(VMM_BIAS_V) * (x @ array.conductance())
        errs.append(np.sqrt(np.mean((i - ideal) ** 2)) / np.sqrt(np.mean(ideal**2)))
    echo(f"50 VMMs at {VMM_BIAS_V} V: normalised RMS error {100 * np.mean(errs):.3f} %")
    echo(
        f"simulated time {array.clock.now_s:.3f} s in {time.perf_counter() - wall:.2f} s wall time"
    )
    return {
        "map_error": map_err,
        "rtn_rel_median": float(np.median(rel)),
        "vmm_nrmse": float(np.mean(errs)),
    }
