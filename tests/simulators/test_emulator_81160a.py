"""Keysight 81160A emulator: pulse parameters, limits, bursts on the bench, pymeasure, fuzz."""

from __future__ import annotations

import pytest
from ftjlab.simulators.emulators.keysight81160a import Keysight81160A
from hypothesis import HealthCheck, given, settings
from pymeasure.instruments.keysight import Keysight81160A as PymeasureKeysight81160A
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
    ":FUNC1 PULS;:VOLT1:HIGH 2.5;:VOLT1:LOW 0;:PULS:PER1 10e-6;:PULS:WIDT1 1e-6;"
    ":PULS:TRAN1 10e-9;:PULS:TRAN1:TRA 20e-9;:ARM:SOUR1 MAN;:TRIG1:COUN 5"
)


@pytest.fixture
def bench() -> FakeBench:
    return FakeBench()


@pytest.fixture
def pg(bench) -> Keysight81160A:
    return Keysight81160A(bench, "pg")


def test_identity(pg):
    assert ask(pg, "*IDN?") == "Agilent Technologies,81160A,DE51234567,1.2.0.0"
    other = Keysight81160A(FakeBench(), manufacturer="Keysight Technologies", serial="X1")
    assert other.idn.startswith("Keysight Technologies,81160A,X1,")


def test_settings_read_back(pg):
    pg.write(SETUP)
    assert errors(pg) == []
    assert ask(pg, ":FUNC1?;:VOLT1:HIGH?;:VOLT1:LOW?") == (
        "PULS;+2.500000000000000E+00;+0.000000000000000E+00"
    )
    assert float(ask(pg, ":VOLT1?")) == pytest.approx(2.5)
    assert float(ask(pg, ":VOLT1:OFFS?")) == pytest.approx(1.25)
    assert float(ask(pg, ":PULS:WIDT1?")) == pytest.approx(1e-6)
    assert float(ask(pg, ":PULS:PER1?")) == pytest.approx(10e-6)
    assert float(ask(pg, ":FREQ1?")) == pytest.approx(1e5)
    assert float(ask(pg, ":PULS:TRAN1?")) == pytest.approx(10e-9)
    assert float(ask(pg, ":PULS:TRAN1:TRA?")) == pytest.approx(20e-9)
    assert ask(pg, ":PULS:TRAN1:TRA:AUTO?;:ARM:SOUR1?;:TRIG1:COUN?") == "0;MAN;5"
    pg.write(":VOLT1 1;:VOLT1:OFFS 0")
    assert float(ask(pg, ":VOLT1:HIGH?")) == pytest.approx(0.5)
    assert float(ask(pg, ":VOLT1:LOW?")) == pytest.approx(-0.5)
    pg.write(":PULS:DCYC1 25")
    assert float(ask(pg, ":PULS:WIDT1?")) == pytest.approx(2.5e-6)
    pg.write(":PULS:HOLD1 DCYC;:PULS:PER1 20e-6")
    assert float(ask(pg, ":PULS:WIDT1?")) == pytest.approx(5e-6)
    pg.write(":OUTP1:POL INV;:OUTP2:LOAD INF")
    assert ask(pg, ":OUTP1:POL?;:OUTP2:LOAD?;:OUTP2:POL?") == "INV;+9.9E+37;NORM"
    assert errors(pg) == []


def test_trigger_fires_burst_only_with_output_on(pg, bench):
    pg.write(SETUP)
    pg.write("*TRG")
    assert bench.pulses == []  # output off
    pg.write(":OUTP1 ON")
    assert bench.pulses == []  # arm source MAN: waits for *TRG
    assert bench.drive["pg.1"] == (0.0, True)  # resting at the low level
    t0 = bench.clock.now_s
    pg.write("*TRG;*WAI")
    assert ask(pg, "*OPC?") == "1"
    assert bench.pulses == [("pg.1", 2.5, 0.0, pytest.approx(1e-6), pytest.approx(10e-6), 5)]
    assert bench.clock.now_s - t0 == pytest.approx(5 * 10e-6)


def test_inverted_polarity_swaps_levels(pg, bench):
    pg.write(SETUP + ";:OUTP1:POL INV;:OUTP1 ON;*TRG")
    assert bench.pulses[-1][1:3] == (0.0, 2.5)
    assert bench.drive["pg.1"] == (2.5, True)


