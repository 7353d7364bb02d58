"""Keysight (Agilent) 81160A pulse/function generator emulator, two channels.

Command subset of ``/work/shared/reference/instrument-commands.md`` §4 plus what pymeasure's
``Keysight81160A`` driver sends: ``:FUNC<n>``, ``:FREQ<n>``, ``:VOLT<n>[:AMPL]``,
``:VOLT<n>:OFFS|HIGH|LOW|UNIT``, ``:VOLT<n>:LIM[:STAT]|HIGH|LOW``, ``:PULS:PER<n>``,
``:PULS:WIDT<n>``, ``:PULS:DCYC<n>``, ``:PULS:HOLD<n>``, ``:PULS:TRAN<n>[:LEAD]`` (also
pymeasure's ``:FUNC<n>:PULS:TRAN``), ``:PULS:TRAN<n>:TRA[:AUTO]``, ``:PULS:DEL<n>``,
``:TRIG<n>:COUN``, ``:TRIG<n>:SOUR``, ``:ARM:SOUR<n> IMM|INT2|EXT|MAN``, ``:ARM:FREQ<n>``,
``:OUTP<n>[:STAT]``, ``:OUTP<n>:POL NORM|INV``, ``:OUTP<n>:LOAD``, ``:OUTP<n>:COMP``, ``*TRG``,
``:SYST:ERR?``. A header without suffix addresses channel 1. The 33xxx ``:BURSt`` subsystem is
not part of the 81160A command set (burst length is ``:TRIG:COUN``) and gives -113.

Limits (reference table; into 50 ohm, doubled into high-Z via the load factor
``2R/(R+50)``): period >= 3.03 ns, width >= 1.5 ns, edges 1 ns-1 ks, amplitude 50 mVpp-5 Vpp,
levels within +-5 V; coupled: ``period >= width + 0.8 * (leading + trailing)`` (= width +
1.6 x edge for equal edges) and each edge <= 0.625 x width. A value outside its own range is
clipped and ``-222,"Data out of range"`` logged; a timing value that conflicts with the others
is adjusted to the nearest compatible value and also logged as -222 (as the manual says); a
level that conflicts with the other levels or the voltage limits is adjusted and logged as
``-221,"Settings conflict"``. Error queue: 30 entries, overflow -350.

Bursts: ``*TRG`` fires, on every channel whose output is on and whose arm source is not EXT,
``bench.pulse(terminal, high, low, width, period, TRIG:COUN)`` (levels swapped for inverted
polarity; a pulse delay passes as ``bench.idle`` first). With arm source IMM or INT2 (continuous
output) one burst is fired when the output is switched on or the arm source is switched to
IMM/INT2 with the output on. Only the PULSe and SQUare (50 % pulse) shapes reach the bench;
between bursts the terminal is sourced at the resting level (low, or high when inverted;
the offset for other shapes). ``*OPC?`` answers 1 once the burst is over (bursts run in virtual
time before the next command, so at once).

Gaps: channels fire one after the other, not simultaneously; continuous output is modelled as a
single burst; defaults after ``*RST`` (sine, 1 MHz, 100 mVpp, 100 ns width, 5 ns edges) are
plausible values, not confirmed from the manual.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..scpi import Boolean, Call, Choice, Number, ScpiInstrument, format_nr3
from ._generator import BenchLike, load_factor

__all__ = ["Keysight81160A"]

PERIOD_MIN_S = 3.03e-9
PERIOD_MAX_S = 1e6
WIDTH_MIN_S = 1.5e-9
EDGE_MIN_S = 1e-9
EDGE_MAX_S = 1e3
EDGE_TO_WIDTH = 0.625
EDGE_PERIOD_FACTOR = 0.8  # period >= width + 0.8 * (leading + trailing)
AMPLITUDE_MIN_V = 0.05  # into 50 ohm
AMPLITUDE_MAX_V = 5.0
WINDOW_V = 5.0
FREQUENCY_MAX_HZ = 500e6
HIGH_Z = 9.9e37


@dataclass
class _Channel:
    function: str = "SIN"
    high: float = 0.05
    low: float = -0.05
    period: float = 1e-6
    width: float = 100e-9
    lead: float = 5e-9
    trail: float = 5e-9
    trail_auto: bool = True
    delay: float = 0.0
    hold: str = "WIDT"
    count: int = 1
    arm: str = "IMM"
    trigger_source: str = "IMM"
    arm_frequency: float = 1e6
    output: bool = False
    complement: bool = False
    polarity: str = "NORM"
    load: float = 50.0
    unit: str = "VPP"
    limit_on: bool = False
    limit_high: float = 5.0
    limit_low: float = -5.0


class Keysight81160A(ScpiInstrument):
    """Emulated 81160A driving ``bench`` terminals ``<terminal_prefix>.<channel>``.

    :param bench: shared bench (``source``, ``pulse``, ``idle``; ``clock`` optional).
    :param terminal_prefix: terminals are ``f"{terminal_prefix}.{n}"`` unless ``terminals``
        names them explicitly (one per channel).
    :param serial: serial number in ``*IDN?``; :param firmware: firmware revision.
    :param manufacturer: first ``*IDN?`` field (older units answer "Agilent Technologies").
    """

    error_messages: ClassVar[Mapping[int, str]] = {}

    def __init__(
        self,
        bench: BenchLike,
        terminal_prefix: str = "pg",
        *,
        terminals: Sequence[str] | None = None,
        serial: str = "DE51234567",
        firmware: str = "1.2.0.0",
        manufacturer: str = "Agilent Technologies",
        channels: int = 2,
    ) -> None:
        self.bench = bench
        self.terminals = (
            tuple(terminals)
            if terminals
            else tuple(f"{terminal_prefix}.{n}" for n in range(1, channels + 1))
        )
        self.n_channels = len(self.terminals)
        self.ch: list[_Channel] = [_Channel() for _ in self.terminals]
        self.bursts_fired = 0
        clock = getattr(bench, "clock", None)
        super().__init__(
            idn=f"{manufacturer},81160A,{serial},{firmware}",
            error_queue_depth=30,
            max_suffix=self.n_channels,
            clock=(lambda: clock.now_s) if clock is not None else None,
        )

    # ------------------------------------------------------------------ state

    def _reset_state(self) -> None:
        self.ch = [_Channel() for _ in self.terminals]
        for i in range(self.n_channels):
            self._apply_source(i)

    def _trigger(self) -> None:
        for i, c in enumerate(self.ch):
            if c.arm != "EXT":
                self._fire(i)

    def _apply_source(self, i: int) -> None:
        c = self.ch[i]
        if c.function in ("PULS", "SQU"):
            rest = c.high if c.polarity == "INV" else c.low
        else:
            rest = (c.high + c.low) / 2
            if c.polarity == "INV":
                rest = -rest
        self.bench.source(self.terminals[i], rest, c.output)

    def _fire(self, i: int) -> None:
        """One burst of ``TRIG:COUN`` pulses on channel index ``i`` (if its output is on)."""
        c = self.ch[i]
        if not c.output or c.function not in ("PULS", "SQU"):
            return
        width = c.width if c.function == "PULS" else c.period / 2
        high, low = (c.low, c.high) if c.polarity == "INV" else (c.high, c.low)
        if c.delay > 0:
            self.bench.idle(c.delay)
        self.bench.pulse(self.terminals[i], high, low, width, c.period, c.count)
        self.bursts_fired += 1

    # ------------------------------------------------------------------ coupling helpers

    def _clip(self, value: float, lo: float, hi: float, code: int, what: str) -> float:
        """Clip into ``[lo, hi]`` (``hi`` raised to ``lo`` if infeasible); log ``code`` if
        anything changed."""
        hi = max(hi, lo)
        if value < lo or value > hi or math.isnan(value):
            clipped = lo if (math.isnan(value) or value < lo) else hi
            self.push_error(code, f"{what} adjusted")
            return clipped
        return value

    def _factor(self, c: _Channel) -> float:
        return load_factor(c.load)

    def set_width(self, i: int, width: float) -> None:
        """Pulse width with the coupling rules (see module docstring)."""
        c = self.ch[i]
        w = self._clip(width, WIDTH_MIN_S, PERIOD_MAX_S, -222, "pulse width")
        lo = max(WIDTH_MIN_S, max(c.lead, c.trail) / EDGE_TO_WIDTH)
        hi = c.period - EDGE_PERIOD_FACTOR * (c.lead + c.trail)
        c.width = self._clip(w, lo, hi, -222, "pulse width")

    def set_period(self, i: int, period: float) -> None:
        """Pulse period; with ``HOLD DCYC`` the width scales along, else the width stays."""
        c = self.ch[i]
        p = self._clip(period, PERIOD_MIN_S, PERIOD_MAX_S, -222, "period")
        edges = EDGE_PERIOD_FACTOR * (c.lead + c.trail)
        if c.hold == "DCYC":
            duty = c.width / c.period
            lo = max(
                PERIOD_MIN_S,
                edges / (1.0 - duty) if duty < 1 else PERIOD_MAX_S,
                max(c.lead, c.trail) / EDGE_TO_WIDTH / max(duty, 1e-300),
            )
            c.period = self._clip(p, lo, PERIOD_MAX_S, -222, "period")
            c.width = duty * c.period
            return
        lo = max(PERIOD_MIN_S, c.width + edges)
        c.period = self._clip(p, lo, PERIOD_MAX_S, -222, "period")

    def set_frequency(self, i: int, hertz: float) -> None:
        """Frequency: the period is its inverse (same coupling rules)."""
        f = self._clip(hertz, 1.0 / PERIOD_MAX_S, FREQUENCY_MAX_HZ, -222, "frequency")
        self.set_period(i, 1.0 / f)

    def set_edge(self, i: int, value: float, which: str) -> None:
        """Leading (``"lead"``) or trailing (``"trail"``) transition time."""
        c = self.ch[i]
        e = self._clip(value, EDGE_MIN_S, EDGE_MAX_S, -222, "transition time")
        both = which == "lead" and c.trail_auto
        other = 0.0 if both else (c.trail if which == "lead" else c.lead)
        n_edges = 2.0 if both else 1.0
        hi = min(
            EDGE_TO_WIDTH * c.width, ((c.period - c.width) / EDGE_PERIOD_FACTOR - other) / n_edges
        )
        e = self._clip(e, EDGE_MIN_S, hi, -222, "transition time")
        if which == "lead":
            c.lead = e
            if c.trail_auto:
                c.trail = e
        else:
            c.trail = e
            c.trail_auto = False

    def _level_bounds(self, c: _Channel) -> tuple[float, float, float, float]:
        f = self._factor(c)
        lo_win, hi_win = -WINDOW_V * f, WINDOW_V * f
        if c.limit_on:
            lo_win, hi_win = max(lo_win, c.limit_low), min(hi_win, c.limit_high)
        return lo_win, hi_win, AMPLITUDE_MIN_V * f, AMPLITUDE_MAX_V * f

    def set_high(self, i: int, value: float) -> None:
        """High level; the low level stays."""
        c = self.ch[i]
        f = self._factor(c)
        v = self._clip(value, -WINDOW_V * f + AMPLITUDE_MIN_V * f, WINDOW_V * f, -222, "high level")
        lo_win, hi_win, a_min, a_max = self._level_bounds(c)
        c.high = self._clip(
            v, max(c.low + a_min, lo_win), min(c.low + a_max, hi_win), -221, "high level"
        )
        self._apply_source(i)

    def set_low(self, i: int, value: float) -> None:
        """Low level; the high level stays."""
        c = self.ch[i]
        f = self._factor(c)
        v = self._clip(value, -WINDOW_V * f, WINDOW_V * f - AMPLITUDE_MIN_V * f, -222, "low level")
        lo_win, hi_win, a_min, a_max = self._level_bounds(c)
        c.low = self._clip(
            v, max(c.high - a_max, lo_win), min(c.high - a_min, hi_win), -221, "low level"
        )
        self._apply_source(i)

    def set_amplitude(self, i: int, value: float) -> None:
        """Amplitude (Vpp) around the present offset."""
        c = self.ch[i]
        lo_win, hi_win, a_min, a_max = self._level_bounds(c)
        a = self._clip(value, a_min, a_max, -222, "amplitude")
        off = (c.high + c.low) / 2
        room = 2 * min(hi_win - off, off - lo_win)
        a = self._clip(a, a_min, room, -221, "amplitude")
        c.high, c.low = off + a / 2, off - a / 2
        self._apply_source(i)

    def set_offset(self, i: int, value: float) -> None:
        """Offset with the present amplitude."""
        c = self.ch[i]
        lo_win, hi_win, a_min, _ = self._level_bounds(c)
        f = self._factor(c)
        o = self._clip(value, -WINDOW_V * f + a_min / 2, WINDOW_V * f - a_min / 2, -222, "offset")
        a = c.high - c.low
        o = self._clip(o, lo_win + a / 2, hi_win - a / 2, -221, "offset")
        c.high, c.low = o + a / 2, o - a / 2
        self._apply_source(i)

    def set_output(self, i: int, on: bool) -> None:
        """Output relay; switching on in continuous arm mode (IMM/INT2) fires one burst."""
        c = self.ch[i]
        was = c.output
        c.output = bool(on)
        self._apply_source(i)
        if c.output and not was and c.arm in ("IMM", "INT2"):
            self._fire(i)

    def set_arm(self, i: int, source: str) -> None:
        """Arm source; switching to IMM/INT2 with the output on fires one burst."""
        c = self.ch[i]
        was = c.arm
        c.arm = source
        if c.output and source in ("IMM", "INT2") and was not in ("IMM", "INT2"):
            self._fire(i)

    # ------------------------------------------------------------------ command set

    def _build(self) -> None:
        t = self.tree

        def ch_setting(pattern: str, param: Any, attr: str, fmt: Any = str) -> None:
            t.setting(
                pattern,
                param,
                lambda s: getattr(self.ch[s[0] - 1], attr),
                lambda s, v: setattr(self.ch[s[0] - 1], attr, v),
                fmt,
            )

        def ch_value(
            pattern: str, setter: Any, getter: Any, units: str, lo: float, hi: float, default: float
        ) -> None:
            param = Number(lo, hi, default=default, units=(units,), out_of_range="none")
            t.setting(
                pattern,
                param,
                lambda s: getter(self.ch[s[0] - 1]),
                lambda s, v: setter(s[0] - 1, float(v)),
                format_nr3,
            )

        t.add(
            "[:SOURce]:FUNCtion#[:SHAPe]",
            set=self._set_function,
            query=lambda c: self.ch[c.ch - 1].function,
            params=(
                Choice("SINusoid", "SQUare", "RAMP", "PULSe", "NOISe", "DC", "USER", "PATTern"),
            ),
        )
        ch_value(
            "[:SOURce]:FREQuency#[:CW]",
            self.set_frequency,
            lambda c: 1.0 / c.period,
            "HZ",
            1e-6,
            FREQUENCY_MAX_HZ,
            1e6,
        )
        ch_value(
            "[:SOURce]:VOLTage#[:LEVel][:IMMediate][:AMPLitude]",
            self.set_amplitude,
            lambda c: c.high - c.low,
            "V",
            AMPLITUDE_MIN_V,
            AMPLITUDE_MAX_V,
            0.1,
        )
        ch_value(
            "[:SOURce]:VOLTage#[:LEVel][:IMMediate]:OFFSet",
            self.set_offset,
            lambda c: (c.high + c.low) / 2,
            "V",
            -WINDOW_V,
            WINDOW_V,
            0.0,
        )
        ch_value(
            "[:SOURce]:VOLTage#[:LEVel][:IMMediate]:HIGH",
            self.set_high,
            lambda c: c.high,
            "V",
            -WINDOW_V + AMPLITUDE_MIN_V,
            WINDOW_V,
            0.05,
        )
        ch_value(
            "[:SOURce]:VOLTage#[:LEVel][:IMMediate]:LOW",
            self.set_low,
            lambda c: c.low,
            "V",
            -WINDOW_V,
            WINDOW_V - AMPLITUDE_MIN_V,
            -0.05,
        )
        ch_setting("[:SOURce]:VOLTage#:UNIT", Choice("VPP", "VRMS", "DBM"), "unit")
        ch_setting("[:SOURce]:VOLTage#:LIMit[:STATe]", Boolean(), "limit_on", _b)
        ch_setting(
            "[:SOURce]:VOLTage#:LIMit:HIGH",
            Number(-9.99, 10.0, default=5.0, units=("V",), out_of_range="clip_log"),
            "limit_high",
            format_nr3,
        )
        ch_setting(
            "[:SOURce]:VOLTage#:LIMit:LOW",
            Number(-10.0, 9.99, default=-5.0, units=("V",), out_of_range="clip_log"),
            "limit_low",
            format_nr3,
        )
        ch_value(
            "[:SOURce]:PULSe:PERiod#",
            self.set_period,
            lambda c: c.period,
            "S",
            PERIOD_MIN_S,
            PERIOD_MAX_S,
            1e-6,
        )
        ch_value(
            "[:SOURce]:PULSe:WIDTh#",
            self.set_width,
            lambda c: c.width,
            "S",
            WIDTH_MIN_S,
            PERIOD_MAX_S,
            100e-9,
        )
        ch_value(
            "[:SOURce]:PULSe:DCYCle#",
            lambda i, v: self.set_width(i, v / 100 * self.ch[i].period),
            lambda c: 100 * c.width / c.period,
            "PCT",
            0.0,
            100.0,
            10.0,
        )
        ch_setting("[:SOURce]:PULSe:HOLD#", Choice("WIDTh", "DCYCle"), "hold")
        for pattern in (
            "[:SOURce]:PULSe:TRANsition#[:LEADing]",
            "[:SOURce]:FUNCtion#:PULSe:TRANsition[:LEADing]",
        ):
            ch_value(
                pattern,
                lambda i, v: self.set_edge(i, v, "lead"),
                lambda c: c.lead,
                "S",
                EDGE_MIN_S,
                EDGE_MAX_S,
                5e-9,
            )
        ch_value(
            "[:SOURce]:PULSe:TRANsition#:TRAiling",
            lambda i, v: self.set_edge(i, v, "trail"),
            lambda c: c.trail,
            "S",
            EDGE_MIN_S,
            EDGE_MAX_S,
            5e-9,
        )
        t.setting(
            "[:SOURce]:PULSe:TRANsition#:TRAiling:AUTO",
            Boolean(),
            lambda s: self.ch[s[0] - 1].trail_auto,
            self._set_trail_auto,
            _b,
        )
        ch_setting(
            "[:SOURce]:PULSe:DELay#",
            Number(0.0, 999.0, default=0.0, units=("S",), out_of_range="clip_log"),
            "delay",
            format_nr3,
        )
        ch_setting(
            ":TRIGger#:COUNt",
            Number(1, 2_147_483_647, default=1, integer=True, out_of_range="clip_log"),
            "count",
        )
        ch_setting(
            ":TRIGger#:SOURce",
            Choice("IMMediate", "INTernal", "INTernal1", "EXTernal"),
            "trigger_source",
        )
        t.setting(
            ":ARM:SOURce#",
            Choice("IMMediate", "INTernal2", "EXTernal", "MANual"),
            lambda s: self.ch[s[0] - 1].arm,
            lambda s, v: self.set_arm(s[0] - 1, v),
        )
        ch_setting(
            ":ARM:FREQuency#",
            Number(1e-3, 120e6, default=1e6, units=("HZ",), out_of_range="clip_log"),
            "arm_frequency",
            format_nr3,
        )
        t.setting(
            ":OUTPut#[:STATe]",
            Boolean(),
            lambda s: self.ch[s[0] - 1].output,
            lambda s, v: self.set_output(s[0] - 1, v),
            _b,
        )
        t.setting(
            ":OUTPut#:POLarity",
            Choice("NORMal", "INVerted"),
            lambda s: self.ch[s[0] - 1].polarity,
            self._set_polarity,
        )
        t.setting(
            ":OUTPut#:COMPlement[:STATe]",
            Boolean(),
            lambda s: self.ch[s[0] - 1].complement,
            lambda s, v: setattr(self.ch[s[0] - 1], "complement", v),
            _b,
        )
        t.setting(
            ":OUTPut#:IMPedance:EXTernal",
            Number(
                0.3,
                1e6,
                default=50.0,
                units=("OHM",),
                specials={"INF": HIGH_Z},
                out_of_range="clip_log",
            ),
            lambda s: self.ch[s[0] - 1].load,
            self._set_load,
            format_nr3,
        )
        t.setting(
            ":OUTPut#:LOAD",
            Number(
                0.3,
                1e6,
                default=50.0,
                units=("OHM",),
                specials={"INF": HIGH_Z},
                out_of_range="clip_log",
            ),
            lambda s: self.ch[s[0] - 1].load,
            self._set_load,
            format_nr3,
        )
        t.add(":SYSTem:ERRor[:NEXT]", query=lambda c: self.next_error().scpi())
        t.add(":SYSTem:VERSion", query=lambda c: "1999.0")

    def _set_function(self, call: Call) -> None:
        self.ch[call.ch - 1].function = call.args[0]
        self._apply_source(call.ch - 1)

    def _set_trail_auto(self, s: tuple[int, ...], on: bool) -> None:
        c = self.ch[s[0] - 1]
        c.trail_auto = bool(on)
        if on:
            self.set_edge(s[0] - 1, c.lead, "lead")

    def _set_polarity(self, s: tuple[int, ...], value: str) -> None:
        self.ch[s[0] - 1].polarity = value
        self._apply_source(s[0] - 1)

    def _set_load(self, s: tuple[int, ...], value: float) -> None:
        c = self.ch[s[0] - 1]
        c.load = HIGH_Z if value >= 1e30 else float(value)
        # levels stay as programmed; re-check them against the new window
        self.set_low(s[0] - 1, c.low)
        self.set_high(s[0] - 1, c.high)


def _b(value: bool) -> str:
    return "1" if value else "0"
