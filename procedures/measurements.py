"""The measurements of an FTJ array lab, as procedures that run on any bench.

Each runs through :class:`~ftjlab.controller.ArrayController` only, records as it goes
(streams, flushed block by block), reports progress, and ends safe (the runner makes sure).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from pymeasure.experiment import BooleanParameter, FloatParameter, IntegerParameter

from ftjlab.errors import BadInput
from ftjlab.store import StreamSpec

from .base import FTJProcedure

READ_BIAS_V = 0.2
SAMPLING_BIAS_V = 0.8


def _cells(procedure: FTJProcedure) -> tuple[int, int]:
    c = procedure.controller
    return c.rows, c.cols


class ConductanceMap(FTJProcedure):
    """Chord conductance I/V of every cell at the read bias, row by row."""

    name = "conductance-map"
    voltage_roles: ClassVar[dict[str, str]] = {"read_v": "read"}
    summary = "conductance map of the whole array at the read bias"

    read_v = FloatParameter("Read bias", units="V", minimum=0.01, maximum=1.5, default=READ_BIAS_V)
    nplc = FloatParameter("Integration time", units="NPLC", minimum=0.001, maximum=25, default=0.1)

    def streams(self) -> dict[str, StreamSpec]:
        cols = self.controller.cols if self.controller else 0
        return {"rows": StreamSpec(np.float64, "S", (cols,), {"axis": "bit line"})}

    def estimate_s(self) -> float:
        return 32 * 32 * (self.nplc / self.linefreq_hz() + 3e-3)

    def execute(self) -> None:
        rows, _ = _cells(self)

        def on_row(row: int, g: np.ndarray) -> None:
            self.record("rows", g[None, :])
            self.progress(100 * (row + 1) / rows)

        g = self.controller.read_map(
            self.read_v, self.nplc, on_row=on_row, should_stop=self.should_stop
        )
        self.result("conductance", g, "S")


class IVSweep(FTJProcedure):
    """Current-voltage sweep of one cell (up and back down), with compliance."""

    name = "iv-sweep"
    voltage_roles: ClassVar[dict[str, str]] = {"v_max": "sample"}
    summary = "I-V sweep of one cell"

    row = IntegerParameter("Word line", minimum=0, maximum=4095, default=0)
    col = IntegerParameter("Bit line", minimum=0, maximum=4095, default=0)
    v_max = FloatParameter("Sweep maximum", units="V", minimum=-1.5, maximum=1.5, default=1.0)
    points = IntegerParameter("Points per branch", minimum=2, maximum=10_000, default=41)
    nplc = FloatParameter("Integration time", units="NPLC", minimum=0.001, maximum=25, default=1.0)

    def streams(self) -> dict[str, StreamSpec]:
        return {"iv": StreamSpec(np.float64, "V, A", (2,), {"columns": "voltage_v, current_a"})}

    def estimate_s(self) -> float:
        return 2 * self.points * (self.nplc / self.linefreq_hz() + 1e-3)

    def check(self) -> None:
        if self.v_max == 0:
            raise BadInput("iv-sweep: v_max must not be 0 V")

    def execute(self) -> None:
        c = self.controller
        up = np.linspace(0, self.v_max, self.points)
        volts = np.concatenate([up, up[-2::-1]])
        role = "read" if abs(self.v_max) <= c.session.limits.max_read_voltage_v else "sample"
        data = np.empty((volts.size, 2))
        for k, v in enumerate(volts):
            if self.should_stop():
                break
            i = c.read_cell(self.row, self.col, float(v), self.nplc, role=role)
            data[k] = v, i
            self.record("iv", data[k][None, :])
            self.progress(100 * (k + 1) / volts.size)
        self.result("iv", data[: k + 1], "V, A")


class SwitchingProbability(FTJProcedure):
    """P(V, t): the switched fraction of erased cells after one pulse of amplitude V and
    width t, averaged over a row of cells, on a grid of V x t."""

    name = "switching-probability"
    voltage_roles: ClassVar[dict[str, str]] = {
        "v_start": "program",
        "v_stop": "program",
        "erase_v": "program",
        "read_v": "read",
    }
    pulse_widths = ("t_start", "t_stop", "erase_width")
    summary = "P(V, t) map of switching by single pulses"

    row = IntegerParameter("Word line", minimum=0, maximum=4095, default=0)
    cells = IntegerParameter("Cells per point", minimum=1, maximum=4096, default=16)
    v_start = FloatParameter("Lowest amplitude", units="V", minimum=0.1, maximum=10, default=1.4)
    v_stop = FloatParameter("Highest amplitude", units="V", minimum=0.1, maximum=10, default=3.0)
    v_points = IntegerParameter("Amplitudes", minimum=1, maximum=200, default=9)
    t_start = FloatParameter("Shortest width", units="s", minimum=1e-9, maximum=1, default=1e-7)
    t_stop = FloatParameter("Longest width", units="s", minimum=1e-9, maximum=1, default=1e-4)
    t_points = IntegerParameter("Widths (log-spaced)", minimum=1, maximum=200, default=7)
    erase_v = FloatParameter("Erase amplitude", units="V", minimum=-10, maximum=-0.1, default=-4.0)
    erase_width = FloatParameter("Erase width", units="s", minimum=1e-9, maximum=1, default=1e-3)
    read_v = FloatParameter("Read bias", units="V", minimum=0.01, maximum=1.5, default=READ_BIAS_V)

    def streams(self) -> dict[str, StreamSpec]:
        return {
            "points": StreamSpec(
                np.float64,
                "V, s, 1, 1",
                (4,),
                {"columns": "amplitude_v, width_s, switched_fraction, std_between_cells"},
            )
        }

    def estimate_s(self) -> float:
        return self.v_points * self.t_points * (self.erase_width + 2 * self.cells * 0.01)

    def execute(self) -> None:
        c = self.controller
        cols = list(range(min(self.cells, c.cols)))
        g_off, g_on = c.conductance_range(self.read_v)
        volts = np.linspace(self.v_start, self.v_stop, self.v_points)
        widths = np.geomspace(self.t_start, self.t_stop, self.t_points)
        p = np.full((volts.size, widths.size), np.nan)
        total, k = volts.size * widths.size, 0
        for i, v in enumerate(volts):
            for j, t in enumerate(widths):
                if self.should_stop():
                    self.result("probability", p, "1")
                    return
                c.apply_pulses([self.row], cols, self.erase_v, self.erase_width)
                before = c.read_currents([self.row], cols, self.read_v, 0.1) / self.read_v
                c.apply_pulses([self.row], cols, float(v), float(t))
                after = c.read_currents([self.row], cols, self.read_v, 0.1) / self.read_v
                frac = np.clip((after - before) / (g_on - g_off), 0, 1)
                p[i, j] = frac.mean()
                self.record("points", [[v, t, p[i, j], frac.std()]])
                k += 1
                self.progress(100 * k / total)
        self.result("probability", p, "1")
        self.result("amplitudes", volts, "V")
        self.result("widths", widths, "s")


def quantised_weights(shape: tuple[int, int], levels: int, seed: int) -> np.ndarray:
    """Random weights in [-1, 1] on ``levels`` equally spaced values (levels >= 2)."""
    grid = np.linspace(-1.0, 1.0, levels)
    return np.random.default_rng(seed).choice(grid, size=shape)


def differential_targets(weights: np.ndarray, g_lo: float, g_hi: float) -> np.ndarray:
    """Map weights in [-1, 1] (rows x n) to differential conductance pairs on 2n columns:
    ``w = (G+ - G-) / (g_hi - g_lo)``, the unused side at ``g_lo``."""
    r, n = weights.shape
    targets = np.full((r, 2 * n), g_lo)
    span = g_hi - g_lo
    targets[:, 0::2] = g_lo + np.clip(weights, 0, None) * span
    targets[:, 1::2] = g_lo + np.clip(-weights, 0, None) * span
    return targets


@dataclass
class WeightTargets:
    """A quantised weight matrix and its differential-pair targets on the array."""

    weights: np.ndarray  # rows_used x pairs_used, in [-1, 1]
    targets_s: np.ndarray  # the whole array, NaN where unused
    g_range_s: tuple[float, float]  # nominal (G_off, G_on) at the read bias
    span_s: float  # conductance of weight 1 (the programming window)


def weight_targets(
    procedure: FTJProcedure,
    rows_used: int,
    pairs_used: int,
    levels: int,
    seed: int,
    read_v: float,
    window_low_pct: float = 5.0,
    window_high_pct: float = 85.0,
) -> WeightTargets:
    """Random quantised weights as differential pairs within a window of the device's range
    on the first ``rows_used`` rows and ``2 * pairs_used`` columns; BadInput if they do not
    fit the array."""
    c = procedure.controller
    if rows_used > c.rows or 2 * pairs_used > c.cols:
        raise BadInput(
            f"{procedure.name}: rows_used={rows_used} x pairs_used={pairs_used} (2 columns "
            f"each) do not fit the {c.rows} x {c.cols} array"
        )
    g_off, g_on = c.conductance_range(read_v)
    lo = g_off + (g_on - g_off) * window_low_pct / 100
    hi = g_off + (g_on - g_off) * window_high_pct / 100
    weights = quantised_weights((rows_used, pairs_used), levels, seed)
    full = np.full((c.rows, c.cols), np.nan)
    full[:rows_used, : 2 * pairs_used] = differential_targets(weights, lo, hi)
    return WeightTargets(weights, full, (g_off, g_on), hi - lo)


class WriteVerify(FTJProcedure):
    """Program a random quantised weight matrix as differential pairs (G+, G-) by
    write-verify; record every cell's outcome."""

    name = "write-verify"
    voltage_roles: ClassVar[dict[str, str]] = {"read_v": "read"}
    summary = "program quantised weights as differential pairs by write-verify"

    rows_used = IntegerParameter("Rows to program", minimum=1, maximum=4096, default=32)
    pairs_used = IntegerParameter("Column pairs to program", minimum=1, maximum=2048, default=16)
    levels = IntegerParameter("Weight levels", minimum=2, maximum=64, default=9)
    seed = IntegerParameter("Weight seed", minimum=0, maximum=2**31 - 1, default=1)
    tolerance = FloatParameter("Tolerance", units="% of range", minimum=0.1, maximum=20, default=2)
    window_low = FloatParameter(
        "Lowest level", units="% of range", minimum=0, maximum=50, default=5
    )
    window_high = FloatParameter(
        "Highest level", units="% of range", minimum=50, maximum=100, default=85
    )
    read_v = FloatParameter(
        "Verify read bias", units="V", minimum=0.01, maximum=1.5, default=READ_BIAS_V
    )
    width = FloatParameter("Pulse width", units="s", minimum=1e-9, maximum=1e-2, default=1e-6)
    max_pulses = IntegerParameter("Pulses per cell at most", minimum=1, maximum=10_000, default=40)

    def streams(self) -> dict[str, StreamSpec]:
        return {
            "cells": StreamSpec(
                np.float64,
                "1, 1, S, S, 1, 1",
                (6,),
                {"columns": "row, col, target_s, final_s, pulses, ok"},
            )
        }

    def estimate_s(self) -> float:
        return self.rows_used * 2 * self.pairs_used * 6 * (self.width + 0.01)

    def check(self) -> None:
        if self.window_low >= self.window_high:
            raise BadInput("write-verify: window_low must be below window_high")

    def preflight(self) -> None:
        super().preflight()
        self.targets()

    def targets(self) -> WeightTargets:
        """The weights and their targets (checks that they fit the array)."""
        return weight_targets(
            self, self.rows_used, self.pairs_used, self.levels, self.seed, self.read_v,
            self.window_low, self.window_high,
        )

    def execute(self) -> None:
        c = self.controller
        planned = self.targets()
        weights, targets, g_range = planned.weights, planned.targets_s, planned.g_range_s
        n_total = int(np.isfinite(targets).sum())
        done = [0]

        def on_cell(o) -> None:
            self.record("cells", [[o.row, o.col, o.target_s, o.final_s, o.pulses, o.ok]])
            done[0] += 1
            self.progress(100 * done[0] / n_total)

        report = c.write_verify(
            targets,
            self.tolerance / 100,
            g_range,
            self.read_v,
            0.1,
            self.width,
            max_pulses=self.max_pulses,
            on_cell=on_cell,
            should_stop=self.should_stop,
        )
        self.result("weights", weights, "1")
        self.result("targets", targets, "S")
        self.result("final", report.final_s, "S")
        self.result("pulses", report.pulses, "1")
        self.result("error_sigma_pct_of_range", 100 * report.error_sigma_rel, "%")
        self.result("error_sigma_converged_pct_of_range",
                    100 * report.error_sigma_converged_rel, "%")
        self.result("mean_pulses_per_cell", report.mean_pulses)
        self.result("failed_cells", len(report.reasons))
        self.result("failures", "\n".join(report.failures()))


