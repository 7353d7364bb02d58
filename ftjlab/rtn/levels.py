"""A two-level description of an RTN trace for live views and tuning sweeps, with the same
estimator as the full analysis.

:func:`two_level_statistics` fits the one-trap model of :func:`ftjlab.rtn.analysis.analyze`
(:func:`ftjlab.rtn.traps.one_trap_model`: a two-level HMM, or the exact aperture model when the
readings average over >= 5 % of tau*) and returns its levels, occupancy and the time constants
from the exact inversion of the sampled chain, so the ``rtn-tuning`` procedure, ``rtn-tune``,
the GUI and ``rtn-analyze`` give the same tau on the same trace. When the trace has no trap
the likelihood test can find (or too few readings for a fit), the levels come from a two-means
split and the time constants are NaN, with the reason in ``note``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ftjlab.errors import BadInput

from .source import Trace
from .traps import one_trap_model

__all__ = ["TwoLevel", "two_level_statistics"]


@dataclass
class TwoLevel:
    """Levels, occupancy and time constants of a one-trap trace (filled trap = low level)."""

    low_a: float
    high_a: float
    amplitude_rel: float  # (high - low) / high
    occupancy_low: float  # fraction of time in the low (trap filled) level
    tau_low_s: float  # tau_e: mean dwell in the low level (NaN: no trap timed)
    tau_high_s: float  # tau_c: mean dwell in the high level
    transitions: int  # expected number of level changes in the trace
    tau_low_ci_s: tuple[float, float] = (math.nan, math.nan)
    tau_high_ci_s: tuple[float, float] = (math.nan, math.nan)
    method: str = ""
    note: str = ""


def _two_means(x: np.ndarray) -> tuple[float, float]:
    lo, hi = np.percentile(x, [10, 90])
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        below, above = x[x < mid], x[x >= mid]
        if below.size == 0 or above.size == 0:
            break
        new_lo, new_hi = float(below.mean()), float(above.mean())
        if new_lo == lo and new_hi == hi:
            break
        lo, hi = new_lo, new_hi
    return float(lo), float(hi)


def two_level_statistics(trace, interval_s: float, aperture_s: float | None = None) -> TwoLevel:
    """Two levels, occupancy and time constants of a trace sampled every ``interval_s``
    (readings averaged over ``aperture_s``, if given) - see the module text."""
    x = np.asarray(trace, dtype=np.float64).ravel()
    if x.size < 10:
        raise BadInput(f"trace too short for RTN statistics ({x.size} readings)")
    if not np.all(np.isfinite(x)):
        raise BadInput("trace contains NaN or infinite readings")
    lo, hi = _two_means(x)
    if hi <= lo:
        return TwoLevel(
            lo, hi, 0.0, 0.0, math.nan, math.nan, 0, method="none", note="constant trace"
        )
    ap = aperture_s / interval_s if aperture_s and 0 < aperture_s <= interval_s else None
    why = ""
    try:
        m = one_trap_model(Trace(x, interval_s, aperture_s), ap)
        t = m.traps()[0]
        if t.resolved and math.isfinite(t.tau_c_s):
            low, high = sorted((float(m.base), float(m.base + t.amplitude_a)))
            # filled = the level the trap moves the current to (low when dI < 0)
            filled_low = t.amplitude_a < 0
            occ_low = t.occupancy if filled_low else 1 - t.occupancy
            tl, th = (t.tau_e_s, t.tau_c_s) if filled_low else (t.tau_c_s, t.tau_e_s)
            cl, ch = (t.tau_e_ci_s, t.tau_c_ci_s) if filled_low else (t.tau_c_ci_s, t.tau_e_ci_s)
            return TwoLevel(
                low, high, (high - low) / abs(high) if high else 0.0, occ_low,
                tl, th, round(t.transitions), cl, ch,
                method=type(m).__name__ + " (exact inversion of the sampled chain)",
                note="; ".join(getattr(m, "warnings", [])),
            )  # fmt: skip
        why = (
            f"no memory from one reading to the next (2 ln LR = {t.memory_lr:.3g} < 10.8): "
            "no trap the sampling resolves"
        )
    except BadInput as exc:
        why = str(exc)
    return TwoLevel(
        lo,
        hi,
        (hi - lo) / abs(hi) if hi else 0.0,
        float(np.mean(x < 0.5 * (lo + hi))),
        math.nan,
        math.nan,
        0,
        method="two-means levels",
        note=why,
    )
