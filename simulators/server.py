"""The simulated bench over TCP: what ``ftjlab sim-server`` runs.

:class:`SimServer` builds the bench of a config (one array, one clock, one seed), an emulator
per ``"sim"`` instrument, and serves each on its own raw-socket port (ephemeral unless given),
bound to 127.0.0.1 unless told otherwise. On start it describes itself in one JSON line::

    {"resources": {"smu": "TCPIP0::127.0.0.1::40123::SOCKET", ...}, "seed": 2026,
     "bench": "sim.toml", "host": "127.0.0.1", "pid": 1234}

so a client (a test, the GUI, another process) opens those resources with pyvisa-py.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from .faults import FaultyEmulator
from .instrument_server import InstrumentServer


class SimServer:
    """All emulators of one simulated bench, each on its own TCP port.

    Parameters
    ----------
    config: a :class:`ftjlab.config.BenchConfig`.
    seed: overrides the config's seed (None: the config's, or a fresh recorded one).
    host: interface to bind (loopback by default).
    ports: optional fixed port per instrument name (others get ephemeral ports).
    emulator_options: passed to the TSP emulators (e.g. ``max_script_s``).
    """

    def __init__(
        self,
        config: Any,
        seed: int | None = None,
        host: str = "127.0.0.1",
        ports: Mapping[str, int] | None = None,
        **emulator_options: Any,
    ) -> None:
        from ftjlab.config import build_sim_bench

        self.config = config
        self.host = host
        self.bench, emulators = build_sim_bench(config, seed, **emulator_options)
        self.emulators = {name: FaultyEmulator(e) for name, e in emulators.items()}
        ports = dict(ports or {})
        self.servers: dict[str, InstrumentServer] = {}
        try:
            for name, emulator in self.emulators.items():
                self.servers[name] = InstrumentServer(emulator, host, ports.get(name, 0), name)
                # what an instrument's own TSP-Net reaches at that socket (the emulator,
                # without the served connection's fault injection)
                self.bench.lan[f"{host}:{self.servers[name].port}"] = emulators[name]
        except OSError:
            self.stop()
            raise

    @property
    def resources(self) -> dict[str, str]:
        """VISA resource string of every served instrument."""
        return {name: s.resource for name, s in self.servers.items()}

    def info(self) -> dict[str, Any]:
        """What the server announces on start (JSON-ready)."""
        return {
            "resources": self.resources,
            "seed": self.bench.seed,
            "bench": self.config.source,
            "host": self.host,
            "models": {n: self.config.instruments[n].model for n in self.servers},
            "pid": os.getpid(),
        }

    def start(self) -> SimServer:
        """Start serving every instrument; returns self."""
        for s in self.servers.values():
            s.start()
        return self

    def stop(self) -> None:
        """Stop every instrument server and close their connections."""
        for s in self.servers.values():
            s.stop()

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def run_sim_server(
    bench: str | Path | None = None,
    seed: int | None = None,
    host: str = "127.0.0.1",
    out: TextIO | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Serve the bench until SIGINT/SIGTERM (or ``stop`` is set); print the JSON line first.

    Returns the process exit code (0). Config errors raise :class:`ftjlab.errors.BadInput`.
    """
    from ftjlab.config import load_bench_config

    out = out or sys.stdout
    config = load_bench_config(bench)
    stop = stop or threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        with SimServer(config, seed=seed, host=host) as server:
            out.write(json.dumps(server.info()) + "\n")
            out.flush()
            while not stop.wait(0.2):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
