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
from .limits import (
    ROLES,
    Limits,
    LimitsConfigError,
    LimitViolation,
    SafetyError,
    UncheckedCommandError,
)
from .safety import GuardedInstrument, SafetyGuard
from .shutdown import shutdown_safely

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

#: driver classes, imported on first use (a bench imports only the drivers it has; the 2450
#: driver pulls in pymeasure's whole Keithley package, pandas included)
_LAZY = {
    "Keithley707B": "keithley707b",
    "Keithley2450": "keithley2450",
    "ReadingBuffer": "keithley2450",
    "Keithley2636B": "keithley2636b",
    "SMUChannel": "keithley2636b",
    "Keysight33500B": "keysight33500b",
    "PulseChannel33500B": "keysight33500b",
    "Keysight81160A": "keysight81160a",
    "PulseChannel81160A": "keysight81160a",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
