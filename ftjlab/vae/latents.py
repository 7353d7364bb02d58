"""Latent vectors for the decoder: RTN from the array at the sampling bias, or numpy Gaussians.

RTN latents (:func:`rtn_latents`): a block of cells, ``len(rows)`` word lines x ``dim`` bit
lines, is read at the sampling bias with all its word lines on, so each bit line carries the
Kirchhoff sum of ``len(rows)`` cells' RTN (more traps per latent: closer to Gaussian). The
readings are spaced by at least ``spacing * tau*`` (tau* = correlation time, estimated from a
short calibration trace: the lag at which the autocorrelation falls to 1/e), so successive
latent vectors are independent (rho < 1 %), and each bit line is standardised to zero mean
and unit variance. When the RTN sampler of :mod:`ftjlab.rtn.latent` is installed, its
``make_latents`` does the standardisation (same interface: traces (cells, readings) in,
(samples, dim) out).

A *latent source* is any callable ``source(n) -> (n, dim)`` array; :func:`gaussian_source`
and :func:`rtn_source` make one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ftjlab.errors import BadInput

SAMPLING_BIAS_V = 0.8
LatentSource = Callable[[int], np.ndarray]

try:  # the RTN analysis package's sampler, when present
    from ftjlab.rtn.latent import make_latents as _make_latents
except ImportError:  # pragma: no cover - depends on which packages are installed
    _make_latents = None


def standardise_columns(traces: np.ndarray) -> np.ndarray:
    """(cells, readings) -> (readings, cells), each cell to zero mean and unit variance."""
    x = np.asarray(traces, dtype=np.float64)
    std = x.std(axis=1, keepdims=True)
    if np.any(std == 0):
        raise BadInput(f"RTN cells {np.flatnonzero(std[:, 0] == 0).tolist()} show no fluctuation")
    return np.ascontiguousarray(((x - x.mean(axis=1, keepdims=True)) / std).T)


def to_latents(traces: np.ndarray) -> np.ndarray:
    """Latents (readings, dim) from RTN traces (dim, readings): one cell group per dimension,
    standardised; uses :func:`ftjlab.rtn.latent.make_latents` when available."""
    traces = np.asarray(traces, dtype=np.float64)
    if _make_latents is not None:
        return np.asarray(_make_latents(traces, traces.shape[0]), dtype=np.float64)
    return standardise_columns(traces)


def estimate_tau_star(traces: np.ndarray, interval_s: float) -> np.ndarray:
    """Correlation time of each trace (rows): the lag at which its autocorrelation first falls
    below 1/e, linearly interpolated, in seconds."""
    x = np.asarray(traces, dtype=np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    n = x.shape[1]
    m = 1 << math.ceil(math.log2(2 * n))
    spec = np.fft.rfft(x, m, axis=1)
    acf = np.fft.irfft(np.abs(spec) ** 2, m, axis=1)[:, : n // 2]
    acf = acf / np.maximum(acf[:, :1], 1e-300)
    below = acf < math.exp(-1.0)
    lag = np.where(below.any(axis=1), below.argmax(axis=1), n // 2)
    k = np.maximum(lag, 1)
    hi, lo = acf[np.arange(len(k)), k - 1], acf[np.arange(len(k)), np.minimum(k, n // 2 - 1)]
    frac = np.clip((hi - math.exp(-1.0)) / np.maximum(hi - lo, 1e-12), 0.0, 1.0)
    return (k - 1 + frac) * interval_s


@dataclass
class RTNLatents:
    """Latents from one RTN acquisition and how they were taken."""

    z: np.ndarray  # (n, dim)
    traces_a: np.ndarray  # (dim, n) bit-line currents
    volts: float
    interval_s: float
    aperture_s: float
    tau_star_s: float
    instrument_time_s: float


def prepare_rtn_cells(
    array, rows: Sequence[int], cols: Sequence[int], volts: float = 3.0, width_s: float = 1e-5
) -> None:
    """SET the sampling block fully ON (largest current, so RTN stands well above read noise)."""
    array.apply_pulse(np.asarray(rows), np.asarray(cols), volts, width_s, count=3)


def rtn_latents(
    array,
    n: int,
    rows: Sequence[int],
    cols: Sequence[int],
    volts: float = SAMPLING_BIAS_V,
    aperture_s: float | None = None,
    interval_s: float | None = None,
    spacing: float = 5.0,
    calibration_readings: int = 4000,
) -> RTNLatents:
    """``n`` latent vectors of dimension ``len(cols)`` from RTN of the simulated array.

    Word lines ``rows`` are on and bit lines ``cols`` biased at ``volts`` (the sampling bias).
    Unless ``interval_s`` is given, a calibration trace (``calibration_readings`` readings,
    20 us apart) estimates tau* per bit line; the readings are then spaced by ``spacing``
    times the largest tau*, and each integrates ``aperture_s`` (default: half the interval).
    Uses ``array.acquire`` only, so it needs nothing but what a bench can do.
    """
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    if n < 2:
        raise BadInput(f"n: need at least 2 latent vectors, got {n}")
    if rows.size < 1 or cols.size < 1:
        raise BadInput("rows, cols: the RTN block needs at least one word line and one bit line")
    if not (math.isfinite(volts) and volts != 0):
        raise BadInput(f"volts: the sampling bias must be finite and non-zero, got {volts!r}")
    t0 = array.clock.now_s
    if interval_s is None:
        dt = 2e-5
        cal = array.acquire(rows, cols, volts, calibration_readings, dt, dt)
        tau = float(np.max(estimate_tau_star(cal, dt)))
        interval_s = spacing * max(tau, dt)
    else:
        tau = float("nan")
    if aperture_s is None:
        aperture_s = 0.5 * interval_s
    if not 0 < aperture_s <= interval_s:
        raise BadInput(f"aperture_s {aperture_s!r} must be > 0 and <= interval_s {interval_s!r}")
    traces = array.acquire(rows, cols, volts, n, interval_s, aperture_s)
    z = to_latents(traces)
    return RTNLatents(
        z, traces, float(volts), float(interval_s), float(aperture_s), tau,
        array.clock.now_s - t0,
    )


def gaussian_source(dim: int, rng: np.random.Generator) -> LatentSource:
    """Software latents: standard normal numpy draws."""
    return lambda n: rng.standard_normal((n, dim))


def rtn_source(array, rows: Sequence[int], cols: Sequence[int], **options) -> LatentSource:
    """RTN latents from the array: ``source(n)`` acquires ``n`` readings (see rtn_latents)."""
    return lambda n: rtn_latents(array, n, rows, cols, **options).z
