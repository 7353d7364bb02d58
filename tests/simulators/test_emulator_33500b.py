"""Keysight 33500B emulator: pulse/burst subset, clamp-and-log rules, pymeasure, fuzz."""

from __future__ import annotations

import pytest
from ftjlab.simulators.emulators.keysight33500b import Keysight33500B
from hypothesis import HealthCheck, given, settings
from pymeasure.instruments.agilent import Agilent33500
from test_scpi_helpers import (
    PARSER_CODES,
    EmulatorAdapter,
    FakeBench,
    ask,
    errors,
    fuzz_emulator,
    fuzz_lines,
)

SETUP = (
    "SOUR1:FUNC PULS;:SOUR1:VOLT:HIGH 2;:SOUR1:VOLT:LOW 0;:SOUR1:FUNC:PULS:WIDT 1e-6;"
    ":SOUR1:FUNC:PULS:PER 1e-5;:SOUR1:FUNC:PULS:TRAN:BOTH 20e-9;:SOUR1:BURS:MODE TRIG;"
    ":SOUR1:BURS:NCYC 3;:SOUR1:BURS:STAT ON;:TRIG1:SOUR BUS"
)


@pytest.fixture
def bench() -> FakeBench:
    return FakeBench()


@pytest.fixture
def awg(bench) -> Keysight33500B:
    return Keysight33500B(bench, "pg")


def test_identity_and_readback(awg):
    assert ask(awg, "*IDN?") == "Agilent Technologies,33522B,MY52312345,4.00-1.19-2.00-58-00"
    awg.write(SETUP)
    assert errors(awg) == []
    assert ask(awg, "FUNC?;:BURS:MODE?;:BURS:STAT?;:TRIG:SOUR?") == "PULS;TRIG;1;BUS"
    assert float(ask(awg, "SOUR1:FUNC:PULS:WIDT?")) == pytest.approx(1e-6)
    assert float(ask(awg, "SOUR1:FUNC:PULS:PER?")) == pytest.approx(1e-5)
    assert float(ask(awg, "FUNC:PULS:TRAN?")) == pytest.approx(20e-9)
    assert float(ask(awg, "FUNC:PULS:TRAN:TRA?")) == pytest.approx(20e-9)
    assert float(ask(awg, "BURS:NCYC?")) == 3
    assert float(ask(awg, "VOLT?")) == pytest.approx(2.0)
    assert float(ask(awg, "VOLT:OFFS?")) == pytest.approx(1.0)


def test_bus_trigger_fires_burst(awg, bench):
    awg.write(SETUP)
    awg.write("*TRG")
    assert bench.pulses == []  # output off
    awg.write("OUTP1 ON")
    assert bench.pulses == []  # BUS source: waits for *TRG
    assert bench.drive["pg.1"] == (0.0, True)
    awg.write("*TRG;*WAI")
    assert ask(awg, "*OPC?") == "1"
    assert bench.pulses == [("pg.1", 2.0, 0.0, pytest.approx(1e-6), pytest.approx(1e-5), 3)]
    awg.write("TRIG1:DEL 1e-3;:OUTP1:POL INV")
    t0 = bench.clock.now_s
    awg.write("*TRG")
    assert bench.clock.now_s - t0 == pytest.approx(1e-3 + 3e-5)
    assert bench.pulses[-1][1:3] == (0.0, 2.0)


def test_trigger_sources_and_burst_state(awg, bench):
    awg.write(SETUP + ";:TRIG1:SOUR EXT;:OUTP1 ON;*TRG")
    assert bench.pulses == []
    awg.write("TRIG1")  # software trigger works with any source
    assert len(bench.pulses) == 1
    awg.write("TRIG1:SOUR IMM")  # continuous bursts: modelled as one
    assert len(bench.pulses) == 2
    awg.write("*TRG")  # *TRG only for BUS
    assert len(bench.pulses) == 2
    awg.write("BURS:STAT OFF;:TRIG1:SOUR BUS;*TRG")  # no burst mode: continuous, not modelled
    assert len(bench.pulses) == 2
    awg.write("BURS:NCYC INF;:BURS:STAT ON;*TRG")
    assert ask(awg, "BURS:NCYC?") == "+9.9E+37"
    assert len(bench.pulses) == 2


def test_values_are_clipped_and_logged(awg):
    awg.write(SETUP)
    awg.write("VOLT:HIGH 6")
    assert float(ask(awg, "VOLT:HIGH?")) == pytest.approx(5.0)
    assert ask(awg, "SYST:ERR?") == '-222,"Data out of range;value clipped to upper limit"'
    awg.write("VOLT:LOW -6")
    assert float(ask(awg, "VOLT:LOW?")) == pytest.approx(-5.0)
    awg.write("FUNC:PULS:WIDT 2e-5")  # wider than the period
    assert float(ask(awg, "FUNC:PULS:WIDT?")) == pytest.approx(1e-5 - 0.8 * 40e-9)
    awg.write("FUNC:PULS:TRAN:LEAD 5e-6")  # beyond 1 us
    awg.write("FUNC:PULS:WIDT 20e-9;:FUNC:PULS:TRAN:BOTH 100e-9")  # edge > 0.625 x width
    assert float(ask(awg, "FUNC:PULS:TRAN?")) <= 0.625 * float(ask(awg, "FUNC:PULS:WIDT?"))
    assert errors(awg) == [-222, -222, -222, -222, -222, -222]


