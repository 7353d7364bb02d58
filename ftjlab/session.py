"""A connected bench: every instrument of a bench config opened with its driver.

``BenchSession.open(config)`` connects real instruments through VISA and ``"sim"`` ones to an
in-process simulated bench (one :class:`~ftjlab.simulators.bench.Bench` shared by all its
emulators). A bench whose resources point at ``ftjlab sim-server`` ports is, for this module,
a real bench: the same drivers talk to it over pyvisa-py. Limits from the config are bound to
every driver before anything is sent, and :meth:`BenchSession.shutdown` leaves the bench safe
(outputs off, matrix open) whatever happened before.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftjlab.config import BenchConfig, build_sim_bench, load_bench_config
from ftjlab.errors import BadInput
from ftjlab.instruments import Limits, deadman, shutdown_safely
from ftjlab.instruments.bench_start import start_bench
from ftjlab.instruments.models import MODELS
from ftjlab.instruments.safety import check_limits_for_models, raw_adapter
from ftjlab.traffic import Traffic, count_traffic

log = logging.getLogger(__name__)

#: channel roles bound at connection; procedures switch them (e.g. "read" -> "sample")
DEFAULT_ROLES: dict[str, dict[Any, str]] = {
    m: dict(s.default_roles) for m, s in MODELS.items() if s.default_roles
}


@dataclass
class BenchSession:
    """Open drivers of one bench, its limits, and (simulated benches) the shared ``Bench``."""

    config: BenchConfig
    limits: Limits
    instruments: dict[str, Any]
    sim: Any | None = None  # the simulated Bench when instruments are emulated in-process
    emulators: dict[str, Any] = field(default_factory=dict)
    idn: dict[str, str] = field(default_factory=dict)
    #: messages and replies per instrument, counted at the adapter (see ftjlab.traffic)
    traffic: dict[str, Traffic] = field(default_factory=dict)
    #: where each instrument was reached: its VISA resource, or "sim" (in-process)
    addresses: dict[str, str] = field(default_factory=dict)
    #: what each instrument's own protection was programmed to at session start
    hardware_limits: dict[str, Any] = field(default_factory=dict)
    #: the dead-man supervisor process (benches with instruments outside this process)
    supervisor: Any | None = None

    @classmethod
    def open(
        cls,
        config: BenchConfig | str | Path | None = None,
        seed: int | None = None,
        timeout_ms: int = 10_000,
        resources: Mapping[str, str] | None = None,
    ) -> BenchSession:
        """Connect every instrument of ``config`` (a config, a path, or None for the shipped
        simulated bench). ``resources`` overrides resource strings by instrument name (e.g.
        the ports printed by ``ftjlab sim-server``)."""
        if not isinstance(config, BenchConfig):
            config = load_bench_config(config)
        limits = Limits.from_dict(config.limits)
        check_limits_for_models(config.limits, {n: i.model for n, i in config.instruments.items()})
        resources = dict(resources or {})
        unknown = sorted(set(resources) - set(config.instruments))
        if unknown:
            raise BadInput(f"resources given for instruments not in the bench: {unknown}")
        sim, emulators = None, {}
        emulated = [
            i for i in config.instruments.values() if i.simulated and i.name not in resources
        ]
        if emulated:
            sim, emulators = build_sim_bench(config, seed)
        session = cls(config, limits, {}, sim, emulators)
        targets = deadman.targets_of(config, resources)  # instruments outside this process
        if targets:  # a supervisor makes them safe if this process dies
            session.supervisor = deadman.start_supervisor(targets, wait=False)
        try:
            for name, inst in config.instruments.items():
                if inst.model not in MODELS:
                    raise BadInput(f"{config.source}:instruments.{name}.model: no driver for "
                                   f"{inst.model!r} (known: {sorted(MODELS)})")
                driver = MODELS[inst.model].driver_class()
                session.instruments[name] = session._connect(
                    name, inst, driver, resources.get(name), timeout_ms
                )
            session.hardware_limits = start_bench(  # safe state, routing, own limits
                session.instruments, limits, config.wiring.rows, config.wiring.columns,
                {n: i.model for n, i in config.instruments.items()},
                int(config.matrix.options.get("cards", 6)))
            if session.supervisor is not None:  # it holds its connections before any use
                session.supervisor.wait_ready()
        except BaseException:
            session.close()
            raise
        return session

    def _connect(self, name: str, inst: Any, driver: type, resource: str | None,
                 timeout_ms: int) -> Any:
        kwargs: dict[str, Any] = {"limits": self.limits} if MODELS[inst.model].takes_limits else {}
        if inst.model in DEFAULT_ROLES:
            kwargs["roles"] = dict(DEFAULT_ROLES[inst.model])
        if "max_travel_um" in inst.options:
            from ftjlab.instruments.mpi_sentio import ProberTravel

            kwargs["travel"] = ProberTravel(inst.options["max_travel_um"])
        if resource is None and inst.simulated:
            from ftjlab.simulators.transport import EmulatorAdapter

            adapter: Any = EmulatorAdapter(self.emulators[name], timeout_ms=timeout_ms)
            count_traffic(adapter, self.traffic.setdefault(name, Traffic()))
            self.addresses[name] = "sim"
        else:
            adapter = resource or inst.resource
            self.addresses[name] = adapter
            kwargs["timeout"] = inst.timeout_ms or timeout_ms
            if "::SOCKET" in adapter or adapter.startswith("TCPIP"):
                kwargs["visa_library"] = "@py"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # pymeasure includeSCPI notices
                instrument = driver(adapter, **kwargs)
                if name not in self.traffic:  # a VISA adapter the driver opened itself
                    count_traffic(raw_adapter(instrument.adapter),
                                  self.traffic.setdefault(name, Traffic()))
                self.idn[name] = str(instrument.id).strip()
        except BadInput:
            raise
        except Exception as exc:
            raise BadInput(
                f"{self.config.source}:instruments.{name}: cannot reach {inst.model} at "
                f"{adapter if isinstance(adapter, str) else 'sim'!r} ({type(exc).__name__}: {exc})"
            ) from exc
        return instrument

    # ------------------------------------------------------------------ roles
    def instrument_of_model(self, *models: str) -> tuple[str, Any]:
        """The first instrument of one of ``models`` (name, driver)."""
        for name, inst in self.config.instruments.items():
            if inst.model in models:
                return name, self.instruments[name]
        raise BadInput(f"{self.config.source}: the bench has no {' / '.join(models)}")

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready bench description for run metadata: config, IDN strings, seed."""
        snap = self.config.snapshot()
        for name, idn in self.idn.items():
            snap["instruments"][name]["idn"] = idn
        for name, programmed in self.hardware_limits.items():
            snap["instruments"][name]["hardware_limits"] = programmed
        if self.sim is not None:
            snap["simulated"] = True
            snap["seed"] = self.sim.seed
        return snap

    # ------------------------------------------------------------------ time
    def wait(self, seconds: float, should_stop: Any = None) -> bool:
        """Let ``seconds`` pass on the bench: virtual time on a simulated bench, wall time on
        a real one (polling ``should_stop`` every 0.1 s). Returns False if stopped early."""
        if seconds <= 0:
            return True
        if self.sim is not None:
            self.sim.idle(seconds)
            return not (should_stop is not None and should_stop())
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if should_stop is not None and should_stop():
                return False
            time.sleep(min(0.1, left))
        return True

    def now_s(self) -> float:
        """The bench's clock: virtual seconds on a simulated bench, monotonic seconds else."""
        return self.sim.clock.now_s if self.sim is not None else time.monotonic()

    @property
    def virtual_clock(self) -> bool:
        """True when :meth:`now_s` is a simulated bench's virtual clock (in-process)."""
        return self.sim is not None

    # ------------------------------------------------------------------ the end
    def shutdown(self) -> list[tuple[Any, BaseException]]:
        """Outputs off, then the matrix open; continues past failing instruments."""
        return shutdown_safely(*self.instruments.values(), logger=log)

    def close(self) -> None:
        """Shut down safely and close the connections."""
        try:
            self.shutdown()
        finally:
            for instrument in self.instruments.values():
                adapter = getattr(instrument, "adapter", None)
                connection = getattr(adapter, "connection", None)
                try:
                    if connection is not None:
                        connection.close()
                except Exception:  # already gone: nothing left to close
                    log.debug("closing %s failed", instrument, exc_info=True)
            if self.supervisor is not None:  # released: the run ended through here
                self.supervisor.release()
                self.supervisor = None

    def __enter__(self) -> BenchSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
