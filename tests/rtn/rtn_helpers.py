"""Helpers of the RTN analysis tests (a uniquely named module: test folders have no
__init__.py, so module names must not clash)."""

from __future__ import annotations

import numpy as np
from ftjlab.simulators.traps import TraceWindow, simulate_traps

# SP 800-22's 100-bit example sequence (the first 100 binary digits of pi)
PI100 = (
    "11001001000011111101101010100010001000010110100011"
    "00001000110100110001001100011001100010100010111000"
)


def simulate_rtn(
    tau_c: list[float],
    tau_e: list[float],
    amplitudes: list[float],
    n: int,
    sigma: float,
    seed: int,
    dt: float = 1.0,
    aperture: float = 0.01,
    base: float = 0.0,
) -> np.ndarray:
    """A one-cell trace of independent traps with exact dwell times (the simulator's exact
    continuous-time path), sampled every ``dt`` with short apertures, plus white noise."""
    rng = np.random.default_rng(seed)
    k = len(tau_c)
    lc = 1 / np.asarray(tau_c, dtype=float)
    le = 1 / np.asarray(tau_e, dtype=float)
    s0 = rng.random(k) < lc / (lc + le)
    x, _ = simulate_traps(
        s0, lc, le, np.asarray(amplitudes, dtype=float), np.zeros(k, dtype=np.int64),
        np.array([base]), TraceWindow(n, dt, aperture), rng, noise_sigma=np.array([sigma]),
    )  # fmt: skip
    return x[0].astype(np.float64)
