"""``switching-noise``: Gaussian noise and random bits from stochastic switching of array cells.

Cells of ``rows`` word lines are calibrated (per-cell NLS laws of both polarities, or the
laws of an earlier run's trials), get per-cell operating points for the target flip
probability, and run the flip chain: each step every cell gets the pulse that flips it with
probability p, is read back and saturated to its new state (:mod:`ftjlab.switching.engine`).
Units of ``k`` usable cells on a word line give one standardised Hamming weight per step;
with the ``balanced`` readout (default) every second cell of a unit counts OFF as 1, so a gap
between the SET and RESET flip rates does not shift the noise's mean
(:mod:`ftjlab.switching.noise`).
Bits, noise values and per-step settings are streamed; every ``check_every`` steps each
cell's window (its bit threshold) is measured again, since cycling shrinks it, and the
observed flip rates are checked: drifting cells are re-tuned or excluded, and each polarity's
rate pooled over the cells is re-tuned when it moves.

A fresh calibration runs through the instruments before the chain: row-parallel trials (the
cells of a word line pulsed together at one amplitude, each cell's flip counted) over a wide
sweep, then on a fine amplitude grid around the cells' transitions (see
:meth:`ftjlab.switching.engine.SwitchingCells.calibrate`); its trials are streamed, so a
later run can take them as ``calibration=<run file>``. Its instrument and wall time are
results (``calibration_instrument_s``, ``calibration_wall_s``).

A fit over the calibration grid leaves each cell's p at its point uncertain by a few
hundredths. With ``refine_half_width`` > 0 (constant schedule) a closed-loop refinement
follows (:mod:`ftjlab.switching.refine`): every cell is pulsed at its own amplitude for p
(chain steps on the instrument where the bench runs them, else row-parallel trial rounds),
its flips counted and its amplitude moved until p there is known to that 95 % half-width
(first looks of ``min(1000, n/3)`` trials, at most ``3 n`` per cell and polarity, n the
binomial count for the half-width); cells that do not converge are excluded with the reason
(``refine_excluded``). Its trials are
streamed with the calibration's; its instrument and wall time are results
(``refine_instrument_s``, ``refine_wall_s``). During the chain the flips counted at each
cell's point are folded into its law at every drift check (``drift_absorbed``).

Units are k usable cells of one word line, fixed at the start (``units``: the cells of each
noise column). A cell excluded during the chain takes its whole unit out of use (its column
NaN from then on, ``units_dropped`` says why); the remaining cells are not regrouped.

With ``schedule = ddpm`` the target follows ``p_t = (1 - sqrt(1 - beta_t)) / 2`` for a linear
beta schedule from ``beta_start`` to ``beta_end`` over ``steps``, starting from all cells ON:
each step's mean shrink of the +-1 spins should then be ``sqrt(1 - beta_t)``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
from pymeasure.experiment import (
    BooleanParameter,
    FloatParameter,
    IntegerParameter,
    ListParameter,
    Parameter,
)

from ftjlab.errors import BadInput
from ftjlab.store import StreamSpec, open_run, read_dataset
from ftjlab.switching.engine import (
    Calibration,
    DriftTracker,
    SwitchingCells,
    calibration_from_trials,
)
from ftjlab.switching.nls import OperatingPoints, schedule_p
from ftjlab.switching.refine import stage_sizes

from .base import FTJProcedure

TRIAL_COLUMNS = "word_line, bit_line, polarity, amplitude_v, width_s, trials, flips"
#: chain steps per block of the bits, noise and settings streams (one disk flush each)
RECORD_EVERY = 16
CALIBRATION_PROCEDURES = ("switching-noise",)


def load_calibration(text: str, field: str = "calibration") -> Calibration:
    """The laws fitted to the ``trials`` of a switching-noise run file (BadInput if the file
    is missing, holds a run of another procedure, or has no trials)."""
    path = Path(text).expanduser()
    if not path.exists():
        raise BadInput(f"{field}: {text!r} does not exist")
    info = open_run(path, field=field)
    if info.procedure not in CALIBRATION_PROCEDURES:
        raise BadInput(
            f"{field}: run {info.run_id!r} of {text!r} is a {info.procedure!r} run; a "
            f"calibration comes from a {' or '.join(CALIBRATION_PROCEDURES)} run (its per-cell "
            "trials; a switching-probability run holds row averages, not per-cell counts)")
    if "trials" not in info.datasets or info.datasets["trials"][0][0] == 0:
        raise BadInput(f"{field}: run {info.run_id!r} has no calibration trials")
    return calibration_from_trials(read_dataset(path, "trials", info.run_id))


class SwitchingNoise(FTJProcedure):
    """Stochastic-switching noise through the instruments (see the module docstring)."""

    name = "switching-noise"
    summary = "Gaussian noise / random bits from stochastic switching (flip chain of k-cell units)"
    voltage_roles: ClassVar[dict[str, str]] = {"read_v": "read", "saturate_v": "program"}

    row = IntegerParameter("First word line", minimum=0, maximum=4095, default=0)
    rows = IntegerParameter("Word lines", minimum=1, maximum=4096, default=1)
    cells = IntegerParameter("Cells per word line", minimum=1, maximum=4096, default=8)
    k = IntegerParameter("Cells per unit", minimum=1, maximum=64, default=8)
    p = FloatParameter("Target flip probability", minimum=1e-4, maximum=0.9999, default=0.5)
    width = FloatParameter("Pulse width", units="s", minimum=1e-9, maximum=1e-2, default=1e-6)
    steps = IntegerParameter("Chain steps", minimum=1, maximum=100_000_000, default=200)
    schedule = ListParameter("Target schedule", choices=["constant", "ddpm"], default="constant")
    beta_start = FloatParameter("DDPM beta at the first step", minimum=1e-6, maximum=0.99,
                                default=0.05)
    beta_end = FloatParameter("DDPM beta at the last step", minimum=1e-6, maximum=0.99,
                              default=0.4)
    check_every = IntegerParameter("Drift check every", units="steps", minimum=10,
                                   maximum=10_000_000, default=200)
    calibration = Parameter("Calibration (fresh, or a switching-noise run file with trials)",
                            default="fresh")
    sweep_repeats = IntegerParameter("Calibration sweep repeats", minimum=1, maximum=1000,
                                     default=4)
    local_repeats = IntegerParameter("Calibration repeats per fine-grid amplitude", minimum=1,
                                     maximum=100_000, default=200)
    local_step = FloatParameter("Calibration fine-grid step", units="V", minimum=1e-3,
                                maximum=0.1, default=0.005)
    readout = ListParameter("Unit readout (balanced = every second cell counts OFF as 1)",
                            choices=["balanced", "direct"], default="balanced")
    p_tolerance = FloatParameter("Tolerance of p per cell", minimum=1e-3, maximum=0.5,
                                 default=0.02)
    refine_half_width = FloatParameter(
        "Refine each cell's p at its operating point to this 95 % half-width (0 = no "
        "refinement)", minimum=0.0, maximum=0.2, default=0.0)
    read_v = FloatParameter("Read bias", units="V", minimum=0.01, maximum=1.5, default=0.2)
    saturate_v = FloatParameter("Saturating amplitude", units="V", minimum=0.5, maximum=10,
                                default=4.0)
    saturate_width = FloatParameter("Saturating pulse width", units="s", minimum=1e-9,
                                    maximum=1e-2, default=1e-6)
    pair_pulses = BooleanParameter("SET and RESET pulses of two cells at one trigger",
                                   default=True)

    _cal: Calibration | None = None

    # ------------------------------------------------------------------ declarations
    def _n_cells(self) -> int:
        return self.rows * self.cells

    def streams(self) -> dict[str, StreamSpec]:
        n = self._n_cells()
        return {
            "trials": StreamSpec(np.float64, "1, 1, 1, V, s, 1, 1", (7,),
                                 {"columns": TRIAL_COLUMNS}),
            "bits": StreamSpec(np.uint8, "1", (n,), {"axis": "cell (word line major)"}),
            "noise": StreamSpec(np.float64, "1", (n // self.k,),
                                {"axis": "unit (unused units NaN)"}),
            "settings": StreamSpec(np.float64, "1, 1, 1, s, 1", (5,), {
                "columns": "step, target_p, cells_in_use, instrument_s, flips"}),
            "checks": StreamSpec(np.float64, "1, 1, 1, 1, 1", (5,), {
                "columns": "step, observed_p_set, observed_p_reset, retuned, excluded"}),
        }

    def estimate_s(self) -> float:
        n = self._n_cells()
        # relay settling (3 ms a route, 6 ms break-before-make) dominates: one read route per
        # cell, one pulse route per cell (per two cells when paired), a restore per word line
        read, restore = 0.0032 * n, 0.006 * self.rows
        per_step = read + (0.003 if self.pair_pulses else 0.006) * n + restore
        trial = read + 0.006 * n + restore
        # fine grid: ~0.45 V of cell-to-cell spread, each cell pulsed and read on 2 x 0.06 V
        fine = 0.45 / self.local_step * self.local_repeats * (0.27 * read + restore)
        cal = 0.0 if self.calibration != "fresh" else (
            2 * 2 * (19 * self.sweep_repeats * trial + fine))
        refine = 0.0
        if self.refine_half_width > 0:  # ~1.3 x the binomial count per cell and polarity
            need = 1.3 * (1.96 / self.refine_half_width) ** 2 * self.p * (1 - self.p)
            refine = 2 * need * per_step
        return cal + refine + self.steps * per_step

    def check(self) -> None:
        if self.cells < self.k:
            raise BadInput(f"switching-noise: k={self.k} is more than the {self.cells} cells "
                           "per word line (units are on one word line)")
        if self.schedule == "ddpm" and not self.beta_start <= self.beta_end:
            raise BadInput("switching-noise: beta_start must not exceed beta_end")
        if self.schedule == "ddpm" and self.refine_half_width > 0:
            raise BadInput("switching-noise: refine_half_width applies to the constant "
                           "schedule (one operating point per cell); a ddpm schedule has a "
                           "target per step")

    def preflight(self) -> None:
        super().preflight()
        c = self.controller
        if self.row + self.rows > c.rows:
            raise BadInput(f"switching-noise: word lines {self.row}..{self.row + self.rows - 1} "
                           f"exceed the array (0..{c.rows - 1})")
        if self.cells > c.cols:
            raise BadInput(f"switching-noise: cells={self.cells} exceeds the {c.cols} bit lines")
        limits = c.session.limits
        if not limits.min_pulse_width_s <= self.width <= limits.max_pulse_width_s:
            raise BadInput(f"switching-noise: width={self.width:g} s is outside the bench's "
                           f"pulse-width limits [{limits.min_pulse_width_s:g}, "
                           f"{limits.max_pulse_width_s:g}] s")
        text = str(self.calibration or "").strip()
        if text != "fresh":
            cal = load_calibration(text)
            missing = sorted(set(self._cell_list()) - set(cal.cells))
            if missing:
                raise BadInput(f"calibration: the file has no trials of cells {missing[:4]} "
                               f"(it covers {len(cal.cells)} cells)")
            self._cal = cal
            for p in sorted(set(self._targets().round(12))):
                self._usable_units(p)  # raises BadInput when p is unreachable: nothing pulsed

    # ------------------------------------------------------------------ helpers
    def _cell_list(self) -> list[tuple[int, int]]:
        return [(r, b) for r in range(self.row, self.row + self.rows) for b in range(self.cells)]

    def _targets(self) -> np.ndarray:
        if self.schedule == "ddpm":
            return schedule_p(np.linspace(self.beta_start, self.beta_end, self.steps))
        return np.full(self.steps, float(self.p))

    def _anchors(self) -> tuple[float, ...]:
        """Calibration anchors: the target, or the schedule's lowest, median and highest p
        (the law is fitted locally around each)."""
        t = self._targets()
        return tuple(sorted({round(float(q), 6) for q in np.quantile(t, [0.0, 0.5, 1.0])}))

    def _points(self, p: float) -> tuple[OperatingPoints, OperatingPoints]:
        """SET and RESET points of this run's cells for ``p`` (from the laws refined at the
        operating point when a refinement ran for ``p``)."""
        vmax = self.controller.session.limits.max_program_voltage_v
        cells = self._cell_list()
        set_pts, reset_pts = (self._cal.points(p, pol, self.width, vmax, self.p_tolerance,
                                               cells=cells) for pol in (1, -1))
        return set_pts, reset_pts

    def _form_units(self, ok: np.ndarray) -> np.ndarray:
        """Units (m, k) of cell indices: on each word line, its ``ok`` cells in order,
        consecutive groups of k (a trailing partial group is not used)."""
        units = []
        for r in range(self.rows):
            idx = np.flatnonzero(ok[r * self.cells:(r + 1) * self.cells]) + r * self.cells
            m = idx.size // self.k
            units += list(idx[: m * self.k].reshape(m, self.k))
        return np.array(units, dtype=np.int64).reshape(-1, self.k)

    def _in_use(self) -> np.ndarray:
        """Bool per cell: in a unit still in use."""
        use = np.zeros(self._n_cells(), bool)
        use[self._units[self._alive].ravel()] = True
        return use

    def _complement(self) -> np.ndarray:
        """Bool per cell: counts OFF as 1 (balanced readout: every second cell of each
        unit)."""
        out = np.zeros(self._n_cells(), bool)
        if self.readout == "balanced" and self._units.size:
            out[self._units[:, 1::2].ravel()] = True
        return out

    def _drop_cells(self, gone: list[int], step: int, reason: str) -> None:
        """Take every unit that holds one of the cells ``gone`` out of use, whole (its other
        cells are not regrouped: a unit stays on its word line and its noise column), and
        record why."""
        cells = self._cell_list()
        for j in gone:
            for u in np.flatnonzero(self._alive & np.any(self._units == j, axis=1)):
                self._alive[u] = False
                self._dropped.append({"step": int(step), "unit": int(u),
                                      "cells": [list(cells[i]) for i in self._units[u]],
                                      "cell": list(cells[j]), "reason": reason})

    def _usable_units(self, p: float, among: np.ndarray | None = None) -> np.ndarray:
        """Bool per cell: in a complete unit of k usable cells on its word line (cells
        usable at ``p`` and, if given, in ``among``)."""
        set_pts, reset_pts = self._points(p)
        ok = set_pts.usable & reset_pts.usable
        if among is not None:
            ok &= among
        in_unit = np.zeros(ok.size, bool)
        in_unit[self._form_units(ok).ravel()] = True
        if not in_unit.any():
            reasons = {**{j: f"SET: {m}" for j, m in set_pts.reasons.items()},
                       **{j: f"RESET: {m}" for j, m in reset_pts.reasons.items()}}
            first = "; ".join(f"cell {self._cell_list()[j]}: {m}"
                              for j, m in list(reasons.items())[:3])
            raise BadInput(
                f"p: {p:g} is unreachable at width {self.width:g} s: fewer than k={self.k} "
                f"usable cells on every word line ({int(ok.sum())} usable of {ok.size}). "
                f"{first}")
        return in_unit

    # ------------------------------------------------------------------ run
    def execute(self) -> None:
        c = self.controller
        session = c.session
        t0 = session.now_s()
        self._noise_history: list[np.ndarray] = []
        sw = SwitchingCells(c, self._cell_list(), read_v=self.read_v,
                            saturate_v=self.saturate_v, saturate_width_s=self.saturate_width,
                            pair_pulses=bool(self.pair_pulses))
        wall0 = time.perf_counter()
        if self._cal is None:
            vmax = session.limits.max_program_voltage_v
            self._cal = sw.calibrate(
                vmax, sweep_v=(1.2, min(3.0, vmax)), sweep_repeats=self.sweep_repeats,
                local_repeats=self.local_repeats, local_step_v=self.local_step,
                target_p=self._anchors(), widths_s=(self.width, 4 * self.width),
                on_block=lambda b: self.record("trials", b), should_stop=self.should_stop)
            self.result("calibration_trials", sw.trials_run)
            if self.should_stop():
                return
        else:
            self.record("trials", self._cal.trials)
        cal_s = session.now_s() - t0
        self.result("calibration_wall_s", time.perf_counter() - wall0, "s")
        targets = self._targets()
        if self.refine_half_width > 0 and not self._refine(sw, float(targets[0])):
            return
        points: dict[float, tuple[OperatingPoints, OperatingPoints]] = {}
        use = None
        for p in sorted(set(np.round(targets, 12))):  # cells usable at every target
            use = self._usable_units(float(p), use)
        self._units = self._form_units(use)
        self._alive = np.ones(len(self._units), bool)
        self._dropped: list[dict] = []
        self._report_points(*self._points(float(targets[0])), use)
        sw.measure_window()
        window0 = sw.window.copy()
        # start: every cell OFF (constant schedule: the flips are then the TRNG's bits from
        # step 0), or every counted bit 1 (ddpm: spins +1)
        flip = self._complement()
        start = np.zeros(len(sw.cells), np.uint8)
        if self.schedule == "ddpm":
            start = (1 ^ flip).astype(np.uint8)
        sw.saturate(to=start)
        # flips are counted once, by the tracker: its totals per polarity (SET, RESET),
        # (trials, flips), cell are the run's
        tracker = DriftTracker(len(sw.cells), check_every=self.check_every)
        n_units = self._n_cells() // self.k
        spins0 = 2.0 * (sw.state ^ flip)[use] - 1.0
        mean_spin = [float(spins0.mean())]
        pulses0, triggers0, t_chain0 = sw.pulses, sw.triggers, session.now_s()
        pending: dict[str, list[np.ndarray]] = {"bits": [], "noise": [], "settings": []}

        def flush() -> None:  # streams are written in blocks: one flush per stream and block
            for name, rows in pending.items():
                if rows:
                    self.record(name, np.concatenate(rows))
                    rows.clear()

        try:
            for step, p in enumerate(targets):
                if self.should_stop():
                    break
                key = round(float(p), 12)
                if key not in points:
                    points[key] = self._points(key)
                    lost = np.flatnonzero(use & ~(points[key][0].usable
                                                  & points[key][1].usable))
                    if lost.size:  # a re-tune left a cell without a usable point
                        for j in lost:
                            why = points[key][0].reasons.get(j) or points[key][1].reasons.get(j)
                            self._drop_cells([int(j)], step, f"no usable point after a re-tune: "
                                             f"{why}")
                        use = self._in_use()
                before = sw.state.copy()
                flips = sw.step(*points[key], use)
                tracker.add(before, flips, use)
                bits = sw.state.copy()
                pending["bits"].append(bits[None, :])
                pending["noise"].append(self._noise(bits ^ flip, n_units)[None, :])
                pending["settings"].append(np.array([[step, p, int(use.sum()),
                                                      session.now_s() - t0,
                                                      int(flips[use].sum())]]))
                mean_spin.append(float((2.0 * (bits ^ flip)[use] - 1.0).mean()))
                if len(pending["bits"]) >= RECORD_EVERY:
                    flush()
                if (step + 1) % self.check_every == 0:
                    sw.remeasure_window()
                if self.schedule == "constant" and (step + 1) % self.check_every == 0:
                    flush()
                    n_events = len(tracker.events)
                    counts = tracker.counts[:, :, use].sum(axis=2)
                    observed = [counts[i, 1] / max(1, counts[i, 0]) for i in (0, 1)]
                    absorbed = tracker.absorbed
                    gone = tracker.check(step, key, self._cal.laws_for(key), use,
                                         dict(zip((1, -1), points[key], strict=True)))
                    new = tracker.events[n_events:]
                    self.record("checks", [[step, *observed,
                                            sum(e[5] == "retuned" for e in new), len(gone)]])
                    if gone or new or tracker.absorbed != absorbed:
                        points.clear()
                    if gone:
                        self._drop_cells(gone, step, "drift: flip rate away from the "
                                         "target after its re-tunes (or never/always "
                                         "flipping)")
                        use = self._in_use()
                self.progress(100.0 * (step + 1) / len(targets))
        finally:
            flush()
        totals = tracker.totals
        chain_s = session.now_s() - t_chain0
        steps_done = len(mean_spin) - 1
        self.result("calibration_instrument_s", float(cal_s), "s")
        self.result("chain_instrument_s", float(chain_s), "s")
        self.result("steps_done", steps_done)
        self.result("flips", int(totals[:, 1].sum()))
        if steps_done and chain_s > 0:
            values = steps_done * (int(use.sum()) // self.k)
            self.result("noise_values_per_instrument_s", values / chain_s, "1/s")
            self.result("bits_per_instrument_s", steps_done * int(use.sum()) / chain_s, "1/s")
            self.result("pulses_per_bit",
                        (sw.pulses - pulses0) / max(1, steps_done * int(use.sum())), "1")
            self.result("triggers_per_bit",
                        (sw.triggers - triggers0) / max(1, steps_done * int(use.sum())), "1")
        self.result("mean_spin", np.array(mean_spin), "1")
        self.result("units", np.array([[list(self._cell_list()[i]) for i in u]
                                       for u in self._units], dtype=np.int64).reshape(-1, 2),
                    "1")
        self.result("units_in_use_final", self._alive.astype(np.uint8), "1")
        self.result("units_dropped", json.dumps(self._dropped))
        self.result("drift_absorbed", int(tracker.absorbed))
        for pi, name in ((0, "set"), (1, "reset")):  # what each cell did at its points
            self.result(f"chain_{name}_trials", totals[pi, 0], "1")
            with np.errstate(invalid="ignore", divide="ignore"):
                self.result(f"chain_{name}_p", totals[pi, 1] / totals[pi, 0], "1")
        self.result("window_left", float(np.median(sw.window[use] / window0[use])), "1")
        self.result("drift_events", json.dumps(
            [{"step": e[0], "cell": list(self._cell_list()[e[1]]) if e[1] >= 0 else "all",
              "polarity": e[2],
              "observed_p": e[3], "target_p": e[4], "action": e[5]} for e in tracker.events]))
        if self.schedule == "constant" and steps_done >= 3:
            noise = np.array(self._noise_history)
            full = np.all(np.isfinite(noise), axis=0)
            if full.any():
                from ftjlab.switching.noise import noise_quality  # scipy.stats: on use

                q = noise_quality(noise[:, full], self.k, float(self.p))
                for name, value in q.as_dict().items():
                    if isinstance(value, float | int):
                        self.result(f"noise_{name}", value)

    def _noise(self, bits: np.ndarray, n_units: int) -> np.ndarray:
        """Standardised Hamming weight of every unit (``bits``: counted bits per cell); a
        unit keeps its column, NaN once it is out of use."""
        out = np.full(n_units, np.nan)
        m = len(self._units)
        if m:
            h = bits[self._units].sum(axis=1)
            out[:m] = np.where(self._alive, (h - self.k / 2.0) / np.sqrt(self.k / 4.0), np.nan)
        self._noise_history.append(out)
        return out

    def _refine(self, sw: SwitchingCells, p: float) -> bool:
        """The closed-loop refinement at the operating points (every trial streamed as a
        calibration trial row); False when stopped."""
        vmax = self.controller.session.limits.max_program_voltage_v
        hw = float(self.refine_half_width)
        report = sw.refine(self._cal, p, self.width, vmax, half_width=hw,
                           **stage_sizes(p, hw),
                           on_block=lambda b: self.record("trials", b),
                           should_stop=self.should_stop)
        self.result("refine_instrument_s", float(report.instrument_s), "s")
        self.result("refine_wall_s", float(report.wall_s), "s")
        self.result("refine_stages", int(report.stages))
        for pol, name in ((1, "set"), (-1, "reset")):
            self.result(f"refine_{name}_trials", report.trials[pol], "1")
            self.result(f"refine_{name}_p_hat", report.p_hat[pol], "1")
            self.result(f"refine_{name}_half_width", report.half_width[pol], "1")
        cells = self._cell_list()
        self.result("refine_excluded", json.dumps(
            {f"{cells[j]}": f"{name}: {m}" for pol, name in ((1, "SET"), (-1, "RESET"))
             for j, m in report.reasons[pol].items()}))
        return not self.should_stop()

    def _report_points(self, set_pts: OperatingPoints, reset_pts: OperatingPoints,
                       use: np.ndarray) -> None:
        self.result("cells", np.array(self._cell_list(), dtype=np.int64), "1")
        self.result("set_volts", set_pts.volts, "V")
        self.result("reset_volts", reset_pts.volts, "V")
        self.result("set_p_fit", set_pts.p_fit, "1")
        self.result("set_p_sigma", set_pts.p_sigma, "1")
        self.result("reset_p_fit", reset_pts.p_fit, "1")
        self.result("reset_p_sigma", reset_pts.p_sigma, "1")
        self.result("in_use", use.astype(np.uint8), "1")
        cells = self._cell_list()
        reasons = {f"{cells[j]}": f"SET: {m}" for j, m in set_pts.reasons.items()}
        for j, m in reset_pts.reasons.items():
            reasons[f"{cells[j]}"] = (reasons.get(f"{cells[j]}", "") + f" RESET: {m}").strip()
        self.result("excluded", json.dumps(reasons))
        self.result("cells_in_use", int(use.sum()))


SWITCHING_PROCEDURES = {SwitchingNoise.name: SwitchingNoise}
