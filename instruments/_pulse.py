"""Shared parts of the pulse generator drivers (81160A, 33500B)."""

from __future__ import annotations

import logging
import math
from typing import Any

from pymeasure.instruments import Channel
from pymeasure.instruments.validators import strict_discrete_set

from ._common import InstrumentError, longer_timeout, strict_real_range
from .limits import KnownStateNeededError

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())


def level_limit_settings(prefix: str) -> tuple[Any, Any, Any]:
    """The level limit window settings ``voltage_limit_high``, ``voltage_limit_low`` and
    ``voltage_limit_enabled`` of a channel whose SCPI level commands start with ``prefix``
    (``"SOUR{ch}:VOLT"`` on the 33500B, ``":VOLT{ch}"`` on the 81160A)."""
    return (
        Channel.setting(
            f"{prefix}:LIM:HIGH %g",
            """Set the upper end of the level limit window in volts (float; the generator
            clamps levels to the window while it is on).""",
            validator=strict_real_range, values=(-10.0, 10.0),
        ),
        Channel.setting(
            f"{prefix}:LIM:LOW %g",
            """Set the lower end of the level limit window in volts (float).""",
            validator=strict_real_range, values=(-10.0, 10.0),
        ),
        Channel.setting(
            f"{prefix}:LIM:STAT %s",
            """Set whether the level limit window is on (bool).""",
            validator=strict_discrete_set, values=(True, False),
            set_process=lambda v: "ON" if v else "OFF",
        ),
    )


class PulseChannelMixin:
    """``configure_pulse`` for a generator channel with ``voltage_high/low``, ``pulse_width``,
    ``pulse_period``, ``leading_edge`` and ``trailing_edge`` properties."""

    max_edge_fraction_of_width: float | None = None
    """If set, each edge must be at most this fraction of the width (33500B: 0.625)."""

    def _check_pulse_timing(
        self, width_s: float, period_s: float, edges: list[float]
    ) -> None:
        for name, value in (("width_s", width_s), ("period_s", period_s)):
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        longest = max(edges, default=0.0)
        if period_s < width_s + 1.6 * longest:
            raise ValueError(
                f"period {period_s:g} s is shorter than width + 1.6 x edge "
                f"= {width_s + 1.6 * longest:g} s"
            )
        fraction = self.max_edge_fraction_of_width
        if fraction is not None and longest > fraction * width_s:
            raise ValueError(
                f"edge {longest:g} s is longer than {fraction:g} x width = {fraction * width_s:g} s"
            )

    def configure_pulse(
        self,
        high_v: float,
        low_v: float,
        width_s: float,
        period_s: float,
        leading_edge_s: float | None = None,
        trailing_edge_s: float | None = None,
        check_errors: bool = True,
    ) -> None:
        """Configure a pulse waveform and verify the instrument took it unchanged.

        Checks ``high > low``, ``period >= width + 1.6 x edge`` (and the edge/width ratio
        where the instrument has one) and the bound limits before sending anything; orders
        the level and timing writes so no intermediate state is invalid; then reads the error
        queue and raises :class:`InstrumentError` if the instrument adjusted or refused a value.
        """
        if not high_v > low_v:
            raise ValueError(f"high level {high_v!r} V must be above low level {low_v!r} V")
        edges = [edge for edge in (leading_edge_s, trailing_edge_s) if edge is not None]
        self._check_pulse_timing(width_s, period_s, edges)
        guard = self.parent.safety
        if guard is not None:  # fail before the first write, not half-way through
            guard.check_voltage(self.id, high_v)
            guard.check_voltage(self.id, low_v)
            guard.limits.check_pulse_width(width_s)
        self.shape = "PULS"
        set_levels(self, high_v, low_v, self.voltage_high, self.voltage_low)
        # Never pass through width > period: a growing period goes first, a shrinking one
        # last (the instrument's own edges count too, so compare periods, not widths).
        if period_s >= self.pulse_period:
            self.pulse_period = period_s
            self.pulse_width = width_s
        else:
            self.pulse_width = width_s
            self.pulse_period = period_s
        if leading_edge_s is not None:
            self.leading_edge = leading_edge_s
        if trailing_edge_s is not None:
            self.trailing_edge = trailing_edge_s
        if check_errors:
            self.parent.raise_errors()

    def restate_levels(self) -> bool:
        """Make this output's levels known to the guard again after something outside it set
        them (an SMU script over TSP-Net, which its guard then forgot): report the errors the
        script's commands left in the queue, then send through the guard what
        :meth:`~ftjlab.instruments.safety.SafetyGuard.restate` plans (the level the
        generator holds, kept at least the least amplitude the guard takes from the other).
        Where the guard knows too little for that (both levels, or the limit window), the
        generator is brought to the bench state (:meth:`PulseGeneratorMixin.restore_bench_state`).
        The output must be off and its load set (through the guard) first.

        :returns: True if the generator was reset (every output must be prepared again).
        """
        parent = self.parent
        errors = parent.check_errors()  # left by the program's commands: reported, not ours
        if errors:
            log.warning("%s after an outside program: %s", parent.name,
                        "; ".join(", ".join(str(part) for part in error) for error in errors))
        guard = parent.safety
        if guard is None:
            return False
        try:
            plan = guard.restate(self.id, lambda attr: getattr(self, attr))
        except KnownStateNeededError as exc:
            log.warning("%s: %s; resetting to the bench state", parent.name, exc)
            parent.restore_bench_state()
            return True
        for attr, value in plan:
            setattr(self, attr, value)
        return False

    def shutdown(self) -> None:
        """Switch the output off."""
        self.output = False


