"""The rig of the integration tests: one simulated bench, reached either through the in-process
``EmulatorAdapter`` or through ``SimServer`` (what ``ftjlab sim-server`` runs) and real
pyvisa-py on ``TCPIP0::127.0.0.1::PORT::SOCKET``. Test code is the same for both.

The bench is the shipped ``sim.toml`` (2636B + 81160A + 707B, 32 x 32 array) plus a Keithley
2450 and a Keysight 33500B, so every emulated model is on it; limits come from its config.
"""

from __future__ import annotations

import contextlib
import tomllib
import warnings
from dataclasses import dataclass, field
from typing import Any

from ftjlab.instruments import Limits
from ftjlab.simulators.bench import Bench
from ftjlab.simulators.faults import Faults, FaultyEmulator
from ftjlab.simulators.server import SimServer
from ftjlab.simulators.transport import EmulatorAdapter

from ftjlab.config import BenchConfig, build_sim_bench, default_bench_path, parse_bench_config

TRANSPORTS = ("in-process", "tcp")
SEED = 2026
TIMEOUT_MS = 2000
#: extra instruments on rows E and F of the shipped bench's matrix
EXTRA_INSTRUMENTS = {"smu2450": "2450", "awg": "33500B"}
EXTRA_ROWS = {"E": "smu2450.1", "F": "awg.1"}


def bench_config() -> BenchConfig:
    """The shipped simulated bench with a 2450 and a 33500B added."""
    data = tomllib.loads(default_bench_path().read_text(encoding="utf-8"))
    for name, model in EXTRA_INSTRUMENTS.items():
        data["instruments"][name] = {"model": model, "resource": "sim"}
    data["wiring"]["rows"].update(EXTRA_ROWS)
    return parse_bench_config(data, "sim.toml + 2450 + 33500B")


@dataclass
class Rig:
    """A simulated bench behind one transport, and the drivers opened on it."""

    transport: str
    config: BenchConfig
    bench: Bench
    emulators: dict[str, FaultyEmulator]
    timeout_ms: int
    server: SimServer | None = None
    opened: list[Any] = field(default_factory=list)

    @property
    def limits(self) -> Limits:
        return Limits.from_dict(self.config.limits)

    def faults(self, name: str) -> Faults:
        return self.emulators[name].faults

    def connect(self, name: str, driver: type, **kwargs: Any) -> Any:
        """Our driver for instrument ``name``: over TCP with nothing but the resource string
        (and the backend and timeout), so the drivers' raw-socket defaults are exercised."""
        if self.server is None:
            adapter: Any = EmulatorAdapter(self.emulators[name], timeout_ms=self.timeout_ms)
        else:
            adapter = self.server.resources[name]
            kwargs = {"visa_library": "@py", "timeout": self.timeout_ms, **kwargs}
        instrument = driver(adapter, **kwargs)
        self.opened.append(instrument)
        return instrument

    def connect_plain(self, name: str, driver: type, **kwargs: Any) -> Any:
        """An unmodified pymeasure driver: raw-socket framing has to be given explicitly."""
        if self.server is None:
            return self.connect(name, driver, **kwargs)
        kwargs = {"read_termination": "\n", "write_termination": "\n", **kwargs}
        return self.connect(name, driver, **kwargs)

    def crosspoint(self, row: str, line: str) -> str:
        """The 707B channel that connects matrix row ``row`` to array line ``line``."""
        for (slot, column), wired in self.config.wiring.columns.items():
            if wired == line:
                return f"{slot}{row}{column:02d}"
        raise KeyError(f"{line} is not wired")

    def close(self) -> None:
        for instrument in self.opened:
            connection = getattr(instrument.adapter, "connection", None)
            if self.server is not None and connection is not None:
                with contextlib.suppress(Exception):  # already closed by a fault
                    connection.close()
        if self.server is not None:
            self.server.stop()


def make_rig(transport: str, timeout_ms: int = TIMEOUT_MS, **emulator_options: Any) -> Rig:
    config = bench_config()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        if transport == "tcp":
            server = SimServer(config, seed=SEED, **emulator_options).start()
            return Rig(transport, config, server.bench, server.emulators, timeout_ms, server)
        bench, emulators = build_sim_bench(config, SEED, **emulator_options)
        faulty = {name: FaultyEmulator(emulator) for name, emulator in emulators.items()}
        return Rig(transport, config, bench, faulty, timeout_ms)
