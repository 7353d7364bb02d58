"""One description per supported instrument model: everything the rest of ftjlab needs to
know about a model, in one place.

Each :class:`ModelSpec` names the driver class, what the model is on a bench (an SMU, a
pulse generator, a switch matrix, a probe station), its channels (terminals are
``"<instrument>.<channel>"``), the guard's voltage role per channel at connection, the
model-specific keys a bench file may set (and which of them go to the driver), and the
emulator that stands in for it on a simulated bench. The bench config
(:mod:`ftjlab.config`), the session (:mod:`ftjlab.session`) and the emulator registry
(:mod:`ftjlab.simulators.emulators`) read this table; adding a model (say a Keithley 2460)
is an entry here, its driver and its emulator.

Classes are named as ``"module:Class"`` strings and imported on first use, so describing a
model costs nothing at start-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: what a model is on a bench
KINDS = ("smu", "pulser", "matrix", "prober")


@dataclass(frozen=True)
class ModelSpec:
    """Everything ftjlab knows about one instrument model (see the module docstring).

    :ivar model: the model as written in bench files (``"2636B"``).
    :ivar kind: ``"smu"``, ``"pulser"``, ``"matrix"`` or ``"prober"``.
    :ivar driver: ``"module:Class"`` of the driver, relative to ``ftjlab.instruments``.
    :ivar emulator: ``"module:Class"`` of the emulator, relative to
        ``ftjlab.simulators.emulators`` (None: cannot be simulated).
    :ivar channels: channel names in order; the bench terminals are ``"<name>.<channel>"``.
    :ivar default_roles: voltage role per guard channel id, bound at connection.
    :ivar bench_keys: model-specific bench-file keys and their types.
    :ivar emulator_keys: the bench keys passed to the emulator as keyword arguments.
    :ivar takes_limits: whether the driver binds the bench limits (``limits=``).
    :ivar language: ``"tsp"`` or ``"scpi"`` (how the instrument is programmed).
    """

    model: str
    kind: str
    driver: str
    emulator: str | None
    channels: tuple[str, ...] = ()
    default_roles: Mapping[Any, str] = field(default_factory=dict)
    bench_keys: Mapping[str, type] = field(default_factory=dict)
    emulator_keys: tuple[str, ...] = ()
    takes_limits: bool = True
    language: str = "scpi"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.model}: kind must be one of {KINDS}, got {self.kind!r}")

    def driver_class(self) -> type:
        """The driver class (imported now)."""
        return _load(f"{__package__}", self.driver)

    def emulator_class(self) -> type:
        """The emulator class (imported now); KeyError if the model has none."""
        if self.emulator is None:
            raise KeyError(f"no emulator for {self.model}")
        package = __package__.rpartition(".")[0] + ".simulators.emulators"
        return _load(package, self.emulator)


def _load(package: str, path: str) -> type:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(f"{package}.{module}"), name)


MODELS: dict[str, ModelSpec] = {
    spec.model: spec
    for spec in (
        ModelSpec(
            "2636B", "smu", "keithley2636b:Keithley2636B", "keithley2636b:Keithley2636B",
            channels=("a", "b"),
            default_roles={"a": "read", "b": "program"},  # a: bit line, b: word-line gate
            bench_keys={"linefreq": int, "tsplink_node": int},
            emulator_keys=("linefreq",),
            language="tsp",
        ),
        ModelSpec(
            "2450", "smu", "keithley2450:Keithley2450", "keithley2450:Keithley2450",
            channels=("1",), default_roles={1: "read"},
        ),
        ModelSpec(
            "81160A", "pulser", "keysight81160a:Keysight81160A",
            "keysight81160a:Keysight81160A",
            channels=("1", "2"), default_roles={1: "program", 2: "program"},
        ),
        ModelSpec(
            "33500B", "pulser", "keysight33500b:Keysight33500B",
            "keysight33500b:Keysight33500B",
            channels=("1", "2"), default_roles={1: "program", 2: "program"},
        ),
        ModelSpec(
            "707B", "matrix", "keithley707b:Keithley707B", "keithley707b:Keithley707B",
            bench_keys={"cards": int, "tsplink_node": int},
            takes_limits=False, language="tsp",
        ),
        ModelSpec(
            # probe station: stage travel (driver guard and emulator); the simulated wafer's
            # variation (emulator only)
            "SENTIO", "prober", "mpi_sentio:SentioProber", "mpi_sentio:SentioProbeStation",
            bench_keys={"max_travel_um": float, "g_on_radial": float, "traps_radial": float,
                        "coercive_radial": float, "die_sigma": float},
            emulator_keys=("max_travel_um", "g_on_radial", "traps_radial", "coercive_radial",
                           "die_sigma"),
        ),
    )
}


def spec(model: str) -> ModelSpec:
    """The description of ``model``; KeyError naming the known models otherwise."""
    try:
        return MODELS[model]
    except KeyError:
        raise KeyError(f"unknown model {model!r} (known: {', '.join(MODELS)})") from None
