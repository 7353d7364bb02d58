"""RTN readings -> Gaussian latent vectors z in R^d, their quality against N(0, I), and the
tuning report over sampling bias x sampling time.

The sampler (:func:`make_latents`):

1. standardises each cell (its own mean and standard deviation, or those of a calibration
   segment);
2. decorrelates in time by thinning (keep every k-th reading; ``thin="auto"`` picks the
   smallest k at which every cell's autocorrelation is below ``rho_max``) - or by spacing the
   readings at acquisition (interval >= 5 tau*), which costs no readings;
3. sums groups of ``cells_per_dim`` cells per latent dimension (z = sum x_c / sqrt(K)), which
   pushes the two-level statistics of single traps toward a Gaussian (skewness ~ 1/sqrt(K),
   excess kurtosis ~ 1/K), and standardises each dimension. Cells are dealt to dimensions so
   that each gets the same mix of slow and fast traps (:func:`balanced_groups`).

A reading integrates the cell current over its aperture (the "sampling time" T_s of the
paper's tuning): a longer T_s averages more trap flips (more Gaussian, less correlated from
one reading to the next) at the cost of fewer samples per second; the bias moves
tau_c / tau_e (the occupancy, hence the skewness) and the RTN amplitude.

Quality (:func:`latent_quality`) per dimension: Kolmogorov-Smirnov and Anderson-Darling
statistics against N(0, 1), a k-nearest-neighbour KL-divergence estimate, skewness, excess
kurtosis, lag-1 autocorrelation; across dimensions the largest |correlation|.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import special, stats

from ftjlab.errors import BadInput

from ._checks import as_cells
from .latent_check import (
    LatentQualityWarning,
    cells_needed_moments,
    expected_quality,
    robust_thin,
)

__all__ = [
    "LatentQuality",
    "LatentQualityWarning",
    "TuningPoint",
    "TuningReport",
    "kl_divergence_normal",
    "latent_quality",
    "latents_with_expectation",
    "make_latents",
    "predicted_quality",
    "select_rtn_cells",
    "simulate_tuning",
    "standardise",
    "tuning_report",
]


def _as_cells(traces, name: str = "traces") -> np.ndarray:
    x = as_cells(traces, name, 20)
    flat = np.flatnonzero(np.std(x, axis=1) <= 1e-12 * np.maximum(np.abs(x).max(axis=1), 1e-300))
    if flat.size:
        raise BadInput(f"{name}: cell(s) {flat.tolist()[:10]} are constant: no randomness")
    return x


def standardise(traces, calibration: int | None = None) -> np.ndarray:
    """(x - mean) / std per cell, with mean and std from the first ``calibration`` readings
    (default: all)."""
    x = _as_cells(traces)
    ref = x[:, :calibration] if calibration else x
    return (x - ref.mean(axis=1, keepdims=True)) / ref.std(axis=1, keepdims=True)


def auto_thin(z: np.ndarray, rho_max: float = 0.02, max_thin: int = 1000) -> int:
    """Smallest step k that leaves every row correlated by at most ``rho_max`` from one kept
    reading to the next, robust to the estimator's noise on strongly correlated readings
    (:func:`ftjlab.rtn.latent_check.robust_thin`)."""
    return robust_thin(z, rho_max, max_thin)


def balanced_groups(z: np.ndarray, dim: int, cells_per_dim: int) -> np.ndarray:
    """Cell indices (dim, cells_per_dim): cells sorted by their lag-1 autocorrelation and
    dealt to the dimensions in snake order (0..d-1, d-1..0, ...), so every dimension gets the
    same mix of slow and fast traps and the same lag-1 correlation."""
    zc = z - z.mean(axis=1, keepdims=True)
    rho = np.sum(zc[:, 1:] * zc[:, :-1], axis=1) / np.sum(zc * zc, axis=1)
    order = np.argsort(-rho, kind="stable")
    groups = np.empty((dim, cells_per_dim), dtype=np.int64)
    for i, cell in enumerate(order[: dim * cells_per_dim]):
        rnd, pos = divmod(i, dim)
        groups[pos if rnd % 2 == 0 else dim - 1 - pos, rnd] = cell
    return groups


def make_latents(
    traces,
    dim: int,
    cells_per_dim: int = 1,
    thin: int | str = 1,
    rho_max: float = 0.02,
    calibration: int | None = None,
    assign: str = "balanced",
    check: str = "warn",
    settings: dict | None = None,
) -> np.ndarray:
    """Latent vectors from RTN traces of ``dim * cells_per_dim`` cells (rows of ``traces``;
    extra rows are ignored). Returns z of shape (samples, dim), each column standardised.

    ``assign``: "balanced" (:func:`balanced_groups`) or "ordered" (consecutive rows).
    ``check``: the expected KS and lag-1 of the result (:func:`latents_with_expectation`)
    against 0.02 each: "warn" (:class:`~ftjlab.rtn.latent_check.LatentQualityWarning` naming
    the cells per dimension needed), "refuse" (:class:`BadInput`), "report" (computed, no
    warning) or "off". ``settings``: bias,
    sampling time... named in that message."""
    z, _ = latents_with_expectation(traces, dim, cells_per_dim, thin, rho_max, calibration,
                                    assign, check, settings)
    return z


def latents_with_expectation(
    traces,
    dim: int,
    cells_per_dim: int = 1,
    thin: int | str = 1,
    rho_max: float = 0.02,
    calibration: int | None = None,
    assign: str = "balanced",
    check: str = "warn",
    settings: dict | None = None,
    ks_target: float = 0.02,
    lag1_target: float = 0.02,
):
    """:func:`make_latents` and its :class:`~ftjlab.rtn.latent_check.LatentExpectation`
    (None with ``check="off"``)."""
    x = _as_cells(traces)
    if dim < 1 or cells_per_dim < 1:
        raise BadInput(f"dim, cells_per_dim: must be >= 1, got {dim}, {cells_per_dim}")
    if check not in ("warn", "refuse", "report", "off"):
        raise BadInput(f"check: 'warn', 'refuse', 'report' or 'off', got {check!r}")
    need = dim * cells_per_dim
    if x.shape[0] < need:
        raise BadInput(f"traces: {dim} dimensions x {cells_per_dim} cells need {need} cells, "
                       f"got {x.shape[0]}")
    z = standardise(x[:need], calibration)
    if thin == "auto":
        thin = auto_thin(z, rho_max)
    if not isinstance(thin, int | np.integer) or thin < 1:
        raise BadInput(f"thin: a positive integer or 'auto', got {thin!r}")
    zt = z[:, ::thin]
    if assign == "balanced" and cells_per_dim > 1:
        groups = balanced_groups(zt, dim, cells_per_dim)
    elif assign in ("balanced", "ordered"):  # one cell per dimension: keep the input order
        groups = np.arange(need).reshape(dim, cells_per_dim)
    else:
        raise BadInput(f"assign: 'balanced' or 'ordered', got {assign!r}")
    expect = None
    if check != "off":
        expect = expected_quality(z, groups, int(thin), ks_target, lag1_target,
                                  **(settings or {}))
        if not expect.ok and check != "report":
            if check == "refuse":
                raise BadInput(expect.message())
            warnings.warn(expect.message(), LatentQualityWarning, stacklevel=3)
    out = zt[groups].sum(axis=1) / math.sqrt(cells_per_dim)
    out = (out - out.mean(axis=1, keepdims=True)) / out.std(axis=1, keepdims=True)
    return np.ascontiguousarray(out.T), expect


def kl_divergence_normal(z: np.ndarray, k: int = 5) -> float:
    """KL(P || N(0,1)) of 1-D samples: the Kozachenko-Leonenko k-NN entropy estimate of P
    and the exact cross-entropy term, KL = -H(P) + E_P[-log phi(z)]."""
    z = np.sort(np.asarray(z, dtype=np.float64))
    n = z.size
    if n <= 2 * k:
        raise BadInput(f"z: need more than {2 * k} samples for a KL estimate")
    # distance to the k-th nearest neighbour in sorted 1-D data: min over the windows that
    # contain the point and k others
    idx = np.arange(n)
    best = np.full(n, np.inf)
    for left in range(k + 1):
        lo = idx - left
        hi = lo + k
        ok = (lo >= 0) & (hi < n)
        d = np.maximum(z[idx] - z[np.clip(lo, 0, n - 1)], z[np.clip(hi, 0, n - 1)] - z[idx])
        best = np.where(ok, np.minimum(best, d), best)
    best = np.maximum(best, 1e-12)
    h = special.digamma(n) - special.digamma(k) + math.log(2.0) + float(np.mean(np.log(best)))
    cross = 0.5 * math.log(2 * math.pi) + 0.5 * float(np.mean(z**2))
    return max(cross - h, 0.0)


@dataclass
class LatentQuality:
    """Per-dimension statistics of latent samples against N(0, 1) (arrays of length d)."""

    n: int
    ks: np.ndarray
    ks_p: np.ndarray
    anderson: np.ndarray
    kl: np.ndarray
    skewness: np.ndarray
    excess_kurtosis: np.ndarray
    lag1: np.ndarray
    cross_corr_max: float  # largest |correlation| between two dimensions

    @property
    def ks_max(self) -> float:
        return float(self.ks.max())

    @property
    def lag1_mean(self) -> float:
        """Lag-1 autocorrelation pooled over dimensions (standard error 1/sqrt(n d))."""
        return float(self.lag1.mean())

    @property
    def lag1_max(self) -> float:
        return float(np.abs(self.lag1).max())

    def summary(self) -> dict:
        return {
            "n": self.n, "dim": int(self.ks.size), "ks_max": self.ks_max,
            "ks_mean": float(self.ks.mean()), "anderson_max": float(self.anderson.max()),
            "kl_mean": float(self.kl.mean()), "skew_max": float(np.abs(self.skewness).max()),
            "kurt_max": float(np.abs(self.excess_kurtosis).max()),
            "lag1_mean": self.lag1_mean, "lag1_max_abs": self.lag1_max,
            "cross_corr_max": self.cross_corr_max,
        }  # fmt: skip

    def table(self) -> str:
        lines = ["dim      KS   KS p    A^2      KL    skew   kurt   lag1"]
        for j in range(self.ks.size):
            lines.append(
                f"{j:3d} {self.ks[j]:7.4f} {self.ks_p[j]:6.3f} {self.anderson[j]:6.3f} "
                f"{self.kl[j]:7.4f} {self.skewness[j]:+6.3f} {self.excess_kurtosis[j]:+6.3f} "
                f"{self.lag1[j]:+6.3f}"
            )
        lines.append(f"n = {self.n} per dimension; pooled lag-1 {self.lag1_mean:+.4f} "
                     f"(s.e. {1 / math.sqrt(self.n * self.ks.size):.4f}); max |cross corr| "
                     f"{self.cross_corr_max:.4f}")
        return "\n".join(lines)


def latent_quality(z) -> LatentQuality:
    """Quality of latent samples ``z`` (samples, d) against N(0, I)."""
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 1:
        z = z[:, None]
    if z.ndim != 2 or z.shape[0] < 20:
        raise BadInput(f"z: expected (samples >= 20, d), got shape {z.shape}")
    if not np.all(np.isfinite(z)):
        raise BadInput("z: contains NaN or inf")
    n, d = z.shape
    ks = np.empty(d)
    ks_p = np.empty(d)
    ad = np.empty(d)
    kl = np.empty(d)
    for j in range(d):
        r = stats.kstest(z[:, j], "norm")
        ks[j], ks_p[j] = r.statistic, r.pvalue
        ad[j] = _anderson_normal(z[:, j])
        kl[j] = kl_divergence_normal(z[:, j])
    zc = z - z.mean(axis=0)
    lag1 = np.sum(zc[1:] * zc[:-1], axis=0) / np.sum(zc * zc, axis=0)
    if d > 1:
        c = np.corrcoef(z.T)
        cross = float(np.max(np.abs(c[np.triu_indices(d, 1)])))
    else:
        cross = 0.0
    return LatentQuality(n, ks, ks_p, ad, kl, stats.skew(z, axis=0),
                         stats.kurtosis(z, axis=0), lag1, cross)


def _anderson_normal(x: np.ndarray) -> float:
    """Anderson-Darling A^2 against the fully specified N(0, 1)."""
    u = np.clip(special.ndtr(np.sort(x)), 1e-300, 1 - 1e-16)
    n = u.size
    i = np.arange(1, n + 1)
    return float(-n - np.mean((2 * i - 1) * (np.log(u) + np.log1p(-u[::-1]))))


# ------------------------------------------------------------------------------ tuning


@dataclass
class TuningPoint:
    """Latent quality at one operating point."""

    bias_v: float
    sampling_time_s: float  # aperture of one reading
    interval_s: float  # time between readings (>= aperture)
    ks_max: float
    lag1: float  # expected lag-1 of a latent dimension
    lag1_se: float = 0.0  # its standard error
    skew_max: float = math.nan
    kurt_max: float = math.nan
    kl_mean: float = math.nan
    n: int = 0
    source: str = "measured"  # or "predicted"
    extra: dict = field(default_factory=dict)

    @property
    def rate_hz(self) -> float:
        """Latent vectors per second."""
        return 1.0 / self.interval_s


@dataclass
class TuningReport:
    """A grid of operating points and the one named best (see :func:`tuning_report`)."""

    points: list[TuningPoint]
    best: TuningPoint | None
    ks_target: float
    lag1_target: float
    reason: str

    def grid(self, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(biases, sampling times, values[bias, time]) of one metric (NaN where missing)."""
        b = np.unique([p.bias_v for p in self.points])
        t = np.unique([p.sampling_time_s for p in self.points])
        v = np.full((b.size, t.size), np.nan)
        for p in self.points:
            v[np.searchsorted(b, p.bias_v), np.searchsorted(t, p.sampling_time_s)] = getattr(
                p, key
            )
        return b, t, v

    def table(self) -> str:
        b, t, ks = self.grid("ks_max")
        _, _, rho = self.grid("lag1")
        meets = {(p.bias_v, p.sampling_time_s): _meets(p, self.ks_target, self.lag1_target)
                 for p in self.points}
        head = "bias (V) \\ T_s  " + "".join(f"{x * 1e3:>15.3g} ms" for x in t)
        lines = [
            f"Latent quality over bias x sampling time (KS max over dims / lag-1; "
            f"targets KS <= {self.ks_target}, |lag-1| <= {self.lag1_target}; * = best)",
            head,
        ]
        for i, bv in enumerate(b):
            cells = []
            for j, tv in enumerate(t):
                mark = "*" if self.best and (self.best.bias_v, self.best.sampling_time_s) == (
                    bv, tv) else " "
                ok = meets.get((bv, tv), False)
                cells.append(f"{mark}{ks[i, j]:6.3f}/{rho[i, j]:+6.3f}{'+' if ok else ' '}")
            lines.append(f"{bv:>8.3f}        " + "".join(f"{c:>18}" for c in cells))
        lines.append(f"(+ = meets both targets with margin: KS within {KS_BUDGET:g} x its "
                     f"target, expected lag-1 + 2 s.e. within {LAG1_BUDGET:g} x its target)")
        if self.best is not None:
            p = self.best
            lines.append(
                f"best operating point: {p.bias_v:.3f} V, T_s = {p.sampling_time_s * 1e3:.3g} ms "
                f"(interval {p.interval_s * 1e3:.3g} ms, {p.rate_hz:.3g} latents/s): KS "
                f"{p.ks_max:.4f}, lag-1 {p.lag1:+.4f} ({self.reason})"
            )
            if "cells_needed" in p.extra:
                lines.append(
                    f"cells per dimension needed there for KS <= {self.ks_target}: "
                    f"{p.extra['cells_needed']} (used: {p.extra.get('cells_per_dim', '?')})")
        else:
            lines.append("no operating point: " + self.reason)
        return "\n".join(lines)


