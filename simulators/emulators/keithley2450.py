"""Keithley 2450 SourceMeter emulator, SCPI command set (reference manual 2450-901-01 Rev B).

What is modelled (see ``/work/shared/reference/instrument-commands.md`` §1):

* ``*IDN?`` -> ``KEITHLEY INSTRUMENTS,MODEL 2450,<sn>,<fw>``; ``*LANG?`` -> ``SCPI``;
* voltage source with level, range/autorange, current limit (``:SOUR:VOLT:ILIM``) and its trip
  flag; current source settings (see *Gaps*);
* current / voltage / resistance sensing with range/autorange, NPLC 0.01-10 (outside: -222 and
  unchanged), autozero, averaging-filter settings, ``:SENS:COUN``;
* ``:READ?``, ``:MEAS:<func>?``, ``:FETC?``, ``:TRAC:TRIG`` with optional buffer and elements;
* reading buffers: ``defbuffer1``/``defbuffer2`` (fill mode CONT) and user buffers
  (``:TRAC:MAKE``, fill mode ONCE): ``:TRAC:POIN``, ``:TRAC:CLE``, ``:TRAC:ACT?``,
  ``:TRAC:FILL:MODE`` (ONCE discards new readings when full, CONT overwrites the oldest; changing
  the mode clears the buffer), ``:TRAC:DEL``, ``:TRAC:STAT:...?``, ``:TRAC:DATA?`` with up to 14
  elements;
* trigger model templates ``:TRIG:LOAD "SimpleLoop"|"DurationLoop"|"Empty"`` and the Rev B
  spellings ``:TRIG:LOAD:LOOP:SIMP|DUR`` / ``:TRIG:LOAD:EMPT``, linear sweeps
  (``:SOUR:SWE:VOLT|CURR:LIN``), ``:INIT``, ``:ABOR``, ``:TRIG:STAT?``;
* ``:FORM[:DATA] ASC|REAL|SRE``, ``:FORM:BORD NORM|SWAP`` (default SWAP = little endian) and
  ``:FORM:ASC:PREC``; binary replies are ``#0`` + IEEE-754 values + LF; in binary formats only
  READ, REL, SOUR and EXTR may be requested, anything else gives error 1133;
* event log of 1000 entries, read by ``:SYST:ERR?`` or ``:SYST:EVEN:NEXT?``
  (``<code>,"<msg>;1,<s>,<ns>"``);
* ``:SENS:<func>:RSEN`` (one 2/4-wire state), ``DELay:USER<n>`` for source and sense, a sweep
  clears its buffer first, ``:TRAC:MAKE`` with an empty style, the 13-character elements
  ``SOURFORMatted``/``EXTRFORMatted``; FORMatted/SOURFORMatted/TIME as a real unit prints them
  (see ``_display``);
* pymeasure's inherited 2400-style commands (``:TRAC:FEED``, ``:STAT:MEAS``, ...) are undefined
  headers (-113), as on a real unit in SCPI mode.

Timing: every reading takes ``aperture + delay + overhead`` of virtual time, where
``aperture = NPLC / line frequency`` (50 Hz default) and ``overhead`` is
:data:`READING_OVERHEAD_S` (130 us: about 3,000 readings/s at 0.01 PLC, the figure the reference
gives) plus two more apertures when autozero is on (reference and zero conversions). Readings are
taken from ``bench.measure_current(terminal, n, interval, aperture)``; ``delay`` is the trigger
model's per-point delay (0 for ``:READ?``). The reading timestamp is the start of its aperture.

Compliance: a current reading beyond the current limit is clamped to the limit and the trip flag
(``:SOUR:VOLT:ILIM:TRIP?``) is set; the flag reflects the most recent reading. A reading beyond
1.05 x a fixed measure range reads ``9.9E+37`` (overflow).

Gaps: the trigger model and sweeps run to completion when ``:INIT`` is received (virtual time
advances by their full duration at once), so ``*OPC?``/``*WAI`` are trivially satisfied and
``:ABOR`` has nothing to stop. Current sourcing needs the optional
``bench.voltage_for_current(terminal, amps)`` (the shared bench has it); without it the output
is treated as off. Filters, source delays and output-off modes are stored but do not change the
readings. ``*TRG`` is accepted and ignored (no template waits for a bus trigger). A sweep turns
the output on and leaves it on; sweeps longer than 100,000 points (points x count) are refused
with -222 (each point is a separate bench call). Buffer sizes are 10 to 6,875,000 readings
(27,500,000 for COMPact); unknown buffer names give -224 (the manual's exact code is not known).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from ..scpi import (
    Call,
    ScpiError,
    ScpiInstrument,
    indefinite_block,
    split_outside,
)
from .keithley2450_buffer import ReadingBuffer
from .keithley2450_commands import CommandSet
from .keithley2450_display import (
    MEASURE_DISPLAY_DIGITS,
    OVERFLOW,
    SOURCE_DISPLAY_DIGITS,
    _display,
    _frac9,
    _g,
)
from .keithley2450_spec import (
    _BINARY_ELEMENTS,
    _FUNC_CODES,
    _LONG_ELEMENTS,
    _UNITS,
    CURRENT_RANGES,
    DEFAULT_BUFFERS,
    MAX_BUFFER_COMPACT,
    MAX_BUFFER_STANDARD,
    NAN_READING,
    RESISTANCE_RANGES,
    SOURCE_LIMITED,
    VOLTAGE_RANGES,
)
from .keithley2450_trigger import TriggerModel, _Model

__all__ = ["READING_OVERHEAD_S", "Keithley2450", "ReadingBuffer"]

#: Fixed per-reading overhead (A/D set-up, buffer write) in seconds.
READING_OVERHEAD_S = 130e-6


class BenchLike(Protocol):
    """The part of the shared ``Bench`` an SMU emulator uses."""

    clock: Any

    def source(self, terminal: str, volts: float, output_on: bool) -> None: ...

    def measure_current(
        self, terminal: str, n: int, interval_s: float, aperture_s: float
    ) -> np.ndarray: ...

    def idle(self, dt_s: float) -> None: ...


def _pick_range(value: float, ranges: tuple[float, ...]) -> float:
    """Smallest range that holds ``|value|`` with the 5 % over-range; -222 if none does."""
    v = abs(value)
    for r in ranges:
        if v <= r * 1.05 + 1e-15:
            return r
    raise ScpiError(-222)



@dataclass
class _Measure:
    """Per-sense-function settings."""

    range: float
    autorange: bool = True
    nplc: float = 1.0
    autozero: bool = True
    filter_on: bool = False
    filter_type: str = "REP"
    filter_count: int = 10


@dataclass
class _Batch:
    """Readings of one acquisition and how many of them the buffer kept."""

    reading: np.ndarray
    source: np.ndarray
    time: np.ndarray
    sstat: np.ndarray
    stored: int = 0


class Keithley2450(CommandSet, TriggerModel, ScpiInstrument):
    """Emulated Keithley 2450 in SCPI mode, sourcing through ``bench`` at ``terminal``.

    :param bench: the shared bench (``source``, ``measure_current``, ``idle``, ``clock``).
    :param terminal: bench terminal of the SMU's HI output.
    :param serial: serial number in ``*IDN?``; :param firmware: firmware version in ``*IDN?``.
    :param line_frequency_hz: power-line frequency (sets the aperture of one PLC).
    :param reading_overhead_s: per-reading overhead added to aperture and delay.
    :param default_buffer_capacity: capacity of defbuffer1/2 after ``*RST``.
    :param epoch_s: UTC seconds that virtual time 0 corresponds to (for DATE/TIME/SEC).
    """

    error_messages: ClassVar[Mapping[int, str]] = {
        -222: "Parameter data out of range",
        1115: "Parameter error: TRACe:MAKE cannot take an existing reading buffer name",
        1133: "Parameter 4, Syntax error, expected valid name parameters",
    }

    def __init__(
        self,
        bench: BenchLike,
        terminal: str = "smu2450",
        *,
        serial: str = "04512345",
        firmware: str = "1.7.12b",
        line_frequency_hz: float = 50.0,
        reading_overhead_s: float = READING_OVERHEAD_S,
        default_buffer_capacity: int = 10_000,
        epoch_s: float = 1.7e9,
    ) -> None:
        self.bench = bench
        self.terminal = terminal
        self.line_frequency_hz = float(line_frequency_hz)
        self.reading_overhead_s = float(reading_overhead_s)
        self.default_buffer_capacity = int(default_buffer_capacity)
        self.epoch_s = float(epoch_s)
        self._defaults()
        super().__init__(
            idn=f"KEITHLEY INSTRUMENTS,MODEL 2450,{serial},{firmware}",
            error_queue_depth=1000,
            clock=lambda: self.bench.clock.now_s,
        )

    # ------------------------------------------------------------------ state

    def _defaults(self) -> None:
        self.source_function = "VOLT"
        self.level = {"VOLT": 0.0, "CURR": 0.0}
        self.source_range = {"VOLT": 20.0, "CURR": 1e-4}
        self.source_autorange = {"VOLT": True, "CURR": True}
        self.source_delay = {"VOLT": 0.0, "CURR": 0.0}
        self.source_delay_auto = {"VOLT": True, "CURR": True}
        self.readback = {"VOLT": True, "CURR": True}
        self.ilim = 1.05e-4
        self.vlim = 21.0
        self.tripped = {"VOLT": False, "CURR": False}
        self.output = False
        #: overvoltage protection (volts, None = NONE): the output never exceeds it
        self.protection_v: float | None = None
        self.protection_tripped = False
        self.output_off_mode = {"VOLT": "NORM", "CURR": "NORM"}
        self.sense_function = "CURR"
        self.measure = {
            "CURR": _Measure(range=1e-4),
            "VOLT": _Measure(range=20.0),
            "RES": _Measure(range=2e5),
        }
        self.sense_count = 1
        self.four_wire = False
        self.user_delay: dict[tuple[str, str, int], float] = {
            (kind, func, n): 0.0
            for kind, funcs in (("SOUR", ("VOLT", "CURR")), ("SENS", ("CURR", "VOLT", "RES")))
            for func in funcs
            for n in range(1, 6)
        }
        self.terminals = "FRON"
        self.data_format = "ASC"
        self.byte_order = "SWAP"
        self.ascii_precision = 0  # 0 = AUTO
        self.model = _Model("EMPTY")
        self.buffers: dict[str, ReadingBuffer] = {
            name: ReadingBuffer(name, self.default_buffer_capacity, "CONT")
            for name in DEFAULT_BUFFERS
        }
        self.pending_language = "SCPI"

    def _reset_state(self) -> None:
        self._defaults()
        self._apply_source()

    def _apply_source(self) -> None:
        """Tell the bench what the output drives now."""
        if self.source_function == "VOLT":
            self.bench.source(self.terminal, self._protect(self.level["VOLT"]), self.output)
            return
        v = self._voltage_for_current()
        if v is None:
            self.bench.source(self.terminal, 0.0, False)
        else:
            self.bench.source(self.terminal, self._protect(v), self.output)

    def _protect(self, volts: float) -> float:
        """Overvoltage protection (reference manual, :SOUR:VOLT:PROT): the output is clamped
        at the protection level, whatever the source level or limit, and the trip flag set."""
        prot = self.protection_v
        if prot is None or abs(volts) <= prot:
            self.protection_tripped = False
            return volts
        self.protection_tripped = self.output
        return math.copysign(prot, volts)

    def _set_protection(self, s: Any, value: str) -> None:
        self.protection_v = None if value == "NONE" else float(value[4:])
        self._apply_source()

    def _voltage_for_current(self) -> float | None:
        finder = getattr(self.bench, "voltage_for_current", None)
        if finder is None:
            return None
        v = float(finder(self.terminal, self.level["CURR"]))
        if not math.isfinite(v):
            v = math.copysign(self.vlim, v)
        self.tripped["CURR"] = abs(v) >= self.vlim
        return max(-self.vlim, min(self.vlim, v))

    # ------------------------------------------------------------------ acquisition

    def aperture_s(self) -> float:
        """Integration time of one reading of the present sense function."""
        return self.measure[self.sense_function].nplc / self.line_frequency_hz

    def interval_s(self, delay_s: float = 0.0) -> float:
        """Time from one reading to the next: aperture + delay + overhead (+ autozero)."""
        m = self.measure[self.sense_function]
        ap = self.aperture_s()
        return ap + delay_s + self.reading_overhead_s + (2 * ap if m.autozero else 0.0)

    def _measure(self, n: int, delay_s: float) -> _Batch:
        """Take ``n`` readings of the present sense function (clock advances accordingly)."""
        ap = self.aperture_s()
        interval = self.interval_s(delay_s)
        t0 = float(self.bench.clock.now_s)
        times = t0 + delay_s + interval * np.arange(n)
        func = self.sense_function
        m = self.measure[func]
        src_func = self.source_function
        level = self.level[src_func]
        sstat = np.zeros(n, dtype=np.uint8)
        if n == 0:
            return _Batch(np.empty(0), np.empty(0), times, sstat)
        if src_func == "VOLT":
            raw = np.asarray(self.bench.measure_current(self.terminal, n, interval, ap), float)
            limited = np.abs(raw) > self.ilim
            amps = np.where(limited, np.sign(raw) * self.ilim, raw)
            sstat[limited] = SOURCE_LIMITED
            self.tripped["VOLT"] = bool(limited[-1])
            volts = np.full(n, level if self.output else 0.0)
            # in compliance the source would back off: model a linear load
            ratio = self.ilim / np.maximum(np.abs(raw), 1e-300)
            volts = np.where(limited, volts * np.minimum(1.0, ratio), volts)
        else:
            self.bench.idle(n * interval)
            v = self._voltage_for_current() if self.output else 0.0
            volts = np.full(n, v or 0.0)
            amps = np.full(n, level if self.output else 0.0)
            if self.tripped["CURR"]:
                sstat[:] = SOURCE_LIMITED
        source = np.full(n, level)
        if func == "CURR":
            values, ranges = amps, CURRENT_RANGES
        elif func == "VOLT":
            values, ranges = volts, VOLTAGE_RANGES
        else:
            safe = np.where(amps != 0, amps, 1.0)
            values, ranges = np.where(amps != 0, volts / safe, OVERFLOW), RESISTANCE_RANGES
        values = np.asarray(values, dtype=float)
        if m.autorange:
            finite = np.abs(values[np.abs(values) < OVERFLOW])
            biggest = float(finite.max()) if finite.size else 0.0
            m.range = next((r for r in ranges if biggest <= 1.05 * r), ranges[-1])
        else:
            values = np.where(np.abs(values) > 1.05 * m.range, OVERFLOW, values)
        return _Batch(values, source, times, sstat)

    def _ranges(self) -> tuple[float, float]:
        """(measure range, source range) readings are taken on now."""
        return self.measure[self.sense_function].range, self.source_range[self.source_function]

    def _buffer(self, name: str | None) -> ReadingBuffer:
        key = "defbuffer1" if name is None else name.strip()
        buf = self.buffers.get(key)
        if buf is None:
            raise ScpiError(-224, f"reading buffer {key[:20]!r} not found")
        return buf

    def _acquire(self, n: int, delay_s: float, buffer: ReadingBuffer) -> _Batch:
        """``n`` readings into ``buffer``.

        Readings a ONCE buffer would discard, or that a CONT buffer would overwrite within the
        same run, are not simulated one by one: their time passes with ``bench.idle``. A full
        ONCE buffer still gets one reading simulated (``:READ?`` must return a value).
        """
        func = _FUNC_CODES[self.sense_function]
        interval = self.interval_s(delay_s)
        if buffer.fill_mode == "ONCE":
            room = buffer.capacity - buffer.count
            keep = min(n, room) if room > 0 else min(n, 1)
            before, after = 0, n - keep
        else:
            keep = min(n, buffer.capacity)
            before, after = n - keep, 0
        if before:
            if buffer.t_ref is None:  # REL stays relative to the first (overwritten) reading
                buffer.t_ref = float(self.bench.clock.now_s) + delay_s
            self.bench.idle(before * interval)
        batch = self._measure(keep, delay_s)
        batch.stored = buffer.append(
            batch.reading, batch.source, batch.time, batch.sstat, func, self._ranges()
        )
        if after:
            self.bench.idle(after * interval)
        return batch

    # ------------------------------------------------------------------ formatting

    def _fmt_reading(self, v: float) -> str:
        digits = 7 if self.ascii_precision == 0 else self.ascii_precision
        return f"{v:.{max(digits, 1) - 1}E}"

    def _format(
        self, buf: ReadingBuffer, first: int, last: int, elements: list[str]
    ) -> str | bytes:
        """Elements of logical readings ``first..last`` (0-based) as ASCII or a binary block."""
        elements = elements or ["READ"]
        if len(elements) > 14:
            raise ScpiError(-108, "at most 14 buffer elements")
        cols = buf.columns(first, last)
        t_ref = buf.t_ref if buf.t_ref is not None else 0.0
        if self.data_format != "ASC":
            if any(e not in _BINARY_ELEMENTS for e in elements):
                raise ScpiError(1133)
            table = []
            for e in elements:
                if e == "READ":
                    table.append(cols["reading"])
                elif e == "REL":
                    table.append(cols["time"] - t_ref)
                elif e == "SOUR":
                    table.append(cols["source"])
                else:  # EXTR
                    table.append(np.zeros(len(cols["reading"])))
            data = np.column_stack(table).ravel()
            endian = "<" if self.byte_order == "SWAP" else ">"
            dtype = np.dtype(f"{endian}f8" if self.data_format == "REAL" else f"{endian}f4")
            return indefinite_block(data.astype(dtype).tobytes())
        out: list[str] = []
        for k in range(len(cols["reading"])):
            r = float(cols["reading"][k])
            t_abs = self.epoch_s + float(cols["time"][k])
            unit = _UNITS[int(cols["func"][k])]
            src_unit = "Volt DC" if self.source_function == "VOLT" else "Amp DC"
            for e in elements:
                if e == "READ":
                    out.append(self._fmt_reading(r))
                elif e == "REL":
                    out.append(f"{float(cols['time'][k]) - t_ref:.9f}")
                elif e == "SOUR":
                    out.append(self._fmt_reading(float(cols["source"][k])))
                elif e == "SOURSTAT":
                    out.append(str(int(cols["sstat"][k])))
                elif e == "SOURUNIT":
                    out.append(src_unit)
                elif e == "SOURFORM":
                    out.append(
                        _display(float(cols["source"][k]), float(cols["srange"][k]),
                                 src_unit, SOURCE_DISPLAY_DIGITS)
                    )  # fmt: skip
                elif e == "STAT":
                    out.append("0")
                elif e == "UNIT":
                    out.append(unit)
                elif e == "DATE":
                    out.append(time.strftime("%m/%d/%Y", time.gmtime(t_abs)))
                elif e == "TIME":
                    out.append(time.strftime("%H:%M:%S", time.gmtime(t_abs)))
                elif e == "TST":
                    out.append(
                        time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(t_abs)) + f".{_frac9(t_abs)}"
                    )
                elif e == "SEC":
                    out.append(str(int(t_abs)))
                elif e == "FRAC":
                    out.append(f"0.{_frac9(t_abs)}")
                elif e == "FORM":
                    out.append(
                        _display(r, float(cols["mrange"][k]), unit, MEASURE_DISPLAY_DIGITS)
                    )
                elif e == "EXTR" or e == "EXTRFORM":
                    out.append("0")
                else:  # EXTRUNIT
                    out.append("None")
        return ",".join(out)

    # ------------------------------------------------------------------ handlers

    def _set_lang(self, call: Call) -> None:
        self.pending_language = call.args[0]  # takes effect after a power cycle

    def _set_source_function(self, call: Call) -> None:
        self.source_function = call.args[0]
        self._apply_source()

    def _set_level(self, func: str, value: float) -> None:
        if not self.source_autorange[func] and abs(value) > 1.05 * self.source_range[func]:
            raise ScpiError(-222, "level exceeds source range")
        self.level[func] = float(value)
        if self.source_autorange[func]:
            ranges = VOLTAGE_RANGES if func == "VOLT" else CURRENT_RANGES
            self.source_range[func] = _pick_range(value, ranges)
        if func == self.source_function:
            self._apply_source()

    def _query_level(self, func: str, call: Call) -> str:
        if call.args:
            limit = 210.0 if func == "VOLT" else 1.05
            return _g({"MIN": -limit, "MAX": limit, "DEF": 0.0}[call.args[0]])
        return _g(self.level[func])

    def _set_source_range(self, func: str, value: float, ranges: tuple[float, ...]) -> None:
        self.source_range[func] = _pick_range(value, ranges)
        self.source_autorange[func] = False

    def _set_limit(self, func: str, value: float) -> None:
        if func == "VOLT":
            self.ilim = float(value)
        else:
            self.vlim = float(value)
            if self.source_function == "CURR":
                self._apply_source()

    def _set_delay(self, func: str, value: float) -> None:
        self.source_delay[func] = float(value)
        self.source_delay_auto[func] = False

    def _set_output(self, suffixes: tuple[int, ...], on: bool) -> None:
        self.output = bool(on)
        self._apply_source()

    def _set_sense_function(self, call: Call) -> None:
        self.sense_function = call.args[0]

    def _set_sense_range(self, func: str, value: float, ranges: tuple[float, ...]) -> None:
        self.measure[func].range = _pick_range(value, ranges)
        self.measure[func].autorange = False

    def _elements(self, call: Call) -> tuple[str | None, list[str]]:
        name = call.args[0] if call.args else None
        return name, [str(e) for e in call.args[1:]]

    def _read(self, call: Call, func: str | None) -> str | bytes:
        name, elements = self._elements(call)
        buf = self._buffer(name)
        if self.data_format != "ASC" and any(e not in _BINARY_ELEMENTS for e in elements):
            raise ScpiError(1133)
        if func is not None:
            self.sense_function = func
        batch = self._acquire(self.sense_count, 0.0, buf)
        if batch.stored == len(batch.reading):
            return self._format(buf, buf.count - 1, buf.count - 1, elements)
        # the buffer discarded the reading (fill mode ONCE, full): report it anyway
        tmp = ReadingBuffer(buf.name, 1, "CONT")
        last = slice(len(batch.reading) - 1, None)
        tmp.append(
            batch.reading[last],
            batch.source[last],
            batch.time[last],
            batch.sstat[last],
            _FUNC_CODES[self.sense_function],
            self._ranges(),
        )
        tmp.t_ref = buf.t_ref if buf.t_ref is not None else tmp.t_ref
        return self._format(tmp, 0, 0, elements)

    def _fetch(self, call: Call) -> str | bytes:
        name, elements = self._elements(call)
        buf = self._buffer(name)
        if buf.count == 0:
            raise ScpiError(-230, "no readings in buffer")
        return self._format(buf, buf.count - 1, buf.count - 1, elements)

    def _trace_data(self, call: Call) -> str | bytes:
        first, last = int(call.args[0]), int(call.args[1])
        name = call.args[2] if len(call.args) > 2 else None
        elements = [str(e) for e in call.args[3:]]
        buf = self._buffer(name)
        if self.data_format != "ASC" and any(e not in _BINARY_ELEMENTS for e in elements):
            raise ScpiError(1133)
        if first < 1 or last < first or last > buf.count:
            raise ScpiError(-222, f"index range {first}..{last} outside 1..{buf.count}")
        return self._format(buf, first - 1, last - 1, elements)

    def _stat(self, call: Call, fn: Any) -> str:
        data = self._buffer(call.args[0] if call.args else None).readings()
        if data.size == 0:
            return _g(NAN_READING)
        return _g(float(fn(data)))

    def _invoke(
        self,
        cmd: Any,
        suffixes: tuple[int, ...],
        query: bool,
        header: str,
        rest: str,
        responses: list[str | bytes],
    ) -> None:
        if "FORMATTED" in rest.upper():
            # The manual's buffer elements SOURFORMatted and EXTRFORMatted are 13 characters
            # long, one more than IEEE 488.2 allows for character data (7.7.1.2); the 2450
            # takes them as documented (6-109), so the long forms become the short ones here.
            parts = split_outside(rest, ",")
            rest = ",".join(
                _LONG_ELEMENTS.get(part.strip().upper(), part) for part in parts
            )
        if cmd is self._make_command:
            # ``:TRACe:MAKE 'name', 1000,`` with an empty style takes the default style
            # (STANdard). The manual (6-114) does not mention an empty parameter; a real unit
            # accepts it: QCoDeS's Keithley2450.buffer(name, size) sends it, and the QCoDeS
            # 2450 example notebook, run on a unit with firmware 1.6.7c, creates its buffer so.
            parts = split_outside(rest, ",")
            if len(parts) == 3 and not parts[2].strip():
                rest = ",".join(parts[:2])
        super()._invoke(cmd, suffixes, query, header, rest, responses)

    def _make_buffer(self, call: Call) -> None:
        name = str(call.args[0]).strip()
        size = int(call.args[1])
        style = call.args[2] if len(call.args) > 2 else "STAN"
        if not name or name in self.buffers:
            raise ScpiError(1115)
        if (
            not name[0].isalpha()
            or not all(ch.isalnum() or ch == "_" for ch in name)
            or len(name) > 31
        ):
            raise ScpiError(-224, "invalid buffer name")
        maximum = MAX_BUFFER_COMPACT if style == "COMP" else MAX_BUFFER_STANDARD
        if size < 10 or size > maximum:
            raise ScpiError(-222, "buffer size")
        self.buffers[name] = ReadingBuffer(name, size, "ONCE", style)

    def _delete_buffer(self, call: Call) -> None:
        name = str(call.args[0]).strip()
        if name in DEFAULT_BUFFERS:
            raise ScpiError(-224, "cannot delete a default buffer")
        if self.buffers.pop(name, None) is None:
            raise ScpiError(-224, "reading buffer not found")

    def _set_points(self, call: Call) -> None:
        size = int(call.args[0])
        buf = self._buffer(call.args[1] if len(call.args) > 1 else None)
        maximum = MAX_BUFFER_COMPACT if buf.style == "COMP" else MAX_BUFFER_STANDARD
        if size < 10 or size > maximum:
            raise ScpiError(-222, "buffer size")
        buf.resize(size)

    def _set_fill_mode(self, call: Call) -> None:
        buf = self._buffer(call.args[1] if len(call.args) > 1 else None)
        buf.fill_mode = call.args[0]
        buf.clear()

    def _set_precision(self, call: Call) -> None:
        self.ascii_precision = int(call.args[0])

    def _event_next(self, call: Call) -> str:
        entry = self.errors.pop()
        if entry is None:
            return '0,"No error;0,0,0"'
        t_abs = self.epoch_s + entry.time_s
        msg = entry.message.replace('"', '""')
        return f'{entry.code},"{msg};1,{int(t_abs)},{int(_frac9(t_abs))}"'
