"""Keysight 81160A pulse function arbitrary noise generator (SCPI), two channels.

Extends pymeasure's ``Keysight81160A`` with the trailing edge (``:PULS:TRAN{ch}:TRA``), pulse
delay (``:PULS:DEL{ch}``) and output polarity (``:OUTP{ch}:POL``), fixes the leading edge
command (``:PULS:TRAN{ch}``; pymeasure sends ``:FUNC{ch}:PULS:TRAN``), and redeclares the pulse
properties with the instrument's ranges (81150A/81160A user guide, "Pulse" appendix):
width >= 1.5 ns, period 3.03 ns to 1e6 s, edges 1 ns to 1 ks, amplitude 50 mVpp to 5 Vpp into
50 ohm, ``period >= width + 1.6 x edge``.

Levels are programmed for the load set with ``output_load`` (50 ohm by default): into a
high-impedance device the voltage is twice the programmed one unless ``output_load`` is set
to the real load. Bench limits check the programmed levels.

.. code-block:: python

    gen = Keysight81160A("TCPIP0::127.0.0.1::5028::SOCKET", limits=limits)
    ch = gen.channels[1]
    ch.configure_pulse(high_v=2.5, low_v=0.0, width_s=100e-9, period_s=1e-6,
                       leading_edge_s=5e-9, trailing_edge_s=5e-9)
    ch.arm_source = "MAN"
    ch.burst_count = 10
    ch.output = True
    gen.fire_burst()                       # *TRG, then *OPC? answers when the burst is out
"""

from __future__ import annotations

from typing import Any

from pymeasure.instruments import Channel, Instrument
from pymeasure.instruments.keysight import Keysight81160A as _PymeasureKeysight81160A
from pymeasure.instruments.keysight.keysight81160A import Keysight81160AChannel
from pymeasure.instruments.validators import strict_discrete_set

from ._common import (
    TransportErrors,
    choice_reply,
    on_off,
    socket_defaults,
    strict_int_range,
    strict_real_range,
    tune_socket,
)
from ._guards import PulseGeneratorRules
from ._pulse import PulseChannelMixin, PulseGeneratorMixin, level_limit_settings
from .safety import GuardedInstrument

_SHAPES = ("PULS", "SIN", "SQU", "RAMP", "NOIS", "DC", "USER")
_ARM_SOURCES = ("IMM", "INT2", "EXT", "MAN")


