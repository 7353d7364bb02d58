"""Closed-loop refinement of each cell's switching law at its operating point.

A fit over a calibration grid knows each cell's p at the chosen amplitude only to a few
hundredths: a many-domain cell's flip curve is close to, not exactly, the single NLS law, and
the grid spreads its trials over the whole transition. The refinement measures where the cell
will be used: every cell is pulsed at its own amplitude for the target (row-parallel rounds,
as the chain pulses them), its flips are counted, a line in cloglog p against |V| is fitted to
the cell's refinement trials near that amplitude (its slope held near the fitted law's, the
data deciding once they span a few mV), and the next amplitude is where the line meets the
target. The loop repeats, with as many trials as the interval still needs, until

* p at the chosen amplitude is known to ``half_width`` (95 % interval, from the line), and
* the chosen amplitude lies within ``near_steps`` resolution steps of where the last trials
  were taken (the line's interval there includes its slope's uncertainty),

or the cell is excluded with the reason (no amplitude inside the limits, no convergence within
``max_trials``). The result is one law per cell and polarity, shifted to pass through (chosen
amplitude, target) with the refined level's variance as its ``cov`` (so ``choose_points``
picks that amplitude and reports the refined uncertainty), and excluded cells' laws with
``ok = False`` and the reason. What is left is the amplitude grid: the chosen amplitude's p
lies within half a resolution step's change of p from the target (the line's estimate there
is in the report).

``measure(set_v, reset_v, trials)`` is the only contact with the cells: per-cell unsigned
amplitudes (NaN: an excluded cell, leave it alone; a converged polarity keeps its amplitude,
with no trials wanted) and the trials wanted, ``(2 polarities [SET, RESET], cells)``; it
returns counts ``(2 polarities, 2 [trials, flips], cells)`` (it may count more trials than
wanted, e.g. chain steps of a converged polarity: they are ignored). A cell excluded in one
polarity is excluded in both (the chain pulses every cell in both directions).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .nls import CellLaw, OperatingPoints, cloglog, inv_cloglog

#: z of the two-sided 95 % interval
Z95 = 1.959963984540054

Measure = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass
class RefineReport:
    """What the refinement did, per polarity (+1 SET, -1 RESET) and cell."""

    target_p: float
    trials: dict[int, np.ndarray]  # total refinement trials per cell
    p_hat: dict[int, np.ndarray]  # observed rate at the final amplitude (its trials only)
    half_width: dict[int, np.ndarray]  # 95 % half-width of the refined p at the target
    volts: dict[int, np.ndarray]  # final unsigned amplitude (NaN: excluded)
    reasons: dict[int, dict[int, str]] = field(default_factory=dict)
    stages: int = 0
    instrument_s: float = 0.0
    wall_s: float = 0.0

    def summary(self) -> str:
        parts = []
        for pol, name in ((1, "SET"), (-1, "RESET")):
            ok = np.isfinite(self.volts[pol])
            parts.append(f"{name} {int(ok.sum())}/{ok.size} cells, "
                         f"{np.median(self.trials[pol]):.0f} trials per cell (median)")
        return f"refined p = {self.target_p:g}: " + "; ".join(parts)


def level_mle(law: CellLaw, volts: np.ndarray, width_s: float | np.ndarray, n: np.ndarray,
               k: np.ndarray) -> tuple[float, float]:
    """The shift of the law's cloglog level that maximises the binomial likelihood of counts
    ``(n, k)`` at ``volts`` and ``width_s`` (slope fixed), and its Fisher information."""
    eta0 = law.eta(volts, width_s)
    delta, info = 0.0, 0.0
    for _ in range(50):
        e = np.exp(np.clip(eta0 + delta, -30, 3.5))
        mu = np.clip(-np.expm1(-e), 1e-12, 1 - 1e-12)
        dmu = e * (1 - mu)
        score = float(np.sum((k - n * mu) * dmu / (mu * (1 - mu))))
        info = float(np.sum(n * dmu**2 / (mu * (1 - mu))))
        step = float(np.clip(score / max(info, 1e-300), -2.0, 2.0))
        delta += step
        if abs(step) < 1e-10:
            break
    return delta, info


def _local_line(volts: np.ndarray, n: np.ndarray, k: np.ndarray, v0: float,
                prior_slope: float) -> tuple[float, float, np.ndarray]:
    """Level ``a``, slope ``b`` and their covariance of ``cloglog p = a + b (V - v0)`` from
    counts at ``volts`` (maximum likelihood, Newton), the slope held near ``prior_slope`` by
    a Gaussian prior of half its size, and at least half of it (amplitudes a few mV apart
    pin a slope only loosely)."""
    x = volts - v0
    a, b = 0.0, prior_slope
    sd_b = 0.5 * abs(prior_slope)
    for _ in range(50):
        eta = np.clip(a + b * x, -30, 3.5)
        e = np.exp(eta)
        mu = np.clip(-np.expm1(-e), 1e-12, 1 - 1e-12)
        dmu = e * (1 - mu)
        r = (k - n * mu) * dmu / (mu * (1 - mu))
        w = n * dmu**2 / (mu * (1 - mu))
        g = np.array([r.sum(), (r * x).sum() - (b - prior_slope) / sd_b**2])
        h = np.array([[w.sum(), (w * x).sum()], [(w * x).sum(), (w * x * x).sum() + sd_b**-2]])
        step = np.linalg.solve(h, g)
        step = np.clip(step, -2.0, 2.0)
        a, b = a + float(step[0]), b + float(step[1])
        if np.max(np.abs(step)) < 1e-9:
            break
    return a, max(b, 0.5 * prior_slope), np.linalg.inv(h)


def _law_slope(law: CellLaw, v: float) -> float:
    """d cloglog P / d|V| of the law at ``v``."""
    return float(-law.alpha * law.coef[2] * v ** (-law.alpha - 1))


def _shifted(law: CellLaw, delta: float, var: float) -> CellLaw:
    """A copy of the law with its level shifted by ``delta`` and ``var`` its only variance."""
    out = copy.deepcopy(law)
    _shift(out, delta)
    out.cov = np.zeros((3, 3))
    out.cov[0, 0] = var
    return out


def _excluded(law: CellLaw, reason: str) -> CellLaw:
    out = copy.deepcopy(law)
    out.ok, out.reason = False, reason
    return out


@dataclass
class _Settings:
    """The options of :func:`refine_laws` (see there)."""

    target_p: float
    width_s: float
    max_volts: float
    half_width: float
    first_trials: int
    max_trials: int
    v_resolution: float
    min_volts: float
    local_v: float
    near_steps: int
    max_jump_v: float


class _Refinement:
    """The state of one :func:`refine_laws` run: per polarity and cell the laws, the counts
    seen at each amplitude, the amplitude and trials wanted next, and the report."""

    pols = (1, -1)

    def __init__(self, laws: dict[int, list[CellLaw]], s: _Settings,
                 fallback: dict[int, list[CellLaw]] | None) -> None:
        self.s = s
        n_cells = len(laws[1])
        self.laws = {pol: [self._start_law(law, None if fallback is None else fallback[pol][j])
                           for j, law in enumerate(laws[pol])] for pol in self.pols}
        self.out = {pol: [copy.deepcopy(law) for law in self.laws[pol]] for pol in self.pols}
        self.seen: dict[int, list[dict[float, list[int]]]] = {
            pol: [{} for _ in range(n_cells)] for pol in self.pols}
        self.report = RefineReport(
            s.target_p, {pol: np.zeros(n_cells, np.int64) for pol in self.pols},
            {pol: np.full(n_cells, np.nan) for pol in self.pols},
            {pol: np.full(n_cells, np.nan) for pol in self.pols},
            {pol: np.full(n_cells, np.nan) for pol in self.pols}, {pol: {} for pol in self.pols})
        self.active = {pol: np.array([law.ok for law in self.laws[pol]]) for pol in self.pols}
        self.sd1 = math.sqrt(s.target_p * (1 - s.target_p))  # binomial sd of one trial
        self.n_full = (Z95 * self.sd1 / (0.9 * s.half_width)) ** 2  # one point, 0.9 hw
        self.volts = {pol: np.full(n_cells, np.nan) for pol in self.pols}
        self.want = {pol: np.zeros(n_cells, np.int64) for pol in self.pols}

    def _start_law(self, law: CellLaw, alt: CellLaw | None) -> CellLaw:
        """The law, or ``alt`` where the law gives no amplitude for the target and ``alt``
        does."""
        p, t = self.s.target_p, self.s.width_s
        if alt is None or not alt.ok or not math.isfinite(alt.volts_for(p, t)):
            return law
        return law if law.ok and math.isfinite(law.volts_for(p, t)) else alt

    def snap(self, v: float) -> float:
        r = self.s.v_resolution
        return round(v / r) * r if math.isfinite(v) else v

    def drop(self, pol: int, j: int, reason: str) -> None:
        """Exclude the cell: both polarities (a chain step needs both amplitudes)."""
        for q, why in ((pol, reason), (-pol, f"the other polarity: {reason}")):
            if j in self.report.reasons[q]:
                continue
            self.active[q][j] = False
            self.out[q][j] = _excluded(self.out[q][j], why)
            self.report.reasons[q][j] = why
            self.report.volts[q][j] = np.nan
            self.volts[q][j] = np.nan

    def finish(self, pol: int, j: int, v: float, se_eta: float) -> None:
        law = self.laws[pol][j]
        delta = float(cloglog(self.s.target_p) - law.eta(v, self.s.width_s)[0])
        self.out[pol][j] = _shifted(law, delta, se_eta**2)
        self.active[pol][j] = False
        self.report.volts[pol][j] = v

    def start(self) -> None:
        """Exclude the cells without a law; the first amplitudes: the fitted laws'."""
        s = self.s
        for pol in self.pols:
            for j in np.flatnonzero(~self.active[pol]):
                self.drop(pol, int(j), self.laws[pol][j].reason)
        for pol, j in [(q, int(i)) for q in self.pols for i in np.flatnonzero(self.active[q])]:
            v = self.snap(self.laws[pol][j].volts_for(s.target_p, s.width_s))
            if not self.active[pol][j]:
                continue
            if not (math.isfinite(v) and s.min_volts <= v <= s.max_volts):
                self.drop(pol, j, f"refinement: no amplitude in [{s.min_volts:g}, "
                                  f"{s.max_volts:g}] V gives p = {s.target_p:g} (the law asks "
                                  f"{v:.3f} V)")
                continue
            self.volts[pol][j], self.want[pol][j] = v, s.first_trials

    def running(self) -> bool:
        return any(a.any() for a in self.active.values())

    def trials(self) -> np.ndarray:
        return np.stack([np.where(self.active[pol], self.want[pol], 0) for pol in self.pols])

    def stage(self, counts: np.ndarray) -> None:
        """Take one stage's counts ``(2 polarities, 2 [trials, flips], cells)``: each active
        cell's SET counts first, then its RESET counts (a SET exclusion ends both)."""
        self.report.stages += 1
        for pi, pol in enumerate(self.pols):
            for j in np.flatnonzero(self.active[pol]):
                self.update(pol, int(j), int(counts[pi, 0, j]), int(counts[pi, 1, j]))

    def update(self, pol: int, j: int, n_new: int, k_new: int) -> None:
        """Add a cell's new counts at its amplitude, fit its local line and decide: done,
        excluded, or the next amplitude and trials."""
        if n_new == 0 or not self.active[pol][j]:
            return
        s, report = self.s, self.report
        v = float(self.volts[pol][j])
        report.trials[pol][j] += n_new
        at = self.seen[pol][j].setdefault(round(v, 9), [0, 0])
        at[0] += n_new
        at[1] += k_new
        n, k = at
        p_hat = k / n
        pts = np.array([(a, nn, kk) for a, (nn, kk) in self.seen[pol][j].items()
                        if abs(a - v) <= s.local_v + 1e-12])
        level, slope_v, cov = _local_line(pts[:, 0], pts[:, 1], pts[:, 2], v,
                                          _law_slope(self.laws[pol][j], v))
        asks = v + (float(cloglog(s.target_p)) - level) / slope_v
        # one stage moves at most max_jump_v, never past the limits; a cell that asks to go
        # past a limit it is already at cannot reach the target
        v_next = self.snap(min(max(asks, v - s.max_jump_v, s.min_volts), v + s.max_jump_v,
                               s.max_volts))
        stuck = abs(v_next - v) < 0.5 * s.v_resolution
        if stuck and abs(asks - v) > s.near_steps * s.v_resolution and not (
                s.min_volts < v < s.max_volts):
            self.drop(pol, j, f"refinement: observed p = {p_hat:.3f} at {v:.3f} V, the "
                              f"limit; no amplitude in [{s.min_volts:g}, {s.max_volts:g}] V "
                              f"gives p = {s.target_p:g} (the local line asks {asks:.3f} V)")
            return
        x = np.array([1.0, v_next - v])
        eta = level + slope_v * (v_next - v)
        se = math.sqrt(max(float(x @ cov @ x), 0.0))
        e = math.exp(min(eta, 30.0))
        hw = Z95 * e * math.exp(-e) * se  # 95 % half-width of p at v_next
        report.p_hat[pol][j] = float(inv_cloglog(eta))
        report.half_width[pol][j] = hw
        close = abs(v_next - v) < (s.near_steps + 0.5) * s.v_resolution
        if hw <= s.half_width and close:
            self.finish(pol, j, v_next, se)
            return
        if report.trials[pol][j] >= s.max_trials:
            self.drop(pol, j, f"refinement did not converge: p = {report.p_hat[pol][j]:.3f}"
                              f" +- {hw:.3f} at {v_next:.3f} V after "
                              f"{report.trials[pol][j]} trials")
            return
        # near the target (the next amplitude within ~3 mV, or this rate within three
        # first-stage standard errors): what the half-width still needs; else a look
        near = close or abs(p_hat - s.target_p) <= 3 * self.sd1 / math.sqrt(s.first_trials)
        n_near = float(pts[:, 1].sum())
        if n > 2 * s.first_trials:  # measured well here: small steps from here on
            step = s.near_steps * s.v_resolution
            v_next = self.snap(min(max(v_next, v - step), v + step))
        prior = self.seen[pol][j].get(round(v_next, 9), [0, 0])[0]
        goal = min(n_near * ((hw / (0.9 * s.half_width)) ** 2 - 1),
                   self.n_full / 3) if near else s.first_trials - prior
        self.want[pol][j] = int(min(max(goal, s.first_trials // 2),
                                    s.max_trials - report.trials[pol][j]))
        self.volts[pol][j] = v_next


def stage_sizes(target_p: float, half_width: float) -> dict[str, int]:
    """The refinement's ``first_trials`` and ``max_trials`` for ``target_p`` to
    ``half_width`` (95 %): ``n`` = the binomial count of one amplitude for that half-width;
    the first stage a third of it (20 to 1,000 trials), the cap 3 n + 100 but at least 1e4 (at
    small p, n is small and a cell whose p starts far from its target needs more)."""
    n_full = (1.96 / half_width) ** 2 * target_p * (1 - target_p)
    return {"first_trials": int(min(1000, max(20, n_full / 3))),
            "max_trials": max(int(3 * n_full) + 100, 10_000)}


def refine_laws(
    laws: dict[int, list[CellLaw]],
    target_p: float,
    width_s: float,
    max_volts: float,
    measure: Measure,
    half_width: float = 0.01,
    first_trials: int = 1000,
    max_trials: int = 30_000,
    v_resolution: float = 1e-3,
    min_volts: float = 0.1,
    local_v: float = 0.05,
    near_steps: int = 3,
    max_jump_v: float = 0.1,
    fallback: dict[int, list[CellLaw]] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[dict[int, list[CellLaw]], RefineReport]:
    """Refined laws of both polarities for ``target_p`` at ``width_s`` (see the module doc).

    Stage sizes: ``first_trials`` at an amplitude far from the target (more than
    ``near_steps`` from the next, and a rate more than three first-stage standard errors off),
    else what the line's interval still needs for 0.9 ``half_width``, at most a third of what
    one amplitude alone needs for it (so the amplitude can still move on the way). The line
    uses the trials within ``local_v`` of the latest amplitude; one stage moves the amplitude
    by at most ``max_jump_v``. A cell whose law gives no amplitude for the target (a local fit
    around another p can end so) starts from its ``fallback`` law (e.g. the calibration's fit
    at its main anchor), which then also gives the slope."""
    if not 0.0 < target_p < 1.0:
        raise ValueError(f"target p must lie in (0, 1), got {target_p!r}")
    r = _Refinement(laws, _Settings(target_p, width_s, max_volts, half_width, first_trials,
                                    max_trials, v_resolution, min_volts, local_v, near_steps,
                                    max_jump_v), fallback)
    r.start()
    stop = should_stop or (lambda: False)
    while r.running() and not stop():
        r.stage(np.asarray(measure(r.volts[1].copy(), r.volts[-1].copy(), r.trials())))
    return r.out, r.report


def refine_cells(
    cells: Any,
    calibration: Any,
    target_p: float,
    width_s: float,
    max_volts: float,
    half_width: float = 0.01,
    first_trials: int = 1000,
    max_trials: int = 30_000,
    v_resolution: float = 1e-3,
    on_block: Callable[[np.ndarray], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RefineReport:
    """Refine the laws of ``cells`` (a :class:`~ftjlab.switching.engine.SwitchingCells`)
    for ``target_p`` at ``width_s`` at their operating points through the instruments
    (:func:`refine_laws`, trials by ``cells.measure_points``: on-board chain steps where the
    bench runs them, else row-parallel trial rounds) and keep them in
    ``calibration.refined``: the operating points of every later use of the calibration for
    this target come from them, and cells that did not converge are excluded with the reason.
    The report carries the trials, the instrument and the wall time; ``on_block`` gets each
    stage's counts as trial rows (word line, bit line, polarity, |V|, width, trials, flips:
    the calibration's trial columns), so a run file keeps them with the calibration's."""
    index = [calibration.cells.index(c) for c in cells.cells]
    laws = calibration.laws_for(target_p)
    mine = {pol: [laws[pol][i] for i in index] for pol in (1, -1)}
    main = {pol: [calibration.laws[pol][i] for i in index] for pol in (1, -1)}
    session = getattr(cells.c, "session", None)
    t0, w0 = (session.now_s() if session else 0.0), time.perf_counter()

    def measure(set_v: np.ndarray, reset_v: np.ndarray, n: np.ndarray) -> np.ndarray:
        counts = cells.measure_points(set_v, reset_v, width_s, n, should_stop=should_stop)
        if on_block is not None:
            rows = [(cells.cells[j][0], cells.cells[j][1], pol, float(v[j]), width_s,
                     int(counts[pi, 0, j]), int(counts[pi, 1, j]))
                    for pi, (pol, v) in enumerate(((1, set_v), (-1, reset_v)))
                    for j in np.flatnonzero((counts[pi, 0] > 0) & np.isfinite(v))]
            if rows:
                on_block(np.array(rows, dtype=np.float64))
        return counts

    refined, report = refine_laws(
        mine, target_p, width_s, max_volts, measure, half_width=half_width,
        first_trials=first_trials, max_trials=max_trials, v_resolution=v_resolution,
        fallback=main, should_stop=should_stop)
    report.instrument_s = (session.now_s() if session else 0.0) - t0
    report.wall_s = time.perf_counter() - w0
    merged = {pol: list(laws[pol]) for pol in (1, -1)}
    for pol in (1, -1):
        for k, i in enumerate(index):
            merged[pol][i] = refined[pol][k]
    calibration.refined[round(float(target_p), 12)] = merged
    return report


@dataclass
class DriftTracker:
    """Observed flip rates per cell and polarity; re-tunes, refines or excludes.

    Per cell: the rate since the last check; a cell beyond ``z_limit`` is re-tuned (its law
    shifted to what was observed) or, after ``max_retunes``, excluded. Per polarity: the rate
    of all cells in use since that polarity's last re-tune; beyond ``z_polarity`` every cell's
    law of that polarity is shifted by the pooled deviation. A per-cell check sees only large
    moves (~125 trials per polarity between checks); the pooled rate sees a common drift of
    a few 1e-3 (SET flips drifting rarer than RESET flips) within a few checks.

    With the operating points given to :meth:`check`, the chain's own flips are also
    refinement trials: once a cell has ``absorb_after`` trials of a polarity at its point
    (cumulative over checks), they are folded into its law - the level's maximum-likelihood
    shift for those counts, weighted against what the law already knew at that point
    (inverse variances) - so a long run tunes every cell's p ever closer to the target.

    ``counts`` holds the trials and flips since the last check (zeroed by it), ``totals``
    those of the whole run: ``(2 polarities [SET, RESET], 2 [trials, flips], cells)``."""

    n_cells: int
    check_every: int = 200
    max_retunes: int = 3
    z_limit: float = 4.0
    z_polarity: float = 3.5
    absorb_after: int = 1000
    counts: np.ndarray = field(init=False)
    totals: np.ndarray = field(init=False)
    pooled: np.ndarray = field(init=False)
    cumulative: np.ndarray = field(init=False)
    retunes: np.ndarray = field(init=False)
    absorbed: int = 0
    events: list[tuple[int, int, int, float, float, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.counts = np.zeros((2, 2, self.n_cells), np.int64)  # polarity idx, (n, flips)
        self.totals = np.zeros((2, 2, self.n_cells), np.int64)  # the same, never reset
        self.pooled = np.zeros((2, 2), np.int64)  # polarity idx, (n, flips), all cells
        self.cumulative = np.zeros((2, 2, self.n_cells), np.int64)  # at the current points
        self.retunes = np.zeros((2, self.n_cells), np.int64)

    def add(self, state_before: np.ndarray, flips: np.ndarray, use: np.ndarray) -> None:
        for pi, mask in ((0, state_before == 0), (1, state_before == 1)):
            m = mask & use
            self.counts[pi, 0, m] += 1
            self.counts[pi, 1, m] += flips[m]
            self.totals[pi, 0, m] += 1
            self.totals[pi, 1, m] += flips[m]
            self.pooled[pi] += int(m.sum()), int(flips[m].sum())

    def check(self, step: int, target: float, laws: dict[int, list[CellLaw]],
              use: np.ndarray,
              points: dict[int, OperatingPoints] | None = None) -> list[int]:
        """Compare every cell's observed rate, and each polarity's pooled rate, with
        ``target``; shift the laws that moved to what was observed (events with cell -1 are
        polarity re-tunes); with ``points`` (per polarity, the points the counts were taken
        at) fold long runs of counts into the laws; return the cells to exclude."""
        exclude = []
        for pi, pol in ((0, 1), (1, -1)):
            n, k = self.counts[pi]
            self.cumulative[pi] += self.counts[pi]
            alone = set()
            for j in np.flatnonzero(use & (n > 0)):
                f = k[j] / n[j]
                z = abs(f - target) / math.sqrt(target * (1 - target) / n[j])
                if z <= self.z_limit:
                    continue
                alone.add(int(j))
                self.cumulative[pi, :, j] = 0
                if self.retunes[pi, j] >= self.max_retunes or f in (0.0, 1.0):
                    exclude.append(int(j))
                    self.events.append((step, int(j), pol, float(f), target, "excluded: drift"))
                    continue
                _shift(laws[pol][j], float(cloglog(f) - cloglog(target)))
                self.retunes[pi, j] += 1
                self.events.append((step, int(j), pol, float(f), target, "retuned"))
            n_all, k_all = self.pooled[pi]
            f = k_all / max(n_all, 1)
            if n_all and abs(f - target) / math.sqrt(target * (1 - target) / n_all) > \
                    self.z_polarity:
                delta = float(cloglog(f) - cloglog(target))
                for j in np.flatnonzero(use):
                    if int(j) not in alone:
                        _shift(laws[pol][j], delta)
                self.events.append((step, -1, pol, float(f), target, "retuned: polarity"))
                self.pooled[pi] = 0
                self.cumulative[pi] = 0
            if points is not None:
                self._absorb(pi, pol, laws[pol], points[pol], use)
        self.counts[:] = 0
        return exclude

    def _absorb(self, pi: int, pol: int, laws: list[CellLaw], pts: OperatingPoints,
                use: np.ndarray) -> None:
        n, k = self.cumulative[pi]
        for j in np.flatnonzero(use & (n >= self.absorb_after)):
            v, t = abs(float(pts.volts[j])), float(pts.width_s[j])
            law = laws[j]
            if not (math.isfinite(v) and law.ok):
                continue
            delta, info = level_mle(law, np.array([v]), t, n[j:j + 1].astype(float),
                                     k[j:j + 1].astype(float))
            x = np.array([1.0, math.log(t), v ** -law.alpha])
            var = float(x @ law.cov @ x)
            prior = 1.0 / var if var > 0 and math.isfinite(var) else 0.0
            _shift(law, delta * info / (prior + info))
            law.cov = np.zeros((3, 3))
            law.cov[0, 0] = 1.0 / (prior + info)
            self.cumulative[pi, :, j] = 0
            self.absorbed += 1


def _shift(law: CellLaw, delta: float) -> None:
    """Shift a law's level so it predicts ``delta`` more cloglog at every point."""
    law.coef = law.coef.copy()
    law.coef[0] += delta