class RTNAcquisition(FTJProcedure):
    """Random telegraph noise of one cell at the sampling bias: a timed buffered
    acquisition, streamed to the file block by block."""

    name = "rtn-acquisition"
    voltage_roles: ClassVar[dict[str, str]] = {"bias_v": "sample"}
    summary = "RTN trace of one cell at the sampling bias"

    row = IntegerParameter("Word line", minimum=0, maximum=4095, default=0)
    col = IntegerParameter("Bit line", minimum=0, maximum=4095, default=0)
    bias_v = FloatParameter(
        "Sampling bias", units="V", minimum=0.0, maximum=1.5, default=SAMPLING_BIAS_V
    )
    interval_s = FloatParameter(
        "Sampling interval", units="s", minimum=5e-5, maximum=1, default=2e-4
    )
    nplc = FloatParameter(
        "Integration time", units="NPLC", minimum=0.001, maximum=25, default=0.006
    )
    readings = IntegerParameter("Readings", minimum=10, maximum=10_000_000, default=100_000)
    block = IntegerParameter(
        "Readings per buffer block", minimum=100, maximum=100_000, default=50_000
    )

    #: instrument time per buffer block at most: a stop request waits for one block
    MAX_BLOCK_S = 1.0

    def block_size(self) -> int:
        """Readings per buffer block: ``block``, but at most ~1 s of instrument time, so an
        abort takes effect within about a second on a real bench too."""
        per_second = max(1, int(self.MAX_BLOCK_S / self.interval_s))
        return max(1, min(self.block, self.readings, per_second))

    def streams(self) -> dict[str, StreamSpec]:
        block = self.block_size()
        return {
            "current": StreamSpec(np.float32, "A", chunk_records=block),
            "time": StreamSpec(np.float64, "s", chunk_records=block),
        }

    def estimate_s(self) -> float:
        return self.readings * self.interval_s

    def check(self) -> None:
        self._check_aperture()

    def preflight(self) -> None:
        super().preflight()
        self._check_aperture()  # again, at the attached bench's line frequency

    def _check_aperture(self) -> None:
        hz = self.linefreq_hz()
        if self.nplc / hz > self.interval_s:
            raise BadInput(
                f"rtn-acquisition: the aperture ({self.nplc} NPLC = {self.nplc / hz:.3g} s at "
                f"{hz:g} Hz) is longer than interval_s = {self.interval_s} s"
            )

    def execute(self) -> None:
        c = self.controller
        self.result("aperture_s", c.aperture_s(self.nplc), "s")
        done = 0
        for current, stamps in c.acquire_rtn(
            self.row,
            self.col,
            self.bias_v,
            self.interval_s,
            self.nplc,
            self.readings,
            self.block_size(),
        ):
            self.record("current", current.astype(np.float32))
            self.record("time", stamps)
            done += current.size
            self.progress(100 * done / self.readings)
            if self.should_stop():
                break


