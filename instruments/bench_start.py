"""Session start of a bench: a known safe state, the routing rules, the instruments' own limits.

:func:`start_bench` is called once by ``BenchSession.open`` after every driver connected
(with its limits bound). It

1. switches every output off and opens every matrix relay (the state becomes known to the
   guards; until then they assume outputs may be on and refuse to close relays);
2. binds the limits to the matrix and joins every guard to one
   :class:`~ftjlab.instruments.routing.Routing` built from the bench wiring, so switching is
   checked (which terminal may reach which line in which role);
3. programs the instruments' own protections, the second line behind the software guard:

   * 81160A / 33500B: ``*RST`` (a known state), load 1 MOhm / INF (levels = volts at the
     cell), the level limit window ``VOLT:LIM:HIGH/LOW = +/- max_program_voltage_v`` and
     ``VOLT:LIM:STAT ON``: the generator itself clamps any later level to the window;
   * 2450: ``*RST``, overvoltage protection ``SOUR:VOLT:PROT PROT<n>``, the lowest level at or
     above the largest bench voltage limit (the output is clamped there whatever is
     programmed), and the current source's voltage limit at the role's limit;
   * 2636B: channel resets (source, measure, trigger model, buffers), the compliance limits of
     both channels (``limiti`` = max compliance current, ``limitv`` = the role's max voltage;
     the 2636B has no separate overvoltage clamp for its voltage source, so its level stays
     guarded in software only).

It returns what it programmed per instrument (for the bench panel and run attributes).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .channel_specifiers import MatrixGeometry
from .limits import Limits
from .routing import PULSER_MODELS, Routing
from .shutdown import shutdown_safely

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())


def start_bench(
    instruments: Mapping[str, Any],
    limits: Limits,
    rows: Mapping[str, str],
    columns: Mapping[tuple[int, int], str],
    models: Mapping[str, str],
    cards: int = 6,
) -> dict[str, dict[str, Any]]:
    """Bring a freshly connected bench to a known safe state and program hardware limits.

    :param instruments: name -> connected driver (SMUs and generators with limits bound).
    :param rows, columns: the matrix wiring (row letter -> terminal, (slot, col) -> line).
    :param models: name -> model.
    :returns: name -> the hardware limits programmed (JSON-ready).
    """
    failures = shutdown_safely(*instruments.values(), logger=log)
    if failures:
        instrument, exc = failures[0]
        raise RuntimeError(
            f"{getattr(instrument, 'name', instrument)}: cannot switch off at session start ({exc})"
        )
    routing = Routing(rows, columns, models, MatrixGeometry(slots=cards))
    # by model name, not isinstance: a bench imports only the drivers it has
    for name, driver in instruments.items():
        if models.get(name) == "707B" and driver.safety is None:
            driver.bind_limits(limits)
        if driver.safety is not None:
            driver.safety.attach_routing(routing, name)
    hardware: dict[str, dict[str, Any]] = {}
    for name, driver in instruments.items():
        model = models.get(name)
        if model == "707B":
            driver.open_all()
            hardware[name] = {"relays": "all open at start"}
        elif model in PULSER_MODELS:
            hardware[name] = _generator(driver, limits)
        elif model == "2450":
            hardware[name] = _smu_2450(driver, limits)
        elif model == "2636B":
            hardware[name] = _smu_2636b(driver, limits)
    routing.closed = frozenset()
    return hardware


def _generator(gen: Any, limits: Limits) -> dict[str, Any]:
    """The generator's bench state (the driver's one recipe, also its way back from settings
    set behind its guard): ``*RST``, high-impedance load, window +/- max program volts, on."""
    return gen.restore_bench_state(limits.max_program_voltage_v)


def _smu_2450(smu: Any, limits: Limits) -> dict[str, Any]:
    from .keithley2450 import protection_level_v

    level = protection_level_v(limits.max_program_voltage_v)
    role = smu.safety.role(1) if smu.safety is not None else "read"
    smu.write("*RST")  # a known state: nothing programmed before the session stays in force
    smu.write(f":SOUR:VOLT:PROT PROT{level}")
    smu.write(f":SOUR:CURR:VLIM {max(limits.max_voltage_v(role), 0.02):g}")
    smu.write(f":SOUR:VOLT:ILIM {limits.max_compliance_current_a:g}")
    return {
        "overvoltage_protection_v": level,
        "current_source_vlimit_v": max(limits.max_voltage_v(role), 0.02),
        "voltage_source_ilimit_a": limits.max_compliance_current_a,
    }


def _smu_2636b(smu: Any, limits: Limits) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # a known state of both channels (source, measure, trigger model, buffers); a channel
    # reset leaves TSP-Link and stored functions alone
    smu.write("smua.reset() smub.reset()")
    for channel in (smu.smua, smu.smub):
        role = smu.safety.role(channel.id) if smu.safety is not None else "read"
        limitv = max(limits.max_voltage_v(role), 0.02)
        channel.current_limit = limits.max_compliance_current_a
        channel.voltage_limit = limitv
        out[f"smu{channel.id}"] = {"limiti_a": limits.max_compliance_current_a, "limitv_v": limitv}
    return out
