"""Keithley 2636B System SourceMeter (TSP), two SMU channels ``smua`` and ``smub``.

Replaces pymeasure's ``Keithley2600`` (which clips with ``truncated_range``, sends ``%f`` so
100 pA becomes ``0.000000``, and has no buffers, ``printbuffer`` or compliance flag) with a
driver built on pymeasure's ``Instrument``/``Channel`` property factories. Commands follow the
Series 2600B Reference Manual (2600BS-901-01); every query is a Lua ``print()``.

.. code-block:: python

    smu = Keithley2636B("TCPIP0::127.0.0.1::5025::SOCKET", limits=limits,
                        roles={"a": "sample", "b": "read"})
    a = smu.smua
    a.apply_voltage(0.8, current_limit=1e-6)        # func, autorange, limit, level
    a.measure_nplc = 0.001
    a.output_enabled = True
    a.configure_timed_acquisition(count=20_000, interval_s=50e-6)
    a.start_current_acquisition()                     # overlapped into smua.nvbuffer1
    smu.wait_for_completion(timeout_s=5)
    current_a, time_s = a.read_buffer(binary=True)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Hashable
from typing import Any, ClassVar

import numpy as np
from pymeasure.instruments import Channel, Instrument
from pymeasure.instruments.validators import strict_discrete_set

from ._common import (
    InstrumentError,
    TransportErrors,
    parse_ascii_floats,
    read_indefinite_block,
    socket_defaults,
    strict_int_range,
    strict_real_range,
    tune_socket,
)
from ._guards import smu_after_reset, smu_output_on, smu_set, smu_unknown, smu_voltages
from ._tsp import TSPMixin
from .safety import GuardedInstrument, SafetyGuard

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

MAX_VOLTAGE_V = 200.0
MAX_CURRENT_A = 1.5
_BINARY_DTYPES = {"REAL32": "<f4", "REAL64": "<f8"}


def _tsp_bool(value: Any) -> bool:
    text = str(value).strip()
    if text == "true":
        return True
    if text == "false":
        return False
    raise InstrumentError(f"expected 'true' or 'false', got {value!r}")


def _to_int(value: Any) -> int:
    return int(float(value))


class SMUChannel(Channel):
    """One SMU channel of a Keithley 2636B (``smua`` or ``smub``)."""

    # ----------------------------------------------------------------------------- source
    source_function = Channel.control(
        "print(smu{ch}.source.func)", "smu{ch}.source.func = %d",
        """Control the source function: 'voltage' (DC volts, 1) or 'current' (DC amps, 0).""",
        validator=strict_discrete_set, values={"voltage": 1, "current": 0}, map_values=True,
    )
    source_voltage = Channel.control(
        "print(smu{ch}.source.levelv)", "smu{ch}.source.levelv = %g",
        """Control the voltage source level in volts (float, -200 to 200).""",
        validator=strict_real_range, values=(-MAX_VOLTAGE_V, MAX_VOLTAGE_V),
    )
    source_current = Channel.control(
        "print(smu{ch}.source.leveli)", "smu{ch}.source.leveli = %g",
        """Control the current source level in amperes (float, -1.5 to 1.5).""",
        validator=strict_real_range, values=(-MAX_CURRENT_A, MAX_CURRENT_A),
    )
    source_voltage_range = Channel.control(
        "print(smu{ch}.source.rangev)", "smu{ch}.source.rangev = %g",
        """Control the voltage source range in volts (float, 0 to 200); the instrument selects
        the 200 mV, 2 V, 20 V or 200 V range that holds the value. Disables autorange.""",
        validator=strict_real_range, values=(0.0, MAX_VOLTAGE_V),
    )
    source_voltage_autorange = Channel.control(
        "print(smu{ch}.source.autorangev)", "smu{ch}.source.autorangev = %d",
        """Control whether the voltage source range is automatic (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True,
    )
    source_current_range = Channel.control(
        "print(smu{ch}.source.rangei)", "smu{ch}.source.rangei = %g",
        """Control the current source range in amperes (float, 0 to 1.5). Disables autorange.""",
        validator=strict_real_range, values=(0.0, MAX_CURRENT_A),
    )
    source_current_autorange = Channel.control(
        "print(smu{ch}.source.autorangei)", "smu{ch}.source.autorangei = %d",
        """Control whether the current source range is automatic (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True,
    )
    current_limit = Channel.control(
        "print(smu{ch}.source.limiti)", "smu{ch}.source.limiti = %g",
        """Control the current limit (compliance) of the voltage source in amperes
        (float, 100 pA to 1.5 A).""",
        validator=strict_real_range, values=(100e-12, MAX_CURRENT_A),
    )
    voltage_limit = Channel.control(
        "print(smu{ch}.source.limitv)", "smu{ch}.source.limitv = %g",
        """Control the voltage limit (compliance) of the current source in volts
        (float, 0 to 200).""",
        validator=strict_real_range, values=(0.0, MAX_VOLTAGE_V),
    )
    in_compliance = Channel.measurement(
        "print(smu{ch}.source.compliance)",
        """Get whether the source is in compliance, i.e. limited by its limit (bool).""",
        cast=str, get_process=_tsp_bool,
    )
    output_enabled = Channel.control(
        "print(smu{ch}.source.output)", "smu{ch}.source.output = %d",
        """Control whether the source output is on (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True,
    )

    # ---------------------------------------------------------------------------- measure
    measure_nplc = Channel.control(
        "print(smu{ch}.measure.nplc)", "smu{ch}.measure.nplc = %g",
        """Control the integration aperture in power line cycles (float, 0.001 to 25).""",
        validator=strict_real_range, values=(0.001, 25.0),
    )
    measure_current_range = Channel.control(
        "print(smu{ch}.measure.rangei)", "smu{ch}.measure.rangei = %g",
        """Control the current measure range in amperes (float, 0 to 1.5; the instrument selects
        the range from 100 pA up that holds the value). Disables autorange.""",
        validator=strict_real_range, values=(0.0, MAX_CURRENT_A),
    )
    measure_current_autorange = Channel.control(
        "print(smu{ch}.measure.autorangei)", "smu{ch}.measure.autorangei = %d",
        """Control whether the current measure range is automatic (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True,
    )
    measure_voltage_range = Channel.control(
        "print(smu{ch}.measure.rangev)", "smu{ch}.measure.rangev = %g",
        """Control the voltage measure range in volts (float, 0 to 200). Disables autorange.""",
        validator=strict_real_range, values=(0.0, MAX_VOLTAGE_V),
    )
    measure_voltage_autorange = Channel.control(
        "print(smu{ch}.measure.autorangev)", "smu{ch}.measure.autorangev = %d",
        """Control whether the voltage measure range is automatic (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True,
    )
    measure_autozero = Channel.control(
        "print(smu{ch}.measure.autozero)", "smu{ch}.measure.autozero = %d",
        """Control the autozero mode: 'OFF' (0), 'ONCE' (1) or 'AUTO' (2).""",
        validator=strict_discrete_set, values={"OFF": 0, "ONCE": 1, "AUTO": 2}, map_values=True,
    )
    measure_count = Channel.control(
        "print(smu{ch}.measure.count)", "smu{ch}.measure.count = %d",
        """Control the number of readings one measure command takes (int, >= 1; in practice
        at most the buffer capacity).""",
        validator=strict_int_range, values=(1, 2**31 - 1), get_process=_to_int,
    )
    measure_interval = Channel.control(
        "print(smu{ch}.measure.interval)", "smu{ch}.measure.interval = %g",
        """Control the interval between the readings of one measure command in seconds
        (float, 0 to 1). If the SMU cannot keep up it measures as fast as it can.""",
        validator=strict_real_range, values=(0.0, 1.0),
    )
    current = Channel.measurement(
        "print(smu{ch}.measure.i())",
        """Get one current reading in amperes (float).""",
    )
    voltage = Channel.measurement(
        "print(smu{ch}.measure.v())",
        """Get one voltage reading in volts (float).""",
    )

    # ------------------------------------------------------------------- reading buffer 1
    buffer_count = Channel.measurement(
        "print(smu{ch}.nvbuffer1.n)",
        """Get the number of readings stored in ``nvbuffer1`` (int).""",
        get_process=_to_int,
    )
    buffer_capacity = Channel.measurement(
        "print(smu{ch}.nvbuffer1.capacity)",
        """Get the number of readings ``nvbuffer1`` can hold with its present settings (int).""",
        get_process=_to_int,
    )
    buffer_append_mode = Channel.control(
        "print(smu{ch}.nvbuffer1.appendmode)", "smu{ch}.nvbuffer1.appendmode = %d",
        """Control whether new readings are appended to ``nvbuffer1`` (bool); if False the
        buffer is cleared when a measurement starts.""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True,
    )
    buffer_collect_timestamps = Channel.control(
        "print(smu{ch}.nvbuffer1.collecttimestamps)",
        "smu{ch}.nvbuffer1.collecttimestamps = %d",
        """Control whether ``nvbuffer1`` stores a timestamp with each reading (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True,
    )
    buffer_fill_mode = Channel.control(
        "print(smu{ch}.nvbuffer1.fillmode)", "smu{ch}.nvbuffer1.fillmode = %d",
        """Control the fill mode of ``nvbuffer1``: 'ONCE' (0, discard readings when full) or
        'WINDOW' (1, overwrite the oldest).""",
        validator=strict_discrete_set, values={"ONCE": 0, "WINDOW": 1}, map_values=True,
    )

    # ---------------------------------------------------------------------------- methods
    def apply_voltage(
        self, volts: float, current_limit: float, voltage_range: float | None = None
    ) -> None:
        """Configure a DC voltage source: function, range (auto if None), limit, level.

        The output state is not changed. Bound limits are checked before the first write.
        """
        guard = self.parent.safety
        if guard is not None:
            guard.check_voltage(self.id, volts)
            guard.limits.check_compliance(current_limit)
        self.source_function = "voltage"
        if voltage_range is None:
            self.source_voltage_autorange = True
        else:
            self.source_voltage_range = voltage_range
        self.current_limit = current_limit
        self.source_voltage = volts

    def clear_buffer(self) -> None:
        """Clear ``nvbuffer1``."""
        self.write("smu{ch}.nvbuffer1.clear()")

    def configure_timed_acquisition(
        self, count: int, interval_s: float, fill_mode: str = "ONCE"
    ) -> None:
        """Prepare ``count`` current readings ``interval_s`` apart into ``nvbuffer1``.

        Sets the measure count and interval, clears the buffer, and enables append mode and
        timestamps. Start with :meth:`start_current_acquisition`.
        """
        self.measure_count = count
        self.measure_interval = interval_s
        self.clear_buffer()
        self.buffer_append_mode = True
        self.buffer_collect_timestamps = True
        self.buffer_fill_mode = fill_mode

    def start_current_acquisition(self, overlapped: bool = True) -> None:
        """Start measuring current into ``nvbuffer1``.

        :param overlapped: return at once (``overlappedi``); wait with
            :meth:`Keithley2636B.wait_for_completion`. If False, ``smuX.measure.i(...)``
            blocks the instrument's command queue until done.
        """
        if overlapped:
            self.write("smu{ch}.measure.overlappedi(smu{ch}.nvbuffer1)")
        else:
            self.write("smu{ch}.measure.i(smu{ch}.nvbuffer1)")

    def read_buffer(
        self,
        count: int | None = None,
        *,
        binary: bool = True,
        binary_format: str = "REAL32",
        timestamps: bool = True,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Read readings (and timestamps) 1..``count`` of ``nvbuffer1`` with ``printbuffer``.

        :param count: number of readings; None asks the buffer for ``n``.
        :param binary: transfer IEEE-754 little-endian numbers (``#0`` block read by byte
            count) instead of ASCII; the data format is set back to ASCII afterwards.
        :param binary_format: 'REAL32' (4 bytes, about 7 significant digits) or 'REAL64'.
        :param timestamps: also read ``nvbuffer1.timestamps`` (seconds).
        :returns: ``(readings, timestamps)`` as float64 arrays (timestamps None if not read).
        """
        if binary_format not in _BINARY_DTYPES:
            raise ValueError(f"binary_format must be one of {list(_BINARY_DTYPES)}")
        n = self.buffer_count if count is None else strict_int_range(count, (0, 2**31 - 1))
        if n == 0:
            return np.empty(0), (np.empty(0) if timestamps else None)
        columns = "smu{ch}.nvbuffer1.readings"
        if timestamps:
            columns += ", smu{ch}.nvbuffer1.timestamps"
        per_point = 2 if timestamps else 1
        command = f"printbuffer(1, {n}, {columns})"
        if binary:
            self.write(f"format.data = format.{binary_format}")
            self.write("format.byteorder = format.LITTLEENDIAN")
            try:
                self.write(command)
                values = read_indefinite_block(self, n * per_point, _BINARY_DTYPES[binary_format])
            finally:
                self.write("format.data = format.ASCII")
        else:
            values = parse_ascii_floats(self.ask(command))
            if values.size != n * per_point:
                raise InstrumentError(
                    f"printbuffer returned {values.size} values, expected {n * per_point}"
                )
        if timestamps:
            return values[0::2].copy(), values[1::2].copy()
        return values, None

    def shutdown(self) -> None:
        """Switch the output off."""
        self.output_enabled = False


class Keithley2636B(GuardedInstrument, TransportErrors, TSPMixin, Instrument):
    """Keithley 2636B System SourceMeter (TSP) with channels ``smua`` and ``smub``.

    Bind bench limits with ``limits=`` (and ``roles={"a": ..., "b": ...}``, default "read"):
    every message is then checked by :class:`TSPSourceRules` before it is sent.
    """

    smua = Instrument.ChannelCreator(SMUChannel, "a")
    smub = Instrument.ChannelCreator(SMUChannel, "b")

    def __init__(self, adapter: Any, name: str = "Keithley 2636B SourceMeter", **kwargs: Any):
        super().__init__(adapter, name, includeSCPI=False, **socket_defaults(adapter, kwargs))
        tune_socket(self.adapter)

    data_format = Instrument.setting(
        "format.data = format.%s",
        """Set the format of ``printbuffer``/``printnumber`` output: 'ASCII', 'REAL32' or
        'REAL64' (str).""",
        validator=strict_discrete_set, values=("ASCII", "REAL32", "REAL64"),
    )
    byte_order = Instrument.setting(
        "format.byteorder = format.%s",
        """Set the byte order of binary output: 'LITTLEENDIAN' or 'BIGENDIAN' (str).""",
        validator=strict_discrete_set, values=("LITTLEENDIAN", "BIGENDIAN"),
    )

    def shutdown(self) -> None:
        """Switch both outputs off (each is tried even if the other fails)."""
        failures = []
        for channel in (self.smua, self.smub):
            try:
                channel.shutdown()
            except Exception as exc:  # keep going: the other output must go off too
                log.error("%s: output %s off failed: %s", self.name, channel.id, exc)
                failures.append(exc)
        super().shutdown()
        if failures:
            raise failures[0]


# ------------------------------------------------------------------------- safety rules

_SOURCE_ATTR = re.compile(
    r"\bsmu(?P<ch>[ab])\s*\.\s*source\s*\.\s*(?P<attr>levelv|leveli|limitv|limiti|output|func)\b"
)
_TRIGGER_LIMIT = re.compile(
    r"\bsmu(?P<ch>[ab])\s*\.\s*trigger\s*\.\s*source\s*\.\s*(?P<attr>limitv|limiti)\b"
)
_SWEEP = re.compile(
    r"\bsmu(?P<ch>[ab])\s*\.\s*trigger\s*\.\s*source\s*\.\s*"
    r"(?P<fn>listv|linearv|logv|listi|lineari|logi)\b"
)
_INITIATE = re.compile(r"\bsmu(?P<ch>[ab])\s*\.\s*trigger\s*\.\s*initiate\s*\(")
_RESET_ALL = re.compile(r"(?<![\w.])reset\s*\(|\*RST\b")
_RESET_ONE = re.compile(r"\bsmu(?P<ch>[ab])\s*\.\s*reset\s*\(")
_ALIASES = (
    re.compile(r"\bsmu[ab]\b(?!\s*\.)"),
    re.compile(r"\bsmu[ab]\s*\.\s*(?:source|trigger)\b(?!\s*\.)"),
    re.compile(r"\bsmu[ab]\s*\.\s*trigger\s*\.\s*source\b(?!\s*\.)"),
)
_FORBIDDEN = re.compile(
    r"\b(?:loadstring|loadfile|dofile|load|setfenv|getfenv|rawset|_G|"
    r"setup\s*\.\s*recall|script\s*\.\s*load)\b"
)
_STRINGS_AND_COMMENTS = re.compile(r'"[^"\n]*"|\'[^\'\n]*\'|--\[\[.*?\]\]|--[^\n]*', re.DOTALL)
_CALL = re.compile(
    r"(?<![\w.\]])(?P<name>[A-Za-z_]\w*(?:\s*(?:\.\s*[A-Za-z_]\w*|\[\s*\d+\s*\]))*)\s*\("
)
_DEFINITION = re.compile(
    r"\bfunction\s+(?P<a>[A-Za-z_][\w.]*)\s*\(|(?P<b>[A-Za-z_][\w.]*)\s*=\s*function\s*\("
)
_KEYWORDS = frozenset(
    {"and", "or", "not", "if", "elseif", "while", "until", "return", "function", "in", "then",
     "do", "local", "else", "repeat", "end", "for"}
)
_SAFE_CALLS = frozenset(
    {"print", "printbuffer", "printnumber", "waitcomplete", "reset", "delay", "opc",
     "tostring", "tonumber", "type", "ipairs", "pairs", "exit"}
)
_SAFE_CALL_PREFIXES = (
    "smua.", "smub.", "errorqueue.", "display.", "beeper.", "status.", "timer.", "trigger.",
    "localnode.", "math.", "string.", "table.", "format.", "bit.", "eventlog.", "digio.",
)
#: TSP-Link: switching on a node (a 707B as node[N]) sources nothing and may run; any other
#: use of a node (e.g. its SMUs) would escape the checks and is refused
_NODE_SWITCHING = re.compile(r"node\[\d+\]\.channel\.\w+")
_NODE_OTHER = re.compile(r"node\s*\[\s*\d+\s*\]\s*\.\s*(?!channel\s*\.)")
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_CONSTANTS = {
    "output": {"OUTPUT_OFF": 0, "OUTPUT_ON": 1, "OUTPUT_HIGH_Z": 2},
    "func": {"OUTPUT_DCAMPS": 0, "OUTPUT_DCVOLTS": 1},
}
_CONSTANT = re.compile(r"smu[ab]\s*\.\s*(?P<name>[A-Z_]+)")


def _either(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Shadow of a channel when statements may or may not have run: only what holds either
    way stays known (for levels, the larger magnitude; both were checked)."""
    merged: dict[str, Any] = {}
    for key, was in old.items():
        now = new[key]
        if was == now:
            merged[key] = was
        elif key == "sweep" or key == "func" or was is None or now is None:
            merged[key] = False if key == "sweep" else None
        else:
            merged[key] = max(was, now, key=abs)
    return merged


def _depth(text: str) -> int:
    return sum(text.count(c) for c in "([{") - sum(text.count(c) for c in ")]}")


def _skip_space_and_comments(text: str, pos: int) -> int:
    while True:
        match = re.compile(r"\s*").match(text, pos)
        pos = match.end() if match else pos
        if text.startswith("--[[", pos):
            end = text.find("]]", pos)
            if end < 0:
                return len(text)
            pos = end + 2
        elif text.startswith("--", pos):
            end = text.find("\n", pos)
            return len(text) if end < 0 else end
        else:
            return pos


class TSPSourceRules:
    """Guard rules for the 2636B's TSP (Lua) messages.

    Every assignment to ``smuX.source.levelv/leveli/limitv/limiti/output/func`` and
    ``smuX.trigger.source.limitv/limiti`` must have a numeric literal (or the SMU constant)
    as its whole right-hand side, and is checked: ``levelv``/``limitv`` against the channel
    role's max |V|, ``leveli``/``limiti`` against the max compliance. Sweep lists
    (``listv``/``linearv``/``logv`` and the current versions) must be literal and are checked.
    Refused: aliasing an SMU or its source (``s = smua.source``), ``loadstring`` and friends,
    ``setup.recall``, multiple assignment, ``smuX.trigger.initiate()`` with an unchecked sweep,
    calls of functions that are neither instrument functions nor defined in a checked message
    (scripts stored before the limits were bound), and switching an output on before its
    function, level and limit were set.
    """

    default_roles: ClassVar[dict[Hashable, str]] = {"a": "read", "b": "read"}

    def initial_state(self) -> dict[Hashable, Any]:
        state: dict[Hashable, Any] = {
            channel: {**smu_unknown(), "sweep": False} for channel in self.default_roles
        }
        state["functions"] = []
        return state

    def applied_voltages(self, state: dict[Hashable, Any], channel: Hashable) -> list[float]:
        return smu_voltages(state[channel])

    def check(self, guard: SafetyGuard, message: str, state: dict[Hashable, Any]) -> None:
        forbidden = _FORBIDDEN.search(message)
        if forbidden:
            raise guard.refuse(message, f"{forbidden.group(0)!r} cannot be checked")
        self._check_calls(guard, message, state)
        for alias in _ALIASES:
            match = alias.search(message)
            if match:
                raise guard.refuse(
                    message, f"{match.group(0).strip()!r} used as a value (aliasing) "
                    "cannot be checked; assign attributes directly"
                )
        code = _STRINGS_AND_COMMENTS.sub('""', message)
        defines = re.search(r"\bfunction\b", code) is not None
        branches = re.search(r"\b(?:if|for|while|repeat|goto)\b", code) is not None
        events: list[tuple[int, str, re.Match[str]]] = []
        for kind, pattern in (
            ("reset_all", _RESET_ALL), ("reset_one", _RESET_ONE), ("source", _SOURCE_ATTR),
            ("trigger_limit", _TRIGGER_LIMIT), ("sweep", _SWEEP), ("initiate", _INITIATE),
        ):
            events.extend((match.start(), kind, match) for match in pattern.finditer(message))
        for _pos, kind, match in sorted(events, key=lambda event: event[0]):
            before = {channel: dict(state[channel]) for channel in self.default_roles}
            if kind in ("source", "trigger_limit"):
                writes = self._assignment(guard, message, match, kind, state)
            else:
                writes = True
            if writes and defines:
                raise guard.refuse(
                    message, "source settings inside a function definition cannot be checked "
                    "(the function may run later, in another state); send them directly"
                )
            if kind == "reset_all":
                for channel in self.default_roles:
                    state[channel] = {**smu_after_reset(), "sweep": True}
            elif kind == "reset_one":
                state[match.group("ch")] = {**smu_after_reset(), "sweep": True}
            elif kind == "sweep":
                self._sweep(guard, message, match, state)
            elif kind == "initiate" and not state[match.group("ch")]["sweep"]:
                raise guard.refuse(
                    message, "trigger model started before its sweep was set with limits bound"
                )
            if branches:  # with branches or loops, any statement may or may not run
                for channel, old in before.items():
                    state[channel] = _either(old, state[channel])

    def _check_calls(self, guard: SafetyGuard, message: str, state: dict) -> None:
        """Only known instrument functions and functions defined under the guard may run:
        a function stored on the instrument before the limits were bound was never checked."""
        code = _STRINGS_AND_COMMENTS.sub('""', message)
        if _NODE_OTHER.search(code):
            raise guard.refuse(
                message, "only switching (node[N].channel...) may run on a TSP-Link node"
            )
        defined = {m.group("a") or m.group("b") for m in _DEFINITION.finditer(code)}
        known = set(state["functions"]) | defined
        for match in _CALL.finditer(code):
            name = re.sub(r"\s+", "", match.group("name"))
            if name in _KEYWORDS or name in _SAFE_CALLS or name in known:
                continue
            if name.startswith(_SAFE_CALL_PREFIXES) or _NODE_SWITCHING.fullmatch(name):
                continue
            if code[: match.start()].rstrip().endswith("function"):
                continue  # the name of a definition
            raise guard.refuse(
                message,
                f"call of {name!r}, which was not defined with limits bound, cannot be checked",
            )
        state["functions"] = sorted(known)

    def _assignment(
        self, guard: SafetyGuard, message: str, match: re.Match[str], kind: str, state: dict
    ) -> bool:
        """Check an assignment (True) or let a read through (False)."""
        channel, attr = match.group("ch"), match.group("attr")
        equals = re.compile(r"\s*=(?!=)").match(message, match.end())
        if equals is None:
            comma = re.compile(r"\s*,").match(message, match.end())
            if comma and _depth(message[: match.start()]) == 0:
                raise guard.refuse(message, "multiple assignment cannot be checked")
            return False
        start = _skip_space_and_comments(message, equals.end())
        literal = _NUMBER.match(message, start)
        constant = None
        if literal is None and attr in _CONSTANTS:
            literal = _CONSTANT.match(message, start)
            if literal is not None:
                constant = _CONSTANTS[attr].get(literal.group("name"))
                if constant is None:
                    literal = None
        if literal is None:
            raise guard.refuse(message, f"{attr} must be assigned a numeric literal")
        end = literal.end()
        if end < len(message) and (message[end].isalnum() or message[end] in "._"):
            raise guard.refuse(message, f"{attr} must be assigned a plain decimal literal")
        after = _skip_space_and_comments(message, end)
        rest = message[after:]
        if rest and (rest[0] in "+-*/^%.<>=~,([{#:" or re.match(r"(?:and|or)\b", rest)):
            raise guard.refuse(message, f"{attr} must be assigned a literal, not an expression")
        value = float(constant) if constant is not None else float(literal.group(0))
        shadow = state[channel]
        if kind == "trigger_limit":
            if attr == "limitv":
                guard.check_voltage(channel, value)
            else:
                guard.limits.check_compliance(value)
        elif attr == "output":
            if value == 1:
                smu_output_on(guard, channel, shadow, message)
            elif value not in (0, 2):
                raise guard.refuse(message, f"unknown output state {value:g}")
        elif attr == "func":
            if value not in (0, 1):
                raise guard.refuse(message, f"unknown source function {value:g}")
            shadow["func"] = "voltage" if value == 1 else "current"
        else:
            smu_set(guard, channel, shadow, attr, value)
        return True

    def _sweep(self, guard: SafetyGuard, message: str, match: re.Match[str], state: dict) -> None:
        channel, function = match.group("ch"), match.group("fn")
        number = r"\s*(-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\s*"
        if function.startswith("list"):
            call = re.compile(r"\s*\(\s*\{([^{}()]*)\}\s*\)").match(message, match.end())
            items = call.group(1).split(",") if call else []
            parsed = [re.fullmatch(number, item) for item in items if item.strip()]
            if call is None or not parsed or not all(parsed):
                raise guard.refuse(message, "sweep lists must be literal numbers")
            values = [float(item.group(1)) for item in parsed if item]
        else:
            arguments = 3 if function.startswith("linear") else 4
            pattern = r"\s*\(" + ",".join([number] * arguments) + r"\)"
            call = re.compile(pattern).match(message, match.end())
            if call is None:
                raise guard.refuse(message, "sweep arguments must be literal numbers")
            values = [float(call.group(1)), float(call.group(2))]
        for value in values:
            if function.endswith("v"):
                guard.check_voltage(channel, value)
            else:
                guard.limits.check_compliance(value)
        state[channel]["sweep"] = True


Keithley2636B.guard_rules = TSPSourceRules()
