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

from ftjlab.instruments.models import MODELS

from ftjlab.wiring import terminal_name

#: model (as written in bench configs) -> "module:Class" (relative to this package); from the
#: one description per model in ftjlab.instruments.models
EMULATORS: dict[str, str] = {m: s.emulator for m, s in MODELS.items() if s.emulator}
#: channel names of each model, in order (terminals are "<name>.<channel>")
CHANNELS: dict[str, tuple[str, ...]] = {m: s.channels for m, s in MODELS.items()}


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
