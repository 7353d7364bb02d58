"""Keysight 33500B waveform generator (SCPI), two channels, on pymeasure's ``Agilent33500``.

Adds what pymeasure lacks: separate leading/trailing edges (``FUNC:PULS:TRAN:LEAD``/``:TRA``;
pymeasure only sets both), the per-channel trigger source including ``TIM`` and ``BUS``
(``TRIG{ch}:SOUR``), trigger timer and delay, output polarity, ``*OPC?`` after a burst. The
33500B applies a clamped value *and* logs an error when a setting conflicts (e.g. an edge
longer than 0.625 x width), so :meth:`~PulseChannel33500B.configure_pulse` checks those
relations first and reads the error queue afterwards: nothing is clipped silently. pymeasure's
``output_load`` had no validator and ``burst_ncycles`` stopped at 99,999.

.. code-block:: python

    gen = Keysight33500B("TCPIP0::127.0.0.1::5029::SOCKET", limits=limits)
    ch = gen.channels[1]
    ch.output_load = "INF"                       # levels = device voltage (high impedance)
    ch.configure_pulse(high_v=2.0, low_v=0.0, width_s=1e-6, period_s=10e-6,
                       leading_edge_s=10e-9, trailing_edge_s=10e-9)
    ch.burst_mode = "TRIG"
    ch.burst_ncycles = 5
    ch.burst_state = True
    ch.trigger_source = "BUS"
    ch.output = True
    gen.fire_burst()                              # *TRG, then *OPC?
"""

from __future__ import annotations

from typing import Any

from pymeasure.instruments import Channel, Instrument
from pymeasure.instruments.agilent import Agilent33500
from pymeasure.instruments.agilent.agilent33500 import Agilent33500Channel
from pymeasure.instruments.validators import strict_discrete_set

from ._common import (
    TransportErrors,
    choice_reply,
    socket_defaults,
    strict_int_range,
    strict_real_range,
    tune_socket,
)
from ._guards import PulseGeneratorRules
from ._pulse import PulseChannelMixin, PulseGeneratorMixin, level_limit_settings
from .safety import GuardedInstrument

_SHAPES = ("SIN", "SQU", "TRI", "RAMP", "PULS", "PRBS", "NOIS", "ARB", "DC")
_TRIGGER_SOURCES = ("IMM", "EXT", "TIM", "BUS")


def _load_validator(value: Any, values: tuple[float, float]) -> float | str:
    if isinstance(value, str):
        if value.strip().upper() in ("INF", "INFINITY"):
            return "INF"
        raise ValueError(f"output load {value!r} is not a number or 'INF'")
    return strict_real_range(value, values)


def _load_reply(value: Any) -> float:
    number = float(value)
    return float("inf") if number >= 9.9e37 else number


