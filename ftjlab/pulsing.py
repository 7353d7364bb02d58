"""One pulse-generator output as the array controller drives it: what it was last set to,
so a burst sends only what changed.

The generator always rests at 0 V: positive pulses use normal polarity (low level 0 V),
negative ones inverted polarity with the high level at 0 V, so a routed bit line never sits
at the pulse level between pulses. Levels are checked by the driver's strict validators and
the bench limits before they are sent (nothing is clipped by the generator).
"""

from __future__ import annotations

from typing import Any

from ftjlab.instruments._pulse import set_levels

#: the generator's largest programmable load: levels = voltage at the cell
HIGH_Z_OHM = 1e6


class PulserOutput:
    """Channel ``index`` of a pulse generator driver (``pg.ch_1``, ``pg.ch_2``)."""

    def __init__(self, pg: Any, index: int) -> None:
        self.pg, self.index = pg, index
        self._ch: Any = None
        self._cfg: tuple[float, float, float, float] | None = None  # high, low, width, period
        self._polarity = "NORM"
        self._count: int | None = None
        self.output_on: bool | None = False  # None: not known (something else set it)
        self._stale = False  # something else (an on-board program) set the generator
        self._resets = 0  # the generator's bench_resets when this output was prepared

    def channel(self) -> Any:
        """The driver channel, prepared on first use (and after :meth:`levels_unknown`, or
        after the generator was reset to its bench state): output off, high-Z load, manual
        arm; levels set behind the guard are restated through it by the driver."""
        resets = getattr(self.pg, "bench_resets", 0)
        if self._ch is None or self._stale or resets != self._resets:
            ch = getattr(self.pg, f"ch_{self.index}")
            if resets != self._resets:  # a reset voided what this output had set
                self._reset_settings()
            self._prepare(ch)
            if self._stale:
                if ch.restate_levels():  # it reset the generator: prepare again
                    self._reset_settings()
                    self._prepare(ch)
                self._stale = False
            self._resets = getattr(self.pg, "bench_resets", 0)
            self._ch = ch
        return self._ch

    def _reset_settings(self) -> None:
        """The generator was reset: this output's waveform, count and polarity are its
        defaults (none known, normal polarity)."""
        self._cfg, self._count, self._polarity = None, None, "NORM"

    def _prepare(self, ch: Any) -> None:
        ch.output = False
        self.output_on = False
        # levels as seen by the array: a cell is a high-impedance load, the model's own
        # setting for it (set before the levels: a load change voids programmed levels)
        ch.output_load = ch.high_z_load
        if hasattr(ch, "arm_source"):  # 81160A: one burst per *TRG
            ch.arm_source = "MAN"
        else:  # 33500B: bursts on *TRG
            ch.burst_mode = "TRIG"
            ch.trigger_source = "BUS"
            ch.burst_state = True

    def pulses(self, volts: float, width_s: float, period_s: float, count: int = 1) -> None:
        """Set up bursts of ``count`` pulses of ``volts`` (sign = polarity), resting at 0 V."""
        polarity = "NORM" if volts > 0 else "INV"
        high, low = (volts, 0.0) if volts > 0 else (0.0, volts)
        self.waveform(high, low, width_s, period_s, polarity, count)

    def waveform(
        self, high: float, low: float, width_s: float, period_s: float, polarity: str,
        count: int,
    ) -> None:
        """Set levels, timing, polarity and burst count, writing only what changed."""
        ch = self.channel()
        timing = (width_s, period_s)
        if self._cfg is None or self._cfg[2:] != timing:
            self.off()
            ch.polarity = polarity
            ch.configure_pulse(high, low, width_s, period_s)  # checks the instrument's errors
            self._polarity = polarity
        elif self._cfg[:2] != (high, low):
            if polarity != self._polarity:
                self.off()
                ch.polarity = polarity
                self._polarity = polarity
            old_high, old_low = self._cfg[:2]
            if low == old_low and high > low:  # only the high level moves (low stays 0 V)
                ch.voltage_high = high
            elif high == old_high and high > low:  # only the low level moves
                ch.voltage_low = low
            else:
                set_levels(ch, high, low, old_high, old_low)
        self._cfg = (high, low, *timing)
        if self._count != count:
            if hasattr(ch, "burst_count"):
                ch.burst_count = count
            else:
                ch.burst_ncycles = count
            self._count = count

    def on(self) -> None:
        if not self.output_on:
            self.channel().output = True
            self.output_on = True

    def off(self) -> None:
        """Switch the output off: one write where it is or may be on, nothing else (no
        preparation, also for a channel something else set)."""
        if self.output_on is not False:
            ch = self._ch or getattr(self.pg, f"ch_{self.index}")
            ch.output = False
        self.output_on = False

    def levels_unknown(self) -> None:
        """Something else set the generator (an on-board program over TSP-Net, which its
        guard then no longer knows): its levels and output state are not known; the channel
        is prepared and its levels restated next time it is configured."""
        self._cfg = None
        self._stale = True
        self.output_on = None

    def forget(self) -> None:
        """After a bench shutdown: nothing known about the channel any more."""
        self._ch, self._cfg, self._count, self.output_on = None, None, None, False