KS_BUDGET = 0.75
LAG1_BUDGET = 0.5


def _meets(p: TuningPoint, ks_target: float, lag1_target: float) -> bool:
    """Both targets with room to spare, so that a fresh measurement at the named point meets
    them too: KS (max over dimensions, itself noisy by ~0.003 on 1e4 samples) within
    ``KS_BUDGET`` x its target; the expected lag-1 plus two standard errors within
    ``LAG1_BUDGET`` x its target, the other half being room for one dimension's own
    measurement (s.e. 1/sqrt(n) per dimension: 0.005 on 4e4 samples)."""
    return (p.ks_max <= KS_BUDGET * ks_target
            and abs(p.lag1) + 2 * p.lag1_se <= LAG1_BUDGET * lag1_target)


def tuning_report(points: Sequence[TuningPoint], ks_target: float = 0.02,
                  lag1_target: float = 0.02) -> TuningReport:
    """Name the best operating point: among points meeting both targets (lag-1 with a margin
    of two standard errors, see :func:`_meets`), the one with the highest latent rate, ties
    broken by the smaller max(KS/target, |lag-1|/target); if none meets them, the one
    closest to them."""
    pts = list(points)
    if not pts:
        raise BadInput("points: empty tuning grid")

    def score(p: TuningPoint) -> float:
        return max(p.ks_max / (KS_BUDGET * ks_target), abs(p.lag1) / (LAG1_BUDGET * lag1_target))

    ok = [p for p in pts if _meets(p, ks_target, lag1_target)]
    if ok:
        best = max(ok, key=lambda p: (p.rate_hz, -score(p)))
        reason = "fastest point meeting both targets with margin"
    else:
        best = min(pts, key=score)
        reason = "no point meets both targets; closest one"
    return TuningReport(pts, best, ks_target, lag1_target, reason)


