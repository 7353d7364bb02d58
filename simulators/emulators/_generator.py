"""What the pulse-generator emulators share: the bench interface they use, load scaling, and
:class:`PulseGeneratorEmulator` (channel state, bench output, level setters, the level
commands). Model limits, command spellings and error texts stay in each model's module."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from ..scpi import Call, Choice, Number, ScpiError, ScpiInstrument, Token, format_nr3


class BenchLike(Protocol):
    """The part of the shared ``Bench`` a pulse generator uses."""

    def source(self, terminal: str, volts: float, output_on: bool) -> None: ...

    def pulse(
        self,
        terminal: str,
        high_v: float,
        low_v: float,
        width_s: float,
        period_s: float,
        count: int,
    ) -> None: ...

    def idle(self, dt_s: float) -> None: ...


def load_factor(load_ohm: float) -> float:
    """Voltage at the load relative to the 50-ohm value: ``2R/(R+50)`` (2 for high-Z/INF)."""
    if load_ohm >= 1e30:
        return 2.0
    return 2.0 * load_ohm / (load_ohm + 50.0)


def bool_nr1(value: bool) -> str:
    """A boolean setting as the generators answer it: ``1`` or ``0``."""
    return "1" if value else "0"


def waveform_name(arg: Any, what: str) -> str:
    """A user/arb waveform name, upper-cased: 1-12 letters, digits or underscores, starting
    with a letter; anything else is -224 ``invalid <what> name``."""
    name = str(arg).strip().upper()
    if not (1 <= len(name) <= 12 and name[0].isalpha()
            and all(ch.isalnum() or ch == "_" for ch in name)):  # fmt: skip
        raise ScpiError(-224, f"invalid {what} name")
    return name


def waveform_points(tokens: Sequence[Token], block_dtype: str) -> np.ndarray:
    """Waveform points sent as numbers or as one binary block of ``block_dtype`` (numpy
    spelling, e.g. ``">i2"``): -161 for a block that is not a whole number of points, -104
    for anything else."""
    if len(tokens) == 1 and tokens[0].kind == "block":
        raw = bytes(tokens[0].value)
        dtype = np.dtype(block_dtype)
        if len(raw) % dtype.itemsize:
            raise ScpiError(-161, "block length is not a whole number of points")
        return np.frombuffer(raw, dtype).astype(float)
    if all(tok.kind == "number" and not tok.suffix for tok in tokens):
        return np.array([float(tok.value) for tok in tokens])
    raise ScpiError(-104)


@dataclass
class ChannelState:
    """Per-channel settings both generators keep (models add theirs and their defaults)."""

    function: str = "SIN"
    high: float = 0.05
    low: float = -0.05
    period: float = 1e-6
    width: float = 100e-9
    lead: float = 5e-9
    trail: float = 5e-9
    hold: str = "WIDT"
    trigger_source: str = "IMM"
    output: bool = False
    load: float = 50.0
    polarity: str = "NORM"
    unit: str = "VPP"


class PulseGeneratorEmulator(ScpiInstrument):
    """Base of the pulse-generator emulators: channels driving ``bench`` terminals.

    A subclass sets ``channel_type`` and the level limits (``WINDOW_V``, ``AMPLITUDE_MIN_V``,
    ``AMPLITUDE_MAX_V``, into 50 ohm), and provides ``_clip`` (its error texts) and ``_build``.
    """

    error_messages: ClassVar[Mapping[int, str]] = {}
    channel_type: ClassVar[type[ChannelState]] = ChannelState
    WINDOW_V: ClassVar[float]
    AMPLITUDE_MIN_V: ClassVar[float]
    AMPLITUDE_MAX_V: ClassVar[float]
    PERIOD_MAX_S: ClassVar[float]
    WIDTH_MIN_S: ClassVar[float]
    EDGE_TO_WIDTH: ClassVar[float]
    EDGE_PERIOD_FACTOR: ClassVar[float]
    FREQUENCY_MAX_HZ: ClassVar[float]

    ch: list[Any]

    def __init__(
        self,
        bench: BenchLike,
        terminal_prefix: str,
        terminals: Sequence[str] | None,
        channels: int,
        *,
        idn: str,
        error_queue_depth: int,
    ) -> None:
        self.bench = bench
        self.terminals = (
            tuple(terminals)
            if terminals
            else tuple(f"{terminal_prefix}.{n}" for n in range(1, channels + 1))
        )
        self.n_channels = len(self.terminals)
        self.ch = [self.channel_type() for _ in self.terminals]
        self.bursts_fired = 0
        clock = getattr(bench, "clock", None)
        super().__init__(
            idn=idn,
            error_queue_depth=error_queue_depth,
            max_suffix=self.n_channels,
            clock=(lambda: clock.now_s) if clock is not None else None,
        )

    # ------------------------------------------------------------------ state and bench

    def _reset_state(self) -> None:
        self.ch = [self.channel_type() for _ in self.terminals]
        for i in range(self.n_channels):
            self._apply_source(i)

    def _apply_source(self, i: int) -> None:
        """Source the resting level: low (high when inverted); the offset for other shapes."""
        c = self.ch[i]
        if c.function in ("PULS", "SQU"):
            rest = c.high if c.polarity == "INV" else c.low
        else:
            rest = (c.high + c.low) / 2
            if c.polarity == "INV":
                rest = -rest
        self.bench.source(self.terminals[i], rest, c.output)

    def _burst(self, i: int, width: float, count: int, delay: float) -> None:
        """``count`` pulses of ``width`` on channel index ``i`` after ``delay`` (levels swapped
        for inverted polarity)."""
        c = self.ch[i]
        high, low = (c.low, c.high) if c.polarity == "INV" else (c.high, c.low)
        if delay > 0:
            self.bench.idle(delay)
        self.bench.pulse(self.terminals[i], high, low, width, c.period, count)
        self.bursts_fired += 1

    # ------------------------------------------------------------------ timing

    def set_period(self, i: int, period: float) -> None:
        raise NotImplementedError

    def set_width(self, i: int, width: float) -> None:
        """Pulse width; clipped to its range and to the present period and edges."""
        c = self.ch[i]
        w = self._clip(
            width, self.WIDTH_MIN_S, self.PERIOD_MAX_S, -222, self._range_what("pulse width")
        )
        lo = max(self.WIDTH_MIN_S, max(c.lead, c.trail) / self.EDGE_TO_WIDTH)
        hi = c.period - self.EDGE_PERIOD_FACTOR * (c.lead + c.trail)
        c.width = self._clip(w, lo, hi, -222, "pulse width")

    def set_frequency(self, i: int, hertz: float) -> None:
        """Frequency: the period is its inverse (same coupling rules)."""
        f = self._clip(
            hertz,
            1.0 / self.PERIOD_MAX_S,
            self.FREQUENCY_MAX_HZ,
            -222,
            self._range_what("frequency"),
        )
        self.set_period(i, 1.0 / f)

    # ------------------------------------------------------------------ levels

    def _clip(self, value: float, lo: float, hi: float, code: int, what: str) -> float:
        raise NotImplementedError

    def _range_what(self, what: str) -> str:
        """Name in the -222 message when a level is outside its own range."""
        return what

    def _window(self, c: Any) -> tuple[float, float, float]:
        """Output window half-width and amplitude range at the channel's load."""
        f = load_factor(c.load)
        return self.WINDOW_V * f, self.AMPLITUDE_MIN_V * f, self.AMPLITUDE_MAX_V * f

    def _level_limits(self, c: Any, win: float) -> tuple[float, float]:
        """Lowest and highest level the settings allow (default: the output window)."""
        return -win, win

    def set_high(self, i: int, value: float) -> None:
        """High level; the low level stays."""
        c = self.ch[i]
        win, a_min, a_max = self._window(c)
        v = self._clip(value, -win + a_min, win, -222, self._range_what("high level"))
        lo_win, hi_win = self._level_limits(c, win)
        c.high = self._clip(
            v, max(c.low + a_min, lo_win), min(c.low + a_max, hi_win), -221, "high level"
        )
        self._apply_source(i)

    def set_low(self, i: int, value: float) -> None:
        """Low level; the high level stays."""
        c = self.ch[i]
        win, a_min, a_max = self._window(c)
        v = self._clip(value, -win, win - a_min, -222, self._range_what("low level"))
        lo_win, hi_win = self._level_limits(c, win)
        c.low = self._clip(
            v, max(c.high - a_max, lo_win), min(c.high - a_min, hi_win), -221, "low level"
        )
        self._apply_source(i)

    def set_amplitude(self, i: int, value: float) -> None:
        """Amplitude (Vpp) around the present offset."""
        c = self.ch[i]
        win, a_min, a_max = self._window(c)
        lo_win, hi_win = self._level_limits(c, win)
        a = self._clip(value, a_min, a_max, -222, self._range_what("amplitude"))
        off = (c.high + c.low) / 2
        a = self._clip(a, a_min, 2 * min(hi_win - off, off - lo_win), -221, "amplitude")
        c.high, c.low = off + a / 2, off - a / 2
        self._apply_source(i)

    def set_offset(self, i: int, value: float) -> None:
        """Offset with the present amplitude."""
        c = self.ch[i]
        win, a_min, _ = self._window(c)
        lo_win, hi_win = self._level_limits(c, win)
        o = self._clip(value, -win + a_min / 2, win - a_min / 2, -222, self._range_what("offset"))
        a = c.high - c.low
        o = self._clip(o, lo_win + a / 2, hi_win - a / 2, -221, "offset")
        c.high, c.low = o + a / 2, o - a / 2
        self._apply_source(i)

    # ------------------------------------------------------------------ command-set helpers

    def _ch_setting(self, pattern: str, param: Any, name: str, fmt: Any = str) -> None:
        """A per-channel setting stored as attribute ``name`` of the channel."""
        self.tree.setting(
            pattern,
            param,
            lambda s: getattr(self.ch[s[0] - 1], name),
            lambda s, v: setattr(self.ch[s[0] - 1], name, v),
            fmt,
        )

    def _ch_value(
        self,
        pattern: str,
        setter: Callable[[int, float], None],
        getter: Callable[[Any], float],
        units: str,
        lo: float,
        hi: float,
        default: float,
        specials: Mapping[str, float] | None = None,
    ) -> None:
        """A per-channel number set through ``setter(index, value)`` (which clips and logs)."""
        param = Number(
            lo,
            hi,
            default=default,
            units=(units,),
            out_of_range="none",
            specials=dict(specials or {}),
        )
        self.tree.setting(
            pattern,
            param,
            lambda s: getter(self.ch[s[0] - 1]),
            lambda s, v: setter(s[0] - 1, float(v)),
            format_nr3,
        )

    def _add_function(self, pattern: str, *shapes: str) -> None:
        """``FUNCtion`` with the model's shapes; a new shape re-sources the resting level."""
        self.tree.add(
            pattern,
            set=self._set_function,
            query=lambda c: self.ch[c.ch - 1].function,
            params=(Choice(*shapes),),
        )

    def _add_frequency(self, pattern: str, default: float) -> None:
        self._ch_value(
            pattern,
            self.set_frequency,
            lambda c: 1.0 / c.period,
            "HZ",
            1e-6,
            self.FREQUENCY_MAX_HZ,
            default,
        )

    def _add_duty_cycle(self, pattern: str) -> None:
        """Pulse duty cycle in percent, set as a width."""
        self._ch_value(
            pattern,
            lambda i, v: self.set_width(i, v / 100 * self.ch[i].period),
            lambda c: 100 * c.width / c.period,
            "PCT",
            0.0,
            100.0,
            10.0,
        )

    def _add_levels(self, voltage: str) -> None:
        """``<voltage>[:LEVel][:IMMediate][:AMPLitude]|:OFFSet|:HIGH|:LOW`` and
        ``<voltage>:UNIT``, ``voltage`` being the model's spelling of the VOLTage header."""
        imm = f"{voltage}[:LEVel][:IMMediate]"
        win, a_min = self.WINDOW_V, self.AMPLITUDE_MIN_V
        self._ch_value(
            f"{imm}[:AMPLitude]",
            self.set_amplitude,
            lambda c: c.high - c.low,
            "V",
            a_min,
            self.AMPLITUDE_MAX_V,
            0.1,
        )
        self._ch_value(
            f"{imm}:OFFSet", self.set_offset, lambda c: (c.high + c.low) / 2, "V", -win, win, 0.0
        )
        self._ch_value(f"{imm}:HIGH", self.set_high, lambda c: c.high, "V", -win + a_min, win, 0.05)
        self._ch_value(f"{imm}:LOW", self.set_low, lambda c: c.low, "V", -win, win - a_min, -0.05)
        self._ch_setting(f"{voltage}:UNIT", Choice("VPP", "VRMS", "DBM"), "unit")

    def _set_function(self, call: Call) -> None:
        self.ch[call.ch - 1].function = call.args[0]
        self._apply_source(call.ch - 1)

    def _set_polarity(self, s: tuple[int, ...], value: str) -> None:
        self.ch[s[0] - 1].polarity = value
        self._apply_source(s[0] - 1)