class RTNTuning(FTJProcedure):
    """RTN of one cell over a grid of sampling bias x integration time; per point the RTN
    amplitude, capture and emission times and occupancy."""

    name = "rtn-tuning"
    voltage_roles: ClassVar[dict[str, str]] = {"v_start": "sample", "v_stop": "sample"}
    summary = "RTN statistics over bias x sampling time"

    row = IntegerParameter("Word line", minimum=0, maximum=4095, default=0)
    col = IntegerParameter("Bit line", minimum=0, maximum=4095, default=0)
    v_start = FloatParameter("Lowest bias", units="V", minimum=0.0, maximum=1.5, default=0.6)
    v_stop = FloatParameter("Highest bias", units="V", minimum=0.0, maximum=1.5, default=1.0)
    v_points = IntegerParameter("Biases", minimum=1, maximum=100, default=5)
    nplc_start = FloatParameter(
        "Shortest integration", units="NPLC", minimum=0.001, maximum=25, default=0.003
    )
    nplc_stop = FloatParameter(
        "Longest integration", units="NPLC", minimum=0.001, maximum=25, default=0.1
    )
    nplc_points = IntegerParameter(
        "Integration times (log-spaced)", minimum=1, maximum=50, default=4
    )
    readings = IntegerParameter(
        "Readings per point", minimum=100, maximum=1_000_000, default=20_000
    )

    def streams(self) -> dict[str, StreamSpec]:
        return {
            "points": StreamSpec(
                np.float64,
                "V, s, 1, s, s, 1",
                (6,),
                {"columns": "bias_v, aperture_s, amplitude_rel, tau_c_s, tau_e_s, occupancy"},
            )
        }

    def estimate_s(self) -> float:
        return (self.v_points * self.nplc_points * self.readings * 1.2 * self.nplc_stop
                / self.linefreq_hz())

    def execute(self) -> None:
        c = self.controller
        biases = np.linspace(self.v_start, self.v_stop, self.v_points)
        nplcs = np.geomspace(self.nplc_start, self.nplc_stop, self.nplc_points)
        k = 0
        for v in biases:
            for nplc in nplcs:
                if self.should_stop():
                    return
                aperture = c.aperture_s(float(nplc))
                interval = max(aperture * 1.2, 5e-5)
                trace = np.concatenate(
                    [
                        i
                        for i, _ in c.acquire_rtn(
                            self.row, self.col, float(v), interval, float(nplc), self.readings
                        )
                    ]
                )
                from ftjlab.rtn.levels import two_level_statistics  # scipy: on use only

                st = two_level_statistics(trace, interval, aperture)
                self.record(
                    "points",
                    [
                        [
                            v,
                            aperture,
                            st.amplitude_rel,
                            st.tau_high_s,
                            st.tau_low_s,
                            st.occupancy_low,
                        ]
                    ],
                )
                k += 1
                self.progress(100 * k / (biases.size * nplcs.size))