def predicted_quality(bias_v: float, aperture_s: float, interval_s: float, tau_c_s: float,
                      tau_e_s: float, cells_per_dim: int = 1) -> TuningPoint:
    """Model prediction of latent quality from one trap's time constants (what the RTN tuning
    procedure measures per point): the aperture average of a telegraph signal with
    correlation time tau* behaves like m = T / (2 tau*) + 1 independent two-state draws,
    so skewness ~ (1 - 2p) / sqrt(m K p (1-p)) and excess kurtosis ~ (1 - 6 p (1-p)) /
    (m K p (1-p)); KS from their Edgeworth expansion; lag-1 from the exponential ACF of
    aperture averages ``interval_s`` apart. Read noise is ignored (it only helps)."""
    if min(aperture_s, interval_s, tau_c_s, tau_e_s) <= 0 or not all(
        map(math.isfinite, (aperture_s, interval_s, tau_c_s, tau_e_s))
    ):
        return TuningPoint(bias_v, aperture_s, interval_s, math.nan, math.nan,
                           source="predicted")
    p = tau_e_s / (tau_c_s + tau_e_s)
    ts = 1.0 / (1.0 / tau_c_s + 1.0 / tau_e_s)
    m = aperture_s / (2 * ts) + 1.0
    v = m * cells_per_dim * p * (1 - p)
    skew = (1 - 2 * p) / math.sqrt(v)
    kurt = (1 - 6 * p * (1 - p)) / v
    x = np.linspace(-5, 5, 2001)
    phi = np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    he2, he3, he5 = x**2 - 1, x**3 - 3 * x, x**5 - 10 * x**3 + 15 * x
    ks = float(np.max(np.abs(phi * (skew / 6 * he2 + kurt / 24 * he3 + skew**2 / 72 * he5))))
    r = aperture_s / ts
    var = 2 / r * (1 - (1 - math.exp(-r)) / r)
    cov = (1 - math.exp(-r)) ** 2 / r**2 * math.exp(-(interval_s - aperture_s) / ts)
    lag1 = cov / var if var > 0 else 1.0
    one = m * p * (1 - p)  # one cell
    need = cells_needed_moments((1 - 2 * p) / math.sqrt(one), (1 - 6 * p * (1 - p)) / one,
                                0.02)
    return TuningPoint(bias_v, aperture_s, interval_s, ks, lag1, abs(skew), abs(kurt),
                       source="predicted", extra={"occupancy": p, "tau_star_s": ts,
                                                  "cells_per_dim": cells_per_dim,
                                                  "cells_needed": need})


