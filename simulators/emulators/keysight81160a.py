"""Keysight (Agilent) 81160A pulse/function generator emulator, two channels.

Command subset of ``/work/shared/reference/instrument-commands.md`` §4 plus what pymeasure's
``Keysight81160A`` driver sends: ``:FUNC<n>``, ``:FREQ<n>``, ``:VOLT<n>[:AMPL]``,
``:VOLT<n>:OFFS|HIGH|LOW|UNIT``, ``:VOLT<n>:LIM[:STAT]|HIGH|LOW``, ``:PULS:PER<n>``,
``:PULS:WIDT<n>``, ``:PULS:DCYC<n>``, ``:PULS:HOLD<n>``, ``:PULS:TRAN<n>[:LEAD]`` (also
pymeasure's ``:FUNC<n>:PULS:TRAN``), ``:PULS:TRAN<n>:TRA[:AUTO]``, ``:PULS:DEL<n>``,
``:TRIG<n>:COUN``, ``:TRIG<n>:SOUR``, ``:ARM:SOUR<n> IMM|INT2|EXT|MAN``, ``:ARM:FREQ<n>``,
``:OUTP<n>[:STAT]``, ``:OUTP<n>:POL NORM|INV``, ``:OUTP<n>:LOAD``, ``:OUTP<n>:COMP``, ``*TRG``,
``:SYST:ERR?``; ``:APPL<n>:<shape>``, ``:FUNC<n>:SQU:DCYC``, ``:FUNC<n>:RAMP:SYMM``,
``:TRAC:CHAN1`` (see ``_build_shapes_and_apply``) and user waveforms (``:DATA<n>[:DAC]``,
``:DATA<n>:COPY|DEL|NVOL:CAT?|NVOL:FREE?``, ``:FUNC<n>:USER``; see ``_build_user_waveforms``).
A header without suffix addresses channel 1. The 33xxx ``:BURSt`` subsystem is
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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..scpi import Any_, Boolean, Call, Choice, Number, ScpiError, String, format_nr3, repeat
from ._generator import (
    BenchLike,
    ChannelState,
    PulseGeneratorEmulator,
    waveform_name,
    waveform_points,
)
from ._generator import bool_nr1 as _b

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
DAC_MAX = 8191  # 14-bit waveform DAC
USER_SLOTS = 4
USER_POINTS_MIN = 2
USER_POINTS_MAX = 262_144


@dataclass
class _Channel(ChannelState):
    trail_auto: bool = True
    delay: float = 0.0
    count: int = 1
    arm: str = "IMM"
    arm_frequency: float = 1e6
    complement: bool = False
    limit_on: bool = False
    limit_high: float = 5.0
    limit_low: float = -5.0
    square_duty: float = 50.0
    ramp_symmetry: float = 100.0
    user: str = "VOLATILE"


class Keysight81160A(PulseGeneratorEmulator):
    """Emulated 81160A driving ``bench`` terminals ``<terminal_prefix>.<channel>``.

    :param bench: shared bench (``source``, ``pulse``, ``idle``; ``clock`` optional).
    :param terminal_prefix: terminals are ``f"{terminal_prefix}.{n}"`` unless ``terminals``
        names them explicitly (one per channel).
    :param serial: serial number in ``*IDN?``; :param firmware: firmware revision.
    :param manufacturer: first ``*IDN?`` field (older units answer "Agilent Technologies").
    """

    channel_type: ClassVar[type[ChannelState]] = _Channel
    WINDOW_V = WINDOW_V
    AMPLITUDE_MIN_V = AMPLITUDE_MIN_V
    AMPLITUDE_MAX_V = AMPLITUDE_MAX_V
    PERIOD_MAX_S = PERIOD_MAX_S
    WIDTH_MIN_S = WIDTH_MIN_S
    EDGE_TO_WIDTH = EDGE_TO_WIDTH
    EDGE_PERIOD_FACTOR = EDGE_PERIOD_FACTOR
    FREQUENCY_MAX_HZ = FREQUENCY_MAX_HZ
    ch: list[_Channel]

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
        self.track = False
        self.volatile: list[np.ndarray | None] = [None] * channels
        self.user_waveforms: list[dict[str, np.ndarray]] = [{} for _ in range(channels)]
        super().__init__(
            bench,
            terminal_prefix,
            terminals,
            channels,
            idn=f"{manufacturer},81160A,{serial},{firmware}",
            error_queue_depth=30,
        )

    # ------------------------------------------------------------------ state

    def _trigger(self) -> None:
        for i, c in enumerate(self.ch):
            if c.arm != "EXT":
                self._fire(i)

    def _fire(self, i: int) -> None:
        """One burst of ``TRIG:COUN`` pulses on channel index ``i`` (if its output is on)."""
        c = self.ch[i]
        if not c.output or c.function not in ("PULS", "SQU"):
            return
        width = c.width if c.function == "PULS" else c.period / 2
        self._burst(i, width, c.count, c.delay)

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

    def _level_limits(self, c: _Channel, win: float) -> tuple[float, float]:
        """The output window, narrowed by the voltage limits when they are on."""
        if c.limit_on:
            return max(-win, c.limit_low), min(win, c.limit_high)
        return -win, win

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

        ch_setting, ch_value = self._ch_setting, self._ch_value

        self._add_function(
            "[:SOURce]:FUNCtion#[:SHAPe]",
            *("SINusoid", "SQUare", "RAMP", "PULSe", "NOISe", "DC", "USER", "PATTern"),
        )
        self._add_frequency("[:SOURce]:FREQuency#[:CW]", 1e6)
        self._add_levels("[:SOURce]:VOLTage#")
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
        self._add_duty_cycle("[:SOURce]:PULSe:DCYCle#")
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
        for pattern in (":OUTPut#:IMPedance:EXTernal", ":OUTPut#:LOAD"):
            t.setting(
                pattern,
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
        self._build_shapes_and_apply()
        self._build_user_waveforms()

    # ------------------------------------------------------------------ shapes, APPLy, coupling

    def _build_shapes_and_apply(self) -> None:
        """``FUNC<n>:SQU:DCYC``, ``FUNC<n>:RAMP:SYMM``, ``APPLy<n>:<shape>``, ``TRAC:CHAN1``.

        APPLy (the 33250A-style shortcut the 81150A/81160A keep): ``APPL<n>:SIN|SQU|RAMP|PULS|
        NOIS|DC|USER [<freq>|DEF [, <ampl>|DEF [, <offset>|DEF]]]`` sets shape, frequency,
        amplitude and offset in one go and switches the output on; ``DEF`` keeps the *RST
        value (1 MHz, 100 mVpp, 0 V); DC ignores frequency and amplitude and sources the offset
        as the level; ``APPL<n>?`` answers ``"<shape> <freq>,<ampl>,<offset>"``. The square
        duty cycle is clipped (and -222 logged) so that neither part is shorter than the
        minimum width. Channel coupling ``TRAC:CHAN1 ON`` makes channel 2 follow every setting
        of channel 1 (not its output state) until it is switched off. Where the manual at hand
        does not give a number the emulator's choice is said in place.
        """
        t = self.tree
        t.setting(
            "[:SOURce]:FUNCtion#:SQUare:DCYCle",
            Number(0.0, 100.0, default=50.0, units=("PCT",), out_of_range="clip_log"),
            lambda s: self.ch[s[0] - 1].square_duty,
            self._set_square_duty,
            format_nr3,
        )
        self._ch_setting(
            "[:SOURce]:FUNCtion#:RAMP:SYMMetry",
            Number(0.0, 100.0, default=100.0, units=("PCT",), out_of_range="clip_log"),
            "ramp_symmetry",
            format_nr3,
        )
        for shape in ("SINusoid", "SQUare", "RAMP", "PULSe", "NOISe", "DC", "USER"):
            t.add(
                f"[:SOURce]:APPLy#:{shape}",
                set=lambda c, sh=shape: self._apply(c, sh),
                params=(Any_(optional=True), Any_(optional=True), Any_(optional=True)),
            )
        t.add("[:SOURce]:APPLy#", query=self._apply_query)
        t.add(
            "[:SOURce]:TRACk:CHANnel#",
            set=self._set_track,
            query=lambda c: _b(self.track),
            params=(Boolean(),),
            max_suffix=1,
        )

    def _set_square_duty(self, s: tuple[int, ...], value: float) -> None:
        c = self.ch[s[0] - 1]
        floor = 100.0 * WIDTH_MIN_S / c.period
        c.square_duty = self._clip(float(value), floor, 100.0 - floor, -222, "duty cycle")

    def _apply(self, call: Call, shape: str) -> None:
        i = call.ch - 1
        c = self.ch[i]
        defaults = (1e6, 0.1, 0.0)
        values = []
        for k, tok in enumerate(call.args):
            if tok.kind == "chars" and tok.value in ("DEF", "DEFAULT"):
                values.append(defaults[k])
            elif tok.kind == "chars" and tok.value in ("MIN", "MINIMUM", "MAX", "MAXIMUM"):
                hi = (FREQUENCY_MAX_HZ, AMPLITUDE_MAX_V, WINDOW_V)[k]
                lo = (1.0 / PERIOD_MAX_S, AMPLITUDE_MIN_V, -WINDOW_V)[k]
                values.append(lo if tok.value.startswith("MIN") else hi)
            elif tok.kind == "number":
                values.append(float(tok.value))
            else:
                raise ScpiError(-104)
        freq, ampl, offset = (values + list(defaults[len(values) :]))[:3]
        c.function = shape[:4].upper() if shape != "SINusoid" else "SIN"
        if c.function == "DC":
            c.high = c.low = 0.0
            self.set_offset(i, offset)
        else:
            if c.function == "PULS":
                self.set_frequency(i, freq)
            elif c.function != "NOIS":
                # the pulse timing rules do not bind other shapes: the pulse width scales
                # with the period (same duty cycle) instead of refusing the frequency
                f = self._clip(freq, 1.0 / PERIOD_MAX_S, FREQUENCY_MAX_HZ, -222, "frequency")
                scale = (1.0 / f) / c.period
                c.period, c.width = 1.0 / f, c.width * scale
                shrink = min(scale, 1.0)
                c.lead = max(EDGE_MIN_S, c.lead * shrink)
                c.trail = max(EDGE_MIN_S, c.trail * shrink)
            self.set_offset(i, 0.0)
            self.set_amplitude(i, ampl)
            self.set_offset(i, offset)
        self.set_output(i, True)
        self._follow()

    def _apply_query(self, call: Call) -> str:
        c = self.ch[call.ch - 1]
        freq = 1.0 / c.period
        return (
            f'"{c.function} {format_nr3(freq)},{format_nr3(c.high - c.low)},'
            f'{format_nr3((c.high + c.low) / 2)}"'
        )

    def _set_track(self, call: Call) -> None:
        self.track = bool(call.args[0])
        self._follow()

    def _follow(self) -> None:
        """Copy channel 1's settings (not its output state) to channel 2 while coupled."""
        if not self.track or self.n_channels < 2:
            return
        first, second = self.ch[0], self.ch[1]
        for name, value in vars(first).items():
            if name != "output":
                setattr(second, name, value)
        self._apply_source(1)

    def write(self, message: str) -> None:  # type: ignore[override]
        super().write(message)
        if self.track:
            self._follow()

    # ------------------------------------------------------------------ user waveforms

    def _build_user_waveforms(self) -> None:
        """Arbitrary (USER) waveforms: ``DATA<n> VOLATILE, <v>, ...`` (-1..+1),
        ``DATA<n>:DAC VOLATILE, <n>, ...|<block>`` (14-bit DAC values -8191..+8191; a block
        holds 16-bit big-endian integers, as pymeasure writes them), ``DATA<n>:COPY <name>,
        VOLATILE`` (to non-volatile memory), ``DATA<n>:DEL <name>``, ``DATA<n>:DEL:ALL``,
        ``DATA<n>:NVOL:CAT?`` (quoted names), ``DATA<n>:NVOL:FREE?`` (free slots), ``FUNC<n>:USER
        VOLATILE|<name>`` selects the waveform the USER shape plays.

        The emulator's choices where our copy of the manual is silent: 4 non-volatile slots
        per channel, 2 to 262,144 points, error -224 for an unknown name and -222 for values
        or lengths out of range, -221 when every slot is taken. USER waveforms do not reach
        the bench (only PULS/SQU bursts do).
        """
        t = self.tree
        t.add(
            "[:SOURce]:DATA#[:VOLatile]",
            set=lambda c: self._load_volatile(c, dac=False),
            params=(Choice("VOLatile"), Any_(), repeat(Any_())),
        )
        t.add(
            "[:SOURce]:DATA#:DAC",
            set=lambda c: self._load_volatile(c, dac=True),
            params=(Choice("VOLatile"), Any_(), repeat(Any_())),
        )
        t.add(
            "[:SOURce]:DATA#:COPY",
            set=self._copy_volatile,
            params=(String(chars_ok=True), Choice("VOLatile", optional=True)),
        )
        t.add("[:SOURce]:DATA#:DELete", set=self._delete_user, params=(String(chars_ok=True),))
        t.add(
            "[:SOURce]:DATA#:DELete:ALL",
            set=lambda c: self.user_waveforms[c.ch - 1].clear(),
        )
        t.add(
            "[:SOURce]:DATA#:NVOLatile:CATalog",
            query=lambda c: ",".join(f'"{n}"' for n in self.user_waveforms[c.ch - 1]) or '""',
        )
        t.add(
            "[:SOURce]:DATA#:NVOLatile:FREE",
            query=lambda c: str(USER_SLOTS - len(self.user_waveforms[c.ch - 1])),
        )
        t.add(
            "[:SOURce]:FUNCtion#:USER",
            set=self._select_user,
            query=lambda c: self.ch[c.ch - 1].user,
            params=(String(chars_ok=True),),
        )

    def _load_volatile(self, call: Call, dac: bool) -> None:
        tokens = call.args[1:]
        values = waveform_points(tokens, ">i2")
        if not dac and len(tokens) == 1 and tokens[0].kind == "block":
            raise ScpiError(-104, "binary data needs DATA:DAC")
        limit = float(DAC_MAX) if dac else 1.0
        if not np.all(np.abs(values) <= limit):
            raise ScpiError(-222, "waveform value out of range")
        if not USER_POINTS_MIN <= len(values) <= USER_POINTS_MAX:
            raise ScpiError(-222, f"{USER_POINTS_MIN}-{USER_POINTS_MAX} points")
        self.volatile[call.ch - 1] = values / limit

    def _copy_volatile(self, call: Call) -> None:
        name = waveform_name(call.args[0], "waveform")
        data = self.volatile[call.ch - 1]
        if data is None:
            raise ScpiError(-221, "no volatile waveform")
        memory = self.user_waveforms[call.ch - 1]
        if name not in memory and len(memory) >= USER_SLOTS:
            raise ScpiError(-221, "non-volatile memory full")
        memory[name] = data.copy()

    def _delete_user(self, call: Call) -> None:
        name = str(call.args[0]).strip().upper()
        if self.user_waveforms[call.ch - 1].pop(name, None) is None:
            raise ScpiError(-224, f"waveform {name[:20]!r} not found")
        if self.ch[call.ch - 1].user == name:
            self.ch[call.ch - 1].user = "VOLATILE"

    def _select_user(self, call: Call) -> None:
        name = str(call.args[0]).strip().upper()
        if name in ("VOL", "VOLATILE"):
            name = "VOLATILE"
        elif name not in self.user_waveforms[call.ch - 1]:
            raise ScpiError(-224, f"waveform {name[:20]!r} not found")
        self.ch[call.ch - 1].user = name

    def _set_trail_auto(self, s: tuple[int, ...], on: bool) -> None:
        c = self.ch[s[0] - 1]
        c.trail_auto = bool(on)
        if on:
            self.set_edge(s[0] - 1, c.lead, "lead")

    def _set_load(self, s: tuple[int, ...], value: float) -> None:
        c = self.ch[s[0] - 1]
        c.load = HIGH_Z if value >= 1e30 else float(value)
        # levels stay as programmed; re-check them against the new window
        self.set_low(s[0] - 1, c.low)
        self.set_high(s[0] - 1, c.high)
