"""Gaussian noise from units of k stochastic switches, and its quality against N(0, 1).

A unit of k cells has Hamming weight H; in the flip chain (every cell flips with probability
p per step) H is an Ehrenfest-type Markov chain whose stationary law is Binomial(k, 1/2), so

    x = (H - k/2) / sqrt(k/4)

has mean 0, variance 1, skewness 0 and excess kurtosis -2/k; successive values of one unit
correlate as ``rho_1 = 1 - 2p`` (0 at p = 1/2), and units of disjoint cells are independent.
:func:`noise_quality` measures all of these next to the theory (:func:`binomial_theory`).

When SET flips (OFF -> ON, probability ``p_set``) and RESET flips (``p_reset``) differ, each
cell is a two-state chain that is ON a fraction ``pi = p_set / (p_set + p_reset)`` of the
steps and correlates as ``lambda = 1 - p_set - p_reset`` from step to step. Counting ON as 1
in every cell (``direct`` readout) then gives x a mean ``sqrt(k) (2 pi - 1)``: with
``p_set = 0.4947``, ``p_reset = 0.5001`` that is -0.015, many standard errors in a bank of
1e5 values. The ``balanced`` readout counts OFF as 1 in every second cell of a unit
(:func:`balanced_complement`): H is then a sum of ``ceil(k/2)`` Bernoulli(pi) and
``floor(k/2)`` Bernoulli(1 - pi) indicators, so for even k

    E[x] = 0,  Var[x] = 4 pi (1 - pi) = 1 - (2 pi - 1)**2,  skewness 0,
    excess kurtosis = (1 - 6 pi (1 - pi)) / (k pi (1 - pi)),  lag-1 = lambda

(the mean cancels whatever the gap; the variance moves at second order in it; for identical
cells). :func:`chain_theory` gives these (exactly, from the law of H) for either readout.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from ftjlab.errors import BadInput

#: the bank recorded through the simulated bench (``scripts/record_noise_bank.py``)
BANK_FILE = "switching_noise_bank.npz"


def load_noise_bank(path: str | Path | None = None) -> tuple[np.ndarray, dict]:
    """A recorded noise bank: the standardised unit values, step-major (float32, 1-D), and
    its record (k, p, steps, units, run, settings, statistics). The file holds the units'
    Hamming weights as uint8 (``hamming``, steps x units), ``k`` and ``meta`` (JSON);
    default: the bank shipped in ``ftjlab.data.models``."""
    if path is None:
        from importlib import resources

        ref = resources.files("ftjlab.data.models").joinpath(BANK_FILE)
        with resources.as_file(ref) as real:
            return load_noise_bank(real)
    p = Path(path).expanduser()
    if not p.exists():
        raise BadInput(f"noise bank: {str(path)!r} does not exist")
    try:
        with np.load(p, allow_pickle=False) as z:
            hamming, k, meta = z["hamming"], int(z["k"]), json.loads(str(z["meta"]))
    except (KeyError, ValueError, OSError) as exc:
        raise BadInput(f"noise bank: {str(path)!r} is not a noise bank file ({exc})") from None
    if hamming.ndim != 2 or hamming.size == 0 or k < 1 or int(hamming.max()) > k:
        raise BadInput(f"noise bank: {str(path)!r} holds no Hamming weights of k = {k} units")
    values = ((hamming.astype(np.float32) - k / 2.0) / np.float32(np.sqrt(k / 4.0))).ravel()
    return values.astype(np.float32), {**meta, "file": str(p), "size": int(values.size)}


def balanced_complement(n_cells: int, k: int) -> np.ndarray:
    """Bool per cell of consecutive ``k``-cell units: True for the cells whose OFF state
    counts as 1 in the balanced readout (every second cell of a unit, ``k // 2`` per unit;
    cells of a trailing partial unit False)."""
    i = np.arange(n_cells)
    return (i % k % 2 == 1) & (i < (n_cells // k) * k)


def unit_values(bits: np.ndarray, k: int, balanced: bool = False) -> np.ndarray:
    """Standardised Hamming weights: ``bits`` (steps, cells) -> (steps, cells // k).

    Cells are grouped in consecutive runs of ``k``; a trailing partial unit is dropped. With
    ``balanced`` the cells of :func:`balanced_complement` count OFF as 1."""
    b = np.asarray(bits)
    if b.ndim != 2:
        raise BadInput(f"bits: need a (steps, cells) array, got shape {b.shape}")
    if k < 1 or b.shape[1] < k:
        raise BadInput(f"k: need 1 <= k <= {b.shape[1]} cells, got {k}")
    if balanced:
        b = b.astype(np.uint8) ^ balanced_complement(b.shape[1], k).astype(np.uint8)
    units = b.shape[1] // k
    h = b[:, : units * k].reshape(b.shape[0], units, k).sum(axis=2, dtype=np.int64)
    return (h - k / 2.0) / np.sqrt(k / 4.0)


@dataclass
class NoiseTheory:
    """Moments of the standardised Binomial(k, 1/2) and the lag-1 correlation at p."""

    mean: float
    variance: float
    skewness: float
    excess_kurtosis: float
    lag1: float
    ks_distance_limit: float  # KS distance of the discrete law from N(0, 1) (n -> inf)


def binomial_theory(k: int, p: float = 0.5) -> NoiseTheory:
    """What a perfect unit of ``k`` switches gives at flip probability ``p``."""
    support = (np.arange(k + 1) - k / 2.0) / np.sqrt(k / 4.0)
    cdf = stats.binom.cdf(np.arange(k + 1), k, 0.5)
    # sup |F_n - Phi| of a step function: check both sides of every jump
    left = np.concatenate([[0.0], cdf[:-1]])
    ks = float(np.max(np.maximum(np.abs(cdf - stats.norm.cdf(support)),
                                 np.abs(left - stats.norm.cdf(support)))))
    return NoiseTheory(0.0, 1.0, 0.0, -2.0 / k, 1.0 - 2.0 * p, ks)


def chain_theory(k: int, p_set: float, p_reset: float, balanced: bool = True) -> NoiseTheory:
    """Stationary statistics of a unit of ``k`` identical two-state cells that flip OFF -> ON
    with ``p_set`` and ON -> OFF with ``p_reset`` per step (see the module doc), read out
    ``balanced`` or directly: moments of x from the exact law of H, lag-1 ``1 - p_set -
    p_reset``, and the KS distance of that law from N(0, 1)."""
    if not (0 < p_set <= 1 and 0 < p_reset <= 1):
        raise BadInput(f"chain theory: p_set and p_reset must lie in (0, 1], got "
                       f"{p_set!r}, {p_reset!r}")
    pi = p_set / (p_set + p_reset)
    flipped = k // 2 if balanced else 0
    pmf = np.convolve(stats.binom.pmf(np.arange(k - flipped + 1), k - flipped, pi),
                      stats.binom.pmf(np.arange(flipped + 1), flipped, 1.0 - pi))
    x = (np.arange(k + 1) - k / 2.0) / np.sqrt(k / 4.0)
    mean = float(pmf @ x)
    var = float(pmf @ (x - mean) ** 2)
    skew = float(pmf @ (x - mean) ** 3) / var**1.5
    kurt = float(pmf @ (x - mean) ** 4) / var**2 - 3.0
    cdf = np.cumsum(pmf)
    left = np.concatenate([[0.0], cdf[:-1]])
    phi = stats.norm.cdf(x)
    ks = float(np.max(np.maximum(np.abs(cdf - phi), np.abs(left - phi))))
    return NoiseTheory(mean, var, skew, kurt, 1.0 - p_set - p_reset, ks)


@dataclass
class NoiseQuality:
    """Measured statistics of noise values (steps, units) and their theory."""

    k: int
    n_values: int
    mean: float
    variance: float
    skewness: float
    excess_kurtosis: float
    ks_distance: float
    lag1: float  # pooled over units
    lag1_worst: float  # the unit with the largest |lag-1|
    cross_unit_worst: float  # largest |correlation| between two units
    theory: NoiseTheory

    def as_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        t = self.theory
        rows = [
            ("mean", self.mean, t.mean), ("variance", self.variance, t.variance),
            ("skewness", self.skewness, t.skewness),
            ("excess kurtosis", self.excess_kurtosis, t.excess_kurtosis),
            ("KS distance to N(0,1)", self.ks_distance, t.ks_distance_limit),
            ("lag-1 (pooled)", self.lag1, t.lag1), ("lag-1 (worst unit)", self.lag1_worst, t.lag1),
            ("cross-unit (worst)", self.cross_unit_worst, 0.0),
        ]
        lines = [f"k = {self.k}, {self.n_values} values",
                 f"{'':24s}{'measured':>10s}{'theory':>10s}"]
        lines += [f"{name:24s}{m:10.4f}{th:10.4f}" for name, m, th in rows]
        return "\n".join(lines)


def noise_quality(values: np.ndarray, k: int, p: float = 0.5) -> NoiseQuality:
    """Statistics of ``values`` (steps, units) against N(0, 1) and the Binomial theory."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[0] < 3:
        raise BadInput(f"noise: need at least 3 steps, got {x.shape[0]}")
    flat = x.ravel()
    d = flat - flat.mean()
    var = float(np.mean(d**2))
    z = x - x.mean(axis=0)
    num = np.sum(z[1:] * z[:-1], axis=0)
    den = np.sum(z**2, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        lag_units = num / den
    pooled = float(np.sum(num) / np.sum(den))
    cross = 0.0
    if x.shape[1] > 1:
        c = np.corrcoef(x, rowvar=False)
        np.fill_diagonal(c, 0.0)
        cross = float(np.nanmax(np.abs(c)))
    return NoiseQuality(
        k=k,
        n_values=int(flat.size),
        mean=float(flat.mean()),
        variance=float(np.var(flat, ddof=1)),
        skewness=float(np.mean(d**3) / var**1.5),
        excess_kurtosis=float(np.mean(d**4) / var**2 - 3.0),
        ks_distance=float(stats.kstest(flat, "norm").statistic),
        lag1=pooled,
        lag1_worst=float(lag_units[np.nanargmax(np.abs(lag_units))]),
        cross_unit_worst=cross,
        theory=binomial_theory(k, p),
    )
