"""Physics simulator benchmarks (issue: foundation), each a ratio to a same-run baseline."""

from __future__ import annotations

import contextlib

import numpy as np
from ftjlab.simulators.array import FTJArray
from ftjlab.simulators.params import ArrayParams

from ftjlab.benchmarks import BenchResult, interleaved_ratio

VMM_BIAS_V = 0.2
SAMPLING_BIAS_V = 0.8


def _one_blas_thread():
    """Both sides of a ratio with numpy's BLAS on one thread: on a shared 2-core machine a
    threaded matrix-vector product waits for its second thread (one 1024 x 1024 product 34 ms
    at load 12 with 2 threads, 1 ms with 1), so a baseline of many small products would be
    slowed far more than a subject doing one large product. threadpoolctl comes with
    scikit-learn (the test extra); without it the note says the thread count is the default."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext(), "numpy BLAS threads: default (threadpoolctl missing)"
    return threadpool_limits(1, user_api="blas"), "numpy BLAS on 1 thread (both sides)"


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
        "physics.rtn_1024x1e4",
        ts,
        tb,
        "s",
        3.0,
        note=f"ratio median {ratio:.2f}; {array.traps.state.size} traps, exact apertures",
    )


def bench_vmm_1024x1024(quick: bool) -> list[BenchResult]:
    """VMMs on a 1024x1024 array against a bare numpy matrix-vector product of the same size
    and dtype (float64), per VMM. On the array a VMM is bit-serial: 8-bit inputs are 8
    successive word-line patterns, each read for 10 us, with read noise and every trap kept
    exact across them and between VMMs. Measured as the lab runs them (a batch of 64
    successive VMMs, e.g. one decoder layer over 64 latents), and one VMM per call; both sides
    with numpy's BLAS on one thread (:func:`_one_blas_thread`)."""
    array = FTJArray(
        ArrayParams(rows=1024, cols=1024, initial_state="random"), np.random.default_rng(3)
    )
    array.clock.advance(60.0)  # programmed a minute ago, as after a verify pass
    rng = np.random.default_rng(4)
    batch = 64
    inputs = rng.integers(0, 256, (batch, 1024))
    g = rng.random((1024, 1024))
    xf = inputs.astype(np.float64)
    aperture = 1e-5
    k = [0]

    def vmm_batch():
        array.vmm_batch(inputs, 8, VMM_BIAS_V, aperture)

    def vmm_single():
        for _ in range(8):
            array.vmm(inputs[k[0] % batch], 8, VMM_BIAS_V, aperture)
            k[0] += 1

    def baseline_batch():
        for j in range(batch):
            xf[j] @ g

    def baseline_single():
        for j in range(8):
            xf[j] @ g

    repeats = 5 if quick else 11
    limit, threads = _one_blas_thread()
    with limit:
        ts, tb, ratio = interleaved_ratio(vmm_batch, baseline_batch, repeats)
        ss, sb, sratio = interleaved_ratio(vmm_single, baseline_single, repeats)
    traps = array.traps.state.size
    return [
        BenchResult(
            "physics.vmm_1024x1024_8bit",
            ts / batch,
            tb / batch,
            "s per VMM",
            3.0,
            note=f"ratio median {ratio:.2f}; batches of {batch}; {traps} traps exact; "
            + threads,
        ),
        BenchResult(
            "physics.vmm_1024x1024_8bit_single_call",
            ss / 8,
            sb / 8,
            "s per VMM",
            None,
            note=f"ratio median {sratio:.2f}; one VMM per call (Python overhead per call); "
            + threads,
        ),
    ]


def bench_memory_per_cell_1024x1024(quick: bool) -> BenchResult:
    """Simulator state per cell at 1024x1024 (all per-cell and per-trap arrays)."""
    array = FTJArray(ArrayParams(rows=1024, cols=1024), np.random.default_rng(5))
    per_cell = array.nbytes / (1024 * 1024)
    return BenchResult(
        "physics.state_bytes_per_cell",
        per_cell,
        256.0,
        "bytes/cell (baseline = budget)",
        1.0,
        note=f"{array.traps.state.size / 1024**2:.2f} traps per cell",
    )