class PulseChannel81160A(PulseChannelMixin, Keysight81160AChannel):
    """One output channel of the 81160A (1 or 2)."""

    shape = Channel.control(
        ":FUNC{ch}?", ":FUNC{ch} %s",
        """Control the waveform: 'PULS', 'SIN', 'SQU', 'RAMP', 'NOIS', 'DC' or 'USER' (str).""",
        validator=strict_discrete_set, values=_SHAPES, cast=str, get_process=choice_reply(*_SHAPES),
    )
    high_z_load: Any = 1e6
    """The load setting for a high-impedance cell (levels are the volts at the cell)."""
    voltage_limit_high, voltage_limit_low, voltage_limit_enabled = level_limit_settings(
        ":VOLT{ch}")
    voltage_high = Channel.control(
        ":VOLT{ch}:HIGH?", ":VOLT{ch}:HIGH %g",
        """Control the high level in volts (float, -4.95 to 5 into 50 ohm).""",
        validator=strict_real_range, values=(-4.95, 5.0),
    )
    voltage_low = Channel.control(
        ":VOLT{ch}:LOW?", ":VOLT{ch}:LOW %g",
        """Control the low level in volts (float, -5 to 4.95 into 50 ohm).""",
        validator=strict_real_range, values=(-5.0, 4.95),
    )
    amplitude = Channel.control(
        ":VOLT{ch}?", ":VOLT{ch} %g",
        """Control the amplitude in volts peak-to-peak (float, 0.05 to 5 into 50 ohm).""",
        validator=strict_real_range, values=(0.05, 5.0),
    )
    offset = Channel.control(
        ":VOLT{ch}:OFFS?", ":VOLT{ch}:OFFS %g",
        """Control the offset in volts (float, -4.975 to 4.975 into 50 ohm).""",
        validator=strict_real_range, values=(-4.975, 4.975),
    )
    pulse_width = Channel.control(
        ":PULS:WIDT{ch}?", ":PULS:WIDT{ch} %g",
        """Control the pulse width in seconds, start of leading to start of trailing edge
        (float, 1.5 ns to 1e6 s).""",
        validator=strict_real_range, values=(1.5e-9, 1e6),
    )
    pulse_period = Channel.control(
        ":PULS:PER{ch}?", ":PULS:PER{ch} %g",
        """Control the pulse period in seconds (float, 3.03 ns to 1e6 s; at least
        width + 1.6 x edge). Ignored for triggered pulses.""",
        validator=strict_real_range, values=(3.03e-9, 1e6),
    )
    leading_edge = Channel.control(
        ":PULS:TRAN{ch}?", ":PULS:TRAN{ch} %g",
        """Control the leading edge time in seconds (float, 1 ns to 1 ks).""",
        validator=strict_real_range, values=(1e-9, 1e3),
    )
    pulse_transition = leading_edge
    trailing_edge = Channel.control(
        ":PULS:TRAN{ch}:TRA?", ":PULS:TRAN{ch}:TRA %g",
        """Control the trailing edge time in seconds (float, 1 ns to 1 ks); takes effect when
        ``trailing_edge_coupled`` is False.""",
        validator=strict_real_range, values=(1e-9, 1e3),
    )
    trailing_edge_coupled = Channel.control(
        ":PULS:TRAN{ch}:TRA:AUTO?", ":PULS:TRAN{ch}:TRA:AUTO %s",
        """Control whether the trailing edge follows the leading edge (bool).""",
        validator=strict_discrete_set, values=(True, False),
        set_process=lambda v: "ON" if v else "OFF", cast=str, get_process=on_off,
    )
    pulse_delay = Channel.control(
        ":PULS:DEL{ch}?", ":PULS:DEL{ch} %g",
        """Control the pulse delay in seconds after the trigger/period start (float, 0 to
        1e6 s; the instrument limits it further by the period).""",
        validator=strict_real_range, values=(0.0, 1e6),
    )
    polarity = Channel.control(
        ":OUTP{ch}:POL?", ":OUTP{ch}:POL %s",
        """Control the output polarity: 'NORM' or 'INV' (str).""",
        validator=strict_discrete_set, values=("NORM", "INV"), cast=str,
        get_process=choice_reply("NORM", "INV"),
    )
    output = Channel.control(
        ":OUTP{ch}?", ":OUTP{ch} %d",
        """Control whether the output is on (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True,
    )
    output_enabled = output
    output_load = Channel.control(
        ":OUTP{ch}:LOAD?", ":OUTP{ch}:LOAD %g",
        """Control the load impedance the levels are programmed for, in ohms
        (float, 0.3 to 1e6).""",
        validator=strict_real_range, values=(0.3, 1e6),
    )
    burst_count = Channel.control(
        ":TRIG{ch}:COUN?", ":TRIG{ch}:COUN %d",
        """Control the number of pulses output per arm event (int, 1 to 2147483647).""",
        validator=strict_int_range, values=(1, 2_147_483_647),
        get_process=lambda v: int(float(v)),
    )
    trigger_count = burst_count
    arm_source = Channel.control(
        ":ARM:SOUR{ch}?", ":ARM:SOUR{ch} %s",
        """Control the arm source: 'IMM' (continuous), 'INT2' (internal), 'EXT' or 'MAN'
        (manual key or ``*TRG``) (str).""",
        validator=strict_discrete_set, values=_ARM_SOURCES, cast=str,
        get_process=choice_reply(*_ARM_SOURCES),
    )
    trigger_mode = arm_source


class Keysight81160A(
    GuardedInstrument, TransportErrors, PulseGeneratorMixin, _PymeasureKeysight81160A
):
    """Keysight 81160A with both channels as :class:`PulseChannel81160A`.

    Bind bench limits with ``limits=`` (channel roles default to "program"): every message is
    then checked by :class:`~ftjlab.instruments._guards.PulseGeneratorRules`.
    """

    ch_1 = Instrument.ChannelCreator(PulseChannel81160A, 1)
    ch_2 = Instrument.ChannelCreator(PulseChannel81160A, 2)

    def __init__(self, adapter: Any, name: str = "Keysight 81160A", **kwargs: Any):
        super().__init__(adapter, name, **socket_defaults(adapter, kwargs))
        tune_socket(self.adapter)


Keysight81160A.guard_rules = PulseGeneratorRules(
    amplitude_min_v=0.05, amplitude_max_v=5.0, window_v=5.0, load_rescales_levels=False
)
