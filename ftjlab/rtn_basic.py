"""A quick two-level description of an RTN trace, for live tuning sweeps: levels by a
two-means split, states with hysteresis, dwell means. The full analysis (HMM levels,
confidence intervals, spectra) lives in :mod:`ftjlab.rtn`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ftjlab.errors import BadInput
from ftjlab.rtn.bits import dwell_lengths


@dataclass
class TwoLevel:
    low_a: float
    high_a: float
    amplitude_rel: float  # (high - low) / high
    occupancy_low: float  # fraction of time in the low (trap filled) level
    tau_low_s: float  # mean dwell in the low level (NaN if fewer than 2 complete dwells)
    tau_high_s: float
    transitions: int


def two_level_statistics(trace: np.ndarray, interval_s: float) -> TwoLevel:
    """Two levels, occupancy and mean dwell times of a trace sampled every ``interval_s``."""
    x = np.asarray(trace, dtype=np.float64).ravel()
    if x.size < 10:
        raise BadInput(f"trace too short for RTN statistics ({x.size} readings)")
    if not np.all(np.isfinite(x)):
        raise BadInput("trace contains NaN or infinite readings")
    lo, hi = np.percentile(x, [10, 90])
    if hi <= lo:
        return TwoLevel(float(lo), float(hi), 0.0, 0.0, np.nan, np.nan, 0)
    for _ in range(30):  # two-means on the two halves
        mid = 0.5 * (lo + hi)
        below, above = x[x < mid], x[x >= mid]
        if below.size == 0 or above.size == 0:
            break
        new_lo, new_hi = below.mean(), above.mean()
        if new_lo == lo and new_hi == hi:
            break
        lo, hi = new_lo, new_hi
    step = hi - lo
    mark = np.where(x > lo + 0.65 * step, 1, np.where(x < lo + 0.35 * step, 0, -1))
    last = np.where(mark >= 0, np.arange(x.size), 0)
    np.maximum.accumulate(last, out=last)
    state = mark[last]
    state[state < 0] = int(x[0] > lo + 0.5 * step)
    kinds, runs = dwell_lengths(state)
    transitions = runs.size - 1
    kinds, runs = kinds[1:-1], runs[1:-1]  # the first and last dwells are cut by the record
    low_runs, high_runs = runs[kinds == 0], runs[kinds == 1]
    return TwoLevel(
        float(lo), float(hi), float(step / abs(hi)) if hi else 0.0,
        float(np.mean(state == 0)),
        float(low_runs.mean() * interval_s) if low_runs.size > 1 else float("nan"),
        float(high_runs.mean() * interval_s) if high_runs.size > 1 else float("nan"),
        int(transitions),
    )
