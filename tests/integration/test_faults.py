"""Issue 3, fault tests: every injected fault during a procedure-like sequence (configure the
SMU, close the matrix, outputs on, measure) ends in a clear error naming the instrument and the
fault; ``shutdown_safely`` then leaves both SMU outputs off and the matrix open; no operation
waits longer than the configured timeout. Both transports (in-process and TCP + pyvisa-py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from ftjlab.instruments import (
    InstrumentConnectionError,
    InstrumentError,
    InstrumentTimeoutError,
    Keithley707B,
    Keithley2636B,
    shutdown_safely,
)

try:
    from .bench_rig import TRANSPORTS, Rig, make_rig
except ImportError:  # tests/integration is not a package
    from bench_rig import TRANSPORTS, Rig, make_rig

TIMEOUT_MS = 400
#: scheduling slack on a shared 2-core machine (the sim server runs in the test process)
MARGIN_S = 0.5
SLOW_S = 3 * TIMEOUT_MS / 1000
ROW, COL = 5, 7


@dataclass(frozen=True)
class Fault:
    name: str
    instrument: str  # "smu" or "matrix"
    step: str  # the step before which the fault is armed
    error: type[InstrumentError]
    words: tuple[str, ...]  # the message names the fault with these

    def arm(self, rig: Rig) -> None:
        faults = rig.faults(self.instrument)
        if self.name == "no reply":
            faults.drop_next_reply()
        elif self.name == "dropped connection":
            faults.drop_connection()
        elif self.name == "injected error":
            rig.emulators[self.instrument].inject_error(-286, "TSP Runtime error: injected")
        elif self.name == "slow reply":
            faults.slow_replies(SLOW_S)
        else:
            raise ValueError(self.name)


FAULTS = [
    Fault("no reply", "smu", "measure", InstrumentTimeoutError,
          ("timeout", f"no reply within {TIMEOUT_MS} ms", "print(smua.measure.i())")),
    Fault("no reply", "matrix", "route", InstrumentTimeoutError,
          ("timeout", f"no reply within {TIMEOUT_MS} ms", "waitcomplete() print(1)")),
    Fault("dropped connection", "smu", "measure", InstrumentConnectionError,
          ("connection lost", "print(smua.measure.i())")),
    Fault("dropped connection", "matrix", "route", InstrumentConnectionError,
          ("connection lost",)),
    Fault("injected error", "smu", "measure", InstrumentError,
          ("reported", "-286", "injected")),
    Fault("injected error", "matrix", "route", InstrumentError, ("reported", "-286", "injected")),
    Fault("slow reply", "smu", "measure", InstrumentTimeoutError,
          ("timeout", "print(smua.measure.i())")),
    Fault("slow reply", "matrix", "route", InstrumentTimeoutError,
          ("timeout", "waitcomplete() print(1)")),
]
NAMES = {"smu": "Keithley 2636B SourceMeter", "matrix": "Keithley 707B Switching Matrix"}


@pytest.fixture(params=TRANSPORTS)
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    bench_rig = make_rig(request.param, timeout_ms=TIMEOUT_MS)
    try:
        yield bench_rig
    finally:
        bench_rig.close()


def procedure(rig: Rig, smu: Keithley2636B, matrix: Keithley707B,
              before: Callable[[str], None]) -> float:
    """Configure, route, switch on and measure one cell, as a measurement procedure would."""
    before("configure")
    smu.smua.apply_voltage(0.8, current_limit=1e-6)
    smu.smub.apply_voltage(2.0, current_limit=1e-3)
    smu.smua.measure_nplc = 0.01
    smu.raise_errors()
    before("route")
    matrix.exclusive_close([rig.crosspoint("B", f"WL{ROW}"), rig.crosspoint("A", f"BL{COL}")])
    matrix.raise_errors()
    before("output on")
    smu.smub.output_enabled = True
    smu.smua.output_enabled = True
    before("measure")
    current = smu.smua.current
    smu.raise_errors()
    return current


def test_the_procedure_runs_without_faults(rig):
    smu = rig.connect("smu", Keithley2636B, limits=rig.limits,
                      roles={"a": "sample", "b": "program"})
    matrix = rig.connect("matrix", Keithley707B)
    current = procedure(rig, smu, matrix, lambda step: None)
    assert current == pytest.approx(rig.bench.expected_current("smu.a"), rel=0.1)
    assert shutdown_safely(smu, matrix) == []
    assert_safe(rig)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f"{f.name}-{f.instrument}")
def test_a_fault_ends_in_a_clear_error_and_a_safe_bench(rig, fault):
    smu = rig.connect("smu", Keithley2636B, limits=rig.limits,
                      roles={"a": "sample", "b": "program"})
    matrix = rig.connect("matrix", Keithley707B)
    armed_at: list[float] = []

    def before(step: str) -> None:
        if step == fault.step:
            fault.arm(rig)
            armed_at.append(time.monotonic())

    with pytest.raises(fault.error) as caught:
        procedure(rig, smu, matrix, before)
    waited = time.monotonic() - armed_at[0]
    message = str(caught.value)
    assert message.startswith(NAMES[fault.instrument]), message
    for word in fault.words:
        assert word in message, message
    assert waited <= TIMEOUT_MS / 1000 + MARGIN_S

    t0 = time.monotonic()
    failures = shutdown_safely(smu, matrix)
    assert time.monotonic() - t0 <= TIMEOUT_MS / 1000 + MARGIN_S
    faulty = smu if fault.instrument == "smu" else matrix
    if fault.name == "slow reply":  # the slow instrument may not confirm in time
        assert all(inst is faulty and isinstance(exc, InstrumentError) for inst, exc in failures)
    else:
        assert failures == []
    assert not smu.connection_lost and not matrix.connection_lost
    # An unconfirmed shutdown's commands were sent but may still be on their way to the
    # emulator (the TCP server runs them in its own thread): give them a moment to arrive.
    assert_safe(rig, within_s=1.0 if fault.name == "slow reply" else 0.0)


def assert_safe(rig: Rig, within_s: float = 0.0) -> None:
    """On the emulators: both SMU outputs off, no closed crosspoint, no word line on
    (``within_s``: by then at the latest)."""
    emulator = rig.emulators["smu"].emulator
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline and (
            emulator.smua.source.output or emulator.smub.source.output
            or rig.bench.closed() or rig.bench.wordlines_on().any()):
        time.sleep(0.01)
    assert emulator.smua.source.output == 0
    assert emulator.smub.source.output == 0
    assert rig.bench.closed() == []
    assert not rig.bench.wordlines_on().any()
