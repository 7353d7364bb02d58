"""Instrument drivers and the safety layer (``ftjlab.instruments``).

Drivers are built on pymeasure's ``Instrument``/``Channel`` property factories, with the
instruments' own ranges as strict validators (nothing is clipped). Bench limits bind to a
driver (``limits=``) and are checked before any command leaves the process; see
:mod:`ftjlab.instruments.safety`.
"""

from ._common import InstrumentConnectionError, InstrumentError, InstrumentTimeoutError
from .channel_specifiers import (
    ChannelList,
    ChannelSpecifierError,
    Crosspoint,
    MatrixGeometry,
    parse_channel_list,
)
from .keithley707b import Keithley707B
from .keithley2450 import Keithley2450, ReadingBuffer
from .keithley2636b import Keithley2636B, SMUChannel
from .keysight33500b import Keysight33500B, PulseChannel33500B
from .keysight81160a import Keysight81160A, PulseChannel81160A
from .safety import (
    ROLES,
    GuardedInstrument,
    Limits,
    LimitsConfigError,
    LimitViolation,
    SafetyError,
    SafetyGuard,
    UncheckedCommandError,
    shutdown_safely,
)

__all__ = [
    "ROLES",
    "ChannelList",
    "ChannelSpecifierError",
    "Crosspoint",
    "GuardedInstrument",
    "InstrumentConnectionError",
    "InstrumentError",
    "InstrumentTimeoutError",
    "Keithley707B",
    "Keithley2450",
    "Keithley2636B",
    "Keysight33500B",
    "Keysight81160A",
    "LimitViolation",
    "Limits",
    "LimitsConfigError",
    "MatrixGeometry",
    "PulseChannel33500B",
    "PulseChannel81160A",
    "ReadingBuffer",
    "SMUChannel",
    "SafetyError",
    "SafetyGuard",
    "UncheckedCommandError",
    "parse_channel_list",
    "shutdown_safely",
]