class VMMAccuracy(FTJProcedure):
    """Measured vs ideal bit-serial VMM over random inputs, on weights programmed by
    write-verify (or the array as it is); reports the normalised RMS error."""

    name = "vmm-accuracy"
    voltage_roles: ClassVar[dict[str, str]] = {"read_v": "read"}
    summary = "VMM accuracy: measured vs ideal products over random inputs"

    program = BooleanParameter("Program random weights first", default=True)
    rows_used = IntegerParameter("Rows (inputs)", minimum=1, maximum=4096, default=32)
    pairs_used = IntegerParameter("Column pairs (outputs)", minimum=1, maximum=2048, default=16)
    levels = IntegerParameter("Weight levels", minimum=2, maximum=64, default=9)
    seed = IntegerParameter("Seed", minimum=0, maximum=2**31 - 1, default=1)
    inputs = IntegerParameter("Random input vectors", minimum=1, maximum=100_000, default=20)
    bits = IntegerParameter("Input bits", minimum=1, maximum=16, default=4)
    read_v = FloatParameter("VMM bias", units="V", minimum=0.01, maximum=1.5, default=READ_BIAS_V)
    nplc = FloatParameter("Integration time", units="NPLC", minimum=0.001, maximum=25, default=0.1)

    def streams(self) -> dict[str, StreamSpec]:
        n = self.pairs_used
        return {
            "measured": StreamSpec(np.float64, "1", (n,), {"what": "measured weighted sums"}),
            "ideal": StreamSpec(np.float64, "1", (n,), {"what": "ideal weighted sums"}),
        }

    def estimate_s(self) -> float:
        return self.inputs * self.bits * 2 * self.pairs_used * (self.nplc / self.linefreq_hz()
                                                                 + 3e-3)

    def preflight(self) -> None:
        super().preflight()
        self.targets()

    def targets(self) -> WeightTargets:
        return weight_targets(
            self, self.rows_used, self.pairs_used, self.levels, self.seed, self.read_v
        )

    def execute(self) -> None:
        c = self.controller
        planned = self.targets()
        weights, targets, (g_off, g_on) = planned.weights, planned.targets_s, planned.g_range_s
        if self.program:
            report = c.write_verify(
                targets, 0.02, (g_off, g_on), self.read_v, 0.1, 1e-6, should_stop=self.should_stop
            )
            self.result("programming_error_sigma_pct", 100 * report.error_sigma_rel, "%")
        r, n = self.rows_used, self.pairs_used
        measured_map = c.read_map(self.read_v, 1.0, rows=range(r), cols=range(2 * n))
        self.result("measured_map", measured_map, "S")
        span = planned.span_s
        w_measured = (measured_map[:, 0::2] - measured_map[:, 1::2]) / span
        rng = np.random.default_rng(self.seed + 1)
        scale = 2**self.bits - 1
        meas, ideal, ideal_map = [], [], []
        for k in range(self.inputs):
            if self.should_stop():
                break
            x = np.zeros(c.rows, dtype=np.int64)
            x[:r] = rng.integers(0, 2**self.bits, r)
            currents = c.vmm(x, self.bits, self.read_v, self.nplc)[: 2 * n]
            y = (currents[0::2] - currents[1::2]) / (self.read_v * span * scale)
            xs = x[:r] / scale
            meas.append(y)
            ideal.append(xs @ weights)
            ideal_map.append(xs @ w_measured)
            self.record("measured", y[None, :])
            self.record("ideal", ideal[-1][None, :])
            self.progress(100 * (k + 1) / self.inputs)
        meas_a, ideal_a, map_a = map(np.array, (meas, ideal, ideal_map))
        rms = math.sqrt(float(np.mean(ideal_a**2))) or 1.0
        self.result("nrmse_vs_programmed", float(np.sqrt(np.mean((meas_a - ideal_a) ** 2)) / rms))
        self.result("nrmse_vs_measured_map", float(np.sqrt(np.mean((meas_a - map_a) ** 2)) / rms))
        self.result("weights", weights, "1")