def test_arm_sources(pg, bench):
    pg.write(SETUP.replace(":ARM:SOUR1 MAN", ":ARM:SOUR1 EXT") + ";:OUTP1 ON;*TRG")
    assert bench.pulses == []  # external arming never happens on the bench
    pg.write(":ARM:SOUR1 IMM")  # continuous with output on: one burst
    assert len(bench.pulses) == 1
    pg.write(":OUTP1 OFF;:ARM:SOUR1 INT2;:OUTP1 ON")
    assert len(bench.pulses) == 2
    pg.write(":ARM:SOUR1 INT2")  # no change, no burst
    assert len(bench.pulses) == 2


def test_second_channel_and_custom_terminals(bench):
    pg = Keysight81160A(bench, terminals=("wl.drv", "bl.drv"))
    pg.write(":FUNC2 PULS;:VOLT2:HIGH 1;:VOLT2:LOW -1;:ARM:SOUR2 MAN;:OUTP2 ON;*TRG")
    assert [p[0] for p in bench.pulses] == ["bl.drv"]
    pg.write(":OUTP3 ON")
    assert errors(pg) == [-114]
    assert Keysight81160A(bench, "gen").terminals == ("gen.1", "gen.2")


def test_coupled_timing_limits_adjust_and_log(pg):
    pg.write(SETUP)
    pg.write(":PULS:PER1 1e-6")  # < width + 0.8 * (10 ns + 20 ns)
    assert float(ask(pg, ":PULS:PER1?")) == pytest.approx(1e-6 + 24e-9)
    assert ask(pg, ":SYST:ERR?") == '-222,"Data out of range;period adjusted"'
    pg.write(":PULS:WIDT1 2e-6")  # wider than the period allows
    assert float(ask(pg, ":PULS:WIDT1?")) == pytest.approx(1e-6)
    pg.write(":PULS:TRAN1 1e-6")  # edge > 0.625 x width is not allowed either
    lead = float(ask(pg, ":PULS:TRAN1?"))
    assert lead <= 0.625 * 1e-6 + 1e-15
    pg.write(":PULS:WIDT1 1e-9")  # below 1.5 ns
    assert errors(pg) == [-222, -222, -222, -222]
    width = float(ask(pg, ":PULS:WIDT1?"))
    period = float(ask(pg, ":PULS:PER1?"))
    trail = float(ask(pg, ":PULS:TRAN1:TRA?"))
    assert period >= width + 0.8 * (lead + trail) - 1e-15
    assert max(lead, trail) <= 0.625 * width + 1e-15


def test_level_limits(pg):
    pg.write(":VOLT1:LOW 0;:VOLT1:HIGH 6")  # beyond the +5 V window into 50 ohm
    assert float(ask(pg, ":VOLT1:HIGH?")) == pytest.approx(5.0)
    pg.write(":VOLT1:LOW -4")  # 9 Vpp > 5 Vpp
    assert float(ask(pg, ":VOLT1:LOW?")) == pytest.approx(0.0)
    pg.write(":VOLT1 0.01")  # < 50 mVpp
    assert float(ask(pg, ":VOLT1?")) == pytest.approx(0.05)
    assert errors(pg) == [-222, -221, -222]
    pg.write(":OUTP1:LOAD INF")  # high-Z doubles the limits: 50 mVpp is now below 100 mVpp
    assert errors(pg) == [-221]
    assert float(ask(pg, ":VOLT1?")) == pytest.approx(0.1)
    pg.write(":VOLT1:LOW 0;:VOLT1:HIGH 8")  # ... and the window is +-10 V
    assert float(ask(pg, ":VOLT1:HIGH?")) == pytest.approx(8.0)
    pg.write(":VOLT1:LIM:HIGH 3;:VOLT1:LIM ON;:VOLT1:HIGH 4")
    assert float(ask(pg, ":VOLT1:HIGH?")) == pytest.approx(3.0)
    assert errors(pg) == [-221]


