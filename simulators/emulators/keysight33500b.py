"""Keysight (Agilent) 33500B-series waveform generator emulator: pulse and burst subset.

Commands (``SOURce<n>`` prefix optional, suffix-less headers address channel 1), per
``/work/shared/reference/instrument-commands.md`` §4 and what pymeasure's ``Agilent33500``
sends: ``FUNC SIN|SQU|TRI|RAMP|PULS|PRBS|NOIS|ARB|DC``, ``FREQ``, ``VOLT``, ``VOLT:OFFS``,
``VOLT:HIGH``, ``VOLT:LOW``, ``VOLT:UNIT``, ``FUNC:PULS:WIDT|PER|DCYC|HOLD``,
``FUNC:PULS:TRAN[:LEAD]|:TRA|:BOTH``, ``FUNC:SQU:DCYC``, ``FUNC:RAMP:SYMM``, ``PHAS``,
``BURS:MODE TRIG|GAT``, ``BURS:NCYC``, ``BURS:STAT``, ``BURS:INT:PER``, ``BURS:PHAS``,
``TRIG<n>:SOUR IMM|EXT|TIM|BUS``, ``TRIG<n>:DEL``, ``TRIG<n>:TIM``, ``TRIG<n>:SLOP``,
``TRIG<n>`` (software trigger), ``*TRG``, ``OUTP<n>``, ``OUTP<n>:LOAD 1..10k|INF``,
``OUTP<n>:POL``, ``OUTP:TRIG``, ``OUTP:SYNC``, ``SYST:ERR?``, ``SYST:BEEP``, ``DISP:TEXT``,
``TRIG<n>:COUN``, ``OUTP:SYNC:SOUR``, ``FREQ:MODE``, ``BURS:GATE:POL``, and arbitrary
waveforms (``DATA:ARB[:DAC]``, ``DATA:VOL:CAT?|FREE?|CLE``, ``FUNC:ARB[:SRAT|ADV|FILT|POIN]``,
``FORM:BORD``; see ``_build_arb``).

Clamping as Keysight 33xxx do: a value out of range or in conflict with the other settings is
adjusted to the nearest allowed value *and* an error is logged -- ``-222,"Data out of range;value
clipped to upper|lower limit"`` for a parameter's own range and for pulse timing (period >=
width + 0.8 x (leading + trailing), edge <= 0.625 x width), ``-221,"Settings conflict;..."`` for
levels outside the output window and for a burst period too short for the burst (stretched to
``NCYC x period + 1 us``). Limits of a 33522B (30 MHz): pulse period 33 ns-1 Ms, width >= 16 ns,
edges 8.4 ns-1 us, amplitude 1 mVpp-10 Vpp and levels within +-5 V into 50 ohm (scaled by
``2R/(R+50)`` for other loads, x2 for INF). Changing ``OUTP:LOAD`` rescales the displayed
levels, as the instrument does. Error queue: 20 entries.

Bursts: with ``BURS:STAT ON`` and the output on, ``*TRG`` (trigger source BUS) or ``TRIG<n>``
(any source) calls ``bench.pulse(terminal, high, low, width, period, NCYC)`` after the trigger
delay (``bench.idle``); levels are swapped for inverted polarity; SQU bursts are 50 % pulses.
Trigger sources IMM and TIM (continuous re-triggering) are modelled as one burst fired when
the output is switched on, the burst is enabled, or the source is switched to IMM/TIM. EXT
never fires. Between bursts the terminal is sourced at the resting level (low; high when
inverted; the offset for non-pulse shapes).

Gaps: continuous (non-burst) waveforms and ``NCYC INF`` bursts do not reach the bench; gated
bursts never fire; channels fire one after the other.
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
    load_factor,
    waveform_name,
    waveform_points,
)
from ._generator import bool_nr1 as _b

__all__ = ["Keysight33500B"]

PERIOD_MIN_S = 33e-9
PERIOD_MAX_S = 1e6
WIDTH_MIN_S = 16e-9
EDGE_MIN_S = 8.4e-9
EDGE_MAX_S = 1e-6
EDGE_TO_WIDTH = 0.625
EDGE_PERIOD_FACTOR = 0.8
AMPLITUDE_MIN_V = 1e-3  # into 50 ohm
AMPLITUDE_MAX_V = 10.0
WINDOW_V = 5.0
FREQUENCY_MAX_HZ = 30e6
BURST_GAP_S = 1e-6
NCYC_MAX = 100_000_000
INFINITE = 9.9e37
ARB_POINTS_MIN = 8
ARB_POINTS_MAX = 1_000_000


@dataclass
class _Channel(ChannelState):
    period: float = 1e-3  # 1 kHz
    width: float = 100e-6
    lead: float = 10e-9
    trail: float = 10e-9
    square_duty: float = 50.0
    ramp_symmetry: float = 100.0
    phase: float = 0.0
    burst_on: bool = False
    limit_on: bool = False  # VOLT:LIM:STAT, the instrument's own level window
    limit_high: float = 5.0
    limit_low: float = -5.0
    burst_mode: str = "TRIG"
    ncycles: float = 1.0
    burst_period: float = 10e-3
    burst_phase: float = 0.0
    trigger_delay: float = 0.0
    trigger_timer: float = 1e-3
    trigger_slope: str = "POS"
    trigger_count: float = 1.0
    frequency_mode: str = "CW"
    gate_polarity: str = "NORM"
    arb: str = ""
    arb_srate: float = 40e3
    arb_advance: str = "SRAT"
    arb_filter: str = "STEP"


class Keysight33500B(PulseGeneratorEmulator):
    """Emulated 33500B-series generator driving ``bench`` terminals ``<prefix>.<channel>``.

    :param bench: shared bench (``source``, ``pulse``, ``idle``; ``clock`` optional).
    :param terminal_prefix: terminals are ``f"{terminal_prefix}.{n}"`` unless ``terminals``
        names them (one per channel).
    :param model: model number in ``*IDN?`` (33522B: two channels).
    :param serial: serial number; :param firmware: firmware field of ``*IDN?``.
    :param manufacturer: first ``*IDN?`` field.
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
        channels: int = 2,
        model: str = "33522B",
        serial: str = "MY52312345",
        firmware: str = "4.00-1.19-2.00-58-00",
        manufacturer: str = "Agilent Technologies",
    ) -> None:
        self.output_trigger = False
        self.output_sync = True
        self.sync_source = "CH1"
        self.byte_order = "NORM"
        self.display_text = ""
        self.arbs: list[dict[str, np.ndarray]] = [{} for _ in range(channels)]
        super().__init__(
            bench,
            terminal_prefix,
            terminals,
            channels,
            idn=f"{manufacturer},{model},{serial},{firmware}",
            error_queue_depth=20,
        )

    # ------------------------------------------------------------------ state and bench

    def _reset_state(self) -> None:
        self.output_trigger = False
        self.output_sync = True
        self.sync_source = "CH1"
        self.byte_order = "NORM"
        self.display_text = ""
        super()._reset_state()  # volatile arb memory survives *RST (only DATA:VOL:CLE clears it)

    def _trigger(self) -> None:
        for i, c in enumerate(self.ch):
            if c.trigger_source == "BUS":
                self._fire(i)

    def _fire(self, i: int) -> None:
        """One burst on channel index ``i`` if burst mode, output and shape allow it."""
        c = self.ch[i]
        if not (c.output and c.burst_on and c.burst_mode == "TRIG"):
            return
        if c.function not in ("PULS", "SQU") or c.ncycles >= INFINITE:
            return
        width = c.width if c.function == "PULS" else c.period * c.square_duty / 100
        self._burst(i, width, int(c.ncycles), c.trigger_delay)

    def _fire_if_continuous(self, i: int) -> None:
        """IMM: one burst. TIM: ``TRIG:COUN`` bursts (one for INF), one per timer period."""
        c = self.ch[i]
        if c.trigger_source == "IMM":
            self._fire(i)
        elif c.trigger_source == "TIM":
            count = 1 if c.trigger_count >= INFINITE else int(c.trigger_count)
            for k in range(count):
                if k:
                    self.bench.idle(max(c.trigger_timer - c.ncycles * c.period, 0.0))
                self._fire(i)

    # ------------------------------------------------------------------ coupled settings

    def _clip(self, value: float, lo: float, hi: float, code: int, what: str) -> float:
        hi = max(hi, lo)
        if math.isnan(value) or value < lo:
            self.push_error(code, f"{what} clipped to lower limit")
            return lo
        if value > hi:
            self.push_error(code, f"{what} clipped to upper limit")
            return hi
        return value

    def set_period(self, i: int, period: float) -> None:
        """Period (all shapes). In PULS shape the width (HOLD WIDT) or duty cycle (HOLD DCYC)
        is kept; if the width no longer fits, the width is reduced and -222 logged."""
        c = self.ch[i]
        p = self._clip(period, PERIOD_MIN_S, PERIOD_MAX_S, -222, "value")
        duty = c.width / c.period
        c.period = p
        target = duty * p if c.hold == "DCYC" else c.width
        edges = EDGE_PERIOD_FACTOR * (c.lead + c.trail)
        if target > p - edges or target < max(c.lead, c.trail) / EDGE_TO_WIDTH:
            if c.function == "PULS":
                self.set_width(i, target)
            else:  # other shapes: keep the pulse settings consistent silently
                c.width = min(max(target, WIDTH_MIN_S), max(p - edges, WIDTH_MIN_S))
        else:
            c.width = target
        self._check_burst_period(i, quiet=c.trigger_source not in ("IMM", "TIM"))

    def set_edge(self, i: int, value: float, which: str) -> None:
        """Leading (``"lead"``), trailing (``"trail"``) or both (``"both"``) edge times."""
        c = self.ch[i]
        e = self._clip(value, EDGE_MIN_S, EDGE_MAX_S, -222, "value")
        if which == "both":
            hi = min(EDGE_TO_WIDTH * c.width, (c.period - c.width) / (2 * EDGE_PERIOD_FACTOR))
        else:
            other = c.trail if which == "lead" else c.lead
            hi = min(EDGE_TO_WIDTH * c.width, (c.period - c.width) / EDGE_PERIOD_FACTOR - other)
        e = self._clip(e, EDGE_MIN_S, hi, -222, "edge time")
        if which in ("lead", "both"):
            c.lead = e
        if which in ("trail", "both"):
            c.trail = e

    def _range_what(self, what: str) -> str:
        return "value"

    def _level_limits(self, c: _Channel, win: float) -> tuple[float, float]:
        """The output window, narrowed by the voltage limits when they are on."""
        if c.limit_on:
            return max(-win, c.limit_low), min(win, c.limit_high)
        return -win, win

    def set_load(self, i: int, value: float) -> None:
        """Expected load; the displayed levels scale with ``2R/(R+50)``."""
        c = self.ch[i]
        new = INFINITE if value >= 1e30 else float(value)
        ratio = load_factor(new) / load_factor(c.load)
        c.load = new
        c.high, c.low = c.high * ratio, c.low * ratio
        self._apply_source(i)

    def _check_burst_period(self, i: int, quiet: bool = False) -> None:
        c = self.ch[i]
        if c.ncycles >= INFINITE:
            return
        needed = c.ncycles * c.period + BURST_GAP_S
        if c.burst_period < needed:
            c.burst_period = min(needed, 8000.0)
            if not quiet:
                self.push_error(-221, "burst period increased to fit entire burst")

    def set_burst_period(self, i: int, value: float) -> None:
        """Internal burst period (1 us-8000 s), stretched to hold the burst (-221)."""
        self.ch[i].burst_period = self._clip(value, 1e-6, 8000.0, -222, "value")
        self._check_burst_period(i)

    def set_ncycles(self, i: int, value: float) -> None:
        """Cycles per burst (1..1e8 or INF)."""
        c = self.ch[i]
        c.ncycles = (
            INFINITE
            if value >= 1e30
            else float(round(self._clip(value, 1, NCYC_MAX, -222, "value")))
        )
        self._check_burst_period(i, quiet=c.trigger_source not in ("IMM", "TIM"))

    def set_burst_state(self, i: int, on: bool) -> None:
        """Burst mode on/off; turning it on with the output on in IMM/TIM fires one burst."""
        c = self.ch[i]
        was, c.burst_on = c.burst_on, bool(on)
        if c.burst_on and not was:
            self._fire_if_continuous(i)

    def set_output(self, i: int, on: bool) -> None:
        """Output on/off; switching on with a burst in IMM/TIM fires one burst."""
        c = self.ch[i]
        was, c.output = c.output, bool(on)
        self._apply_source(i)
        if c.output and not was:
            self._fire_if_continuous(i)

    def set_trigger_source(self, i: int, source: str) -> None:
        """Trigger source; switching to IMM/TIM with burst and output on fires one burst."""
        c = self.ch[i]
        was, c.trigger_source = c.trigger_source, source
        if source in ("IMM", "TIM") and was not in ("IMM", "TIM"):
            self._fire_if_continuous(i)

    # ------------------------------------------------------------------ command set

    def _build(self) -> None:
        t = self.tree

        attr, value = self._ch_setting, self._ch_value

        self._add_function(
            "[:SOURce#]:FUNCtion[:SHAPe]",
            *(
                "SINusoid",
                "SQUare",
                "TRIangle",
                "RAMP",
                "PULSe",
                "PRBS",
                "NOISe",
                "ARBitrary",
                "DC",
            ),
        )
        self._add_frequency("[:SOURce#]:FREQuency[:CW]", 1e3)
        self._add_levels("[:SOURce#]:VOLTage")
        # VOLTage:LIMit: levels outside the enabled window are set to its edge (-222/-221)
        attr("[:SOURce#]:VOLTage:LIMit[:STATe]", Boolean(), "limit_on", _b)
        for edge, lo, hi, default in (("HIGH", -9.99, 10.0, 5.0), ("LOW", -10.0, 9.99, -5.0)):
            attr(f"[:SOURce#]:VOLTage:LIMit:{edge}",
                 Number(lo, hi, default=default, units=("V",), out_of_range="clip_log"),
                 f"limit_{edge.lower()}", format_nr3)
        value(
            "[:SOURce#]:FUNCtion:PULSe:WIDTh",
            self.set_width,
            lambda c: c.width,
            "S",
            WIDTH_MIN_S,
            PERIOD_MAX_S,
            100e-6,
        )
        value(
            "[:SOURce#]:FUNCtion:PULSe:PERiod",
            self.set_period,
            lambda c: c.period,
            "S",
            PERIOD_MIN_S,
            PERIOD_MAX_S,
            1e-3,
        )
        self._add_duty_cycle("[:SOURce#]:FUNCtion:PULSe:DCYCle")
        attr("[:SOURce#]:FUNCtion:PULSe:HOLD", Choice("WIDTh", "DCYCle"), "hold")
        value(
            "[:SOURce#]:FUNCtion:PULSe:TRANsition[:LEADing]",
            lambda i, v: self.set_edge(i, v, "lead"),
            lambda c: c.lead,
            "S",
            EDGE_MIN_S,
            EDGE_MAX_S,
            10e-9,
        )
        value(
            "[:SOURce#]:FUNCtion:PULSe:TRANsition:TRAiling",
            lambda i, v: self.set_edge(i, v, "trail"),
            lambda c: c.trail,
            "S",
            EDGE_MIN_S,
            EDGE_MAX_S,
            10e-9,
        )
        value(
            "[:SOURce#]:FUNCtion:PULSe:TRANsition:BOTH",
            lambda i, v: self.set_edge(i, v, "both"),
            lambda c: c.lead,
            "S",
            EDGE_MIN_S,
            EDGE_MAX_S,
            10e-9,
        )
        attr(
            "[:SOURce#]:FUNCtion:SQUare:DCYCle",
            Number(0.01, 99.99, default=50.0, units=("PCT",), out_of_range="clip_log"),
            "square_duty",
            format_nr3,
        )
        attr(
            "[:SOURce#]:FUNCtion:RAMP:SYMMetry",
            Number(0.0, 100.0, default=100.0, units=("PCT",), out_of_range="clip_log"),
            "ramp_symmetry",
            format_nr3,
        )
        self._build_arb()
        attr(
            "[:SOURce#]:PHASe[:ADJust]",
            Number(-360.0, 360.0, default=0.0, units=("DEG",), out_of_range="clip_log"),
            "phase",
            format_nr3,
        )
        t.add("[:SOURce#]:PHASe:SYNChronize", set=lambda c: None)
        attr("[:SOURce#]:BURSt:MODE", Choice("TRIGgered", "GATed"), "burst_mode")
        value(
            "[:SOURce#]:BURSt:NCYCles",
            self.set_ncycles,
            lambda c: c.ncycles,
            "CYC",
            1,
            NCYC_MAX,
            1,
            specials={"INF": INFINITE, "INFINITY": INFINITE},
        )
        t.setting(
            "[:SOURce#]:BURSt:STATe",
            Boolean(),
            lambda s: self.ch[s[0] - 1].burst_on,
            lambda s, v: self.set_burst_state(s[0] - 1, v),
            _b,
        )
        value(
            "[:SOURce#]:BURSt:INTernal:PERiod",
            self.set_burst_period,
            lambda c: c.burst_period,
            "S",
            1e-6,
            8000.0,
            10e-3,
        )
        attr(
            "[:SOURce#]:BURSt:PHASe",
            Number(-360.0, 360.0, default=0.0, units=("DEG",), out_of_range="clip_log"),
            "burst_phase",
            format_nr3,
        )
        t.setting(
            ":TRIGger#:SOURce",
            Choice("IMMediate", "EXTernal", "TIMer", "BUS"),
            lambda s: self.ch[s[0] - 1].trigger_source,
            lambda s, v: self.set_trigger_source(s[0] - 1, v),
        )
        attr(
            ":TRIGger#:DELay",
            Number(0.0, 1000.0, default=0.0, units=("S",), out_of_range="clip_log"),
            "trigger_delay",
            format_nr3,
        )
        attr(
            ":TRIGger#:TIMer",
            Number(1e-6, 8000.0, default=1e-3, units=("S",), out_of_range="clip_log"),
            "trigger_timer",
            format_nr3,
        )
        attr(":TRIGger#:SLOPe", Choice("POSitive", "NEGative"), "trigger_slope")
        # TRIGger[1|2]:COUNt 1-1,000,000 or INFinity, default 1: triggers accepted before the
        # channel returns to waiting (33500 Series Operating and Service Guide, SCPI reference).
        # A TIMer-triggered burst channel fires this many bursts; other sources fire one per
        # trigger as before.
        attr(
            ":TRIGger#:COUNt",
            Number(
                1, 1_000_000, default=1, out_of_range="clip_log", integer=True,
                specials={"INF": INFINITE, "INFINITY": INFINITE},
            ),
            "trigger_count",
            format_nr3,
        )  # fmt: skip
        attr(
            "[:SOURce#]:FREQuency:MODE",
            Choice("CW", "LIST", "SWEep", "FIXed"),
            "frequency_mode",
        )  # stored; frequency lists and sweeps do not reach the bench
        attr("[:SOURce#]:BURSt:GATE:POLarity", Choice("NORMal", "INVerted"), "gate_polarity")
        t.add(":TRIGger#[:IMMediate]", set=lambda c: self._fire(c.ch - 1))
        t.setting(
            ":OUTPut#[:STATe]",
            Boolean(),
            lambda s: self.ch[s[0] - 1].output,
            lambda s, v: self.set_output(s[0] - 1, v),
            _b,
        )
        t.setting(
            ":OUTPut#:LOAD",
            Number(
                1.0,
                10_000.0,
                default=50.0,
                units=("OHM",),
                specials={"INF": INFINITE, "INFINITY": INFINITE},
                out_of_range="clip_log",
            ),
            lambda s: self.ch[s[0] - 1].load,
            lambda s, v: self.set_load(s[0] - 1, v),
            format_nr3,
        )
        t.setting(
            ":OUTPut#:POLarity",
            Choice("NORMal", "INVerted"),
            lambda s: self.ch[s[0] - 1].polarity,
            self._set_polarity,
        )
        t.setting(
            ":OUTPut:TRIGger[:STATe]",
            Boolean(),
            lambda s: self.output_trigger,
            lambda s, v: setattr(self, "output_trigger", v),
            _b,
        )
        t.setting(
            ":OUTPut:SYNC[:STATe]",
            Boolean(),
            lambda s: self.output_sync,
            lambda s, v: setattr(self, "output_sync", v),
            _b,
        )
        # OUTPut:SYNC:SOURce CH1|CH2 (two-channel models): which channel drives Sync
        t.setting(
            ":OUTPut:SYNC:SOURce",
            Choice(*(f"CH{n}" for n in range(1, self.n_channels + 1))),
            lambda s: self.sync_source,
            lambda s, v: setattr(self, "sync_source", v),
        )
        t.add(":SYSTem:ERRor[:NEXT]", query=lambda c: self.next_error().scpi())
        t.add(":SYSTem:BEEPer[:IMMediate]", set=lambda c: None)
        t.add(":SYSTem:VERSion", query=lambda c: "1999.0")
        t.add(
            ":DISPlay:TEXT[:DATA]",
            set=lambda c: setattr(self, "display_text", c.args[0]),
            query=lambda c: f'"{self.display_text}"',
            params=(String(),),
        )
        t.add(":DISPlay:TEXT:CLEar", set=lambda c: setattr(self, "display_text", ""))

    # ------------------------------------------------------------------ arbitrary waveforms

    def _build_arb(self) -> None:
        """Arbitrary waveforms in each channel's volatile memory (33500 Series Operating and
        Service Guide, "Arbitrary Waveforms" and the DATA/FUNCtion:ARBitrary/FORMat commands).

        ``DATA:ARB <name>, <v>, ...|<block>`` takes -1..+1 values (a block: 32-bit floats),
        ``DATA:ARB:DAC <name>, <n>, ...|<block>`` takes -32767..+32767 (a block: 16-bit
        integers); blocks in the ``FORM:BORD`` byte order (NORMal = big-endian, default).
        8 to 1,000,000 points (the 33522B's standard memory per channel); names of 1-12
        letters, digits and underscores starting with a letter. ``FUNC:ARB <name>`` selects a
        loaded waveform. What the manual does not give us, and the emulator does then: the
        error codes for a duplicate name, a missing waveform and a bad length (it logs
        -221 ``Settings conflict``, -224 ``Illegal parameter value`` and -222, with a detail
        text, and leaves memory and selection unchanged). Arb output does not reach the
        bench (only PULS/SQU bursts do).
        """
        t = self.tree
        attr = self._ch_setting
        t.add(
            "[:SOURce#]:FUNCtion:ARBitrary",
            set=self._select_arb,
            query=lambda c: f'"{self.ch[c.ch - 1].arb}"',
            params=(String(chars_ok=True),),
        )
        t.add(
            "[:SOURce#]:FUNCtion:ARBitrary:POINts",
            query=lambda c: str(len(self.arbs[c.ch - 1].get(self.ch[c.ch - 1].arb, ()))),
        )
        attr(
            "[:SOURce#]:FUNCtion:ARBitrary:SRATe",
            Number(1e-6, 250e6, default=40e3, out_of_range="clip_log"),
            "arb_srate",
            format_nr3,
        )
        attr("[:SOURce#]:FUNCtion:ARBitrary:ADVance", Choice("TRIGger", "SRATe"), "arb_advance")
        attr(
            "[:SOURce#]:FUNCtion:ARBitrary:FILTer", Choice("NORMal", "STEP", "OFF"), "arb_filter"
        )
        t.add(
            "[:SOURce#]:DATA:ARBitrary",
            set=lambda c: self._load_arb(c, dac=False),
            params=(String(chars_ok=True), Any_(), repeat(Any_())),
        )
        t.add(
            "[:SOURce#]:DATA:ARBitrary:DAC",
            set=lambda c: self._load_arb(c, dac=True),
            params=(String(chars_ok=True), Any_(), repeat(Any_())),
        )
        t.add("[:SOURce#]:DATA:VOLatile:CLEar", set=self._clear_arbs)
        t.add(
            "[:SOURce#]:DATA:VOLatile:CATalog",
            query=lambda c: ",".join(f'"{n}"' for n in self.arbs[c.ch - 1]) or '""',
        )
        t.add(
            "[:SOURce#]:DATA:VOLatile:FREE",
            query=lambda c: str(
                ARB_POINTS_MAX - sum(len(w) for w in self.arbs[c.ch - 1].values())
            ),
        )
        t.setting(
            ":FORMat:BORDer",
            Choice("NORMal", "SWAPped"),
            lambda s: self.byte_order,
            lambda s, v: setattr(self, "byte_order", v),
        )

    def _load_arb(self, call: Call, dac: bool) -> None:
        name = waveform_name(call.args[0], "arb")
        memory = self.arbs[call.ch - 1]
        if name in memory:
            raise ScpiError(-221, "arb waveform name already exists")
        endian = ">" if self.byte_order == "NORM" else "<"
        values = waveform_points(call.args[1:], f"{endian}i2" if dac else f"{endian}f4")
        limit = 32767.0 if dac else 1.0
        if not np.all(np.abs(values) <= limit):
            raise ScpiError(-222, "arb value out of range")
        used = sum(len(w) for w in memory.values())
        if not ARB_POINTS_MIN <= len(values) <= ARB_POINTS_MAX - used:
            raise ScpiError(-222, f"arb needs {ARB_POINTS_MIN}-{ARB_POINTS_MAX} points")
        memory[name] = values / limit

    def _select_arb(self, call: Call) -> None:
        name = str(call.args[0]).strip()
        if name.upper() not in self.arbs[call.ch - 1]:
            raise ScpiError(-224, f"arb waveform {name[:20]!r} not loaded")
        self.ch[call.ch - 1].arb = name.upper()

    def _clear_arbs(self, call: Call) -> None:
        self.arbs[call.ch - 1].clear()
        self.ch[call.ch - 1].arb = ""
