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
from typing import Any

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
from ._guard_tsp import TSPSourceRules
from ._script_calls import UNENDED_FLAG
from ._tsp import TSPMixin
from .safety import GuardedInstrument

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

    def read(self, **kwargs: Any) -> str:
        """Read a reply line; refused while a script call's end is not seen (its abort went
        unanswered): what comes next may be the script's late output, not this reply."""
        if getattr(self, UNENDED_FLAG, False):
            raise InstrumentError(
                f"{self.name}: a script call may still be running and printing (its abort "
                "was not answered); no reply is read until abort_scripts() succeeds")
        return super().read(**kwargs)

    def abort_scripts(self, timeout_s: float | None = None) -> int:
        """Terminate any script still running on the SMU and see it end: the
        2600B's ``abort``, then a marker read back past whatever the script still printed
        (binary blocks included), and the guards' holds of its calls end
        (:func:`~ftjlab.instruments._script_calls.abort_script`). Run first by
        :func:`~ftjlab.instruments.shutdown.shutdown_safely`, so a script cannot close a
        relay again after the matrix was opened. (Only the SMU runs our scripts: the guards
        accept registered scripts of the 2636B only.)

        :param timeout_s: how long each read may wait; default: the instrument's timeout,
            or 15 s if a script call's end was not seen on this connection.
        :returns: the number of bytes dropped before the marker.
        """
        from ._script_calls import abort_script, script_unended

        if timeout_s is None:
            timeout_s = 15.0 if script_unended(self) else 0.0
        return abort_script(self, timeout_s=timeout_s)

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

Keithley2636B.guard_rules = TSPSourceRules()