class PulseChannel33500B(PulseChannelMixin, Agilent33500Channel):
    """One output channel of the 33500B (1 or 2)."""

    max_edge_fraction_of_width = 0.625

    shape = Channel.control(
        "SOUR{ch}:FUNC?", "SOUR{ch}:FUNC %s",
        """Control the waveform: 'SIN', 'SQU', 'TRI', 'RAMP', 'PULS', 'PRBS', 'NOIS', 'ARB'
        or 'DC' (str).""",
        validator=strict_discrete_set, values=_SHAPES, cast=str,
        get_process=choice_reply(*_SHAPES),
    )
    high_z_load: Any = "INF"
    """The load setting for a high-impedance cell (levels are the volts at the cell)."""
    voltage_limit_high, voltage_limit_low, voltage_limit_enabled = level_limit_settings(
        "SOUR{ch}:VOLT")
    voltage_high = Channel.control(
        "SOUR{ch}:VOLT:HIGH?", "SOUR{ch}:VOLT:HIGH %g",
        """Control the high level in volts (float, -4.999 to 5 into 50 ohm).""",
        validator=strict_real_range, values=(-4.999, 5.0),
    )
    voltage_low = Channel.control(
        "SOUR{ch}:VOLT:LOW?", "SOUR{ch}:VOLT:LOW %g",
        """Control the low level in volts (float, -5 to 4.999 into 50 ohm).""",
        validator=strict_real_range, values=(-5.0, 4.999),
    )
    amplitude = Channel.control(
        "SOUR{ch}:VOLT?", "SOUR{ch}:VOLT %g",
        """Control the amplitude in volts peak-to-peak (float, 1 mVpp to 10 Vpp into 50 ohm).""",
        validator=strict_real_range, values=(1e-3, 10.0),
    )
    offset = Channel.control(
        "SOUR{ch}:VOLT:OFFS?", "SOUR{ch}:VOLT:OFFS %g",
        """Control the offset in volts (float, -4.995 to 4.995 into 50 ohm).""",
        validator=strict_real_range, values=(-4.995, 4.995),
    )
    pulse_width = Channel.control(
        "SOUR{ch}:FUNC:PULS:WIDT?", "SOUR{ch}:FUNC:PULS:WIDT %g",
        """Control the pulse width in seconds (float, 16 ns to 1e6 s).""",
        validator=strict_real_range, values=(16e-9, 1e6),
    )
    pulse_period = Channel.control(
        "SOUR{ch}:FUNC:PULS:PER?", "SOUR{ch}:FUNC:PULS:PER %g",
        """Control the pulse period in seconds (float, 33 ns to 1e6 s).""",
        validator=strict_real_range, values=(33e-9, 1e6),
    )
    leading_edge = Channel.control(
        "SOUR{ch}:FUNC:PULS:TRAN:LEAD?", "SOUR{ch}:FUNC:PULS:TRAN:LEAD %g",
        """Control the leading edge time in seconds (float, 8.4 ns to 1 us; at most
        0.625 x width).""",
        validator=strict_real_range, values=(8.4e-9, 1e-6),
    )
    trailing_edge = Channel.control(
        "SOUR{ch}:FUNC:PULS:TRAN:TRA?", "SOUR{ch}:FUNC:PULS:TRAN:TRA %g",
        """Control the trailing edge time in seconds (float, 8.4 ns to 1 us; at most
        0.625 x width).""",
        validator=strict_real_range, values=(8.4e-9, 1e-6),
    )
    pulse_transition = Channel.control(
        "SOUR{ch}:FUNC:PULS:TRAN:LEAD?", "SOUR{ch}:FUNC:PULS:TRAN:BOTH %g",
        """Control both edge times in seconds (float, 8.4 ns to 1 us); reads the leading
        edge.""",
        validator=strict_real_range, values=(8.4e-9, 1e-6),
    )
    burst_state = Channel.control(
        "SOUR{ch}:BURS:STAT?", "SOUR{ch}:BURS:STAT %d",
        """Control whether burst mode is on (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True,
    )
    burst_mode = Channel.control(
        "SOUR{ch}:BURS:MODE?", "SOUR{ch}:BURS:MODE %s",
        """Control the burst mode: 'TRIG' (N cycles per trigger) or 'GAT' (gated) (str).""",
        validator=strict_discrete_set, values=("TRIG", "GAT"), cast=str,
        get_process=choice_reply("TRIG", "GAT"),
    )
    burst_ncycles = Channel.control(
        "SOUR{ch}:BURS:NCYC?", "SOUR{ch}:BURS:NCYC %d",
        """Control the number of cycles per triggered burst (int, 1 to 100,000,000).""",
        validator=strict_int_range, values=(1, 100_000_000),
        get_process=lambda v: int(float(v)),
    )
    trigger_source = Channel.control(
        "TRIG{ch}:SOUR?", "TRIG{ch}:SOUR %s",
        """Control the trigger source: 'IMM', 'EXT', 'TIM' (internal timer) or 'BUS'
        (``*TRG``) (str).""",
        validator=strict_discrete_set, values=_TRIGGER_SOURCES, cast=str,
        get_process=choice_reply(*_TRIGGER_SOURCES),
    )
    trigger_timer = Channel.control(
        "TRIG{ch}:TIM?", "TRIG{ch}:TIM %g",
        """Control the period of the internal trigger timer in seconds (float, 1 us to
        8000 s).""",
        validator=strict_real_range, values=(1e-6, 8000.0),
    )
    trigger_delay = Channel.control(
        "TRIG{ch}:DEL?", "TRIG{ch}:DEL %g",
        """Control the delay between trigger and output in seconds (float, 0 to 1000).""",
        validator=strict_real_range, values=(0.0, 1000.0),
    )
    polarity = Channel.control(
        "OUTP{ch}:POL?", "OUTP{ch}:POL %s",
        """Control the output polarity: 'NORM' or 'INV' (str).""",
        validator=strict_discrete_set, values=("NORM", "INV"), cast=str,
        get_process=choice_reply("NORM", "INV"),
    )
    output = Channel.control(
        "OUTP{ch}?", "OUTP{ch} %d",
        """Control whether the output is on (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True,
    )
    output_enabled = output
    output_load = Channel.control(
        "OUTP{ch}:LOAD?", "OUTP{ch}:LOAD %s",
        """Control the load impedance the levels are programmed for: ohms (float, 1 to 10000)
        or 'INF' (high impedance; the reply is ``inf``).""",
        validator=_load_validator, values=(1.0, 10_000.0), get_process=_load_reply,
    )


class Keysight33500B(GuardedInstrument, TransportErrors, PulseGeneratorMixin, Agilent33500):
    """Keysight 33500B with both channels as :class:`PulseChannel33500B`.

    Bind bench limits with ``limits=`` (channel roles default to "program"): every message is
    then checked by :class:`~ftjlab.instruments._guards.PulseGeneratorRules`.
    """

    ch_1 = Instrument.ChannelCreator(PulseChannel33500B, 1)
    ch_2 = Instrument.ChannelCreator(PulseChannel33500B, 2)

    def __init__(self, adapter: Any, name: str = "Keysight 33500B", **kwargs: Any):
        super().__init__(adapter, name, **socket_defaults(adapter, kwargs))
        tune_socket(self.adapter)


Keysight33500B.guard_rules = PulseGeneratorRules(
    amplitude_min_v=1e-3, amplitude_max_v=10.0, window_v=5.0, load_rescales_levels=True,
    reset_timing=(100e-6, 1e-3, 10e-9),
)
