"""Keithley 2450 SourceMeter (SCPI command set) with native buffers and trigger model.

Extends pymeasure's ``Keithley2450``: its inherited 2400-style buffer mix-in (``:TRAC:FEED``)
does not exist on a 2450 in SCPI mode and is replaced by the native model of the 2450
Reference Manual (2450-901-01): ``:TRAC:MAKE``, ``:TRIG:LOAD "SimpleLoop"``, ``:INIT``,
``*OPC?``, ``:TRAC:DATA? i,j,"buf",READ,REL`` in ASCII or binary (``:FORM REAL`` = IEEE-754
float64, ``:FORM SRE`` = float32, ``:FORM:BORD SWAP`` = little endian, ``#0`` block + LF).
pymeasure's unvalidated (``source_voltage`` accepts 500 V) and clipping (``truncated_range``)
properties are redeclared with strict validators.

.. code-block:: python

    smu = Keithley2450("TCPIP0::127.0.0.1::5027::SOCKET", limits=limits)
    smu.reset()
    smu.apply_voltage(0.8, current_limit=1e-6)
    smu.sense_function = "current"
    smu.measure_nplc = 0.01
    smu.output_enabled = True
    smu.defbuffer1.clear()
    smu.load_simple_loop(count=1000, delay_s=0.0, buffer="defbuffer1")
    smu.start()
    smu.wait_for_completion(timeout_s=5)
    current_a, time_s = smu.defbuffer1.read_data(1, 1000, binary=True)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Hashable
from typing import Any, ClassVar

import numpy as np
from pymeasure.instruments import Channel, Instrument
from pymeasure.instruments.keithley import Keithley2450 as _PymeasureKeithley2450
from pymeasure.instruments.validators import strict_discrete_set

from ._common import (
    InstrumentError,
    TransportErrors,
    longer_timeout,
    on_off,
    parse_ascii_floats,
    read_indefinite_block,
    socket_defaults,
    strict_int_range,
    strict_real_range,
    tune_socket,
)
from ._guards import (
    number_arg,
    scpi_commands,
    smu_after_reset,
    smu_func,
    smu_output_on,
    smu_ready,
    smu_set,
    smu_unknown,
    smu_voltages,
    switch_arg,
    word_arg,
)
from ._scpi import ScpiCommand
from .safety import GuardedInstrument, SafetyGuard

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

MAX_VOLTAGE_V = 210.0
MAX_CURRENT_A = 1.05
_BUFFER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
_BINARY = {"REAL": "<f8", "SRE": "<f4"}
_BOOL = {True: 1, False: 0}


def _validate_buffer_name(name: str) -> str:
    if not isinstance(name, str) or _BUFFER_NAME.fullmatch(name) is None:
        raise ValueError(f"invalid buffer name {name!r} (letters, digits, '_', max 32)")
    return name


def _sense_function(reply: Any) -> str:
    return str(reply).strip().strip("\"'").split(":")[0].upper()


def _on_off_text(value: bool) -> str:
    return "ON" if value else "OFF"


class ReadingBuffer(Channel):
    """A reading buffer of the 2450, addressed by name (``defbuffer1``, ``defbuffer2`` or one
    made with :meth:`Keithley2450.make_buffer`)."""

    def __init__(self, parent: Any, id: str, **kwargs: Any) -> None:
        super().__init__(parent, _validate_buffer_name(id), **kwargs)

    count = Channel.measurement(
        ':TRAC:ACT? "{ch}"',
        """Get the number of readings in the buffer (int).""",
        get_process=lambda v: int(float(v)),
    )
    capacity = Channel.control(
        ':TRAC:POIN? "{ch}"', ':TRAC:POIN %d,"{ch}"',
        """Control the number of readings the buffer can hold (int, 1 to 5,000,000;
        changing it clears the buffer).""",
        validator=strict_int_range, values=(1, 5_000_000),
        get_process=lambda v: int(float(v)),
    )
    fill_mode = Channel.control(
        ':TRAC:FILL:MODE? "{ch}"', ':TRAC:FILL:MODE %s,"{ch}"',
        """Control what happens when the buffer is full: 'ONCE' (discard new readings) or
        'CONT' (overwrite the oldest) (str).""",
        validator=strict_discrete_set, values=("ONCE", "CONT"), cast=str,
        get_process=lambda v: str(v).strip()[:4].upper(),
    )

    def clear(self) -> None:
        """Clear the buffer."""
        self.write(':TRAC:CLE "{ch}"')

    def read_data(
        self,
        start: int = 1,
        end: int | None = None,
        *,
        binary: bool = True,
        binary_format: str = "REAL",
    ) -> tuple[np.ndarray, np.ndarray]:
        """Read readings ``start..end`` (1-based, inclusive) and their relative times.

        :param end: last index; None asks the buffer for its count.
        :param binary: transfer IEEE-754 little endian (``#0`` block read by byte count) and
            set the format back to ASCII afterwards; else ``r1,t1,r2,t2,...`` in ASCII.
        :param binary_format: 'REAL' (float64) or 'SRE' (float32).
        :returns: ``(readings, relative_time_s)`` as float64 arrays.
        """
        if binary_format not in _BINARY:
            raise ValueError(f"binary_format must be one of {list(_BINARY)}")
        last = self.count if end is None else end
        first = strict_int_range(start, (1, 5_000_000))
        if last < first:
            return np.empty(0), np.empty(0)
        last = strict_int_range(last, (first, 5_000_000))
        n = last - first + 1
        command = f':TRAC:DATA? {first},{last},"{{ch}}",READ,REL'
        if binary:
            self.write(f":FORM {binary_format}")
            self.write(":FORM:BORD SWAP")
            try:
                self.write(command)
                values = read_indefinite_block(self, 2 * n, _BINARY[binary_format])
            finally:
                self.write(":FORM ASC")
        else:
            values = parse_ascii_floats(self.ask(command))
            if values.size != 2 * n:
                raise InstrumentError(f"TRAC:DATA? returned {values.size} values, expected {2 * n}")
        return values[0::2].copy(), values[1::2].copy()


class Keithley2450(GuardedInstrument, TransportErrors, _PymeasureKeithley2450):
    """Keithley 2450 SourceMeter in SCPI mode, native buffers, strict validators.

    Bind bench limits with ``limits=`` (``roles={1: ...}``, default "read"): every message is
    then checked by :class:`ScpiSourceRules` before it is sent.
    """

    defbuffer1 = Instrument.ChannelCreator(ReadingBuffer, "defbuffer1")
    defbuffer2 = Instrument.ChannelCreator(ReadingBuffer, "defbuffer2")

    def __init__(self, adapter: Any, name: str = "Keithley 2450 SourceMeter", **kwargs: Any):
        super().__init__(adapter, name, **socket_defaults(adapter, kwargs))
        tune_socket(self.adapter)

    # ------------------------------------------------------------------------------ source
    source_function = Instrument.control(
        ":SOUR:FUNC?", ":SOUR:FUNC %s",
        """Control the source function: 'voltage' (VOLT) or 'current' (CURR).""",
        validator=strict_discrete_set, values={"voltage": "VOLT", "current": "CURR"},
        map_values=True, cast=str, get_process=lambda v: str(v).strip()[:4].upper(),
    )
    source_mode = source_function
    source_voltage = Instrument.control(
        ":SOUR:VOLT?", ":SOUR:VOLT %g",
        """Control the voltage source level in volts (float, -210 to 210).""",
        validator=strict_real_range, values=(-MAX_VOLTAGE_V, MAX_VOLTAGE_V),
    )
    source_voltage_range = Instrument.control(
        ":SOUR:VOLT:RANG?", ":SOUR:VOLT:RANG %g",
        """Control the voltage source range in volts (float, 0 to 210: 20 mV, 200 mV, 2 V,
        20 V or 200 V holding the value). Disables autorange.""",
        validator=strict_real_range, values=(0.0, MAX_VOLTAGE_V),
    )
    source_voltage_autorange = Instrument.control(
        ":SOUR:VOLT:RANG:AUTO?", ":SOUR:VOLT:RANG:AUTO %d",
        """Control whether the voltage source range is automatic (bool).""",
        validator=strict_discrete_set, values=_BOOL, map_values=True,
    )
    current_limit = Instrument.control(
        ":SOUR:VOLT:ILIM?", ":SOUR:VOLT:ILIM %g",
        """Control the current limit (compliance) of the voltage source in amperes
        (float, 1 nA to 1.05 A).""",
        validator=strict_real_range, values=(1e-9, MAX_CURRENT_A),
    )
    compliance_current = current_limit
    in_compliance = Instrument.measurement(
        ":SOUR:VOLT:ILIM:TRIP?",
        """Get whether the voltage source is limited by its current limit (bool).""",
        cast=str, get_process=on_off,
    )
    source_current = Instrument.control(
        ":SOUR:CURR?", ":SOUR:CURR %g",
        """Control the current source level in amperes (float, -1.05 to 1.05).""",
        validator=strict_real_range, values=(-MAX_CURRENT_A, MAX_CURRENT_A),
    )
    source_current_range = Instrument.control(
        ":SOUR:CURR:RANG?", ":SOUR:CURR:RANG %g",
        """Control the current source range in amperes (float, 0 to 1.05). Disables
        autorange.""",
        validator=strict_real_range, values=(0.0, MAX_CURRENT_A),
    )
    voltage_limit = Instrument.control(
        ":SOUR:CURR:VLIM?", ":SOUR:CURR:VLIM %g",
        """Control the voltage limit (compliance) of the current source in volts
        (float, 0.02 to 210).""",
        validator=strict_real_range, values=(0.02, MAX_VOLTAGE_V),
    )
    compliance_voltage = voltage_limit
    source_voltage_delay = Instrument.control(
        ":SOUR:VOLT:DEL?", ":SOUR:VOLT:DEL %g",
        """Control the source delay in seconds after the output settles (float, 0 to 10000);
        turns the auto delay off.""",
        validator=strict_real_range, values=(0.0, 10_000.0),
    )
    source_voltage_delay_auto = Instrument.control(
        ":SOUR:VOLT:DEL:AUTO?", ":SOUR:VOLT:DEL:AUTO %d",
        """Control whether the voltage source delay is automatic (bool).""",
        validator=strict_discrete_set, values=_BOOL, map_values=True,
    )
    source_current_delay = Instrument.control(
        ":SOUR:CURR:DEL?", ":SOUR:CURR:DEL %g",
        """Control the current source delay in seconds (float, 0 to 10000).""",
        validator=strict_real_range, values=(0.0, 10_000.0),
    )
    source_current_delay_auto = Instrument.control(
        ":SOUR:CURR:DEL:AUTO?", ":SOUR:CURR:DEL:AUTO %d",
        """Control whether the current source delay is automatic (bool).""",
        validator=strict_discrete_set, values=_BOOL, map_values=True,
    )
    output_enabled = Instrument.control(
        ":OUTP?", ":OUTP %s",
        """Control whether the output is on (bool).""",
        validator=strict_discrete_set, values=(True, False), set_process=_on_off_text,
        cast=str, get_process=on_off,
    )

    # ----------------------------------------------------------------------------- measure
    sense_function = Instrument.control(
        ":SENS:FUNC?", ':SENS:FUNC "%s"',
        """Control the measure function: 'current' (CURR), 'voltage' (VOLT) or
        'resistance' (RES).""",
        validator=strict_discrete_set,
        values={"current": "CURR", "voltage": "VOLT", "resistance": "RES"},
        map_values=True, cast=str, get_process=_sense_function,
    )
    measure_current_range = Instrument.control(
        ":SENS:CURR:RANG?", ":SENS:CURR:RANG %g",
        """Control the current measure range in amperes (float, 0 to 1.05: 10 nA to 1 A
        holding the value). Disables autorange.""",
        validator=strict_real_range, values=(0.0, MAX_CURRENT_A),
    )
    current_range = measure_current_range
    measure_current_autorange = Instrument.control(
        ":SENS:CURR:RANG:AUTO?", ":SENS:CURR:RANG:AUTO %d",
        """Control whether the current measure range is automatic (bool).""",
        validator=strict_discrete_set, values=_BOOL, map_values=True,
    )
    measure_nplc = Instrument.control(
        ":SENS:CURR:NPLC?", ":SENS:CURR:NPLC %g",
        """Control the current measurement aperture in power line cycles (float, 0.01 to 10).""",
        validator=strict_real_range, values=(0.01, 10.0),
    )
    current_nplc = measure_nplc
    measure_autozero = Instrument.control(
        ":SENS:CURR:AZER?", ":SENS:CURR:AZER %d",
        """Control whether current measurements autozero (bool).""",
        validator=strict_discrete_set, values=_BOOL, map_values=True,
    )
    voltage_range = Instrument.control(
        ":SENS:VOLT:RANG?", ":SENS:VOLT:RANG %g",
        """Control the voltage measure range in volts (float, 0 to 210). Disables
        autorange.""",
        validator=strict_real_range, values=(0.0, MAX_VOLTAGE_V),
    )
    voltage_nplc = Instrument.control(
        ":SENS:VOLT:NPLC?", ":SENS:VOLT:NPLC %g",
        """Control the voltage measurement aperture in power line cycles (float, 0.01 to 10).""",
        validator=strict_real_range, values=(0.01, 10.0),
    )
    resistance_range = Instrument.control(
        ":SENS:RES:RANG?", ":SENS:RES:RANG %g",
        """Control the resistance measure range in ohms (float, 0 to 210 MOhm).""",
        validator=strict_real_range, values=(0.0, 210e6),
    )
    resistance_nplc = Instrument.control(
        ":SENS:RES:NPLC?", ":SENS:RES:NPLC %g",
        """Control the resistance measurement aperture in power line cycles
        (float, 0.01 to 10).""",
        validator=strict_real_range, values=(0.01, 10.0),
    )
    current_filter_count = Instrument.control(
        ":SENS:CURR:AVER:COUNT?", ":SENS:CURR:AVER:COUNT %d",
        """Control the number of readings averaged by the current filter (int, 1 to 100).""",
        validator=strict_int_range, values=(1, 100), get_process=lambda v: int(float(v)),
    )
    voltage_filter_count = Instrument.control(
        ":SENS:VOLT:AVER:COUNT?", ":SENS:VOLT:AVER:COUNT %d",
        """Control the number of readings averaged by the voltage filter (int, 1 to 100).""",
        validator=strict_int_range, values=(1, 100), get_process=lambda v: int(float(v)),
    )
    buffer_points = Instrument.control(
        ':TRAC:POIN? "defbuffer1"', ':TRAC:POIN %d,"defbuffer1"',
        """Control the capacity of ``defbuffer1`` (int, 1 to 5,000,000).""",
        validator=strict_int_range, values=(1, 5_000_000), get_process=lambda v: int(float(v)),
    )
    data_format = Instrument.control(
        ":FORM?", ":FORM %s",
        """Control the transfer format of readings: 'ASC' (ASCII), 'REAL' (float64) or
        'SRE' (float32) (str).""",
        validator=strict_discrete_set, values=("ASC", "REAL", "SRE"), cast=str,
        get_process=lambda v: str(v).strip()[:4].upper().replace("ASCI", "ASC"),
    )
    byte_order = Instrument.control(
        ":FORM:BORD?", ":FORM:BORD %s",
        """Control the byte order of binary transfers: 'SWAP' (little endian, default) or
        'NORM' (big endian) (str).""",
        validator=strict_discrete_set, values=("SWAP", "NORM"), cast=str,
        get_process=lambda v: str(v).strip()[:4].upper(),
    )

    # ---------------------------------------------------------------------- buffers, trigger
    def buffer(self, name: str) -> ReadingBuffer:
        """The reading buffer called ``name`` (not created on the instrument)."""
        if name == "defbuffer1":
            return self.defbuffer1
        if name == "defbuffer2":
            return self.defbuffer2
        return ReadingBuffer(self, name)

    def make_buffer(self, name: str, points: int, style: str = "STAN") -> ReadingBuffer:
        """Create a reading buffer on the instrument (``:TRAC:MAKE``) and return it.

        :param style: 'STAN' (standard), 'COMP' (compact) or 'FULL'.
        """
        _validate_buffer_name(name)
        count = strict_int_range(points, (1, 5_000_000))
        strict_discrete_set(style, ("STAN", "COMP", "FULL"))
        self.write(f':TRAC:MAKE "{name}",{count},{style}')
        return self.buffer(name)

    def load_simple_loop(
        self, count: int, delay_s: float = 0.0, buffer: str = "defbuffer1"
    ) -> None:
        """Load the SimpleLoop trigger model: ``count`` readings, ``delay_s`` before each."""
        n = strict_int_range(count, (1, 5_000_000))
        delay = strict_real_range(delay_s, (0.0, 10_000.0))
        self.write(f':TRIG:LOAD "SimpleLoop",{n},{delay:g},"{_validate_buffer_name(buffer)}"')

    def start(self) -> None:
        """Start the trigger model (``:INIT``)."""
        self.write(":INIT")

    def wait(self) -> None:
        """Make the instrument finish pending operations before the next command (``*WAI``)."""
        self.write("*WAI")

    def abort(self) -> None:
        """Stop the trigger model (``:ABOR``)."""
        self.write(":ABOR")

    def wait_for_completion(self, timeout_s: float | None = None) -> None:
        """Block until the trigger model has finished (``*OPC?`` answers 1).

        :param timeout_s: raise the VISA timeout to at least this long while waiting.
        """
        with longer_timeout(self, timeout_s):
            reply = self.ask("*OPC?").strip()
        if reply != "1":
            raise InstrumentError(f"unexpected reply {reply!r} to *OPC?")

    def apply_voltage(  # type: ignore[override]
        self, volts: float, current_limit: float, voltage_range: float | None = None
    ) -> None:
        """Configure a DC voltage source: function, range (auto if None), limit, level.

        Bound limits are checked before the first write.
        """
        if self.safety is not None:
            self.safety.check_voltage(1, volts)
            self.safety.limits.check_compliance(current_limit)
        self.source_function = "voltage"
        if voltage_range is None:
            self.source_voltage_autorange = True
        else:
            self.source_voltage_range = voltage_range
        self.current_limit = current_limit
        self.source_voltage = volts

    # ------------------------------------------- the 2400-style buffer mix-in, made native
    def start_buffer(self) -> None:
        """Start the trigger model (``:INIT``)."""
        self.start()

    def stop_buffer(self) -> None:
        """Stop the trigger model (``:ABOR``)."""
        self.abort()

    def reset_buffer(self) -> None:
        """Clear ``defbuffer1``."""
        self.defbuffer1.clear()

    @property
    def buffer_data(self) -> np.ndarray:
        """Get the readings of ``defbuffer1`` (ASCII transfer)."""
        readings, _times = self.defbuffer1.read_data(binary=False)
        return readings

    def config_buffer(self, points: int = 64, delay: float = 0) -> None:
        """Not available: the 2400 commands (``:TRAC:FEED``) do not exist on a 2450.

        Use :meth:`make_buffer`, :meth:`load_simple_loop` and :meth:`start` instead.
        """
        raise NotImplementedError("2400-style :TRAC:FEED buffers do not exist on the 2450; "
                                  "use make_buffer/load_simple_loop/start")

    def disable_buffer(self) -> None:
        """Not available on a 2450 (``:TRAC:FEED:CONT`` does not exist)."""
        raise NotImplementedError(":TRAC:FEED:CONT does not exist on the 2450")

    def is_buffer_full(self) -> bool:
        """Not available on a 2450; use :meth:`wait_for_completion`."""
        raise NotImplementedError("use wait_for_completion() (*OPC?) on the 2450")

    def wait_for_buffer(self, should_stop: Any = None, timeout: float = 60, interval: float = 0.1):
        """Block until the trigger model has finished (``*OPC?``)."""
        self.wait_for_completion(timeout_s=timeout)

    def shutdown(self) -> None:
        """Stop the trigger model and switch the output off (no ramp)."""
        try:
            self.abort()
        finally:
            self.output_enabled = False
            Instrument.shutdown(self)


# ------------------------------------------------------------------------- safety rules

#: source settings that never raise what the output applies
_SAFE_SOURCE = frozenset({
    "VOLT:RANG", "VOLT:RANG:AUTO", "VOLT:DEL", "VOLT:DEL:AUTO", "VOLT:READ:BACK",
    "VOLT:HIGH:CAP", "CURR:RANG", "CURR:RANG:AUTO", "CURR:DEL", "CURR:DEL:AUTO",
    "CURR:READ:BACK", "CURR:HIGH:CAP", "VOLT:ILIM:TRIP", "CURR:VLIM:TRIP",
})
#: whole subsystems that only measure, store, format or report
_HARMLESS_HEADS = frozenset({"SENS", "TRAC", "FORM", "STAT", "DISP", "SYST", "ROUT", "ABOR"})
_HARMLESS_COMMON = frozenset({"*CLS", "*OPC", "*WAI", "*TRG", "*ESE", "*SRE", "*IDN"})
_TEMPLATES = frozenset({"SIMPLELOOP", "DURATIONLOOP", "EMPTY"})
#: values the 2450 takes as sent (a refused value would leave the old one in force)
_ACCEPTED = {"levelv": (0.0, 210.0), "leveli": (0.0, 1.05), "limiti": (1e-8, 1.05),
             "limitv": (0.02, 210.0)}
#: the 2450's overvoltage protection levels (volts), SOUR:VOLT:PROT PROT<n>
PROTECTION_LEVELS_V = (2, 5, 10, 20, 40, 60, 80, 100, 120, 140, 160, 180)


def protection_level_v(max_v: float) -> int:
    """The lowest 2450 overvoltage protection level at or above ``max_v``."""
    for level in PROTECTION_LEVELS_V:
        if level >= max_v:
            return level
    return PROTECTION_LEVELS_V[-1]


class ScpiSourceRules:
    """Guard rules for the 2450's SCPI messages (default-deny).

    Checked: ``:SOUR:VOLT`` and ``:SOUR:CURR:VLIM`` against the role's max |V|,
    ``:SOUR:CURR`` and ``:SOUR:VOLT:ILIM`` against the max compliance, sweep start/stop and
    list values. A function change with the output on (or maybe on) needs the new function's
    level and limit checked (the default VLIM of the current source is 21 V); a sweep needs
    the compliance of its function checked, and ``:INIT`` of a sweep counts as output on.
    Overvoltage protection may only be set to a level within the bench's largest voltage
    limit. Measurement, buffer, format, status and display subsystems pass. Refused: every
    other source or trigger command, MIN/MAX/DEF and unit suffixes, ``*RCL``, configuration
    lists, scripts, trigger templates other than SimpleLoop, DurationLoop and Empty, and
    ``:INIT`` of a trigger model loaded before the limits were bound.
    """

    default_roles: ClassVar[dict[Hashable, str]] = {1: "read"}

    def initial_state(self) -> dict[Hashable, Any]:
        return {1: {**smu_unknown(), "trigger_model": None}}

    def applied_voltages(self, state: dict[Hashable, Any], channel: Hashable) -> list[float]:
        return smu_voltages(state[channel])

    def check(self, guard: SafetyGuard, message: str, state: dict[Hashable, Any]) -> None:
        for command in scpi_commands(guard, message):
            shadow = state[1]
            name = command.nodes[0] if command.nodes else ""
            if command.common:
                if command.query or name in _HARMLESS_COMMON:
                    continue
                if name == "*RST":
                    state[1] = {**smu_after_reset(), "trigger_model": "measure"}
                    continue
                raise guard.refuse(command.text, f"{name} cannot be checked against the limits")
            if command.query:
                continue
            self._check_command(guard, command, shadow, name)

    def _check_command(
        self, guard: SafetyGuard, command: ScpiCommand, shadow: dict[str, Any], name: str
    ) -> None:
        header = command.header
        if header == "FUNC":
            function = word_arg(guard, command)
            func = {"VOLT": "voltage", "VOLTAGE": "voltage", "CURR": "current",
                    "CURRENT": "current"}.get(function)
            if func is None:
                raise guard.refuse(command.text, "unknown source function")
            smu_func(guard, 1, shadow, func, command.text)
        elif header in ("VOLT", "CURR", "VOLT:ILIM", "CURR:VLIM"):
            attr = {"VOLT": "levelv", "CURR": "leveli", "VOLT:ILIM": "limiti",
                    "CURR:VLIM": "limitv"}[header]
            value = number_arg(guard, command, 0)
            low, high = _ACCEPTED[attr]
            if not (abs(value) <= high if attr.startswith("level") else low <= value <= high):
                raise guard.refuse(command.text, f"{value:g} is outside what the instrument "
                                   "accepts (it would keep the old value)")
            smu_set(guard, 1, shadow, attr, value)
        elif header in _SAFE_SOURCE:
            pass
        elif header == "VOLT:PROT":
            level = word_arg(guard, command)
            allowed = protection_level_v(guard.limits.max_program_voltage_v)
            if not (level.startswith("PROT") and level[4:].isdigit()
                    and int(level[4:]) <= allowed):
                raise guard.refuse(
                    command.text, f"overvoltage protection may be set to PROT{allowed} or lower"
                )
        elif header.startswith(("SWE:VOLT", "SWE:CURR")):
            voltage = header.startswith("SWE:VOLT")
            for index in (0, 1):
                value = number_arg(guard, command, index)
                if voltage:
                    guard.check_voltage(1, value)
                else:
                    guard.limits.check_compliance(value)
            func = "voltage" if voltage else "current"
            limit = "limiti" if voltage else "limitv"
            if shadow[limit] is None:
                raise guard.refuse(
                    command.text, f"a {func} sweep before {limit} was set with limits bound "
                    "(its default is not within the bench limits)"
                )
            shadow["trigger_model"] = f"sweep-{func}"
        elif header.startswith(("LIST:VOLT", "LIST:CURR")):
            for index in range(len(command.tokens)):
                value = number_arg(guard, command, index)
                if header.startswith("LIST:VOLT"):
                    guard.check_voltage(1, value)
                else:
                    guard.limits.check_compliance(value)
        elif header == "OUTP":
            if switch_arg(guard, command):
                smu_output_on(guard, 1, shadow, command.text)
            else:
                shadow["output"] = False
        elif header in ("OUTP:SMOD", "OUTP:INT"):
            pass
        elif header == "TRIG:LOAD":
            template = word_arg(guard, command)
            if template not in _TEMPLATES:
                raise guard.refuse(command.text, f"trigger template {template!r} not allowed")
            shadow["trigger_model"] = "measure"
        elif header.startswith("TRIG:LOAD:LOOP:"):
            shadow["trigger_model"] = "measure"
        elif header == "TRIG:BLOC:SOUR":
            if switch_arg(guard, command, len(command.tokens) - 1):
                smu_output_on(guard, 1, shadow, command.text)
            shadow["trigger_model"] = "measure"
        elif header == "INIT":
            model = shadow["trigger_model"]
            if model is None:
                raise guard.refuse(
                    command.text, "trigger model loaded before the limits were bound; reload it"
                )
            if model.startswith("sweep-"):
                func = model.removeprefix("sweep-")
                smu_ready(guard, 1, shadow, command.text, func)
                shadow["func"] = None  # the sweep sources in its own function (taken as
                shadow["output"] = True  # unknown afterwards), turns the output on, leaves it
        elif name in _HARMLESS_HEADS:
            pass
        else:
            raise guard.refuse(command.text, "not a command the guard knows how to check")


Keithley2450.guard_rules = ScpiSourceRules()