class Endurance(FTJProcedure):
    """Program/erase cycling of a few cells to many cycles, reading both states at
    log-spaced checkpoints: the memory window against cycles."""

    name = "endurance"
    voltage_roles: ClassVar[dict[str, str]] = {
        "set_v": "program",
        "reset_v": "program",
        "read_v": "read",
    }
    summary = "program/erase cycling with periodic reads"

    row = IntegerParameter("Word line", minimum=0, maximum=4095, default=0)
    cells = IntegerParameter("Cells (bit lines 0..n-1)", minimum=1, maximum=4096, default=4)
    cycles = IntegerParameter("Cycles", minimum=1, maximum=10**9, default=100_000)
    checkpoints = IntegerParameter("Checkpoints (log-spaced)", minimum=2, maximum=1000, default=11)
    set_v = FloatParameter("Program amplitude", units="V", minimum=0.1, maximum=10, default=4.0)
    reset_v = FloatParameter("Erase amplitude", units="V", minimum=-10, maximum=-0.1, default=-4.0)
    width = FloatParameter("Pulse width", units="s", minimum=1e-9, maximum=1e-2, default=1e-6)
    read_v = FloatParameter("Read bias", units="V", minimum=0.01, maximum=1.5, default=READ_BIAS_V)

    def streams(self) -> dict[str, StreamSpec]:
        return {
            "window": StreamSpec(
                np.float64, "1, S, S", (3,), {"columns": "cycles, g_on_mean_s, g_off_mean_s"}
            ),
        }

    def estimate_s(self) -> float:
        return self.cycles * 2 * self.width

    def execute(self) -> None:
        c = self.controller
        cols = list(range(min(self.cells, c.cols)))
        marks = np.unique(np.geomspace(1, self.cycles, self.checkpoints).astype(np.int64))
        done = 0
        for mark in marks:
            if self.should_stop():
                return
            todo = int(mark - done)
            if todo > 0:
                c.cycle_cells([self.row], cols, self.set_v, self.reset_v, self.width, todo)
                done = int(mark)
            c.apply_pulses([self.row], cols, self.set_v, self.width)
            g_on = c.read_currents([self.row], cols, self.read_v, 0.1) / self.read_v
            c.apply_pulses([self.row], cols, self.reset_v, self.width)
            g_off = c.read_currents([self.row], cols, self.read_v, 0.1) / self.read_v
            self.record("window", [[done, g_on.mean(), g_off.mean()]])
            self.progress(100 * done / self.cycles)