# ------------------------------------------------------------------------------ bench


def select_rtn_cells(array, rows: Sequence[int], bias_v: float = 0.8, n: int = 4000,
                     interval_s: float = 5e-5, min_lag1: float = 0.5) -> list[tuple[int, int]]:
    """Screen cells for RTN through the instruments (``array``: a
    :class:`ftjlab.rtn.bench.BenchCellReader`): ``n`` fast readings per cell; a cell with a
    trap slower than the interval shows a lag-1 autocorrelation near 1, a trap-free cell
    (read noise only) near 0."""
    cols = np.arange(array.cols)
    out = []
    for r in rows:
        x = array.acquire([r], cols, bias_v, n, interval_s, interval_s).astype(np.float64)
        xc = x - x.mean(axis=1, keepdims=True)
        rho = np.sum(xc[:, 1:] * xc[:, :-1], axis=1) / np.maximum(np.sum(xc * xc, axis=1),
                                                                   1e-300)
        out.extend((int(r), int(c)) for c in cols[rho >= min_lag1])
    return out


def acquire_cells(array, cells: Sequence[tuple[int, int]], bias_v: float, n: int,
                  interval_s: float, aperture_s: float) -> np.ndarray:
    """Readings (cells, n) of individual cells, row by row (one word line on at a time, as
    the bench reads them); ``array`` reads through the instruments
    (:class:`ftjlab.rtn.bench.BenchCellReader`)."""
    cells = list(cells)
    out = np.empty((len(cells), n))
    rows = sorted({r for r, _ in cells})
    for r in rows:
        idx = [i for i, (rr, _) in enumerate(cells) if rr == r]
        cols = [cells[i][1] for i in idx]
        out[idx] = array.acquire([r], cols, bias_v, n, interval_s, aperture_s)
    return out


