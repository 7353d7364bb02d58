"""ArrayController: what a researcher does to an FTJ NOR array, through the drivers only.

Addressing follows the bench's wiring (``[wiring]`` of the bench config): the gate SMU channel
(``<smu>.b``) drives word lines, the read SMU channel (``<smu>.a``) biases a bit line and
measures its current, and the pulse generator (``<pg>.1``) drives bit lines for programming.
Selecting cells is one 707B ``exclusiveclose`` (break-before-make), so a cell is only ever
reached by the terminals the operation needs. The controller never talks to the simulator:
the same code runs on a real and a simulated bench.

Conductances are chord conductances ``G = I / V`` at the read bias (the device is non-linear,
so a map is always "at V").
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ftjlab.errors import BadInput
from ftjlab.instruments._pulse import set_levels
from ftjlab.session import BenchSession

log = logging.getLogger(__name__)

#: word-line (gate) drive, volts: above the access transistor's threshold
GATE_V = 1.5
GATE_COMPLIANCE_A = 1e-4
READ_COMPLIANCE_A = 1e-4
HIGH_Z_OHM = 1e6  # the generator's largest programmable load: levels = voltage at the cell


@dataclass
class CellOutcome:
    """Result of programming one cell: final conductance (S), pulses used, success, why not."""

    row: int
    col: int
    target_s: float
    final_s: float
    pulses: int
    ok: bool
    reason: str = ""


@dataclass
class WriteVerifyReport:
    """Per-cell outcomes of a write-verify pass and the figures a researcher checks."""

    targets_s: np.ndarray
    final_s: np.ndarray
    pulses: np.ndarray
    ok: np.ndarray
    reasons: dict[tuple[int, int], str] = field(default_factory=dict)
    g_range_s: tuple[float, float] = (0.0, 0.0)

    @property
    def error_rel(self) -> np.ndarray:
        """(final - target) / (G_on - G_off) for programmed cells (NaN elsewhere)."""
        lo, hi = self.g_range_s
        return (self.final_s - self.targets_s) / (hi - lo)

    @property
    def error_sigma_rel(self) -> float:
        """RMS of the final error over every programmed cell, failures included."""
        err = self.error_rel
        return float(np.sqrt(np.nanmean(err**2)))

    @property
    def error_sigma_converged_rel(self) -> float:
        """RMS of the final error over the cells that reached their tolerance (failed cells,
        e.g. stuck devices, are listed in :meth:`failures` instead)."""
        err = self.error_rel[self.ok]
        return float(np.sqrt(np.mean(err**2))) if err.size else float("nan")

    @property
    def mean_pulses(self) -> float:
        return float(np.mean(self.pulses[np.isfinite(self.targets_s)]))

    def failures(self) -> list[str]:
        """One line per failed cell: position, target, final value, reason."""
        lines = []
        for (r, c), why in sorted(self.reasons.items()):
            lines.append(
                f"cell ({r}, {c}): target {self.targets_s[r, c] * 1e9:.2f} nS, "
                f"reached {self.final_s[r, c] * 1e9:.2f} nS: {why}"
            )
        return lines


class ArrayController:
    """Operations on the array of one :class:`BenchSession`.

    :param gate_v: word-line drive of selected rows (volts).
    """

    def __init__(self, session: BenchSession, gate_v: float = GATE_V) -> None:
        self.session = session
        config = session.config
        self.rows, self.cols = config.array.rows, config.array.cols
        self.smu_name, self.smu = session.instrument_of_model("2636B")
        self.pg_name, self.pg = session.instrument_of_model("81160A", "33500B")
        self.matrix_name, self.matrix = session.instrument_of_model("707B")
        terminals = {terminal: letter for letter, terminal in config.wiring.rows.items()}
        need = {
            "read": f"{self.smu_name}.a",
            "gate": f"{self.smu_name}.b",
            "pulse": f"{self.pg_name}.1",
        }
        missing = [t for t in need.values() if t not in terminals]
        if missing:
            raise BadInput(f"{config.source}:wiring.rows: no matrix row for {missing}")
        self._row = {role: terminals[t] for role, t in need.items()}
        self._line_xp: dict[str, str] = {
            line: f"{slot}{{row}}{col:02d}" for (slot, col), line in config.wiring.columns.items()
        }
        for kind, size in (("WL", self.rows), ("BL", self.cols)):
            absent = [f"{kind}{i}" for i in range(size) if f"{kind}{i}" not in self._line_xp]
            if absent:
                raise BadInput(f"{config.source}:wiring.columns: {absent[:4]} not wired")
        self.gate_v = gate_v
        self._routed: tuple[frozenset[int], frozenset[int], str] | None = None
        self._gate_ready = False
        self._read_v: float | None = None
        self._read_nplc: float | None = None
        self._pulse_cfg: tuple[float, ...] | None = None
        self._pulse_polarity = "NORM"
        self._pulse_output_on = False
        self._read_output_on = False
        self._burst_count: int | None = None
        self._pg_ch: Any = None
        self.linefreq = float(config.instruments[self.smu_name].options.get("linefreq", 60))
        #: the matrix as a TSP-Link node of the SMU: whole rows read in one script
        self.tsplink_node = config.instruments[self.matrix_name].options.get("tsplink_node")
        # learned program amplitudes per polarity: (level reached, volts), as cells program
        self._curves: dict[int, list[tuple[float, float]]] = {}

    # ------------------------------------------------------------------ addressing
    def _xp(self, role: str, kind: str, indices: Sequence[int]) -> list[str]:
        return [self._line_xp[f"{kind}{i}"].format(row=self._row[role]) for i in indices]

    def _check_cells(self, rows: Sequence[int], cols: Sequence[int]) -> None:
        for name, idx, size in (("row", rows, self.rows), ("column", cols, self.cols)):
            bad = [i for i in idx if not 0 <= int(i) < size]
            if bad:
                raise BadInput(f"{name} index out of range 0..{size - 1}: {bad}")

    def route(self, rows: Sequence[int], cols: Sequence[int], bitline_role: str) -> None:
        """Connect the gate to word lines ``rows`` and ``bitline_role`` ("read" or "pulse")
        to bit lines ``cols``; everything else opens (break-before-make). Skipped if already
        routed that way."""
        key = (frozenset(int(r) for r in rows), frozenset(int(c) for c in cols), bitline_role)
        if key == self._routed:
            return
        self._check_cells(rows, cols)
        self.matrix.exclusive_close(
            self._xp("gate", "WL", sorted(key[0])) + self._xp(bitline_role, "BL", sorted(key[1]))
        )
        self._routed = key

    def open_all(self) -> None:
        self.matrix.open_all()
        self._routed = None

    def _gate_on(self) -> None:
        if self._gate_ready:
            return
        gate = self.smu.smub
        gate.apply_voltage(self.gate_v, GATE_COMPLIANCE_A)
        gate.output_enabled = True
        self._gate_ready = True

    def _bias(self, volts: float, nplc: float, role: str = "read") -> None:
        """Read channel at ``volts`` (checked against the ``role`` limit), output on."""
        a = self.smu.smua
        guard = self.smu.safety
        if guard is not None and guard.role("a") != role:
            a.source_voltage = 0.0  # a level legal in both roles before the switch
            guard.set_role("a", role)
            self._read_v = None
        if self._read_v != volts:
            a.apply_voltage(volts, READ_COMPLIANCE_A)
            self._read_v = volts
        if self._read_nplc != nplc:
            a.measure_nplc = nplc
            self._read_nplc = nplc
        if not self._read_output_on:
            a.output_enabled = True
            self._read_output_on = True

    def aperture_s(self, nplc: float) -> float:
        return nplc / self.linefreq

    # ------------------------------------------------------------------ reads
    def read_cell(
        self, row: int, col: int, volts: float = 0.2, nplc: float = 1.0, role: str = "read"
    ) -> float:
        """Current (A) of one cell at ``volts`` on its bit line, its word line on; ``role``
        is the bench limit that applies ("read", or "sample" for sweeps to higher bias)."""
        self._gate_on()
        self.route([row], [col], "read")
        self._bias(volts, nplc, role)
        return float(self.smu.smua.current)

    def read_currents(
        self, rows_on: Sequence[int], cols: Sequence[int], volts: float, nplc: float
    ) -> np.ndarray:
        """One current per bit line in ``cols`` (A) with word lines ``rows_on`` on."""
        self._gate_on()
        out = np.empty(len(cols))
        for k, col in enumerate(cols):
            self.route(rows_on, [col], "read")
            self._bias(volts, nplc)
            out[k] = float(self.smu.smua.current)
        return out

    def read_map(
        self,
        volts: float = 0.2,
        nplc: float = 1.0,
        rows: Sequence[int] | None = None,
        cols: Sequence[int] | None = None,
        on_row: Callable[[int, np.ndarray], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> np.ndarray:
        """Chord conductance map ``I / V`` (S) of ``rows`` x ``cols`` (default: whole array).

        ``on_row(row, conductances)`` is called after every row (for live views and streams);
        ``should_stop()`` is polled between rows.
        """
        rows = list(range(self.rows)) if rows is None else list(rows)
        cols = list(range(self.cols)) if cols is None else list(cols)
        self._check_cells(rows, cols)
        out = np.full((len(rows), len(cols)), np.nan)
        for i, row in enumerate(rows):
            if should_stop is not None and should_stop():
                break
            if self.tsplink_node is not None:
                out[i] = self._read_row_tsplink(row, cols, volts, nplc) / volts
            else:
                out[i] = self.read_currents([row], cols, volts, nplc) / volts
            if on_row is not None:
                on_row(row, out[i])
        return out

    def _read_row_tsplink(
        self, row: int, cols: Sequence[int], volts: float, nplc: float
    ) -> np.ndarray:
        """One row in one script: the SMU (TSP-Link master) switches the matrix (node N) to
        each cell and measures it into its buffer; one binary buffer read returns the row.
        Switching on the node is synchronous within the script, so no read can overtake a
        relay, and the row costs one round trip instead of two per cell."""
        self._check_cells([row], cols)
        self._gate_on()
        self._bias(volts, nplc)
        a = self.smu.smua
        a.configure_timed_acquisition(count=1, interval_s=0.0)
        node = f"node[{int(self.tsplink_node)}].channel.exclusiveclose"
        gate = self._xp("gate", "WL", [row])[0]
        steps = [
            f"{node}('{gate},{xp}') smua.measure.i(smua.nvbuffer1)"
            for xp in self._xp("read", "BL", cols)
        ]
        self.smu.write(" ".join(steps))
        currents, _ = a.read_buffer(count=len(cols), binary=True, timestamps=False)
        self._routed = (frozenset([row]), frozenset([int(cols[-1])]), "read")
        return currents

    # ------------------------------------------------------------------ programming
    def apply_pulses(
        self,
        rows: Sequence[int],
        cols: Sequence[int],
        volts: float,
        width_s: float,
        count: int = 1,
        period_s: float | None = None,
    ) -> None:
        """A burst of ``count`` pulses of ``volts`` (negative: erase) and ``width_s`` on bit
        lines ``cols`` with word lines ``rows`` on. The read channel is disconnected first.

        The generator always rests at 0 V: positive pulses use normal polarity (low level
        0 V), negative ones inverted polarity with the high level at 0 V, so a routed bit line
        never sits at the pulse level between pulses.
        """
        if not (math.isfinite(volts) and volts != 0):
            raise BadInput(f"pulse amplitude must be a non-zero number of volts, got {volts!r}")
        period_s = period_s if period_s is not None else max(4 * width_s, width_s + 1e-7)
        polarity = "NORM" if volts > 0 else "INV"
        high, low = (volts, 0.0) if volts > 0 else (0.0, volts)
        self._waveform(high, low, width_s, period_s, polarity, count)
        self._fire(rows, cols)

    def cycle_cells(
        self,
        rows: Sequence[int],
        cols: Sequence[int],
        set_v: float,
        reset_v: float,
        width_s: float,
        cycles: int,
    ) -> None:
        """``cycles`` program/erase cycles in one burst: a pulse train at ``set_v`` for
        ``width_s`` then ``reset_v`` (< 0) for ``width_s``, every period one cycle. The
        generator rests at the erase level until the output goes off right after."""
        if not (set_v > 0 > reset_v):
            raise BadInput(f"cycling needs set_v > 0 > reset_v, got {set_v!r}, {reset_v!r}")
        self._waveform(set_v, reset_v, width_s, 2 * width_s, "NORM", int(cycles))
        self._fire(rows, cols)
        self._pg_ch.output = False
        self._pulse_output_on = False

    def _waveform(
        self, high: float, low: float, width_s: float, period_s: float, polarity: str,
        count: int,
    ) -> None:
        ch = self._pulse_channel()
        timing = (width_s, period_s)
        if self._pulse_cfg is None or self._pulse_cfg[2:] != timing:
            ch.output = False
            self._pulse_output_on = False
            ch.polarity = polarity
            ch.configure_pulse(high, low, width_s, period_s)  # checks the instrument's errors
            self._pulse_polarity = polarity
        elif self._pulse_cfg[:2] != (high, low):
            if polarity != self._pulse_polarity:
                ch.output = False
                self._pulse_output_on = False
                ch.polarity = polarity
                self._pulse_polarity = polarity
            # only the levels change (strict validators and bench limits are checked first,
            # so the generator has nothing to clip)
            set_levels(ch, high, low, *self._pulse_cfg[:2])
        self._pulse_cfg = (high, low, *timing)
        if self._burst_count != count:
            ch.burst_count = count
            self._burst_count = count

    def _fire(self, rows: Sequence[int], cols: Sequence[int]) -> None:
        self._gate_on()
        self.route(rows, cols, "pulse")
        if not self._pulse_output_on:
            self._pg_ch.output = True
            self._pulse_output_on = True
        self.pg.fire_burst(timeout_s=60)

    def _pulse_channel(self) -> Any:
        if self._pg_ch is None:
            ch = self.pg.ch_1
            ch.output = False
            # levels as seen by the array: a cell is a high-impedance load (set before the
            # levels: a load change voids programmed levels)
            ch.output_load = HIGH_Z_OHM
            ch.arm_source = "MAN"  # one burst per *TRG
            self._pg_ch = ch
        return self._pg_ch

    def write_verify(
        self,
        targets_s: np.ndarray,
        tolerance_rel: float = 0.02,
        g_range_s: tuple[float, float] | None = None,
        read_v: float = 0.2,
        nplc: float = 0.1,
        width_s: float = 1e-6,
        v_start: float = 1.4,
        v_step: float = 0.05,
        v_max: float = 4.0,
        max_pulses: int = 40,
        on_cell: Callable[[CellOutcome], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> WriteVerifyReport:
        """Program every finite entry of ``targets_s`` (S, rows x cols) to within
        ``tolerance_rel`` of the conductance range, by incremental-step pulses in both
        directions with a verify read after each.

        Each cell starts near the amplitude that earlier cells needed for a similar level
        (learned on the fly) and steps by ``v_step``; a pulse that overshoots reverses the
        polarity and restarts the step lower, so the cell converges from both sides.
        """
        targets = np.asarray(targets_s, dtype=np.float64)
        if targets.shape != (self.rows, self.cols):
            raise BadInput(f"targets must have shape {(self.rows, self.cols)}, got {targets.shape}")
        lo, hi = g_range_s if g_range_s is not None else self.conductance_range(read_v, nplc)
        finite = np.isfinite(targets)
        if np.any((targets[finite] < lo) | (targets[finite] > hi)):
            bad = np.argwhere(finite & ((targets < lo) | (targets > hi)))[:3].tolist()
            raise BadInput(f"targets outside the device range [{lo:.3g}, {hi:.3g}] S at {bad}")
        tol = tolerance_rel * (hi - lo)
        final = np.full(targets.shape, np.nan)
        pulses = np.zeros(targets.shape, dtype=np.int64)
        ok = np.zeros(targets.shape, dtype=bool)
        reasons: dict[tuple[int, int], str] = {}
        for r, c in np.argwhere(finite):
            if should_stop is not None and should_stop():
                break
            outcome = self._program_cell(
                int(r), int(c), float(targets[r, c]), tol, lo, hi, read_v, nplc, width_s,
                v_start, v_step, v_max, max_pulses,
            )
            final[r, c], pulses[r, c], ok[r, c] = outcome.final_s, outcome.pulses, outcome.ok
            if not outcome.ok:
                reasons[(int(r), int(c))] = outcome.reason
            if on_cell is not None:
                on_cell(outcome)
        return WriteVerifyReport(targets, final, pulses, ok, reasons, (lo, hi))

    def conductance_range(self, read_v: float = 0.2, nplc: float = 1.0) -> tuple[float, float]:
        """Nominal (G_off, G_on) of the device: from the bench config's device parameters
        when known, else the caller must pass ``g_range_s``."""
        cond = self.session.config.array.conductance
        f = 1.0 + (read_v / cond.nonlinearity_v) ** 2  # chord conductance at the read bias
        return cond.g_off_siemens * f, cond.g_on_siemens * f

    def _verify(self, r: int, c: int, read_v: float, nplc: float) -> float:
        return self.read_cell(r, c, read_v, nplc) / read_v

    def _program_cell(
        self, r, c, target, tol, lo, hi, read_v, nplc, width_s, v_start, v_step, v_max,
        max_pulses,
    ) -> CellOutcome:
        g = self._verify(r, c, read_v, nplc)
        n = 0
        direction = 0
        amplitude = 0.0
        last_moved: dict[int, float] = {}  # per direction: the amplitude that last moved it
        still = 0  # pulses in a row that did not move the cell
        moved_ever = False
        level = (target - lo) / (hi - lo)
        while abs(g - target) > tol:
            if n >= max_pulses:
                return CellOutcome(
                    r, c, target, g, n, False,
                    f"no convergence in {n} pulses (steps coarser than the tolerance here?)",
                )
            want = 1 if g < target else -1
            if want != direction:
                # start (or reverse) a little below what moved this cell (or similar cells)
                known = last_moved.get(want)
                amplitude = (known - v_step) if known is not None else (
                    self._start_amplitude(level, want, v_start)
                )
                direction, still = want, 0
            else:
                amplitude += v_step * (1 + min(still, 3))  # speed up while nothing moves
            if amplitude > v_max:
                why = (
                    f"target not reachable with pulses up to {v_max} V" if moved_ever
                    else f"stuck: no change with pulses up to {v_max} V"
                )
                return CellOutcome(r, c, target, g, n, False, why)
            self.apply_pulses([r], [c], direction * amplitude, width_s)
            n += 1
            g_new = self._verify(r, c, read_v, nplc)
            if abs(g_new - g) > 0.3 * tol:
                last_moved[direction] = amplitude
                self._learn(direction, (g_new - lo) / (hi - lo), amplitude)
                moved_ever, still = True, 0
            else:
                still += 1
            g = g_new
        return CellOutcome(r, c, target, g, n, True)

    def _start_amplitude(self, level: float, direction: int, v_start: float) -> float:
        """First amplitude for ``direction``: a little below what moved earlier cells to a
        similar level (learned as the pass goes), or ``v_start`` before anything is known."""
        curve = self._curves.get(direction, [])
        if len(curve) < 8:
            return v_start
        levels, volts = np.array(curve[-512:]).T
        near = np.abs(levels - level) < 0.15 if direction > 0 else np.ones(levels.size, bool)
        if np.count_nonzero(near) < 4:
            return v_start
        return max(v_start, float(np.percentile(volts[near], 25)))

    def _learn(self, direction: int, level: float, volts: float) -> None:
        self._curves.setdefault(direction, []).append((level, volts))

    # ------------------------------------------------------------------ RTN
    def acquire_rtn(
        self,
        row: int,
        col: int,
        bias_v: float,
        interval_s: float,
        nplc: float,
        readings: int,
        block: int = 50_000,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Timed acquisition of ``readings`` current readings of one cell at ``bias_v``
        (``sample`` role), ``interval_s`` apart, each integrating ``nplc`` line cycles,
        straight into the SMU buffer; yields ``(currents_a, timestamps_s)`` per block as the
        buffer is read out (binary transfer)."""
        if readings < 1 or block < 1:
            raise BadInput("readings and block must be >= 1")
        self._gate_on()
        self.route([row], [col], "read")
        self._bias(bias_v, nplc, role="sample")
        a = self.smu.smua
        a.measure_autozero = "OFF"
        t_offset = 0.0
        done = 0
        while done < readings:
            n = min(block, readings - done)
            a.configure_timed_acquisition(count=n, interval_s=interval_s)
            a.start_current_acquisition()
            self.smu.wait_for_completion(timeout_s=max(10.0, 3 * n * interval_s))
            current, stamps = a.read_buffer(binary=True)
            stamps = stamps + t_offset
            t_offset = float(stamps[-1]) + interval_s if stamps.size else t_offset
            done += n
            yield current, stamps

    # ------------------------------------------------------------------ VMM
    def vmm(
        self, x: np.ndarray, bits: int, volts: float = 0.2, nplc: float = 0.1
    ) -> np.ndarray:
        """Vector-matrix product of unsigned integer inputs ``x`` (one per word line) with the
        array, bit-serial: bit plane b turns on the word lines whose input has bit b, each bit
        line's current is measured, and the planes are shift-and-added: ``sum_b 2**b I_b``
        (A per bit line)."""
        x = np.asarray(x)
        if x.shape != (self.rows,) or not np.issubdtype(x.dtype, np.integer):
            raise BadInput(f"VMM inputs must be {self.rows} integers")
        if np.any(x < 0) or np.any(x >= 2**bits):
            raise BadInput(f"VMM inputs must lie in [0, 2**{bits})")
        out = np.zeros(self.cols)
        cols = list(range(self.cols))
        for b in range(bits):
            rows_on = [int(i) for i in np.flatnonzero((x >> b) & 1)]
            if rows_on:
                out += 2.0**b * self.read_currents(rows_on, cols, volts, nplc)
        return out

    # ------------------------------------------------------------------ safety
    def safe_state(self) -> None:
        """Outputs off, matrix open: what every procedure ends with."""
        self._routed = None
        self._gate_ready = False
        self._read_v = None
        self._read_nplc = None
        self._read_output_on = False
        self._pulse_cfg = None
        self._pulse_output_on = False
        self._burst_count = None
        self._pg_ch = None
        self.session.shutdown()