class Retention(FTJProcedure):
    """Program a row, then read it at log-spaced times: conductance drift against time."""

    name = "retention"
    voltage_roles: ClassVar[dict[str, str]] = {"program_v": "program", "read_v": "read"}
    summary = "conductance against time after programming (log-spaced reads)"

    row = IntegerParameter("Word line", minimum=0, maximum=4095, default=0)
    cells = IntegerParameter("Cells (bit lines 0..n-1)", minimum=1, maximum=4096, default=8)
    program_v = FloatParameter("Program amplitude", units="V", minimum=0.1, maximum=10, default=4.0)
    width = FloatParameter("Pulse width", units="s", minimum=1e-9, maximum=1e-2, default=1e-6)
    t_first = FloatParameter("First read after", units="s", minimum=1e-3, maximum=1e7, default=1)
    t_last = FloatParameter("Last read after", units="s", minimum=1e-3, maximum=1e8, default=1e4)
    reads = IntegerParameter("Reads (log-spaced)", minimum=2, maximum=1000, default=13)
    read_v = FloatParameter("Read bias", units="V", minimum=0.01, maximum=1.5, default=READ_BIAS_V)

    def streams(self) -> dict[str, StreamSpec]:
        n = self.cells
        return {
            "time": StreamSpec(np.float64, "s"),
            "conductance": StreamSpec(np.float64, "S", (n,)),
        }

    def estimate_s(self) -> float:
        return self.t_last

    def check(self) -> None:
        if self.t_first >= self.t_last:
            raise BadInput("retention: t_first must be before t_last")

    def execute(self) -> None:
        c = self.controller
        session = c.session
        cols = list(range(min(self.cells, c.cols)))
        c.apply_pulses([self.row], cols, self.program_v, self.width)
        t0 = session.now_s()
        times = np.geomspace(self.t_first, self.t_last, self.reads)
        for k, t in enumerate(times):
            c.open_all()  # nothing biased while waiting
            if not session.wait(t0 + t - session.now_s(), self.should_stop):
                return
            g = c.read_currents([self.row], cols, self.read_v, 1.0) / self.read_v
            self.record("time", [session.now_s() - t0])
            self.record("conductance", g[None, :])
            self.progress(100 * (k + 1) / times.size)


PROCEDURES: dict[str, type[FTJProcedure]] = {
    cls.name: cls
    for cls in (
        IVSweep,
        SwitchingProbability,
        WriteVerify,
        ConductanceMap,
        RTNAcquisition,
        RTNTuning,
        VMMAccuracy,
        Endurance,
        Retention,
    )
}

from .vae import VAE_PROCEDURES  # noqa: E402  (the VAE procedures, issue 6)

PROCEDURES.update(VAE_PROCEDURES)

from .switching_noise import SWITCHING_PROCEDURES  # noqa: E402  (stochastic-switching noise)

PROCEDURES.update(SWITCHING_PROCEDURES)
