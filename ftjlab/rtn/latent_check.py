"""What a latent sampler can promise before its latents are used: the expected distance from
N(0, 1) and the lag-1 correlation for the chosen bias, sampling time and cells per dimension,
the cells per dimension needed, and a decorrelation step (thinning) that holds up on
strongly correlated readings.

The expected KS distance of a dimension is that of the exact distribution of its sum: the
cells are independent, so the distribution of the sum of their standardised readings is the
convolution of each cell's measured distribution (histograms on a lattice 0.004 wide in the
final units, convolved by FFT), read noise included. Its KS distance from N(0, 1) includes
what moment expansions miss (the lattice of a few two-level cells: one symmetric two-level
cell is 0.27 from N(0, 1) although its skewness is 0). One cell per dimension leaves KS
~ 0.05-0.3 unless each reading averages over many tau*; the cells needed for a KS target
follow from convolution powers of the mean cell distribution.

Thinning (:func:`robust_thin`): the sample autocorrelation of n readings at lag k scatters by
sqrt((1 + 2 sum_j r_j^2) / n) (Bartlett), ~0.03 at n = 1e4 for an AR(1) with rho = 0.9, more
than a 0.02 target; a lag scan alone then never finds a quiet window. The step is the larger
of the exponential decay fitted at short lags (where the autocorrelation stands above its
noise) and the first lag where the autocorrelation falls within the target plus two
Bartlett errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ftjlab.errors import BadInput

__all__ = [
    "LatentExpectation",
    "LatentQualityWarning",
    "cells_needed",
    "cells_needed_moments",
    "edgeworth_ks",
    "expected_quality",
    "robust_thin",
    "sum_ks",
]

_X = np.linspace(-5, 5, 2001)
_PHI = np.exp(-_X * _X / 2) / math.sqrt(2 * math.pi)
_HE2, _HE3, _HE5 = _X**2 - 1, _X**3 - 3 * _X, _X**5 - 10 * _X**3 + 15 * _X


class LatentQualityWarning(UserWarning):
    """Latents that are not expected to be N(0, 1) within the target."""


def edgeworth_ks(skew: float, kurt: float) -> float:
    """KS distance from N(0, 1) of a distribution with this skewness and excess kurtosis
    (first Edgeworth terms)."""
    return float(np.max(np.abs(_PHI * (skew / 6 * _HE2 + kurt / 24 * _HE3 + skew**2 / 72 * _HE5))))


def cells_needed_moments(
    skew_one: float, kurt_one: float, ks_target: float, limit: int = 4096
) -> int:
    """Smallest K such that a sum of K cells with one cell's skewness and excess kurtosis is
    within ``ks_target`` of N(0, 1) by the Edgeworth expansion (no lattice term: for cells
    known only by their time constants)."""

    def ok(k: int) -> bool:
        return edgeworth_ks(skew_one / math.sqrt(k), kurt_one / k) <= ks_target

    k, prev = 1, 0
    while k <= limit:
        if ok(k):
            lo, hi = prev + 1, k
            while lo < hi:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if ok(mid) else (mid + 1, hi)
            return lo
        prev, k = k, 2 * k
    return limit + 1


LATTICE = 0.004  # lattice step of the convolution, in units of the final N(0, 1)


def sum_ks(cells: list[np.ndarray], power: int = 1) -> float:
    """KS distance from N(0, 1) of (sum of independent draws from each standardised sample
    in ``cells``, each taken ``power`` times) / sqrt(count), by exact convolution of their
    histograms on a lattice."""
    from scipy import signal, special

    k = len(cells) * power
    w = LATTICE * math.sqrt(k)
    pmf, start = np.ones(1), 0
    for z in cells:
        idx = np.rint(z / w).astype(np.int64)
        lo = int(idx.min())
        h = np.bincount(idx - lo).astype(np.float64)
        h /= h.sum()
        if power > 1:  # convolution power through the FFT
            n = (h.size - 1) * power + 1
            m = 1 << math.ceil(math.log2(n))
            h = np.fft.irfft(np.fft.rfft(h, m) ** power, m)[:n]
            lo *= power
        pmf = signal.fftconvolve(pmf, h)
        start += lo
    pmf = np.maximum(pmf, 0.0)
    pmf /= pmf.sum()
    x = (start + np.arange(pmf.size)) * w / math.sqrt(k)
    cdf = np.cumsum(pmf)
    phi = special.ndtr(x)
    before = np.concatenate([[0.0], cdf[:-1]])
    return float(max(np.max(np.abs(cdf - phi)), np.max(np.abs(before - phi))))


def cells_needed(cell: np.ndarray, ks_target: float, limit: int = 1024) -> int:
    """Smallest K such that the sum of K independent cells distributed like the standardised
    readings ``cell`` is within ``ks_target`` of N(0, 1) (``limit`` + 1 if none)."""
    k, prev = 1, 0
    while k <= limit:
        if sum_ks([cell], k) <= ks_target:
            lo, hi = prev + 1, k  # bisect in (prev, k]
            while lo < hi:
                mid = (lo + hi) // 2
                if sum_ks([cell], mid) <= ks_target:
                    hi = mid
                else:
                    lo = mid + 1
            return lo
        prev, k = k, k * 2
    return limit + 1


def _acf(x: np.ndarray, max_lag: int) -> np.ndarray:
    n = x.shape[1]
    m = 1 << math.ceil(math.log2(2 * n))
    f = np.fft.rfft(x - x.mean(axis=1, keepdims=True), m, axis=1)
    c = np.fft.irfft(np.abs(f) ** 2, m, axis=1)[:, : max_lag + 1]
    return c / c[:, :1]


def robust_thin(z: np.ndarray, rho_max: float = 0.02, max_thin: int = 1000) -> int:
    """Thinning step for every row of ``z`` (cells, n) to be correlated by at most
    ``rho_max`` from one kept reading to the next (module text). :class:`BadInput` if the
    step would exceed ``max_thin`` or leave fewer than 20 readings."""
    z = np.atleast_2d(np.asarray(z, dtype=np.float64))
    n = z.shape[1]
    lags = int(min(max_thin, n // 4))
    if lags < 2:
        raise BadInput(f"thin: {n} readings are too few to measure their correlation")
    r = _acf(z, lags)
    step = 1
    for row in r:
        # Bartlett standard error of the autocorrelation at lags 1..lags
        bart = np.sqrt((1 + 2 * np.concatenate([[0.0], np.cumsum(row[1:] ** 2)])[:-1]) / n)
        tol = rho_max + 2 * bart
        below = np.flatnonzero(np.abs(row[1:]) <= tol)
        k_emp = int(below[0]) + 1 if below.size else lags + 1
        # exponential decay from the lags standing above 3 noise levels
        noise = 3 * bart
        above = row[1:] > noise
        last = int(np.argmin(above)) if not above.all() else lags
        k_fit = 1
        if last >= 2:
            k = np.arange(1, last + 1)
            y = np.log(np.maximum(row[1 : last + 1], 1e-12))
            w = row[1 : last + 1] ** 2
            slope = float(
                np.sum(w * (k - np.average(k, weights=w)) * y)
                / np.sum(w * (k - np.average(k, weights=w)) ** 2)
            )
            amp = math.exp(float(np.average(y - slope * k, weights=w)))
            if slope < 0:
                k_fit = (
                    math.ceil(math.log(rho_max / max(amp, rho_max)) / slope) if amp > rho_max else 1
                )
            else:
                k_fit = lags + 1
        elif last == 1 and row[1] > rho_max:
            k_fit = max(1, math.ceil(math.log(rho_max) / math.log(max(row[1], 1e-12))))
        step = max(step, k_emp, k_fit)
    if step > max_thin:
        raise BadInput(
            f"thin: the readings stay correlated beyond {max_thin} samples; space "
            "them further apart at acquisition"
        )
    if n // step < 20:
        raise BadInput(
            f"thin: a step of {step} leaves {n // step} of {n} readings; record "
            "longer or space the readings further apart at acquisition"
        )
    return int(step)


@dataclass
class LatentExpectation:
    """Expected quality of latents from given readings and settings (see the module)."""

    ks_expected: float  # population KS from N(0, 1) of the worst dimension
    ks_sampling: float  # the KS a perfect N(0, 1) sample of this length shows (~0.87/sqrt n)
    lag1_expected: float  # largest |lag-1| over dimensions after thinning
    skew: float  # largest |skewness| of a dimension
    kurt: float  # largest |excess kurtosis| of a dimension
    cells_per_dim: int
    cells_needed: int  # cells per dimension for KS <= ks_target (same cells)
    thin: int
    ks_target: float
    lag1_target: float
    settings: dict

    @property
    def ok(self) -> bool:
        return self.ks_expected <= self.ks_target and self.lag1_expected <= self.lag1_target

    def message(self) -> str:
        where = ", ".join(f"{k} {v:.4g}" for k, v in self.settings.items() if v is not None)
        text = (
            f"latents ({where}{', ' if where else ''}{self.cells_per_dim} cell(s) per "
            f"dimension, thin {self.thin}): expected KS {self.ks_expected:.3f} (target "
            f"{self.ks_target}), lag-1 {self.lag1_expected:.3f} (target {self.lag1_target})"
        )
        if self.ks_expected > self.ks_target:
            text += (
                f"; N(0, 1) not reached: {self.cells_needed} cells per dimension needed "
                "(or a longer sampling time)"
            )
        if self.lag1_expected > self.lag1_target:
            text += "; correlated from one latent to the next: thin more or space the readings"
        return text


def expected_quality(
    z: np.ndarray,
    groups: np.ndarray,
    thin: int = 1,
    ks_target: float = 0.02,
    lag1_target: float = 0.02,
    **settings,
) -> LatentExpectation:
    """Expected quality of latents made by summing the standardised cells ``z`` (cells, n)
    in ``groups`` (dim, cells_per_dim) after thinning by ``thin``. ``settings``: bias_v,
    sampling_time_s, interval_s... (named in the message)."""
    z = np.asarray(z, dtype=np.float64)
    zs = (z - z.mean(axis=1, keepdims=True)) / z.std(axis=1, keepdims=True)
    sk = np.mean(zs**3, axis=1)
    ku = np.mean(zs**4, axis=1) - 3.0
    zt = zs[:, ::thin]
    zc = zt - zt.mean(axis=1, keepdims=True)
    lag1 = np.sum(zc[:, 1:] * zc[:, :-1], axis=1) / np.sum(zc * zc, axis=1)
    k = groups.shape[1]
    ks, skews, kurts, lags = [], [], [], []
    for g in groups:
        s, q = float(np.mean(sk[g])) / math.sqrt(k), float(np.mean(ku[g])) / k
        ks.append(sum_ks([zs[i] for i in g]))
        skews.append(abs(s))
        kurts.append(abs(q))
        lags.append(abs(float(np.mean(lag1[g]))))
    worst = int(np.argmax(ks))
    # cells needed: convolution powers of the worst dimension's most skewed cell
    cell = zs[groups[worst][int(np.argmax(np.abs(sk[groups[worst]])))]]
    need = cells_needed(cell, ks_target)
    return LatentExpectation(
        float(ks[worst]), 0.87 / math.sqrt(max(zt.shape[1], 1)), float(max(lags)),
        float(max(skews)), float(max(kurts)), k, need, int(thin), ks_target, lag1_target,
        dict(settings),
    )  # fmt: skip
