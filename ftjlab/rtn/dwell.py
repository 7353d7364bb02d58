"""Dwell times of a decoded level sequence: capture and emission times with confidence
intervals, occupancy, and dwell histograms.

For a trap sampled every ``dt`` the dwell in a level, counted in samples, is geometric with
mean 1/P_leave. The continuous-time constants follow exactly from P01 = 1/mean(empty dwell)
and P10 = 1/mean(filled dwell) (see :func:`ftjlab.rtn.hmm.continuous_rates`); the naive
``mean dwell * dt`` overestimates tau by about dt/2 and is reported beside it. The first and
last dwells of a record are censored by its edges and dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ftjlab.errors import BadInput

from .hmm import continuous_rates

__all__ = ["DwellReport", "dwell_analysis", "dwell_histogram"]


@dataclass
class DwellReport:
    """Capture (empty-level dwell) and emission (filled-level dwell) statistics."""

    tau_c_s: float
    tau_e_s: float
    tau_c_ci_s: tuple[float, float]
    tau_e_ci_s: tuple[float, float]
    naive_tau_c_s: float  # mean dwell * dt
    naive_tau_e_s: float
    n_empty: int  # complete dwells in the empty level
    n_filled: int
    occupancy: float  # fraction of samples in the filled level
    empty_dwells_s: np.ndarray
    filled_dwells_s: np.ndarray

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()
                if not isinstance(v, np.ndarray)}


def _ci(tau: float, n: int) -> tuple[float, float]:
    lo, hi = stats.chi2.ppf([0.975, 0.025], 2 * n)
    return 2 * n * tau / lo, 2 * n * tau / hi


def dwell_analysis(states: np.ndarray, lengths: np.ndarray, interval_s: float,
                   filled: int, empty: int, min_dwells: int = 10) -> DwellReport:
    """tau_c, tau_e from run-length encoded levels (``states``, ``lengths`` in samples, e.g.
    :meth:`ftjlab.rtn.hmm.GaussianHMM.dwells`). ``filled``/``empty``: the level indices.
    Needs at least ``min_dwells`` complete dwells in each level: fewer is :class:`BadInput`."""
    states = np.asarray(states)
    lengths = np.asarray(lengths, dtype=np.int64)
    if states.shape != lengths.shape or states.ndim != 1:
        raise BadInput("states, lengths: expected two 1-D arrays of equal length")
    occ_samples = float(lengths[states == filled].sum())
    total = float(lengths.sum())
    inner_s, inner_l = states[1:-1], lengths[1:-1]
    e_len = inner_l[inner_s == empty]
    f_len = inner_l[inner_s == filled]
    if e_len.size < min_dwells or f_len.size < min_dwells:
        raise BadInput(
            f"trace: only {e_len.size} complete empty and {f_len.size} filled dwells; at least "
            f"{min_dwells} each are needed for time constants (record longer, or sample "
            "faster than the dwell times)"
        )
    me, mf = float(e_len.mean()), float(f_len.mean())
    p01, p10 = 1.0 / me, 1.0 / mf
    if p01 + p10 >= 1.0:
        raise BadInput("trace: dwells of about one sample: the sampling interval is too long "
                       "for these time constants")
    lc, le = continuous_rates(p01, p10, interval_s)
    tau_c, tau_e = 1 / lc, 1 / le
    return DwellReport(
        tau_c, tau_e, _ci(tau_c, e_len.size), _ci(tau_e, f_len.size),
        me * interval_s, mf * interval_s, int(e_len.size), int(f_len.size),
        occ_samples / total if total else math.nan,
        e_len * interval_s, f_len * interval_s,
    )  # fmt: skip


def dwell_histogram(dwells_s: np.ndarray, bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Log-binned histogram (counts per bin, bin edges in s) of dwell times, for plots of the
    exponential dwell distribution."""
    d = np.asarray(dwells_s, dtype=np.float64)
    if d.size == 0:
        raise BadInput("dwells: empty")
    lo, hi = d.min(), d.max()
    edges = np.geomspace(lo, hi * 1.0001, bins + 1) if hi > lo else np.array([lo, lo * 1.0001])
    counts, _ = np.histogram(d, edges)
    return counts, edges
