"""Instrument emulators of the simulated bench, and the registry that builds them by model.

Every emulator takes the shared :class:`~ftjlab.simulators.bench.Bench` and the instrument's
name from the bench config (its terminals are ``"<name>.<channel>"``), and implements the
:class:`~ftjlab.simulators.transport.Emulator` protocol (``write``, ``read``, ``reset``).
"""

from __future__ import annotations

import importlib
from typing import Any

#: model (as written in bench configs) -> "module:Class" (relative to this package)
EMULATORS: dict[str, str] = {
    "2636B": "keithley2636b:Keithley2636B",
    "707B": "keithley707b:Keithley707B",
    "2450": "keithley2450:Keithley2450",
    "81160A": "keysight81160a:Keysight81160A",
    "33500B": "keysight33500b:Keysight33500B",
}


def emulator_class(model: str) -> type:
    """The emulator class of ``model``; KeyError/ImportError if there is none (yet)."""
    module, _, cls = EMULATORS[model].partition(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def create_emulator(model: str, bench: Any, name: str, **options: Any) -> Any:
    """Build the emulator of ``model`` on ``bench`` as instrument ``name``."""
    return emulator_class(model)(bench=bench, name=name, **options)