def test_error_queue_depth_30_and_rst_vs_cls(pg, bench):
    pg.write(SETUP + ";:OUTP1 ON")
    for _ in range(35):
        pg.write(":BURS1:STAT ON")  # no BURSt subsystem on the 81160A
    pg.write("*RST")
    assert bench.drive["pg.1"][1] is False
    assert ask(pg, ":OUTP1?;:FUNC1?") == "0;SIN"
    codes = errors(pg)
    assert len(codes) == 30 and codes[:29] == [-113] * 29 and codes[-1] == -350
    pg.write("NOPE;*CLS")
    assert errors(pg) == []


# ---------------------------------------------------------------------------- pymeasure


def test_pymeasure_driver(pg, bench):
    gen = PymeasureKeysight81160A(EmulatorAdapter(pg))
    assert gen.id.startswith("Agilent Technologies,81160A")
    gen.reset()
    ch = gen.channels[1]
    ch.shape = "PULS"
    ch.voltage_high = 2.0
    ch.voltage_low = 0.0
    ch.pulse_period = 10e-6
    ch.pulse_width = 1e-6
    ch.pulse_transition = 5e-9
    ch.trigger_count = 3
    ch.trigger_mode = "MAN"
    ch.limit_high = 4.0
    ch.limit_state_enabled = True
    ch.output = True
    assert ch.shape == "PULS"
    assert ch.voltage_high == pytest.approx(2.0) and ch.voltage_low == pytest.approx(0.0)
    assert ch.amplitude == pytest.approx(2.0) and ch.offset == pytest.approx(1.0)
    assert ch.pulse_period == pytest.approx(10e-6) and ch.pulse_width == pytest.approx(1e-6)
    assert ch.pulse_transition == pytest.approx(5e-9)
    assert ch.trigger_count == 3 and ch.trigger_mode == "MAN"
    assert ch.limit_high == pytest.approx(4.0) and ch.limit_state_enabled is True
    assert ch.output is True
    gen.trigger()
    gen.wait_for_trigger(timeout=1)
    assert bench.pulses == [("pg.1", 2.0, 0.0, pytest.approx(1e-6), pytest.approx(10e-6), 3)]
    assert gen.check_errors() == []
    gen.pulse_period = 20e-6  # instrument-level property, no suffix: channel 1
    assert ch.pulse_period == pytest.approx(20e-6)
    gen.channels[2].burst_state = True  # :BURS2:STAT - not an 81160A command
    assert [int(e[0]) for e in gen.check_errors()] == [-113]


# ---------------------------------------------------------------------------- fuzz

VALID_81160A = [
    "*IDN?", "*RST", "*CLS", "*OPC?", "*TRG", "*WAI", "*ESR?", ":FUNC1 PULS", ":FUNC2 SQU",
    ":VOLT1:HIGH 2.5", ":VOLT1:LOW 0", ":VOLT2 1", ":VOLT2:OFFS 0.5", ":PULS:PER1 1e-6",
    ":PULS:WIDT1 100e-9", ":PULS:TRAN1 5e-9", ":PULS:TRAN1:TRA 10e-9", ":PULS:DEL1 1e-9",
    ":TRIG1:COUN 3", ":ARM:SOUR1 MAN", ":ARM:SOUR2 IMM", ":OUTP1 ON", ":OUTP2 ON",
    ":OUTP1:POL INV", ":OUTP1:LOAD INF", ":VOLT:LIM ON", ":VOLT1:LIM:HIGH 3", ":PULS:DCYC1 20",
    ":PULS:HOLD1 DCYC", ":FREQ1 1e6", ":SYST:ERR?", ":PULS:WIDT2?", ":VOLT1:HIGH?",
    ":FUNC1:PULS:TRAN 1e-8", ":OUTP1?", ":BURS1:STAT ON",
]  # fmt: skip
CODES_81160A = PARSER_CODES | {-221, -222}
FUZZ_EXAMPLES, FUZZ_LINES = 250, 40  # 10,000 lines
FUZZ_PG = Keysight81160A(FakeBench())


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(fuzz_lines())
def test_fuzz_81160a_never_raises_and_uses_manual_codes(rng):
    pg = FUZZ_PG
    fuzz_emulator(pg, rng, VALID_81160A, CODES_81160A, FUZZ_LINES)
    for c in pg.ch:  # the coupling rules always hold
        assert c.period >= c.width + 0.8 * (c.lead + c.trail) - 1e-12
