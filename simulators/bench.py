"""One simulated bench: the FTJ array, its clock and random generator, the wiring and the matrix.

Every instrument emulator of a simulated bench talks to the same :class:`Bench`. The bench
knows how instrument terminals reach array lines through the Keithley 707B switch matrix:

* the matrix ROWS (letters A-H) are wired to instrument terminals (``"smu.a"`` = 2636B
  channel a HI, ``"pg.1"`` = pulse generator channel 1, ...);
* the matrix COLUMNS (slot 1-6, column 01-12) are wired to array lines (``"WL5"``, ``"BL12"``);
* a closed crosspoint ``1A05`` connects the terminal on row A to the line on slot 1 column 05.

NOR-array semantics (word lines gate the access transistors, bit lines carry the cell
currents, source lines grounded):

* a word line is ON when a terminal with output on and voltage >= ``wl_on_threshold_v``
  reaches it;
* a bit line reached by a sourcing terminal sits at that terminal's voltage (unreached or
  reached only by terminals with output off: 0 V, no current);
* the current into a terminal is the sum over the bit lines it reaches (Kirchhoff); gates
  draw no current;
* a pulse burst from a terminal programs the cells on the bit lines it reaches whose word
  line is on; a pulse that reaches only word lines does nothing to the cells.

Terminal names are ``"<instrument name>.<channel>"`` (see :func:`terminal_name`); an emulator
builds them from the instrument name it was given and its own channel names.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ftjlab.wiring import (
    COLUMNS_PER_CARD,
    ROW_LETTERS,
    WL_ON_THRESHOLD_V,
    Crosspoint,
    Line,
    Wiring,
)

from .array import FTJArray
from .clock import VirtualClock
from .fastrandom import standard_normal_f32
from .params import ArrayParams

log = logging.getLogger(__name__)

#: Relay settling per switching operation of the 707B (all relays of one close/open command
#: switch together). The 7174A low-current card specifies ~3 ms actuation; we use 3 ms.
RELAY_SETTLE_S = 3e-3


@dataclass
class _Drive:
    volts: float = 0.0
    output_on: bool = False


class Bench:
    """The shared model behind all emulators of one simulated bench.

    Parameters
    ----------
    params: the array physics (default: :class:`ArrayParams` defaults, 32 x 32).
    wiring: matrix rows -> terminals and columns -> lines (default: nothing wired).
    seed: seed of the one random generator of the bench; None draws one from the OS and
        records it in :attr:`seed`, so every run can be reproduced.
    wl_on_threshold_v: gate voltage at or above which a word line is on.
    relay_settle_s: virtual time one matrix switching operation takes.

    All public methods are thread-safe (one re-entrant lock, :attr:`lock`): the TCP server
    runs each instrument in its own thread, and they all share this one array.
    """

    clock: VirtualClock
    array: FTJArray
    rng: np.random.Generator

    def __init__(
        self,
        params: ArrayParams | None = None,
        wiring: Wiring | None = None,
        seed: int | None = None,
        wl_on_threshold_v: float = WL_ON_THRESHOLD_V,
        relay_settle_s: float = RELAY_SETTLE_S,
    ) -> None:
        params = params or ArrayParams()
        if seed is None:
            seed = int(np.random.SeedSequence().entropy) & (2**63 - 1)
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.clock = VirtualClock()
        self.array = FTJArray(params, self.rng, self.clock)
        self.wiring = wiring or Wiring()
        self.wiring.validate(params.rows, params.cols)
        if not np.isfinite(wl_on_threshold_v):
            raise ValueError(f"wl_on_threshold_v must be finite, got {wl_on_threshold_v!r}")
        self.wl_on_threshold_v = float(wl_on_threshold_v)
        self.relay_settle_s = float(relay_settle_s)
        self.lock = threading.RLock()
        self.warnings: list[str] = []
        #: the bench's LAN as the instruments' own TSP-Net sees it: address -> emulator
        #: (instrument names; "host:port" of a sim-server)
        self.lan: dict[str, Any] = {}
        self._die_arrays: dict[Any, FTJArray] = {}  # probe station: the arrays of visited dies
        self._drives: dict[str, _Drive] = {}
        self._closed: set[Crosspoint] = set()
        self._points = frozenset(
            Crosspoint(slot, row, column)
            for slot in range(1, self.wiring.slots + 1)
            for row in ROW_LETTERS
            for column in range(1, COLUMNS_PER_CARD + 1)
        )
        self._lines = {key: Line.parse(name) for key, name in self.wiring.columns.items()}
        self._reach: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._lines_now: tuple[np.ndarray, np.ndarray] | None = None  # see _line_state

    # ------------------------------------------------------------------ matrix
    def close(self, points: Iterable[Crosspoint]) -> None:
        """Close crosspoints (adding to those closed); relays settle for ``relay_settle_s``."""
        with self.lock:
            new = {self._check_point(p) for p in points} - self._closed
            if new:
                self._closed |= new
                self._rewire()
                self.clock.advance(self.relay_settle_s)

    def open(self, points: Iterable[Crosspoint]) -> None:
        """Open crosspoints (already open ones are ignored); relays settle if any moved."""
        with self.lock:
            gone = {self._check_point(p) for p in points} & self._closed
            if gone:
                self._closed -= gone
                self._rewire()
                self.clock.advance(self.relay_settle_s)

    def switch(self, close: Iterable[Crosspoint], open_: Iterable[Crosspoint]) -> None:
        """Close ``close`` and open ``open_`` in one relay operation: the relays move at
        the same time and settle once (the 707B with ``connectrule = channel.OFF``)."""
        with self.lock:
            new = {self._check_point(p) for p in close} - self._closed
            gone = {self._check_point(p) for p in open_} & self._closed
            gone -= new
            if new or gone:
                self._closed = (self._closed | new) - gone
                self._rewire()
                self.clock.advance(self.relay_settle_s)

    def open_all(self) -> None:
        """Open every crosspoint (``channel.open("allslots")``, ``reset()``)."""
        with self.lock:
            self.open(list(self._closed))

    def closed(self) -> list[Crosspoint]:
        """The closed crosspoints, sorted by slot, row, column (the 707B's own order)."""
        with self.lock:
            return sorted(self._closed)

    def _check_point(self, p: Any) -> Crosspoint:
        if p.__class__ is Crosspoint and p in self._points:
            return p  # the common case (the 707B emulator), without rebuilding it
        # accepts our tuples and channel_specifiers.Crosspoint (same fields, a dataclass)
        slot, row, column = (p.slot, p.row, p.column) if hasattr(p, "slot") else p
        p = Crosspoint(int(slot), str(row).upper(), int(column))
        if not (
            1 <= p.slot <= self.wiring.slots
            and p.row in ROW_LETTERS
            and 1 <= p.column <= COLUMNS_PER_CARD
        ):
            raise ValueError(f"crosspoint {p} does not exist on {self.wiring.slots} 8x12 cards")
        return p

    def _rewire(self) -> None:
        self._lines_now = None
        wls: dict[str, set[int]] = {}
        bls: dict[str, set[int]] = {}
        for p in self._closed:
            terminal = self.wiring.rows.get(p.row)
            line = self._lines.get((p.slot, p.column))
            if terminal is None or line is None:
                continue  # an unwired row or column: the relay closes onto nothing
            (wls if line.kind == "WL" else bls).setdefault(terminal, set()).add(line.index)
        self._reach = {
            t: (
                np.array(sorted(wls.get(t, ())), dtype=np.int64),
                np.array(sorted(bls.get(t, ())), dtype=np.int64),
            )
            for t in set(wls) | set(bls)
        }

    def reach(self, terminal: str) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the word lines and bit lines ``terminal`` reaches through closed relays."""
        with self.lock:
            empty = np.zeros(0, dtype=np.int64)
            return self._reach.get(terminal, (empty, empty))

    # ------------------------------------------------------------------ line states
    def _driving(self) -> Iterable[tuple[str, float]]:
        return ((t, d.volts) for t, d in self._drives.items() if d.output_on)

    def wordlines_on(self) -> np.ndarray:
        """Boolean mask of the word lines that are on now."""
        with self.lock:
            return self._line_state()[0].copy()

    def bitline_volts(self) -> np.ndarray:
        """Voltage of every bit line now (0 V where no sourcing terminal reaches it)."""
        with self.lock:
            return self._line_state()[1].copy()

    def _line_state(self) -> tuple[np.ndarray, np.ndarray]:
        """(word lines on, bit-line volts), kept until a drive or a relay changes."""
        if self._lines_now is None:
            mask = np.zeros(self.array.rows, dtype=bool)
            volts = np.zeros(self.array.cols)
            owner: dict[int, str] = {}
            for t, v in self._driving():
                wls, bls = self.reach(t)
                if v >= self.wl_on_threshold_v:
                    mask[wls] = True
                for j in bls.tolist():
                    if j in owner and self._drives[owner[j]].volts != v:
                        self._warn(f"BL{j} driven by {owner[j]} and {t} at different voltages")
                    if j not in owner or abs(v) > abs(volts[j]):
                        owner[j], volts[j] = t, v
            self._lines_now = (mask, volts)
        return self._lines_now

    def _warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)
            log.warning("bench: %s", text)

    # ------------------------------------------------------------------ the emulator interface
    def source(self, terminal: str, volts: float, output_on: bool) -> None:
        """Set what ``terminal`` drives: ``volts`` while ``output_on``; with output off it
        floats (drives nothing, turns no word line on, draws no current)."""
        volts = float(volts)
        if not np.isfinite(volts):
            raise ValueError(f"{terminal}: source voltage must be finite, got {volts!r}")
        with self.lock:
            drive = self._drives.setdefault(terminal, _Drive())
            if (drive.volts, drive.output_on) != (volts, bool(output_on)):
                drive.volts, drive.output_on = volts, bool(output_on)
                self._lines_now = None

    def measure_current(
        self, terminal: str, n: int, interval_s: float, aperture_s: float
    ) -> np.ndarray:
        """``n`` current readings (A) into ``terminal``, ``interval_s`` apart, each integrated
        over ``aperture_s``; float64 shape (n,). The clock advances by ``n * interval_s``.

        An interval shorter than the aperture is stretched to the aperture (the instrument
        cannot start a reading before the previous one ends). A terminal that is off or
        reaches no bit line reads 0 A.
        """
        n = int(n)
        if n < 1:
            raise ValueError(f"number of readings must be >= 1, got {n}")
        if not (aperture_s > 0 and np.isfinite(aperture_s)):
            raise ValueError(f"aperture must be > 0 s, got {aperture_s!r}")
        if not interval_s >= 0:
            raise ValueError(f"interval must be >= 0 s, got {interval_s!r}")
        interval_s = max(float(interval_s), float(aperture_s))
        with self.lock:
            drive = self._drives.get(terminal)
            bls = self.reach(terminal)[1]
            if drive is None or not drive.output_on or bls.size == 0:
                self.clock.advance(n * interval_s)
                return np.zeros(n)
            rows_on, volts = self._line_state()  # read only here
            if n == 1:
                # a single reading of every bit line keeps all traps on the event queue
                out = self.array.read_bitlines(rows_on, volts, aperture_s)
                self.clock.advance(interval_s - aperture_s)
                return np.array([float(np.sum(out[bls]))])
            trace = self.array.acquire(rows_on, bls, volts[bls], n, interval_s, aperture_s)
            return trace.sum(axis=0, dtype=np.float64)

    def measure_grid(
        self,
        terminal: str,
        gates: list[list[Crosspoint]],
        bls: list[Crosspoint],
        aperture_s: float,
        dead_s: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """One current reading into ``terminal`` for every route ``gates[p] + [bls[i]]``
        (gate-set-major): each route closes exclusively with every relay moving at once (one
        settling time), then one reading of ``aperture_s`` plus ``dead_s``. Returns
        ``(currents_a, start_times_s)``, shape ``(len(gates), len(bls))``.

        Equals that many ``switch`` + ``measure_current(terminal, 1, ...)`` calls, computed
        as one whole-array read sequence (:meth:`FTJArray.read_cell_sequence`) when every
        gate set reaches only word lines, ``terminal`` is the only source on the bit lines
        and each entry of ``bls`` is one of its bit lines; the read noise is that of
        ``aperture_s``. Two simplifications against the one-by-one path, both far below the
        read noise at a read bias (where RTN is negligible): during the sequence the bit
        lines it reads sit at the read bias throughout (not only during their own readings),
        and trap flips average over the whole slot (settling + aperture) rather than the
        aperture alone. Otherwise the routes are read one by one.
        """
        n_g, n_b = len(gates), len(bls)
        out = np.zeros((n_g, n_b))
        starts = np.zeros((n_g, n_b))
        slot = self.relay_settle_s + float(aperture_s) + float(dead_s)
        with self.lock:
            drive = self._drives.get(terminal)
            cols = self._grid_bitlines(terminal, bls)
            masks = [self._grid_wordlines(gate) for gate in gates]
            if drive is None or not drive.output_on or cols is None or any(
                m is None for m in masks
            ):
                for p, gate in enumerate(gates):
                    for i, bl in enumerate(bls):
                        route = [*gate, bl]
                        self.switch(route, [q for q in self._closed if q not in route])
                        starts[p, i] = self.clock.now_s
                        out[p, i] = self.measure_current(terminal, 1, aperture_s + dead_s,
                                                         aperture_s)[0]
                return out, starts
            n = n_g * n_b
            flat_out, flat_starts = out.reshape(n), starts.reshape(n)
            first = 0
            if self._closed == {*gates[0], bls[0]}:  # no relay moves for the first reading
                flat_starts[0] = self.clock.now_s
                flat_out[0] = self.measure_current(terminal, 1, aperture_s + dead_s,
                                                   aperture_s)[0]
                first = 1
            if first < n:
                v0 = float(drive.volts)
                volts = np.zeros(self.array.cols)
                volts[np.unique(cols)] = v0
                t0 = self.clock.now_s
                all_masks = np.repeat(np.array(masks), n_b, axis=0)[first:]
                all_cols = np.tile(cols, n_g)[first:]
                flat_out[first:] = self._read_cells(
                    all_masks, all_cols, volts, v0, slot, aperture_s
                )
                flat_starts[first:] = t0 + slot * np.arange(n - first) + self.relay_settle_s
            self._closed = {*gates[-1], bls[-1]}  # the relays as the last step left them
            self._rewire()
        return out, starts

    def measure_grid_multi(
        self,
        terminals: list[str],
        gates: list[list[Crosspoint]],
        groups: list[list[Crosspoint]],
        aperture_s: float,
        dead_s: float,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Like :meth:`measure_grid` with several terminals reading at once: route
        ``gates[p] + groups[g]`` (one bit line per terminal), then one simultaneous reading
        on every terminal. Returns ``(currents (P*G, K), slot start times (P*G,))``, a
        terminal without a bit line in a group reading its noise floor; None if the routes
        or drives are not that simple (the caller then steps through them)."""
        k_n = len(terminals)
        with self.lock:
            drives = [self._drives.get(t) for t in terminals]
            if any(d is None or not d.output_on for d in drives):
                return None
            v0 = float(drives[0].volts)
            if any(float(d.volts) != v0 for d in drives):
                return None
            masks = [self._grid_wordlines(gate) for gate in gates]
            if any(m is None for m in masks):
                return None
            cols = np.full((len(groups), k_n), -1, dtype=np.int64)
            for g, group in enumerate(groups):
                for p in group:
                    t = self.wiring.rows.get(p.row)
                    line = self._lines.get((p.slot, p.column))
                    if t not in terminals or line is None or line.kind != "BL":
                        return None
                    cols[g, terminals.index(t)] = line.index
            slot = self.relay_settle_s + float(aperture_s) + float(dead_s)
            n = len(gates) * len(groups)
            volts = np.zeros(self.array.cols)
            used = cols[cols >= 0]
            volts[np.unique(used)] = v0
            all_masks = np.repeat(np.array(masks), len(groups), axis=0)
            all_cols = np.tile(cols, (len(gates), 1))
            t0 = self.clock.now_s
            values = self._read_cells(all_masks, all_cols, volts, v0, slot, aperture_s)
            self._closed = {*gates[-1], *groups[-1]}  # the relays as the last step left them
            self._rewire()
            return values, t0 + slot * np.arange(n) + self.relay_settle_s

    def acquire_many(
        self, terminals: list[str], n: int, interval_s: float, aperture_s: float
    ) -> np.ndarray | None:
        """``n`` readings ``interval_s`` apart on every terminal at once (a common start),
        each terminal reaching one bit line: shape ``(len(terminals), n)``; None if a
        terminal is off or does not reach exactly one bit line."""
        with self.lock:
            bls = []
            for t in terminals:
                d = self._drives.get(t)
                reach = self.reach(t)[1]
                if d is None or not d.output_on or reach.size != 1:
                    return None
                bls.append(int(reach[0]))
            if len(set(bls)) != len(bls):
                return None
            interval_s = max(float(interval_s), float(aperture_s))
            idx = np.array(bls)
            if int(n) == 1:  # one reading each: of every bit line at once, as measure_current
                rows_on, volts = self._line_state()  # read only here
                out = self.array.read_bitlines(rows_on, volts, aperture_s)
                self.clock.advance(interval_s - aperture_s)
                return np.asarray(out[idx], dtype=np.float64)[:, None]
            rows_on = self.wordlines_on()
            volts = self.bitline_volts()
            trace = self.array.acquire(rows_on, idx, volts[idx], int(n), interval_s,
                                       aperture_s)
            return np.asarray(trace, dtype=np.float64)

    def _read_cells(self, masks, cols, volts, v0: float, slot_s: float, aperture_s: float):
        """Slot k reads bit line(s) ``cols[k]`` (1-D, or 2-D with -1 for none) with word lines
        ``masks[k]`` on (:meth:`FTJArray.read_cell_sequence`, or the whole-array sequence
        where that cannot), plus the read noise of ``aperture_s``."""
        values = self.array.read_cell_sequence(masks, cols, volts, slot_s)
        if values is None:
            seq = self.array.read_bitline_sequence(masks, volts, slot_s, noise=False)
            if cols.ndim == 1:
                values = seq[np.arange(cols.size), cols]
            else:
                values = np.where(
                    cols >= 0, np.take_along_axis(seq, np.maximum(cols, 0), axis=1), 0.0
                )
        f = float(self.array.current_factor(v0))
        g_sum = values / f if f else np.zeros(values.shape)
        sigma = self.array.noise_sigma(values, g_sum, aperture_s)
        noise = standard_normal_f32(self.rng, values.size).reshape(values.shape)
        return values + sigma * noise

    def _grid_bitlines(self, terminal: str, bls: list[Crosspoint]) -> np.ndarray | None:
        """Bit-line index of each crosspoint if each connects ``terminal`` to a bit line."""
        cols = []
        for p in bls:
            line = self._lines.get((p.slot, p.column))
            if self.wiring.rows.get(p.row) != terminal or line is None or line.kind != "BL":
                return None
            cols.append(line.index)
        return np.array(cols, dtype=np.int64)

    def _grid_wordlines(self, gate: list[Crosspoint]) -> np.ndarray | None:
        """Word lines a gate set turns on, if it reaches no bit line (else None)."""
        mask = np.zeros(self.array.rows, dtype=bool)
        for p in gate:
            t = self.wiring.rows.get(p.row)
            line = self._lines.get((p.slot, p.column))
            if t is None or line is None:
                continue
            if line.kind != "WL":
                return None
            d = self._drives.get(t)
            if d is not None and d.output_on and d.volts >= self.wl_on_threshold_v:
                mask[line.index] = True
        return mask

    def pulse(
        self,
        terminal: str,
        high_v: float,
        low_v: float,
        width_s: float,
        period_s: float,
        count: int,
    ) -> None:
        """Fire ``count`` pulses from ``terminal``: ``high_v`` for ``width_s``, then ``low_v``
        for the rest of each ``period_s``. The clock advances by ``count * period_s``.

        ``high_v`` is the level during the pulse (an emulator with inverted polarity passes
        its levels swapped). The caller fires only while its output is on. Cells see the
        pulse on the bit lines the terminal reaches, for the word lines that are on (the
        terminal's own word lines count as on during the pulse if ``high_v`` is above the
        threshold).
        """
        count = int(count)
        if count < 0:
            raise ValueError(f"pulse count must be >= 0, got {count}")
        if not (width_s > 0 and np.isfinite(width_s)):
            raise ValueError(f"pulse width must be > 0 s, got {width_s!r}")
        if not period_s >= width_s:
            raise ValueError(f"pulse period {period_s!r} s shorter than the width {width_s!r} s")
        if not (np.isfinite(high_v) and np.isfinite(low_v)):
            raise ValueError(f"pulse levels must be finite, got {high_v!r}, {low_v!r}")
        with self.lock:
            wls, bls = self.reach(terminal)
            if count == 0:
                return
            rows_on = self._line_state()[0] if bls.size else None  # read only here
            if rows_on is not None and wls.size and high_v >= self.wl_on_threshold_v:
                rows_on = rows_on.copy()
                rows_on[wls] = True
            rows = np.flatnonzero(rows_on) if rows_on is not None else wls[:0]
            rest = float(period_s) - float(width_s)
            if rows.size == 0 or bls.size == 0:
                self.clock.advance(count * float(period_s))
                return
            high, low, width = float(high_v), float(low_v), float(width_s)
            if rest > 0 and low != 0 and high * low < 0:
                # program/erase cycles: one exact step (FTJArray.apply_bipolar_burst)
                if high > 0:
                    self.array.apply_bipolar_burst(rows, bls, high, width, low, rest, count)
                else:  # erase first: a lone erase, count - 1 cycles, a last program
                    self.array.apply_pulse(rows, bls, high, width)
                    if count > 1:
                        self.array.apply_bipolar_burst(rows, bls, low, rest, high, width,
                                                       count - 1)
                    self.array.apply_pulse(rows, bls, low, rest)
            elif rest > 0 and low != 0:  # a rest level of the pulse's sign: pulse by pulse
                for _ in range(count):
                    self.array.apply_pulse(rows, bls, high, width)
                    self.array.apply_pulse(rows, bls, low, rest)
            else:  # a burst of identical pulses: one exact step (FTJArray.apply_pulse)
                self.array.apply_pulse(rows, bls, high, width, count=count,
                                       period_s=float(period_s))
                self.clock.advance(rest)

    def idle(self, dt_s: float) -> None:
        """Let ``dt_s`` of virtual time pass (relay settling, source delays, waits)."""
        with self.lock:
            self.clock.advance(float(dt_s))

    # ------------------------------------------------------------------ dies (probe station)
    def select_array(self, key: Any, params: Any, seed: Any) -> None:
        """Put the array of die ``key`` under the probes (a probe station stepped to it).

        The first visit builds the die's :class:`FTJArray` from ``params()`` with its own
        generator seeded by ``seed`` (so a die's cells do not depend on the visiting order);
        later visits find it as it was left. Every emulator sees the new :attr:`array`.
        """
        with self.lock:
            array = self._die_arrays.get(key)
            if array is None:
                array = FTJArray(params(), np.random.default_rng(seed), self.clock)
                self._die_arrays[key] = array
            self.array = array
            self.array_key = key

    # ------------------------------------------------------------------ noise-free helpers
    def conductance_seen(self, terminal: str) -> float:
        """Sum of the true conductances (S) of the cells ``terminal`` reaches with WL on."""
        with self.lock:
            bls = self.reach(terminal)[1]
            rows_on = self.wordlines_on()
            if bls.size == 0 or not rows_on.any():
                return 0.0
            return float(self.array.conductance()[np.ix_(rows_on, bls)].sum())

    def expected_current(self, terminal: str, volts: float | None = None) -> float:
        """Noise- and RTN-free current (A) into ``terminal`` at ``volts`` (default: its
        present voltage, 0 A when off). Consumes no random numbers and no time."""
        with self.lock:
            drive = self._drives.get(terminal)
            if volts is None:
                if drive is None or not drive.output_on:
                    return 0.0
                volts = drive.volts
            return self.conductance_seen(terminal) * float(self.array.current_factor(volts))

    def voltage_for_current(self, terminal: str, amps: float) -> float:
        """The voltage at which ``terminal`` would draw ``amps`` (inf if nothing conducts)."""
        g = self.conductance_seen(terminal)
        if amps == 0:
            return 0.0
        if g <= 0:
            return float(np.copysign(np.inf, amps))
        # invert f(V) = V (1 + (V/V_nl)^2) = I/G: one real root of a monotonic cubic
        vnl = self.array.params.conductance.nonlinearity_v
        roots = np.roots([1.0 / vnl**2, 0.0, 1.0, -amps / g])
        return float(roots[np.argmin(np.abs(roots.imag))].real)

    def describe(self) -> dict:
        """JSON-ready state: seed, clock, wiring, closed crosspoints, terminal drives."""
        with self.lock:
            return {
                "seed": self.seed,
                "clock_s": self.clock.now_s,
                "array": {"rows": self.array.rows, "cols": self.array.cols},
                "wl_on_threshold_v": self.wl_on_threshold_v,
                "wiring": {
                    "rows": dict(self.wiring.rows),
                    "columns": {
                        f"{s}/{c:02d}": n for (s, c), n in sorted(self.wiring.columns.items())
                    },
                },
                "closed": [str(p) for p in self.closed()],
                "terminals": {
                    t: {"volts": d.volts, "output_on": d.output_on}
                    for t, d in sorted(self._drives.items())
                },
                "warnings": list(self.warnings),
            }
