"""On-board runs: the loops the read SMU runs itself, reaching the pulse generator over TSP-Net.

Two scripts run on a 2636B that has the 707B as its TSP-Link node and reaches the generator
on the LAN: a word line's whole write-verify loop (:meth:`OnboardRuns.program_rows_onboard`)
and the flip chain of stochastic switching (:meth:`OnboardRuns.chain_onboard`). Both share
one setup and one restate (:meth:`OnboardRuns._onboard_run`). :class:`OnboardRuns` is a base
of :class:`~ftjlab.controller.ArrayController`, whose addressing and read channels it uses.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from ftjlab.errors import BadInput
from ftjlab.pulsing import HIGH_Z_OHM

if TYPE_CHECKING:
    from ftjlab.pulsing import PulserOutput
    from ftjlab.session import BenchSession


class OnboardRuns:
    """The on-board runs of an :class:`~ftjlab.controller.ArrayController` (its base)."""

    # provided by ArrayController
    session: BenchSession
    pg_name: str
    pg: Any
    read: Any
    use_sequences: bool
    tsplink_node: Any
    _row: dict[str, str]
    _outs: dict[int, PulserOutput]
    _channels: list[tuple[int, str]]
    _read_rows: list[str | None]
    _line_xp: dict[str, str]
    _routed: tuple[Any, ...] | None
    #: (width, period) the generator is set up with for on-board runs; None: not set up
    _onboard_pulser: tuple[float, float] | None

    if TYPE_CHECKING:
        def _xp(self, role: str, kind: str, indices: Sequence[int]) -> list[str]: ...
        def _check_cells(self, rows: Sequence[int], cols: Sequence[int]) -> None: ...
        def _gate_on(self) -> None: ...
        def _bias_reads(self, n: int, volts: float, nplc: float, role: str) -> None: ...

    def pulser_address(self) -> tuple[str, int] | None:
        """Where the read SMU reaches the pulse generator on the LAN (TSP-Net): the
        instrument name on an in-process simulated bench, host and port of a raw-socket
        resource, None otherwise (GPIB, VXI-11: no on-board row programming)."""
        address = self.session.addresses.get(self.pg_name, "")
        if address == "sim":
            return self.pg_name, 0
        parts = address.split("::")
        if len(parts) == 4 and parts[0].upper().startswith("TCPIP") and parts[3] == "SOCKET":
            return parts[1], int(parts[2])
        return None

    @property
    def onboard_rows(self) -> bool:
        """Whether the read SMU can run a word line's whole write-verify loop itself: it
        reaches the generator over TSP-Net, and the generator takes the program's 1 MOhm load
        as sent (a 33500B clips it to 10 kOhm, so its guard refuses the program: rows then
        run host-driven)."""
        guard = getattr(self.pg, "safety", None)
        takes_load = getattr(getattr(guard, "rules", None), "takes_load", None)
        return (self.use_sequences and "pulse2" in self._row and self.pulser_address() is not
                None and hasattr(self.read, "program_row")
                and (takes_load is None or takes_load(HIGH_Z_OHM)))

    def program_rows_onboard(
        self, rows: Sequence[int], cols: Sequence[Sequence[int]], targets_a: Sequence[float],
        starts_up: Sequence[float], starts_down: Sequence[float],
        state: Sequence[Sequence[float]], settings: Sequence[float], read_v: float,
        nplc: float, width_s: float,
    ) -> list[tuple[float, ...]]:
        """One call of the on-board row program (see
        :data:`~ftjlab.instruments.keithley2636b_scripts.ROW_PROGRAM_SOURCE`) on the cells
        ``(rows[w], cols[w][j])``, word line after word line (per-cell tables in that order),
        verified on every read channel the sequences reach: the generator's outputs are set
        up here (program: normal polarity, erase: inverted, both resting at 0 V, outputs on),
        the read channels biased, then one message and one reply."""
        flat = [int(c) for row_cols in cols for c in row_cols]
        with self._onboard_run(rows, cols, flat, width_s, float(settings[2]) / 2, read_v,
                               nplc) as route:
            return self.read.program_row(
                *route, targets_a, starts_up, starts_down, state, settings)

    @contextmanager
    def _onboard_run(
        self, rows: Sequence[int], cols: Sequence[Sequence[int]], flat: Sequence[int],
        width_s: float, level_v: float, read_v: float, nplc: float,
    ) -> Iterator[tuple[Any, ...]]:
        """Around one on-board script run: set the generator up for it (program output normal
        polarity, erase output inverted, both resting at 0 V, at ``width_s``; ``level_v``: any
        legal level, the script sets its own) unless it already is, switch the gates on and
        bias the read channels the sequences reach; yields the route arguments both scripts
        take first: TSP-Link node, the generator's LAN host and port, the read channels, one
        gate route per word line, its cell count, every cell's read crosspoint per read
        channel, its program and its erase crosspoint.
        Afterwards the outputs restate their settings through the generator's guard."""
        period_s = max(4 * width_s, width_s + 1e-7)
        if self._onboard_pulser != (width_s, period_s):
            self._outs[1].pulses(level_v, width_s, period_s)
            self._outs[2].pulses(-level_v, width_s, period_s)
            self._outs[1].on()
            self._outs[2].on()
            self._onboard_pulser = (width_s, period_s)
        host, port = self.pulser_address() or ("", 0)
        self._gate_on()
        k = max(1, min(len(self._channels), max(len(c) for c in cols)))  # read channels
        self._bias_reads(k, read_v, nplc, "read")
        reads = [self._line_xp[f"BL{c}"].format(row=self._read_rows[j])
                 for j in range(k) for c in flat]
        try:
            yield (int(self.tsplink_node), host, port, self._channels[:k] or [(1, "a")],
                   [",".join(self._xp("gate", "WL", [r])) for r in rows],
                   [len(c) for c in cols], reads, self._xp("pulse", "BL", flat),
                   self._xp("pulse2", "BL", flat))
        finally:
            # the script set the generator's loads and levels over TSP-Net: its guard
            # forgot them, so the outputs set them again through it before host pulses
            for out in self._outs.values():
                out.levels_unknown()
            self._routed = None

    def chain_onboard(
        self, rows: Sequence[int], cols: Sequence[Sequence[int]], set_v: Sequence[float],
        reset_v: Sequence[float], thresholds_a: Sequence[float], state: Sequence[int],
        saturate_v: float, width_s: float, read_v: float, nplc: float, steps: int,
    ) -> np.ndarray:
        """``steps`` steps of the flip chain run by the read SMU itself (see
        :mod:`ftjlab.instruments.keithley2636b_chain`) on the cells ``(rows[w], cols[w][j])``,
        word line after word line (per-cell tables in that order): each step an OFF cell gets
        its SET pulse (``set_v`` > 0, output 1), an ON cell its RESET pulse (``reset_v`` < 0,
        output 2), SET/RESET cell pairs at one trigger; every cell is read on every read
        channel the sequences reach at once (ON above ``thresholds_a``) and saturated at
        ``saturate_v`` to the state read. Returns the states after each step, uint8
        ``(steps, cells)``. Needs :attr:`onboard_rows` (the SMU reaches the generator)."""
        from ftjlab.instruments.keithley2636b_chain import chain_steps

        if not self.onboard_rows:
            raise BadInput("the on-board chain needs a 2636B reaching the 707B (TSP-Link) and "
                           "the pulse generator (TSP-Net) with both outputs wired")
        flat = [int(c) for row_cols in cols for c in row_cols]
        self._check_cells(rows, flat)
        up = np.asarray(set_v, np.float64)
        down = np.asarray(reset_v, np.float64)
        if np.any(~np.isfinite(up) | (up <= 0)) or np.any(~np.isfinite(down) | (down >= 0)):
            raise BadInput("chain amplitudes: SET > 0 V and RESET < 0 V for every cell")
        with self._onboard_run(rows, cols, flat, width_s, float(saturate_v) / 2, read_v,
                               nplc) as route:
            return chain_steps(
                self.read.driver, *route, up.tolist(), (-down).tolist(), list(thresholds_a),
                [int(s) for s in state], float(saturate_v), int(steps))