def test_settings_conflicts_logged_as_221(awg):
    awg.write("VOLT:OFFS 4;:VOLT 4")  # 4 V offset leaves room for 2 Vpp
    assert float(ask(awg, "VOLT?")) == pytest.approx(2.0)
    awg.write("FUNC:PULS:PER 1e-5;:BURS:NCYC 100;:BURS:INT:PER 1e-4")
    assert float(ask(awg, "BURS:INT:PER?")) == pytest.approx(100 * 1e-5 + 1e-6)
    assert errors(awg) == [-221, -221]


def test_output_load_rescales_levels(awg):
    awg.write("VOLT:HIGH 1;:VOLT:LOW 0;:OUTP1:LOAD INF")
    assert ask(awg, "OUTP1:LOAD?") == "+9.9E+37"
    assert float(ask(awg, "VOLT:HIGH?")) == pytest.approx(2.0)
    awg.write("VOLT:HIGH 9")  # the high-Z window is +-10 V
    assert float(ask(awg, "VOLT:HIGH?")) == pytest.approx(9.0)
    awg.write("OUTP1:LOAD 50")
    assert float(ask(awg, "VOLT:HIGH?")) == pytest.approx(4.5)
    assert errors(awg) == []


def test_error_queue_depth_and_reset(awg, bench):
    awg.write(SETUP + ";:OUTP1 ON")
    for _ in range(25):
        awg.write("NOPE")
    awg.write("*RST")
    assert bench.drive["pg.1"][1] is False
    codes = errors(awg)
    assert len(codes) == 20 and codes[-1] == -350
    awg.write("SOUR3:FUNC PULS")
    assert errors(awg) == [-114]


def test_pymeasure_driver(awg, bench):
    gen = Agilent33500(EmulatorAdapter(awg))
    assert gen.id.startswith("Agilent Technologies,33522B")
    gen.reset()
    gen.shape = "PULS"
    gen.voltage_high = 2.0
    gen.voltage_low = 0.0
    gen.pulse_width = 1e-6  # width first: the default 100 us would not fit a 10 us period
    gen.pulse_period = 1e-5
    gen.pulse_transition = 20e-9
    gen.pulse_hold = "WIDT"
    gen.burst_mode = "TRIG"
    gen.burst_ncycles = 4
    gen.burst_state = True
    gen.trigger_source = "BUS"
    gen.output_load = "INF"
    gen.output = True
    assert gen.shape == "PULS" and gen.burst_state is True and gen.trigger_source == "BUS"
    assert gen.voltage_high == pytest.approx(4.0)  # the load setting rescaled the levels
    assert gen.pulse_width == pytest.approx(1e-6) and gen.pulse_transition == pytest.approx(20e-9)
    assert gen.burst_ncycles == 4 and gen.output is True
    gen.trigger()
    gen.wait_for_trigger(timeout=1)
    assert bench.pulses == [("pg.1", 4.0, 0.0, pytest.approx(1e-6), pytest.approx(1e-5), 4)]
    ch2 = gen.channels[2]
    ch2.shape = "SQU"
    ch2.amplitude = 1.0
    assert ch2.amplitude == pytest.approx(1.0)
    assert gen.check_errors() == []


# ---------------------------------------------------------------------------- fuzz

VALID_33500B = [
    "*IDN?", "*RST", "*CLS", "*OPC?", "*TRG", "*WAI", "SOUR1:FUNC PULS", "SOUR2:FUNC SQU",
    "SOUR1:VOLT:HIGH 2", "SOUR1:VOLT:LOW 0", "VOLT 1", "VOLT:OFFS 0.5",
    "SOUR1:FUNC:PULS:PER 1e-5", "SOUR1:FUNC:PULS:WIDT 1e-6", "FUNC:PULS:TRAN:BOTH 20e-9",
    "FUNC:PULS:TRAN:LEAD 10e-9", "FUNC:PULS:HOLD DCYC", "FUNC:PULS:DCYC 20", "BURS:MODE TRIG",
    "BURS:NCYC 3", "BURS:NCYC INF", "BURS:STAT ON", "BURS:INT:PER 1e-3", "TRIG1:SOUR BUS",
    "TRIG:SOUR IMM", "TRIG1:DEL 1e-6", "TRIG1", "OUTP1 ON", "OUTP2 ON", "OUTP1:LOAD INF",
    "OUTP1:LOAD 50", "OUTP1:POL INV", "SYST:ERR?", "FREQ 1e5", "FUNC:PULS:WIDT?",
    "DISP:TEXT 'hi'", "DATA:ARB test, 0.1, 0.2",
]  # fmt: skip
CODES_33500B = PARSER_CODES | {-221, -222}
FUZZ_EXAMPLES, FUZZ_LINES = 250, 40  # 10,000 lines
FUZZ_AWG = Keysight33500B(FakeBench())


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(fuzz_lines())
def test_fuzz_33500b_never_raises_and_uses_manual_codes(rng):
    awg = FUZZ_AWG
    fuzz_emulator(awg, rng, VALID_33500B, CODES_33500B, FUZZ_LINES)
    for c in awg.ch:
        assert abs(c.high) <= 10.0 + 1e-9 and abs(c.low) <= 10.0 + 1e-9
