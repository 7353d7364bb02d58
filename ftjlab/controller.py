"""ArrayController: what a researcher does to an FTJ NOR array, through the drivers only.

The controller addresses roles, not models (:mod:`ftjlab.roles`): a gate drive on the word
lines, bias/measure channels on the bit lines, a pulse generator (output 1 programs, output 2
erases) and the switch matrix; which SMU terminal plays which role follows the bench's
wiring (``[wiring.rows]``: the first SMU terminal reads, the second drives the gates).
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
from typing import Any

import numpy as np

from ftjlab import writeverify
from ftjlab.errors import BadInput
from ftjlab.onboard_runs import OnboardRuns
from ftjlab.pulsing import PulserOutput
from ftjlab.roles import TSPChannel, assign_roles, stream_blocks
from ftjlab.session import BenchSession
from ftjlab.writeverify import CellOutcome, WriteVerifyReport

__all__ = ["ArrayController", "CellOutcome", "WriteVerifyReport"]

log = logging.getLogger(__name__)

#: word-line (gate) drive, volts: above the access transistor's threshold
GATE_V = 1.5
GATE_COMPLIANCE_A = 1e-4
READ_COMPLIANCE_A = 1e-4


class ArrayController(OnboardRuns):
    """Operations on the array of one :class:`BenchSession` (the on-board runs:
    :class:`~ftjlab.onboard_runs.OnboardRuns`).

    :param gate_v: word-line drive of selected rows (volts).
    """

    def __init__(self, session: BenchSession, gate_v: float = GATE_V) -> None:
        self.session = session
        config = session.config
        self.rows, self.cols = config.array.rows, config.array.cols
        roles = assign_roles(config, session.instruments)
        #: bias/measure channels (the first is the main one) and the word-line gate drive
        self.reads, self.gate = roles.reads, roles.gate
        self.read = self.reads[0]
        self.pg_name, self.pg = roles.pulser
        self.matrix_name, self.matrix = roles.matrix
        terminals = {terminal: letter for letter, terminal in config.wiring.rows.items()}
        need = {
            "read": self.read.terminal,
            "gate": self.gate.terminal,
            "pulse": f"{self.pg_name}.1",
        }
        missing = [t for t in need.values() if t not in terminals]
        if missing:
            raise BadInput(f"{config.source}:wiring.rows: no matrix row for {missing}")
        self._row = {role: terminals[t] for role, t in need.items()}
        if f"{self.pg_name}.2" in terminals:  # a second pulse output: erase pulses in parallel
            self._row["pulse2"] = terminals[f"{self.pg_name}.2"]
        self._line_xp: dict[str, str] = {
            line: f"{slot}{{row}}{col:02d}" for (slot, col), line in config.wiring.columns.items()
        }
        for kind, size in (("WL", self.rows), ("BL", self.cols)):
            absent = [f"{kind}{i}" for i in range(size) if f"{kind}{i}" not in self._line_xp]
            if absent:
                raise BadInput(f"{config.source}:wiring.columns: {absent[:4]} not wired")
        self.gate_v = gate_v
        self._routed: tuple[Any, ...] | None = None
        self._outs = {1: PulserOutput(self.pg, 1), 2: PulserOutput(self.pg, 2)}
        self._onboard_pulser: tuple[float, float] | None = None  # set up for the row program
        self.linefreq = self.read.linefreq
        #: the matrix as a TSP-Link node of the read SMU: whole rows read in one script
        self.tsplink_node = config.instruments[self.matrix_name].options.get("tsplink_node")
        # learned program amplitudes per polarity: (level reached, volts), as cells program
        self._curves = writeverify.Curves()
        #: reads as on-instrument sequences (the read channel's instrument switches the
        #: matrix, its TSP-Link node, itself)
        self.use_sequences = self.tsplink_node is not None and self.read.can_sequence()
        #: read channels the sequences reach at once: (TSP-Link node, channel)
        self._channels: list[tuple[int, str]] = []
        if self.use_sequences:
            for r in self.reads:
                if not isinstance(r, TSPChannel):
                    break
                self._channels.append((r.node, r.channel))
        self._read_rows = [terminals.get(r.terminal) for r in self.reads]
        for k, letter in enumerate(self._read_rows):
            if letter is not None:
                self._row[f"read{k}"] = letter

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
        self.route_many(rows, {bitline_role: cols})

    def route_many(self, rows: Sequence[int], bitlines: dict[str, Sequence[int]]) -> None:
        """Connect the gate to word lines ``rows`` and each role's terminal (``"read"``,
        ``"pulse"``, ``"pulse2"``) to its bit lines; everything else opens
        (break-before-make). Skipped if already routed that way."""
        key = (frozenset(int(r) for r in rows),
               *sorted((role, frozenset(int(c) for c in cols)) for role, cols in bitlines.items()
                       if len(cols)))
        if key == self._routed:
            return
        self._check_cells(rows, [c for cols in bitlines.values() for c in cols])
        points = self._xp("gate", "WL", sorted(key[0]))
        for role, cols in key[1:]:
            points += self._xp(role, "BL", sorted(cols))
        self.matrix.exclusive_close(points)
        self._routed = key

    def open_all(self) -> None:
        self.matrix.open_all()
        self._routed = None

    def _gate_on(self) -> None:
        self.gate.bias(self.gate_v, None, "program", GATE_COMPLIANCE_A)

    def _bias(self, volts: float, nplc: float, role: str = "read") -> None:
        """Read channel at ``volts`` (checked against the ``role`` limit), output on."""
        self.read.bias(volts, nplc, role, READ_COMPLIANCE_A)

    def _bias_reads(self, n: int, volts: float, nplc: float, role: str) -> None:
        """The first ``n`` read channels at ``volts`` (checked against the ``role`` limit),
        outputs on."""
        for channel in self.reads[:n]:
            channel.bias(volts, nplc, role, READ_COMPLIANCE_A)

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
        return self.read.read_current()

    def read_currents(
        self, rows_on: Sequence[int], cols: Sequence[int], volts: float, nplc: float
    ) -> np.ndarray:
        """One current per bit line in ``cols`` (A) with word lines ``rows_on`` on."""
        return self.measure_routes([list(rows_on)], cols, volts, nplc)[0]

    def read_cells(
        self, row: int, cols: Sequence[int], volts: float = 0.2, nplc: float = 0.1
    ) -> np.ndarray:
        """Current (A) of the cells ``(row, col)`` for ``col`` in ``cols``, one at a time."""
        return self.measure_routes([[row]], cols, volts, nplc)[0]

    def measure_routes(
        self,
        row_sets: Sequence[Sequence[int]],
        cols: Sequence[int],
        volts: float,
        nplc: float,
        role: str = "read",
    ) -> np.ndarray:
        """Currents (A), shape ``(len(row_sets), len(cols))``: with the word lines of each
        set on, each bit line in ``cols`` in turn. On a 2636B with the 707B as its TSP-Link
        node the whole table is one on-instrument sequence (one message, one binary reply);
        elsewhere it is one routed reading per entry."""
        for rows_on in row_sets:
            self._check_cells(rows_on, cols)
        out = np.zeros((len(row_sets), len(cols)))
        live = [k for k, rows_on in enumerate(row_sets) if len(rows_on)]
        if not live or not len(cols):
            return out
        self._gate_on()
        if self.use_sequences:
            gates = [",".join(self._xp("gate", "WL", sorted(int(r) for r in row_sets[k])))
                     for k in live]
            n_ch = min(len(self._channels), len(cols))
            if n_ch > 1:  # several bit lines at once, one per read channel
                self._bias_reads(n_ch, volts, nplc, role)
                groups = [
                    ",".join(self._line_xp[f"BL{int(col)}"].format(row=self._read_rows[k])
                             for k, col in enumerate(cols[g:g + n_ch]))
                    for g in range(0, len(cols), n_ch)
                ]
                values = self.read.sequence_multi(int(self.tsplink_node), gates, groups,
                                                  self._channels[:n_ch])
                out[live] = values.reshape(len(live), -1)[:, : len(cols)]
                self._routed = None  # the last group's routing
                return out
            self._bias(volts, nplc, role)
            bls = self._xp("read", "BL", cols)
            out[live] = self.read.sequence(int(self.tsplink_node), gates, bls)
            last = row_sets[live[-1]]
            self._routed = (frozenset(int(r) for r in last), frozenset([int(cols[-1])]), "read")
            return out
        for k in live:
            for j, col in enumerate(cols):
                self.route(row_sets[k], [col], "read")
                self._bias(volts, nplc, role)
                out[k, j] = self.read.read_current()
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
            out[i] = self.read_cells(row, cols, volts, nplc) / volts
            if on_row is not None:
                on_row(row, out[i])
        return out

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
        The generator rests at 0 V (see :mod:`ftjlab.pulsing`)."""
        if not (math.isfinite(volts) and volts != 0):
            raise BadInput(f"pulse amplitude must be a non-zero number of volts, got {volts!r}")
        period_s = period_s if period_s is not None else max(4 * width_s, width_s + 1e-7)
        self._onboard_pulser = None
        self._outs[2].off()  # only output 1 fires
        self._outs[1].pulses(volts, width_s, period_s, count)
        self._fire(rows, {"pulse": cols})

    def pulse_pair(
        self,
        row: int,
        set_cols: Sequence[int],
        set_v: float,
        reset_cols: Sequence[int],
        reset_v: float,
        width_s: float,
    ) -> None:
        """One program pulse of ``set_v`` (> 0) on bit lines ``set_cols`` and, at the same
        trigger, one erase pulse of ``reset_v`` (< 0) on ``reset_cols``, word line ``row`` on:
        generator output 1 programs, output 2 erases. On a bench without output 2 wired to
        the matrix the two groups are pulsed one after the other."""
        if set_cols and not (math.isfinite(set_v) and set_v > 0):
            raise BadInput(f"program pulse must be > 0 V, got {set_v!r}")
        if reset_cols and not (math.isfinite(reset_v) and reset_v < 0):
            raise BadInput(f"erase pulse must be < 0 V, got {reset_v!r}")
        if "pulse2" not in self._row or not (set_cols and reset_cols):
            if set_cols:
                self.apply_pulses([row], set_cols, set_v, width_s)
            if reset_cols:
                self.apply_pulses([row], reset_cols, reset_v, width_s)
            return
        period_s = max(4 * width_s, width_s + 1e-7)
        self._onboard_pulser = None
        self._outs[1].pulses(set_v, width_s, period_s)
        self._outs[2].pulses(reset_v, width_s, period_s)
        self._fire([row], {"pulse": set_cols, "pulse2": reset_cols})

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
        self._onboard_pulser = None
        self._outs[2].off()
        self._outs[1].waveform(set_v, reset_v, width_s, 2 * width_s, "NORM", int(cycles))
        self._fire(rows, {"pulse": cols})
        self._outs[1].off()

    def _fire(self, rows: Sequence[int], bitlines: dict[str, Sequence[int]]) -> None:
        self._gate_on()
        self.route_many(rows, bitlines)
        for role, index in (("pulse", 1), ("pulse2", 2)):
            if bitlines.get(role):
                self._outs[index].on()
        self.pg.fire_burst(timeout_s=60)

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
        parallel: bool = True,
        class_v: float | None = None,
        onboard: bool | None = None,
        row_budget_s: float = 0.8,
        start_s: np.ndarray | None = None,
    ) -> WriteVerifyReport:
        """Program every finite entry of ``targets_s`` (S, rows x cols) to within
        ``tolerance_rel`` of the conductance range, by incremental-step pulses in both
        directions with a verify read after each (:mod:`ftjlab.writeverify`).

        ``parallel`` (default): row-parallel, as an array tester does: per iteration one pulse
        reaches every unconverged cell of a word line that needs the same polarity and
        amplitude class (grid ``class_v``, default ``v_step``), then the row's pulsed cells
        are verified in one sequence. ``parallel=False``: cell by cell. ``onboard``: where the
        read SMU reaches the generator over TSP-Net, the whole loop of a word line runs on the
        SMU (one message and one reply per ``row_budget_s`` of instrument time: the bound on
        how long a stop request waits on a real bench; several read channels verify together
        there); None (default): on such benches.
        ``start_s``: conductances (S, rows x cols, NaN where unknown) of cells just measured
        at ``read_v`` and ``nplc`` (e.g. the last map): those cells start from them instead
        of a reading of their own.
        """
        targets = np.asarray(targets_s, dtype=np.float64)
        if targets.shape != (self.rows, self.cols):
            raise BadInput(f"targets must have shape {(self.rows, self.cols)}, got {targets.shape}")
        lo, hi = g_range_s if g_range_s is not None else self.conductance_range(read_v, nplc)
        finite = np.isfinite(targets)
        if np.any((targets[finite] < lo) | (targets[finite] > hi)):
            bad = np.argwhere(finite & ((targets < lo) | (targets > hi)))[:3].tolist()
            raise BadInput(f"targets outside the device range [{lo:.3g}, {hi:.3g}] S at {bad}")
        settings = writeverify.Settings(
            tolerance_rel * (hi - lo), lo, hi, read_v, nplc, width_s, v_start, v_step, v_max,
            max_pulses,
        )
        cells = [(int(r), int(c), float(targets[r, c])) for r, c in np.argwhere(finite)]
        grid = class_v if class_v is not None else v_step
        known = {} if start_s is None else {
            (int(r), int(c)): float(start_s[r, c])
            for r, c in np.argwhere(finite & np.isfinite(start_s))}
        if onboard is None:
            onboard = True
        if parallel and onboard and self.onboard_rows:
            outcomes = writeverify.program_rows_onboard(
                self, cells, settings, self._curves, grid, on_cell, should_stop, row_budget_s,
                known,
            )
        elif parallel:
            outcomes = writeverify.program_rows(
                self, cells, settings, self._curves, grid, on_cell, should_stop, known
            )
        else:
            outcomes = writeverify.program_serial(
                self, cells, settings, self._curves, on_cell, should_stop, known
            )
        final = np.full(targets.shape, np.nan)
        pulses = np.zeros(targets.shape, dtype=np.int64)
        ok = np.zeros(targets.shape, dtype=bool)
        reasons: dict[tuple[int, int], str] = {}
        for o in outcomes:
            final[o.row, o.col], pulses[o.row, o.col], ok[o.row, o.col] = o.final_s, o.pulses, o.ok
            if not o.ok:
                reasons[(o.row, o.col)] = o.reason
        return WriteVerifyReport(targets, final, pulses, ok, reasons, (lo, hi))

    def conductance_range(self, read_v: float = 0.2, nplc: float = 1.0) -> tuple[float, float]:
        """Nominal (G_off, G_on) of the device: from the bench config's device parameters
        when known, else the caller must pass ``g_range_s``."""
        cond = self.session.config.array.conductance
        f = 1.0 + (read_v / cond.nonlinearity_v) ** 2  # chord conductance at the read bias
        return cond.g_off_siemens * f, cond.g_on_siemens * f

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
        yield from stream_blocks(self.read, readings, interval_s, block)

    @property
    def parallel_reads(self) -> int:
        """How many bit lines this bench measures at once (read channels its scripts reach)."""
        return max(1, len(self._channels))

    def acquire_rtn_cells(
        self,
        row: int,
        cols: Sequence[int],
        bias_v: float,
        interval_s: float,
        nplc: float,
        readings: int,
        block: int = 50_000,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """RTN of the cells ``(row, col)`` for ``col`` in ``cols``, all at once: each bit line
        on its own read channel, the channels started together by one on-instrument script
        (at most :attr:`parallel_reads` cells). Yields ``(currents_a, timestamps_s)`` of
        shape ``(n, len(cols))`` per block of at most ``block`` readings."""
        cols = [int(c) for c in cols]
        if readings < 1 or block < 1:
            raise BadInput("readings and block must be >= 1")
        if not 1 <= len(cols) <= self.parallel_reads or len(set(cols)) != len(cols):
            raise BadInput(f"cols: 1..{self.parallel_reads} distinct bit lines at once on this "
                           f"bench, got {cols}")
        self._check_cells([row], cols)
        if len(cols) == 1:
            for current, stamps in self.acquire_rtn(row, cols[0], bias_v, interval_s, nplc,
                                                    readings, block):
                yield current[:, None], stamps[:, None]
            return
        self._gate_on()
        self._bias_reads(len(cols), bias_v, nplc, "sample")  # before routing: roles checked
        self.route_many([row], {f"read{k}": [c] for k, c in enumerate(cols)})
        t_offset = 0.0
        done = 0
        while done < readings:
            n = min(block, readings - done)
            current, stamps = self.read.acquire_multi(self._channels[: len(cols)], n,
                                                      interval_s)
            stamps = stamps + t_offset
            t_offset = float(stamps[-1, 0]) + interval_s
            done += n
            yield current, stamps

    # ------------------------------------------------------------------ VMM
    def vmm(
        self, x: np.ndarray, bits: int, volts: float = 0.2, nplc: float = 0.1
    ) -> np.ndarray:
        """Vector-matrix product of unsigned integer inputs ``x`` (one per word line) with the
        array, bit-serial: bit plane b turns on the word lines whose input has bit b, each bit
        line's current is measured, and the planes are shift-and-added: ``sum_b 2**b I_b``
        (A per bit line). All planes and bit lines are one :meth:`measure_routes` table (on
        a 2636B + 707B node: one on-instrument sequence, one binary reply)."""
        x = np.asarray(x)
        if x.shape != (self.rows,) or not np.issubdtype(x.dtype, np.integer):
            raise BadInput(f"VMM inputs must be {self.rows} integers")
        if np.any(x < 0) or np.any(x >= 2**bits):
            raise BadInput(f"VMM inputs must lie in [0, 2**{bits})")
        planes = [[int(i) for i in np.flatnonzero((x >> b) & 1)] for b in range(bits)]
        currents = self.measure_routes(planes, list(range(self.cols)), volts, nplc)
        return (2.0 ** np.arange(bits)) @ currents

    # ------------------------------------------------------------------ safety
    def safe_state(self) -> None:
        """Outputs off, matrix open: what every procedure ends with."""
        self._routed = None
        self._onboard_pulser = None
        for channel in (*self.reads, self.gate):
            channel.forget()
        for out in self._outs.values():
            out.forget()
        self.session.shutdown()
