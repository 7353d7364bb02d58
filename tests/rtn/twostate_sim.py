"""An independent two-state RTN simulator for the analysis tests and benchmarks.

Written from the definition of a telegraph process, with no code of the project's trap
engine: alternating exponential dwells (mean ``tau_c`` in the empty state, ``tau_e`` in the
filled one), a stationary start, readings every ``dt`` that are either instantaneous or the
average of the current over an aperture ``[t, t + aperture]``, plus white Gaussian noise.
"""

from __future__ import annotations

import numpy as np


def telegraph(
    tau_c: float, tau_e: float, duration: float, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """Switching times (ascending, the first after 0) of a stationary two-state process
    covering ``duration``, and its state at time 0 (0 empty, 1 filled)."""
    s0 = int(rng.random() < tau_e / (tau_c + tau_e))
    mean_pair = tau_c + tau_e
    n_pairs = int(duration / mean_pair * 1.2 + 50 * np.sqrt(duration / mean_pair) + 50)
    while True:
        empty = rng.exponential(tau_c, n_pairs)
        filled = rng.exponential(tau_e, n_pairs)
        d = np.empty(2 * n_pairs)
        # dwells alternate starting with the state at time 0 (memoryless: its residual dwell
        # has the same exponential law)
        first, second = (empty, filled) if s0 == 0 else (filled, empty)
        d[0::2], d[1::2] = first, second
        t = np.cumsum(d)
        if t[-1] > duration:
            return t, s0
        n_pairs *= 2


def filled_time(switch: np.ndarray, s0: int, t: np.ndarray) -> np.ndarray:
    """Time spent filled in [0, t] for each t (the integral of the state)."""
    knots = np.concatenate([[0.0], switch])
    state = (s0 + np.arange(knots.size)) % 2  # state from each knot to the next
    seg = np.diff(knots) * state[:-1]
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    i = np.searchsorted(knots, t, side="right") - 1
    return cum[i] + (t - knots[i]) * state[i]


def rtn_trace(
    tau_c: float,
    tau_e: float,
    amplitude: float,
    sigma: float,
    n: int,
    dt: float = 1.0,
    aperture: float = 0.0,
    seed: int = 0,
    base: float = 0.0,
) -> np.ndarray:
    """``n`` readings every ``dt`` of base + amplitude * (filled fraction) + N(0, sigma^2).
    ``aperture`` = 0: instantaneous readings (state at t_k); else the mean over
    [t_k, t_k + aperture] (aperture <= dt)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) * dt
    switch, s0 = telegraph(tau_c, tau_e, n * dt + aperture, rng)
    if aperture > 0:
        frac = (filled_time(switch, s0, t + aperture) - filled_time(switch, s0, t)) / aperture
    else:
        k = np.searchsorted(switch, t, side="right")
        frac = ((s0 + k) % 2).astype(np.float64)
    return base + amplitude * frac + rng.normal(0.0, sigma, n)


def two_trap_trace(
    taus: list[tuple[float, float]],
    amplitudes: list[float],
    sigma: float,
    n: int,
    dt: float = 1.0,
    seed: int = 0,
) -> np.ndarray:
    """Sum of independent instantaneous telegraph processes plus white noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) * dt
    x = rng.normal(0.0, sigma, n)
    for (tc, te), a in zip(taus, amplitudes, strict=True):
        switch, s0 = telegraph(tc, te, n * dt, rng)
        k = np.searchsorted(switch, t, side="right")
        x += a * ((s0 + k) % 2)
    return x
