"""Instrument emulators of the simulated bench, and the registry that builds them by model.

Every emulator takes the shared :class:`~ftjlab.simulators.bench.Bench` and implements the
:class:`~ftjlab.simulators.transport.Emulator` protocol (``write``, ``read``, ``reset``). Its
terminals on the bench are ``"<instrument name>.<channel>"`` (``"smu.a"``, ``"pg.1"``).
:func:`create_emulator` passes whatever the class asks for: ``name`` (the instrument name),
``terminal`` (its first terminal) or ``terminals`` (all of them, in channel order).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from ..bench import terminal_name

#: model (as written in bench configs) -> "module:Class" (relative to this package)
EMULATORS: dict[str, str] = {
    "2636B": "keithley2636b:Keithley2636B",
    "707B": "keithley707b:Keithley707B",
    "2450": "keithley2450:Keithley2450",
    "81160A": "keysight81160a:Keysight81160A",
    "33500B": "keysight33500b:Keysight33500B",
    "SENTIO": "mpi_sentio:SentioProbeStation",
}
#: channel names of each model, in order (terminals are "<name>.<channel>")
CHANNELS: dict[str, tuple[str, ...]] = {
    "2636B": ("a", "b"),
    "707B": (),
    "2450": ("1",),
    "81160A": ("1", "2"),
    "33500B": ("1", "2"),
    "SENTIO": (),  # a probe station: no terminals on the matrix
}


def emulator_class(model: str) -> type:
    """The emulator class of ``model``; KeyError/ImportError if there is none (yet)."""
    module, _, cls = EMULATORS[model].partition(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def create_emulator(model: str, bench: Any, name: str, **options: Any) -> Any:
    """Build the emulator of ``model`` on ``bench`` as instrument ``name``."""
    cls = emulator_class(model)
    params = inspect.signature(cls).parameters
    terminals = tuple(terminal_name(name, ch) for ch in CHANNELS[model])
    kwargs: dict[str, Any] = {}
    if "name" in params:
        kwargs["name"] = name
    if "terminal" in params and terminals:
        kwargs["terminal"] = terminals[0]
    if "terminals" in params and terminals:
        kwargs["terminals"] = terminals
    return cls(bench, **kwargs, **options)