def set_levels(channel: Any, high_v: float, low_v: float, old_high: float, old_low: float) -> None:
    """Write both levels in the order whose intermediate state (one new, one old level) has
    the larger amplitude, so the generator never sees high <= low or an amplitude below its
    minimum on the way (which it would adjust and report)."""
    if high_v - old_low >= old_high - low_v:
        channel.voltage_high = high_v
        channel.voltage_low = low_v
    else:
        channel.voltage_low = low_v
        channel.voltage_high = high_v


class PulseGeneratorMixin:
    """Trigger, completion, error, reset and shutdown helpers of a two-channel generator."""

    bench_resets: int = 0
    """How often :meth:`restore_bench_state` reset the generator (users of its outputs
    compare it to know their outputs must be prepared again)."""

    def restore_bench_state(self, window_v: float | None = None) -> dict[str, Any]:
        """Bring the generator to the bench's known state through its guard: ``*RST`` (every
        output off, the model's defaults), then per output the high-impedance load (levels
        are the volts at the cell) and the level limit window at +/- ``window_v`` switched
        on (the generator clamps any later level to it). What session start programs.

        :param window_v: half-width of the window; default the bound limits' max |V| of the
            output's voltage role (the program role: ``max_program_voltage_v``).
        :returns: what was programmed per output (``"ch1"``: load, window), JSON-ready.
        :raises ValueError: without ``window_v`` on a driver with no limits bound.
        """
        guard = self.safety
        if window_v is None and guard is None:
            raise ValueError("window_v is needed where no limits are bound")
        self.write("*RST")
        self.bench_resets += 1
        out: dict[str, Any] = {}
        for channel in self.channels.values():
            high = (guard.limits.max_voltage_v(guard.role(channel.id)) if window_v is None
                    else float(window_v))
            channel.output_load = channel.high_z_load
            channel.voltage_limit_high = high
            channel.voltage_limit_low = -high
            channel.voltage_limit_enabled = True
            out[f"ch{channel.id}"] = {
                "load_ohm": channel.high_z_load, "level_limit_high_v": high,
                "level_limit_low_v": -high, "level_limit_on": True,
            }
        self.raise_errors()
        return out

    def trigger(self) -> None:
        """Send a bus trigger (``*TRG``): fires a burst when the trigger source is BUS/MAN."""
        self.write("*TRG")

    def wait_for_completion(self, timeout_s: float | None = None) -> None:
        """Block until pending operations (a triggered burst) have finished (``*OPC?``)."""
        with longer_timeout(self, timeout_s):
            reply = self.ask("*OPC?").strip()
        if reply not in ("1", "+1"):
            raise InstrumentError(f"unexpected reply {reply!r} to *OPC?")

    def wait_for_trigger(self, timeout: float = 3600, should_stop: Any = None) -> None:
        """Block until the triggered output has finished (``*OPC?``)."""
        self.wait_for_completion(timeout_s=timeout)

    def fire_burst(self, timeout_s: float | None = None) -> None:
        """Trigger and wait until the burst has been output: ``*TRG;*OPC?`` in one message
        (IEEE 488.2 message units run in order), one reply."""
        with longer_timeout(self, timeout_s):
            reply = self.ask("*TRG;*OPC?").strip()
        if reply not in ("1", "+1"):
            raise InstrumentError(f"unexpected reply {reply!r} to *TRG;*OPC?")

    def raise_errors(self) -> None:
        """Read the error queue; raise :class:`InstrumentError` listing the errors, if any."""
        errors = self.check_errors()
        if errors:
            text = "; ".join(", ".join(str(part) for part in error) for error in errors)
            raise InstrumentError(f"{self.name} reported: {text}")

    def shutdown(self) -> None:
        """Switch both outputs off (each is tried even if the other fails)."""
        failures = []
        for channel in self.channels.values():
            try:
                channel.shutdown()
            except Exception as exc:  # keep going: the other output must go off too
                log.error("%s: output %s off failed: %s", self.name, channel.id, exc)
                failures.append(exc)
        super().shutdown()
        if failures:
            raise failures[0]