def simulate_tuning(
    biases: Sequence[float],
    sampling_times: Sequence[float],
    dim: int = 4,
    cells_per_dim: int = 16,
    n: int = 10_000,
    gap_factor: float = 0.0,
    seed: int = 2026,
    params=None,
    cells: Sequence[tuple[int, int]] | None = None,
    bench: str | None = None,
    reader=None,
) -> TuningReport:
    """Measure latent quality through the instruments of a bench over a grid of bias x
    sampling time.

    ``reader`` (a :class:`ftjlab.rtn.bench.BenchCellReader`) reads the cells; without one,
    a session on ``bench`` (default: the shipped simulated bench, seeded with ``seed``) is
    opened for the study and closed (safe) after it. ``params`` is not used (the bench file
    says what the array is). RTN cells are screened once at 0.8 V
    (:func:`select_rtn_cells`) and the first ``dim * cells_per_dim`` are used at every point.
    Readings integrate over the sampling time and follow each other after
    ``gap_factor * T_s`` (0: back to back)."""
    if reader is None:
        from ftjlab.controller import ArrayController
        from ftjlab.rtn.bench import BenchCellReader
        from ftjlab.session import BenchSession

        with BenchSession.open(bench, seed=seed) as session:
            controller = ArrayController(session)
            try:
                return simulate_tuning(biases, sampling_times, dim, cells_per_dim, n,
                                       gap_factor, seed, None, cells,
                                       reader=BenchCellReader(controller))
            finally:
                controller.safe_state()
    array = reader
    need = dim * cells_per_dim
    if cells is None:
        cells = []
        row = 0
        while len(cells) < need and row < array.rows:
            cells += select_rtn_cells(array, [row])
            row += 1
    cells = list(cells)[:need]
    if len(cells) < need:
        raise BadInput(f"the device has only {len(cells)} RTN cells; {need} are needed")
    points = []
    for v in biases:
        for ts in sampling_times:
            interval = ts * (1 + gap_factor)
            x = acquire_cells(array, cells, float(v), n, interval, ts)
            points.append(measure_point(x, float(v), float(ts), float(interval), dim,
                                        cells_per_dim))
    return tuning_report(points)


