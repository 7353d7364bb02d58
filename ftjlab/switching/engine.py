"""Stochastic switching of array cells through the instruments: calibration and the chain.

Everything here goes through :class:`~ftjlab.controller.ArrayController` (pulses, row reads):
the same code runs on a real and a simulated bench.

A cell is used as a binary stochastic switch. It starts saturated (fully OFF or ON, by a
strong pulse), gets one weak pulse toward the other state, and is read back: it *flipped*
when its conductance crossed the middle of its own window (measured once at the start).
It is then saturated again to the state it was read in, so every trial and every chain step
starts from a full state (a weak pulse leaves a multi-domain cell partly switched).

* :meth:`SwitchingCells.calibrate` measures each cell's flip counts on a grid of (V, t) for
  each polarity - row-parallel trials (the cells of a word line pulsed together at one
  amplitude, each cell's flip counted), first over a wide amplitude range, then on a fine
  grid where each cell takes part near its own transition - and fits each cell's NLS law
  (:mod:`ftjlab.switching.nls`) for each polarity separately.
* :meth:`SwitchingCells.step` is one step of the Ehrenfest-type chain: every cell gets the
  pulse that flips it with probability p toward the other state (SET from OFF, RESET from
  ON), so a unit's Hamming weight is a chain whose stationary law is Binomial(k, 1/2).
* The flips of every step are counted per cell and polarity; every ``check_every`` steps the
  observed flip rate is compared with the target, and a cell that moved is re-tuned (its law
  shifted to what was observed) or, after ``max_retunes``, excluded with the reason; each
  polarity's rate pooled over the cells is re-tuned the same way (:class:`DriftTracker`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any

import numpy as np

from ftjlab.errors import BadInput

from .nls import CellLaw, OperatingPoints, choose_points, fit_cell, fit_group_alpha
from .refine import DriftTracker, RefineReport, level_mle, refine_cells

SATURATE_V = 4.0
SATURATE_WIDTH_S = 1e-5
WIDTHS_S = (1e-6, 4e-6)


@dataclass
class TrialLog:
    """Every calibration trial: one row per (point, cell)."""

    rows: list[tuple[int, int, int, float, float, int, int]] = field(default_factory=list)
    # (word line, bit line, polarity, |V|, width_s, trials, flips)

    def add(self, row: int, cols: np.ndarray, polarity: int, volts: np.ndarray,
            width_s: np.ndarray, trials: np.ndarray, flips: np.ndarray) -> None:
        for c, v, t, n, k in zip(cols, volts, width_s, trials, flips, strict=True):
            self.rows.append((row, int(c), polarity, float(v), float(t), int(n), int(k)))

    def array(self) -> np.ndarray:
        return np.array(self.rows, dtype=np.float64).reshape(-1, 7)


@dataclass
class Calibration:
    """Fitted laws of every used cell for both polarities (+1: SET from OFF, -1: RESET)."""

    cells: list[tuple[int, int]]
    laws: dict[int, list[CellLaw]]
    alpha: dict[int, float]
    trials: np.ndarray  # TrialLog.array() columns
    target_p: float | None = 0.5
    _local: dict[float, Calibration] = field(default_factory=dict, repr=False)
    #: laws refined at the operating point for a target (:meth:`SwitchingCells.refine`)
    refined: dict[float, dict[int, list[CellLaw]]] = field(default_factory=dict)

    def laws_for(self, target_p: float) -> dict[int, list[CellLaw]]:
        """The laws for ``target_p``: refined at the operating point when a refinement ran
        for it, else refitted around it (each target its own local fit)."""
        key = round(float(target_p), 12)
        if key in self.refined:
            return self.refined[key]
        if self.target_p is not None and abs(target_p - self.target_p) < 1e-12:
            return self.laws
        if key not in self._local:
            self._local[key] = calibration_from_trials(self.trials, self.cells, key,
                                                       alpha=self.alpha)
        return self._local[key].laws

    def points(
        self, target_p: float, polarity: int, width_s: float, max_volts: float,
        p_tolerance: float = 0.02, v_resolution: float = 1e-3, fine_width: bool = False,
        cells: list[tuple[int, int]] | None = None,
    ) -> OperatingPoints:
        """Operating points of ``cells`` (default: every calibrated cell, in order)."""
        laws = self.laws_for(target_p)[polarity]
        if cells is not None:
            laws = [laws[self.cells.index(tuple(c))] for c in cells]
        return choose_points(laws, target_p, width_s, polarity, max_volts, v_resolution,
                             p_tolerance, fine_width=fine_width)


def calibration_from_trials(
    trials: np.ndarray,
    cells: list[tuple[int, int]] | None = None,
    target_p: float | None = 0.5,
    window_v: float = 0.045,
    alpha: dict[int, float] | None = None,
) -> Calibration:
    """Fit every cell's law for both polarities from a table of trials (TrialLog columns:
    word line, bit line, polarity, |V|, width, trials, flips), e.g. read from a run file.

    A cell's flip curve is the sum of many domains', so the single-law form holds only
    locally: with ``target_p`` the law is refitted on the trials within ``window_v`` of the
    amplitude that gives ``target_p`` at each width (twice, re-centring)."""
    t = np.asarray(trials, dtype=np.float64)
    if t.ndim != 2 or t.shape[1] != 7 or t.shape[0] == 0:
        raise BadInput(f"calibration trials: need a (n, 7) table, got shape {t.shape}")
    if cells is None:
        cells = sorted({(int(r), int(c)) for r, c in t[:, :2]})
    laws: dict[int, list[CellLaw]] = {}
    alphas: dict[int, float] = {}
    for pol in (1, -1):
        sel = t[t[:, 2] == pol]
        if sel.size == 0:
            raise BadInput(f"calibration trials: no trials of polarity {pol:+d}")
        # group alpha from the row-parallel part (points shared by every cell)
        per_cell = [sel[(sel[:, 0] == r) & (sel[:, 1] == c)] for r, c in cells]
        alphas[pol] = alpha[pol] if alpha is not None else _group_alpha(per_cell)
        laws[pol] = [_fit_local(p, alphas[pol], target_p, window_v) for p in per_cell]
    return Calibration(list(cells), laws, alphas, t, target_p)


def _fit_local(p: np.ndarray, alpha: float, target_p: float | None,
               window_v: float) -> CellLaw:
    law = fit_cell(p[:, 3], p[:, 4], p[:, 5], p[:, 6], alpha)
    if target_p is None:
        return law
    for _ in range(2):
        if not law.ok:
            return law
        centre = np.array([law.volts_for(target_p, t) for t in p[:, 4]])
        near = np.abs(p[:, 3] - centre) <= window_v
        if np.unique(p[near, 4]).size < 2 or np.unique(p[near, 3]).size < 4:
            return law
        local = fit_cell(p[near, 3], p[near, 4], p[near, 5], p[near, 6], alpha)
        if not local.ok:
            return law
        law = local
    return _anchor(law, p, target_p, window_v / 3)


def _anchor(law: CellLaw, p: np.ndarray, target_p: float, window_v: float) -> CellLaw:
    """Shift the law's level (c0 only) to the trials nearest the operating point: the local
    shape of a many-domain cell is close to, not exactly, the single law's, and the shift
    removes the bias this leaves at the target (maximum likelihood in one parameter)."""
    if not law.ok:
        return law
    centre = np.array([law.volts_for(target_p, t) for t in p[:, 4]])
    near = np.abs(p[:, 3] - centre) <= window_v
    if not near.any():
        return law
    delta, info = level_mle(law, p[near, 3], p[near, 4], p[near, 5], p[near, 6])
    if not (math.isfinite(delta) and info > 0):
        return law
    coef = law.coef.copy()
    coef[0] += delta
    cov = law.cov.copy()
    cov[0, 0] += 1.0 / info
    return CellLaw(coef, cov, law.alpha, law.loglik, law.trials, law.flips)


def _group_alpha(per_cell: list[np.ndarray]) -> float:
    sample = [p for p in per_cell if 0 < p[:, 6].sum() < p[:, 5].sum()][:16]
    if not sample:
        return 3.0
    # every cell has its own points: profile each separately and add the log-likelihoods
    from .nls import ALPHA_GRID, _design, fit_glm

    best, best_ll = 3.0, -np.inf
    for a in ALPHA_GRID:
        ll = sum(fit_glm(_design(p[:, 3], p[:, 4], a), p[:, 5], p[:, 6])[2] for p in sample)
        if ll > best_ll:
            best, best_ll = float(a), ll
    return best


class SwitchingCells:
    """Cells of one or more word lines used as stochastic switches (see the module doc).

    :param controller: the bench's ArrayController.
    :param cells: (word line, bit line) pairs; units are consecutive groups of ``k`` of them
        on the same word line.
    :param pair_pulses: in a chain step, fire an OFF cell's SET pulse and an ON cell's RESET
        pulse at one trigger (generator outputs 1 and 2, one routing): half the routings.
    """

    def __init__(
        self,
        controller: Any,
        cells: list[tuple[int, int]],
        read_v: float = 0.2,
        nplc: float = 0.01,
        saturate_v: float = SATURATE_V,
        saturate_width_s: float = SATURATE_WIDTH_S,
        pair_pulses: bool = True,
    ) -> None:
        self.c = controller
        self.cells = [(int(r), int(b)) for r, b in cells]
        if not self.cells:
            raise BadInput("switching cells: no cells given")
        self.rows = sorted({r for r, _ in self.cells})
        self.by_row = {r: np.array([j for j, (rr, _) in enumerate(self.cells) if rr == r])
                       for r in self.rows}
        self.cols = np.array([b for _, b in self.cells])
        self.read_v, self.nplc = read_v, nplc
        self.sat_v, self.sat_w = saturate_v, saturate_width_s
        self.pair_pulses = pair_pulses and hasattr(controller, "pulse_pair")
        self.mid = np.full(len(self.cells), np.nan)
        self.window = np.full(len(self.cells), np.nan)
        self.state = np.zeros(len(self.cells), dtype=np.uint8)
        self.pulses = 0  # pulse outputs fired (a two-output trigger counts two)
        self.triggers = 0
        self.reads = 0
        self.trials_run = 0  # calibration trials (row-parallel: one per pulse amplitude)

    # ------------------------------------------------------------------ primitives
    def _pulse(self, row: int, idx: np.ndarray, volts: float, width_s: float) -> None:
        if idx.size:
            self.c.apply_pulses([row], [int(b) for b in self.cols[idx]], volts, width_s)
            self.pulses += 1
            self.triggers += 1

    def saturate(self, idx: np.ndarray | None = None, to: np.ndarray | None = None) -> None:
        """Drive cells ``idx`` fully to ``to`` (1 ON, 0 OFF; default OFF), row-parallel."""
        idx = np.arange(len(self.cells)) if idx is None else np.asarray(idx)
        to = np.zeros(idx.size, np.uint8) if to is None else np.asarray(to, np.uint8)
        for r in self.rows:
            on_row = np.isin(idx, self.by_row[r])
            up, down = idx[on_row & (to == 1)], idx[on_row & (to == 0)]
            if hasattr(self.c, "pulse_pair"):  # both groups at one trigger (two outputs)
                self.c.pulse_pair(r, [int(b) for b in self.cols[up]], self.sat_v,
                                  [int(b) for b in self.cols[down]], -self.sat_v, self.sat_w)
                self.pulses += int(up.size > 0) + int(down.size > 0)
                self.triggers += int(up.size > 0 or down.size > 0)
            else:
                self._pulse(r, up, self.sat_v, self.sat_w)
                self._pulse(r, down, -self.sat_v, self.sat_w)
        self.state[idx] = to

    def read(self, idx: np.ndarray | None = None) -> np.ndarray:
        """Conductance (S) of every cell (or of cells ``idx``; the others NaN): every word
        line's cells in one read sequence when the word lines use the same bit lines (else
        one per word line)."""
        g = np.full(len(self.cells), np.nan)
        sel = None if idx is None else np.isin(np.arange(len(self.cells)), idx)
        groups = {r: (self.by_row[r] if sel is None else self.by_row[r][sel[self.by_row[r]]])
                  for r in self.rows}
        groups = {r: j for r, j in groups.items() if j.size}
        cols = [self.cols[j].tolist() for j in groups.values()]
        if len(groups) > 1 and all(c == cols[0] for c in cols):
            i = self.c.measure_routes([[r] for r in groups], cols[0], self.read_v,
                                      self.nplc) / self.read_v
            for k, j in enumerate(groups.values()):
                g[j] = i[k]
            self.reads += len(groups)
            return g
        for r, j in groups.items():
            g[j] = self.c.read_map(self.read_v, self.nplc, rows=[r],
                                   cols=[int(b) for b in self.cols[j]])[0]
            self.reads += 1
        return g

    def measure_window(self) -> None:
        """Each cell's OFF and ON conductance; the bit threshold is the middle."""
        self.saturate(to=np.ones(len(self.cells), np.uint8))
        g_on = self.read()
        self.saturate()
        g_off = self.read()
        self.mid = 0.5 * (g_on + g_off)
        self.window = g_on - g_off

    def remeasure_window(self) -> None:
        """Measure the windows again (cycling wears them: a threshold from a fresher window
        sits too high, and SET flips read as rarer than RESET flips), then put every cell
        back in its state."""
        state = self.state.copy()
        self.measure_window()
        self.saturate(to=state)

    def bits(self, idx: np.ndarray | None = None) -> np.ndarray:
        """Each cell's state (1: above the middle of its window); cells outside ``idx`` 0."""
        if not np.all(np.isfinite(self.mid)):
            self.measure_window()
        with np.errstate(invalid="ignore"):
            return (self.read(idx) > self.mid).astype(np.uint8)

    # ------------------------------------------------------------------ calibration
    def _trial_row_parallel(self, polarity: int, volts: float, width_s: float,
                            idx: np.ndarray | None = None) -> np.ndarray:
        """One trial of cells ``idx`` (default: all): saturate, one pulse of ``volts`` for
        all of them on each word line (one routing and trigger per word line), read back."""
        idx = np.arange(len(self.cells)) if idx is None else np.asarray(idx)
        self.trials_run += 1
        start = np.uint8(polarity < 0)
        self.saturate(idx, np.full(idx.size, start, np.uint8))
        for r in self.rows:
            self._pulse(r, idx[np.isin(idx, self.by_row[r])], polarity * volts, width_s)
        return self.bits(idx) != start

    def calibrate(
        self,
        max_volts: float,
        sweep_v: tuple[float, float] = (1.2, 3.0),
        sweep_points: int = 19,
        sweep_repeats: int = 4,
        local_repeats: int = 200,
        local_step_v: float = 0.005,
        local_reach_v: float = 0.06,
        widths_s: tuple[float, ...] = WIDTHS_S,
        target_p: float | tuple[float, ...] = 0.5,
        on_block: Callable[[np.ndarray], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Calibration:
        """Flip counts of both polarities through the instruments, then the fitted laws.

        Every trial is row-parallel: the cells taking part are saturated, get one pulse of
        one amplitude and width together (one routing and trigger per word line) and are
        read back; each cell's flip is counted on its own, so the trials feed per-cell laws.

        Stage 1 sweeps every cell over ``sweep_points`` amplitudes x ``widths_s``
        (``sweep_repeats`` trials each) and fits a first law per cell. Stage 2, per anchor
        ``target_p``, polarity and width, steps one amplitude grid (``local_step_v``) over
        the cells' estimated amplitudes for the anchor: at each grid amplitude the cells whose
        estimate lies within ``local_reach_v`` take ``local_repeats`` trials together (the
        others are not pulsed or read), so every cell gets ~``2 reach / step x repeats``
        trials around its own transition. ``on_block(trials)`` gets each new block of trial
        rows (for streaming)."""
        anchors = tuple(np.atleast_1d(target_p).astype(float))
        lo, hi = sweep_v
        if hi > max_volts:
            raise BadInput(f"calibration sweep up to {hi} V exceeds the program limit "
                           f"{max_volts} V")
        if not np.all(np.isfinite(self.mid)):
            self.measure_window()
        log = TrialLog()
        n = len(self.cells)
        stop = should_stop or (lambda: False)

        def run(pol: int, v: float, t: float, idx: np.ndarray, repeats: int) -> bool:
            if stop():
                return False
            k = np.zeros(n, int)
            for _ in range(repeats):
                k[idx] += self._trial_row_parallel(pol, v, t, idx)[idx]
            start = len(log.rows)
            for r in self.rows:
                j = idx[np.isin(idx, self.by_row[r])]
                log.add(r, self.cols[j], pol, np.full(j.size, v), np.full(j.size, t),
                        np.full(j.size, repeats), k[j])
            if on_block is not None and len(log.rows) > start:
                on_block(np.array(log.rows[start:], dtype=np.float64))
            return True

        everyone = np.arange(n)
        for pol in (1, -1):
            for t in widths_s:
                for v in np.linspace(lo, hi, sweep_points):
                    if not run(pol, float(v), t, everyone, sweep_repeats):
                        return calibration_from_trials(log.array(), self.cells)
        for anchor in anchors:
            fit = calibration_from_trials(log.array(), self.cells, anchor)
            for pol in (1, -1):
                for t in widths_s:
                    centre = np.array([law.volts_for(anchor, t) if law.ok else np.nan
                                       for law in fit.laws[pol]])
                    ok = np.isfinite(centre) & (centre < max_volts) & (centre > 0.1)
                    if not ok.any():
                        continue
                    first = max(0.1, float(centre[ok].min()) - local_reach_v)
                    last = min(max_volts, float(centre[ok].max()) + local_reach_v)
                    # the chain's width (the first) gets the repeats; the others, which
                    # pin the law's shape, a quarter
                    reps = local_repeats if t == widths_s[0] else max(1, local_repeats // 4)
                    for v in np.arange(first, last + 1e-9, local_step_v):
                        idx = np.flatnonzero(ok & (np.abs(centre - v) <= local_reach_v))
                        if idx.size and not run(pol, round(float(v), 6), t, idx, reps):
                            return calibration_from_trials(log.array(), self.cells)
        return calibration_from_trials(log.array(), self.cells, anchors[0])

    # ------------------------------------------------------------------ the chain
    def step(self, set_pts: OperatingPoints, reset_pts: OperatingPoints,
             use: np.ndarray) -> np.ndarray:
        """One chain step on the cells ``use``: OFF cells get their SET pulse, ON cells their
        RESET pulse; read; restore. Returns the flips (bool per cell).

        Every cell has its own amplitude, so a trigger reaches one cell per generator output:
        on benches with the erase output wired, an OFF cell's SET pulse (output 1) and an ON
        cell's RESET pulse (output 2) of the same word line share one routing and trigger."""
        before = self.state.copy()
        for r in self.rows:
            j = self.by_row[r]
            ups = [int(i) for i in j if use[i] and before[i] == 0]
            downs = [int(i) for i in j if use[i] and before[i] == 1]
            for a, b in zip_longest(ups, downs):
                self._weak_pair(r, a, set_pts, b, reset_pts)
        after = self.bits()
        after[~use] = before[~use]
        self.saturate(np.flatnonzero(use), after[use])
        return after != before

    def _weak_pair(self, row: int, a: int | None, set_pts: OperatingPoints, b: int | None,
                   reset_pts: OperatingPoints) -> None:
        """Cell ``a``'s SET pulse and cell ``b``'s RESET pulse (either may be None), at one
        trigger when the bench has two pulse outputs and both widths agree."""
        self._weak(row, a, None if a is None else float(set_pts.volts[a]),
                   None if a is None else float(set_pts.width_s[a]),
                   b, None if b is None else float(reset_pts.volts[b]),
                   None if b is None else float(reset_pts.width_s[b]))

    def _weak(self, row: int, a: int | None, va: float | None, ta: float | None,
              b: int | None, vb: float | None, tb: float | None) -> None:
        if a is not None and b is not None and self.pair_pulses and ta == tb:
            self.c.pulse_pair(row, [int(self.cols[a])], va, [int(self.cols[b])], vb, ta)
            self.pulses += 2
            self.triggers += 1
            return
        for i, v, t in ((a, va, ta), (b, vb, tb)):
            if i is not None:
                self._pulse(row, np.array([i]), float(v), float(t))

    # ------------------------------------------------------------------ refinement
    def trial_round(self, set_v: np.ndarray, reset_v: np.ndarray, width_s: float,
                    do_set: np.ndarray, do_reset: np.ndarray) -> np.ndarray:
        """One trial of every cell in ``do_set`` (SET from OFF at ``set_v[j]``) and
        ``do_reset`` (RESET from ON at ``-reset_v[j]``; amplitudes unsigned): the cells are
        saturated to their start states together (one trigger per word line), each gets its
        own weak pulse (an OFF cell's SET and an ON cell's RESET at one trigger, as in a chain
        step), then one read of them all. Returns the flips (bool per cell)."""
        idx = np.flatnonzero(do_set | do_reset)
        flips = np.zeros(len(self.cells), bool)
        if not idx.size:
            return flips
        start = do_reset[idx].astype(np.uint8)
        self.saturate(idx, start)
        for r in self.rows:
            j = self.by_row[r]
            ups = [int(i) for i in j if do_set[i]]
            downs = [int(i) for i in j if do_reset[i]]
            for a, b in zip_longest(ups, downs):
                self._weak(r, a, None if a is None else float(set_v[a]), width_s,
                           b, None if b is None else -float(reset_v[b]), width_s)
        after = self.bits(idx)[idx]
        flips[idx] = after != start
        self.state[idx] = after
        return flips

    @property
    def onboard(self) -> bool:
        """Whether chain steps can run on the instrument (the read SMU drives the pulses,
        reads and saturation of many steps per call: ``ArrayController.chain_onboard``)."""
        return bool(getattr(self.c, "onboard_rows", False)) and hasattr(self.c, "chain_onboard")

    def chain_states(self, set_v: np.ndarray, reset_v: np.ndarray, width_s: float,
                     use: np.ndarray, steps: int, block_steps: int = 1000) -> np.ndarray:
        """``steps`` chain steps of the cells ``use`` (signed per-cell amplitudes: SET > 0,
        RESET < 0; one width) and the states of every cell after each, ``(steps, cells)``.
        On the instrument when the bench allows it (:attr:`onboard`: ``block_steps`` steps
        per call, one message and one reply; its saturating pulse has the weak pulses'
        width), else step by step from the host (:meth:`step`)."""
        n = len(self.cells)
        out = np.empty((steps, n), np.uint8)
        if not self.onboard:
            w = np.full(n, float(width_s))
            nan = np.full(n, np.nan)
            pts = (OperatingPoints(np.nan, w, np.asarray(set_v, float), nan, nan),
                   OperatingPoints(np.nan, w, np.asarray(reset_v, float), nan, nan))
            for k in range(steps):
                self.step(*pts, use)
                out[k] = self.state
            return out
        order = np.array([j for r in self.rows for j in self.by_row[r] if use[j]])
        rows = [r for r in self.rows if use[self.by_row[r]].any()]
        cols = [[int(self.cols[j]) for j in self.by_row[r] if use[j]] for r in rows]
        done = 0
        while done < steps:
            m = min(block_steps, steps - done)
            before = self.state[order].copy()
            bits = self.c.chain_onboard(rows, cols, np.asarray(set_v)[order],
                                        np.asarray(reset_v)[order],
                                        self.mid[order] * self.read_v, before, self.sat_v,
                                        float(width_s), self.read_v, self.nplc, m)
            prev = np.vstack([before[None, :], bits[:-1]])
            for r, c in zip(rows, cols, strict=True):  # counters as step()'s
                sel = np.isin(order, self.by_row[r])
                ups, on = (prev[:, sel] == 0).sum(axis=1), bits[:, sel].sum(axis=1)
                self.triggers += int(np.maximum(ups, len(c) - ups).sum()) + m
                self.pulses += len(c) * m + int((on > 0).sum() + (on < len(c)).sum())
            self.reads += m * len(rows)
            out[done:done + m] = self.state
            out[done:done + m, order] = bits
            self.state[order] = bits[-1]
            done += m
        return out

    def measure_points(self, set_v: np.ndarray, reset_v: np.ndarray, width_s: float,
                       trials: int | np.ndarray, window_every: int = 500,
                       block_steps: int = 64,
                       should_stop: Callable[[], bool] | None = None) -> np.ndarray:
        """``trials`` trials of every cell at its own SET amplitude ``set_v[j]`` and RESET
        amplitude ``reset_v[j]`` (unsigned; NaN: that polarity not measured; ``trials``: one
        count, or one per polarity and cell, shape ``(2, cells)``). On benches that run the
        chain on the instrument (:attr:`onboard`), the trials are chain steps of the cells
        that still need trials (each step one trial per cell: SET from OFF, RESET from ON,
        then saturated to the state read), so such a cell needs both amplitudes; else rounds
        of :meth:`trial_round`: a cell measured in both polarities alternates them (half its
        neighbours SET while the other half RESET, so each weak trigger serves two cells).
        The windows (bit thresholds) are measured again every ``window_every`` rounds (or
        steps; on board at most ``block_steps`` per call). Returns counts ``(2 [SET, RESET],
        2 [trials, flips], cells)``."""
        n = len(self.cells)
        want = np.stack([np.isfinite(set_v), np.isfinite(reset_v)])
        counts = np.zeros((2, 2, n), np.int64)
        if not np.all(np.isfinite(self.mid)):
            self.measure_window()
        stop = should_stop or (lambda: False)
        if self.onboard:
            both = want.all(axis=0)
            # every chain step starts from the state it is told: make the states true
            self.saturate(np.flatnonzero(both), self.state[both])
            since = 0
            while not stop():
                need = want & (counts[:, 0, :] < trials)
                use = both & need.any(axis=0)
                if not use.any():
                    break
                short = np.where(need, np.broadcast_to(trials, (2, n)) - counts[:, 0, :], 0)
                m = int(min(block_steps, max(16, 2 * short.max()), window_every - since))
                before = self.state.copy()
                states = self.chain_states(set_v, -np.asarray(reset_v), width_s, use, m,
                                           block_steps)
                prev = np.vstack([before[None, :], states[:-1]])
                for pi in (0, 1):
                    t = (prev == pi) & use
                    counts[pi, 0] += t.sum(axis=0)
                    counts[pi, 1] += (t & (states != prev)).sum(axis=0)
                since += m
                if since >= window_every:
                    self.remeasure_window()
                    since = 0
            return counts
        parity = np.arange(n) % 2
        r = 0
        while not stop():
            need = want & (counts[:, 0, :] < trials)
            if not need.any():
                break
            do_set = need[0] & (~need[1] | (parity == r % 2))
            do_reset = need[1] & ~do_set
            flips = self.trial_round(set_v, reset_v, width_s, do_set, do_reset)
            for pi, m in ((0, do_set), (1, do_reset)):
                counts[pi, 0, m] += 1
                counts[pi, 1, m] += flips[m]
            r += 1
            if r % window_every == 0:
                self.remeasure_window()
        return counts

    def refine(self, calibration: Calibration, target_p: float, width_s: float,
               max_volts: float, **options: Any) -> RefineReport:
        """Refine these cells' laws for ``target_p`` at their operating points through the
        instruments and keep them in ``calibration.refined``
        (:func:`ftjlab.switching.refine.refine_cells`, where the options are listed)."""
        return refine_cells(self, calibration, target_p, width_s, max_volts, **options)

__all__ = ["Calibration", "DriftTracker", "RefineReport", "SwitchingCells", "TrialLog",
           "calibration_from_trials", "fit_group_alpha"]
