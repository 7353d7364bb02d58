"""Switching law of single cells from flip counts, and operating points for a target p.

A cell that starts fully in one state and gets one pulse of amplitude V and width t flips
(its read-back conductance crosses the middle of its window) with probability

    P(V, t) = 1 - exp(-(t / tau(V))**beta),   tau(V) = tau0 * exp((Va / |V|)**alpha)

(nucleation-limited switching with a Merz-law time constant). Taking the complementary
log-log of P makes the law linear in three coefficients for a fixed alpha:

    log(-log(1 - P)) = c0 + c1 * log(t) + c2 * |V|**-alpha,
    c1 = beta,  c0 = -beta * log(tau0),  c2 = -beta * Va**alpha,

so each cell's law is a binomial GLM with the cloglog link, fitted by iteratively reweighted
least squares from the counts (trials, flips) at each (V, t). Alpha (shared by a cell group)
is chosen by profile likelihood over a grid. The covariance of the coefficients gives the
uncertainty of P at any point by the delta method; an operating point is the amplitude that
gives the target p at a chosen width, rounded to the bench's amplitude resolution, and a cell
whose p cannot be reached inside the bench's limits, or is not known well enough, is excluded
with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ftjlab.errors import BadInput

#: alpha grid of the profile likelihood (Merz exponents reported for HZO lie in 1..5)
ALPHA_GRID = tuple(np.round(np.arange(1.0, 6.01, 0.25), 2))


def cloglog(p: np.ndarray | float) -> np.ndarray:
    """``log(-log(1 - p))``."""
    p = np.asarray(p, dtype=np.float64)
    return np.log(-np.log1p(-p))


def inv_cloglog(eta: np.ndarray | float) -> np.ndarray:
    """``1 - exp(-exp(eta))``."""
    return -np.expm1(-np.exp(np.minimum(np.asarray(eta, dtype=np.float64), 30.0)))


def _design(volts: np.ndarray, width_s: np.ndarray, alpha: float) -> np.ndarray:
    v = np.abs(np.asarray(volts, dtype=np.float64))
    t = np.asarray(width_s, dtype=np.float64)
    return np.column_stack([np.ones(v.size), np.log(t), v**-alpha])


@dataclass
class CellLaw:
    """The fitted switching law of one cell (one polarity)."""

    coef: np.ndarray  # c0, c1, c2
    cov: np.ndarray  # 3 x 3 covariance of coef
    alpha: float
    loglik: float
    trials: int
    flips: int
    ok: bool = True
    reason: str = ""

    @property
    def beta(self) -> float:
        return float(self.coef[1])

    @property
    def tau0_s(self) -> float:
        return float(math.exp(-self.coef[0] / self.coef[1]))

    @property
    def va_v(self) -> float:
        return float((-self.coef[2] / self.coef[1]) ** (1.0 / self.alpha))

    def eta(self, volts: float | np.ndarray, width_s: float | np.ndarray) -> np.ndarray:
        v, t = np.broadcast_arrays(np.atleast_1d(volts), np.atleast_1d(width_s))
        return _design(v, t, self.alpha) @ self.coef

    def probability(self, volts, width_s) -> np.ndarray:
        """P(V, t) of the fitted law."""
        return inv_cloglog(self.eta(volts, width_s))

    def probability_sigma(self, volts, width_s) -> np.ndarray:
        """Standard error of P(V, t) (delta method on the coefficients' covariance)."""
        v, t = np.broadcast_arrays(np.atleast_1d(volts), np.atleast_1d(width_s))
        x = _design(v, t, self.alpha)
        eta = x @ self.coef
        var = np.einsum("ij,jk,ik->i", x, self.cov, x)
        e = np.exp(np.minimum(eta, 30.0))
        return np.sqrt(np.maximum(var, 0.0)) * e * np.exp(-e)

    def volts_for(self, p: float, width_s: float) -> float:
        """|V| that gives probability ``p`` at ``width_s`` (NaN when no amplitude does)."""
        c0, c1, c2 = self.coef
        rhs = (float(cloglog(p)) - c0 - c1 * math.log(width_s)) / c2  # = |V|**-alpha
        if not (rhs > 0 and math.isfinite(rhs)):
            return float("nan")
        return float(rhs ** (-1.0 / self.alpha))


def fit_glm(
    x: np.ndarray, trials: np.ndarray, flips: np.ndarray, iterations: int = 60
) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """Binomial GLM with the cloglog link by IRLS: (coef, covariance, log-likelihood, converged).

    Rows with no trials are ignored. A tiny ridge keeps separable data (a cell that flips at
    every amplitude above some value, never below) finite; such fits show up as a large
    covariance, which the operating-point choice turns into an exclusion."""
    n = np.asarray(trials, dtype=np.float64)
    y = np.asarray(flips, dtype=np.float64)
    keep = n > 0
    x, n, y = x[keep], n[keep], y[keep]
    # start: least squares on the empirical cloglog with shrunk proportions
    p0 = (y + 0.5) / (n + 1.0)
    scale = np.maximum(np.abs(x).max(axis=0), 1e-300)
    xs = x / scale
    coef = np.linalg.lstsq(xs, cloglog(p0), rcond=None)[0]
    ridge = 1e-6 * np.eye(x.shape[1])
    converged = False
    for _ in range(iterations):
        eta = np.clip(xs @ coef, -30.0, 3.5)
        e = np.exp(eta)
        mu = np.clip(-np.expm1(-e), 1e-12, 1 - 1e-12)
        dmu = e * (1.0 - mu)
        w = n * dmu**2 / (mu * (1.0 - mu))
        z = eta + (y / n - mu) / np.maximum(dmu, 1e-300)
        a = xs.T @ (w[:, None] * xs) + ridge
        new = np.linalg.solve(a, xs.T @ (w * z))
        step = np.max(np.abs(new - coef))
        coef = new
        if step < 1e-9 * (1 + np.max(np.abs(coef))):
            converged = True
            break
    eta = np.clip(xs @ coef, -30.0, 3.5)
    mu = np.clip(-np.expm1(-np.exp(eta)), 1e-15, 1 - 1e-15)
    loglik = float(np.sum(y * np.log(mu) + (n - y) * np.log1p(-mu)))
    e = np.exp(eta)
    dmu = e * (1.0 - mu)
    w = n * dmu**2 / (mu * (1.0 - mu))
    cov_s = np.linalg.pinv(xs.T @ (w[:, None] * xs) + ridge)
    return coef / scale, cov_s / np.outer(scale, scale), loglik, converged


def fit_cell(
    volts: np.ndarray,
    width_s: np.ndarray,
    trials: np.ndarray,
    flips: np.ndarray,
    alpha: float,
) -> CellLaw:
    """The switching law of one cell from its counts at each (V, t), alpha fixed."""
    volts, width_s = np.asarray(volts, float), np.asarray(width_s, float)
    trials, flips = np.asarray(trials), np.asarray(flips)
    total, hits = int(trials.sum()), int(flips.sum())
    nan = np.full(3, np.nan)
    if total == 0:
        return CellLaw(nan, np.full((3, 3), np.nan), alpha, np.nan, 0, 0, False, "no trials")
    if hits == 0:
        return CellLaw(nan, np.full((3, 3), np.nan), alpha, np.nan, total, 0, False,
                       f"never flipped in {total} trials up to {np.abs(volts).max():.3f} V "
                       "(stuck, or the window is too low)")
    if hits == total:
        return CellLaw(nan, np.full((3, 3), np.nan), alpha, np.nan, total, hits, False,
                       f"flipped in all {total} trials down to {np.abs(volts).min():.3f} V "
                       "(the window is too high)")
    if np.unique(np.log(width_s[trials > 0])).size < 2:
        raise BadInput("switching calibration: the law needs at least two pulse widths")
    coef, cov, loglik, converged = fit_glm(_design(volts, width_s, alpha), trials, flips)
    law = CellLaw(coef, cov, alpha, loglik, total, hits)
    if not converged:
        law.ok, law.reason = False, "fit did not converge"
    elif not (coef[1] > 0 and coef[2] < 0):
        law.ok, law.reason = False, (
            f"not a switching law: beta = {coef[1]:.3g}, Va term {coef[2]:.3g} "
            "(P must rise with |V| and with t)")
    return law


def fit_group_alpha(
    volts: np.ndarray,
    width_s: np.ndarray,
    trials: np.ndarray,
    flips: np.ndarray,
    grid: tuple[float, ...] = ALPHA_GRID,
) -> float:
    """The alpha of a cell group: the grid value that maximises the summed profile
    log-likelihood over the group's cells. ``trials``/``flips`` are (points, cells)."""
    trials, flips = np.atleast_2d(trials), np.atleast_2d(flips)
    best, best_ll = float(grid[0]), -np.inf
    for a in grid:
        ll = 0.0
        for j in range(flips.shape[1]):
            k, n = flips[:, j], trials[:, j]
            if 0 < k.sum() < n.sum():
                ll += fit_glm(_design(volts, width_s, a), n, k)[2]
        if ll > best_ll:
            best, best_ll = float(a), ll
    return best


@dataclass
class OperatingPoints:
    """Per-cell pulse settings for one target p and polarity.

    ``volts`` is signed (the pulse polarity), NaN for excluded cells; ``width_s`` is each
    cell's width (the nominal one, or with ``fine_width`` adjusted by < 1 % so the amplitude
    rounded to the generator's resolution still gives the target); ``p_fit`` and ``p_sigma``
    are the law's probability at that point and its standard error.
    """

    target_p: float
    width_s: np.ndarray  # per cell: the nominal width, fine-tuned for the rounded amplitude
    volts: np.ndarray
    p_fit: np.ndarray
    p_sigma: np.ndarray
    reasons: dict[int, str] = field(default_factory=dict)

    @property
    def usable(self) -> np.ndarray:
        return np.isfinite(self.volts)

    def summary(self) -> str:
        u = self.usable
        return (f"p = {self.target_p:g} at {np.nanmedian(self.width_s):.3g} s: "
                f"{int(u.sum())}/{u.size} cells, "
                f"|V| {np.nanmin(np.abs(self.volts)) if u.any() else float('nan'):.3f}.."
                f"{np.nanmax(np.abs(self.volts)) if u.any() else float('nan'):.3f} V, "
                f"max sigma_p {np.nanmax(self.p_sigma[u]) if u.any() else float('nan'):.3f}")


def choose_points(
    laws: list[CellLaw],
    target_p: float,
    width_s: float,
    polarity: int,
    max_volts: float,
    v_resolution: float = 1e-3,
    p_tolerance: float = 0.02,
    min_volts: float = 0.1,
    width_resolution_s: float = 1e-10,
    fine_width: bool = False,
) -> OperatingPoints:
    """The amplitude of every cell for ``target_p`` at ``width_s`` (signed by ``polarity``).

    A cell is excluded, with the reason, when its law did not fit, when the amplitude lies
    outside ``[min_volts, max_volts]`` (the bench's program limit), or when the uncertainty of
    its p (two standard errors, plus the amplitude rounding) exceeds ``p_tolerance``.
    ``fine_width`` also adjusts each cell's width (by < 1 %) so the rounded amplitude gives
    the target exactly; every pulse then needs a full generator reconfiguration (~20 ms on
    the simulated bench instead of a level change), so it is off by default."""
    if not 0.0 < target_p < 1.0:
        raise BadInput(f"target p must lie strictly between 0 and 1, got {target_p!r}")
    n = len(laws)
    volts = np.full(n, np.nan)
    widths = np.full(n, float(width_s))
    p_fit = np.full(n, np.nan)
    p_sig = np.full(n, np.nan)
    reasons: dict[int, str] = {}
    for j, law in enumerate(laws):
        if not law.ok:
            reasons[j] = law.reason
            continue
        v = law.volts_for(target_p, width_s)
        if not math.isfinite(v):
            p_max = float(inv_cloglog(law.coef[0] + law.coef[1] * math.log(width_s)))
            reasons[j] = (f"unreachable: no amplitude gives p = {target_p:g} at {width_s:.3g} s "
                          f"(the law tends to p = {p_max:.3g} for |V| -> infinity)")
            continue
        v_round = round(v / v_resolution) * v_resolution
        if v_round > max_volts:
            reasons[j] = (f"unreachable: needs {v:.3f} V at {width_s:.3g} s, above the program "
                          f"limit {max_volts:g} V")
            continue
        if v_round < min_volts:
            reasons[j] = f"unreachable: needs {v:.3f} V, below {min_volts:g} V"
            continue
        t_fine = float(width_s)
        if fine_width:
            c0, c1, c2 = law.coef
            t_fine = math.exp((float(cloglog(target_p)) - c0 - c2 * v_round**-law.alpha) / c1)
            t_fine = float(np.clip(t_fine, 0.99 * width_s, 1.01 * width_s))
            t_fine = round(t_fine / width_resolution_s) * width_resolution_s
        p = float(law.probability(v_round, t_fine)[0])
        s = float(law.probability_sigma(v_round, t_fine)[0])
        p_fit[j], p_sig[j], widths[j] = p, s, t_fine
        if abs(p - target_p) + 2 * s > p_tolerance:
            reasons[j] = (f"uncertain: p = {p:.3f} +- {s:.3f} at {v_round:.3f} V "
                          f"(tolerance {p_tolerance:g}; more calibration trials needed)")
            continue
        volts[j] = polarity * v_round
    return OperatingPoints(target_p, widths, volts, p_fit, p_sig, reasons)


def schedule_p(betas: np.ndarray) -> np.ndarray:
    """Flip probability per step that matches a DDPM forward step's first two moments:
    ``p_t = (1 - sqrt(1 - beta_t)) / 2`` (a +-1 bit flipped with p shrinks its mean by
    ``1 - 2 p = sqrt(1 - beta)`` and has variance ``4 p (1 - p) = beta``)."""
    b = np.asarray(betas, dtype=np.float64)
    if np.any((b <= 0) | (b >= 1)) or not np.all(np.isfinite(b)):
        raise BadInput("beta schedule: every beta_t must lie in (0, 1)")
    return (1.0 - np.sqrt(1.0 - b)) / 2.0