def measure_point(x: np.ndarray, bias_v: float, sampling_time_s: float, interval_s: float,
                  dim: int, cells_per_dim: int) -> TuningPoint:
    """Latent quality of readings ``x`` (cells, n) taken at one operating point.

    The lag-1 autocorrelation of a latent dimension (a standardised sum of independent cells)
    is the mean of its cells' lag-1 autocorrelations; estimated from all cells it has a
    standard error of 1/sqrt(n cells) instead of 1/sqrt(n dim) from the latents alone."""
    z = standardise(x[: dim * cells_per_dim])
    zc = z - z.mean(axis=1, keepdims=True)
    cell_rho = np.sum(zc[:, 1:] * zc[:, :-1], axis=1) / np.sum(zc * zc, axis=1)
    zl, expect = latents_with_expectation(x, dim, cells_per_dim, check="report")
    q = latent_quality(zl)
    s = q.summary()
    n = x.shape[1]
    return TuningPoint(
        bias_v, sampling_time_s, interval_s, s["ks_max"], float(cell_rho.mean()),
        1.0 / math.sqrt(n * cell_rho.size), s["skew_max"], s["kurt_max"], s["kl_mean"], n,
        extra={"lag1_latent_pooled": s["lag1_mean"], "lag1_latent_max_abs": s["lag1_max_abs"],
               "cross_corr_max": s["cross_corr_max"], "cells_per_dim": cells_per_dim,
               "cells_needed": expect.cells_needed, "ks_expected": expect.ks_expected},
    )  # fmt: skip
