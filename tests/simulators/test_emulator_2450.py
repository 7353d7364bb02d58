"""Keithley 2450 emulator (SCPI): replies, timing, compliance, buffers, binary, pymeasure, fuzz."""

from __future__ import annotations

import struct
import time

import numpy as np
import pytest
from ftjlab.simulators.emulators.keithley2450 import READING_OVERHEAD_S, Keithley2450
from hypothesis import HealthCheck, given, settings
from pymeasure.instruments.keithley import Keithley2450 as PymeasureKeithley2450
from test_scpi_helpers import (
    PARSER_CODES,
    EmulatorAdapter,
    FakeBench,
    ask,
    errors,
    fuzz_emulator,
    fuzz_lines,
)

TERM = "smu2450"
FAST = ":SENS:FUNC 'CURR';:SENS:CURR:NPLC 0.01;:SENS:CURR:AZER OFF;:SENS:CURR:RANG 1e-5"


@pytest.fixture
def bench() -> FakeBench:
    return FakeBench(resistance_ohm=1e6)


@pytest.fixture
def smu(bench) -> Keithley2450:
    return Keithley2450(bench, TERM)


def on(smu: Keithley2450, volts: float = 0.5, ilim: float = 1e-3) -> None:
    smu.write(f":SOUR:FUNC VOLT;:SOUR:VOLT {volts};:SOUR:VOLT:ILIM {ilim};:OUTP ON")


def floats(reply: str) -> np.ndarray:
    return np.array([float(x) for x in reply.split(",")])


def test_identity_and_language(smu):
    assert ask(smu, "*IDN?") == "KEITHLEY INSTRUMENTS,MODEL 2450,04512345,1.7.12b"
    assert ask(smu, "*LANG?") == "SCPI"
    assert Keithley2450(FakeBench(), serial="123", firmware="9").idn.endswith(",123,9")


def test_source_and_single_readings(smu, bench):
    on(smu, 0.5)
    assert bench.drive[TERM] == (0.5, True)
    assert ask(smu, ":READ?") == "5.000000E-07"
    assert ask(smu, ":MEAS:CURR?") == "5.000000E-07"
    assert float(ask(smu, ":MEAS:VOLT?")) == pytest.approx(0.5)
    assert float(ask(smu, ":MEAS:RES?")) == pytest.approx(1e6)
    assert ask(smu, ":SOUR:VOLT?;:SOUR:FUNC?;:OUTP?") == "0.5;VOLT;1"
    assert ask(smu, ":SENS:FUNC?") == '"RES"'
    smu.write(":OUTP OFF")
    assert bench.drive[TERM] == (0.5, False)
    assert float(ask(smu, ":MEAS:CURR?")) == 0.0
    assert errors(smu) == []


def test_nplc_range_is_enforced_and_value_kept(smu):
    smu.write(":SENS:CURR:NPLC 0.5")
    for bad in ("0.001", "10.5", "-1"):
        smu.write(f":SENS:CURR:NPLC {bad}")
    assert errors(smu) == [-222, -222, -222]
    assert ask(smu, ":SENS:CURR:NPLC?") == "0.5"
    smu.write(":SENS:CURR:NPLC 0.01;:SENS:CURR:NPLC? MAX")
    assert smu.read() == b"10\n"
    assert ask(smu, ":SYST:ERR?") == '0,"No error"'
    smu.write(":SENS:CURR:NPLC 11")
    assert ask(smu, ":SYST:ERR?") == '-222,"Parameter data out of range"'


def test_reading_interval_is_aperture_plus_delay_plus_overhead(smu, bench):
    on(smu)
    smu.write(FAST)
    t0 = bench.clock.now_s
    smu.write(':TRIG:LOAD "SimpleLoop",1000,0,"defbuffer1";:INIT;*WAI')
    assert ask(smu, "*OPC?") == "1"
    dt = 0.01 / 50 + READING_OVERHEAD_S
    assert bench.clock.now_s - t0 == pytest.approx(1000 * dt)
    assert 1 / dt == pytest.approx(3030, rel=0.01)  # ~3,000 readings/s at 0.01 PLC
    rel = floats(ask(smu, ':TRAC:DATA? 1,1000,"defbuffer1",REL'))
    assert np.diff(rel) == pytest.approx(np.full(999, dt))
    assert bench.measures[-1] == (TERM, 1000, pytest.approx(dt), pytest.approx(0.01 / 50))
    # delay per point adds to the interval; 60 Hz mains shortens the aperture
    smu.write(':TRAC:CLE;:TRIG:LOAD "SimpleLoop",10,1e-3;:INIT')
    rel = floats(ask(smu, ':TRAC:DATA? 1,10,"defbuffer1",REL'))
    assert np.diff(rel) == pytest.approx(np.full(9, dt + 1e-3))
    smu60 = Keithley2450(bench, TERM, line_frequency_hz=60)
    smu60.write(FAST + ';:TRIG:LOAD "SimpleLoop",5;:INIT')
    assert bench.measures[-1][3] == pytest.approx(0.01 / 60)
    # autozero adds the reference and zero conversions
    smu.write(":SENS:CURR:AZER ON;:TRAC:CLE")
    smu.write(':TRIG:LOAD "SimpleLoop",2;:INIT')
    assert bench.measures[-1][2] == pytest.approx(3 * 0.01 / 50 + READING_OVERHEAD_S)


def test_duration_loop_and_rev_b_spellings(smu, bench):
    on(smu)
    smu.write(FAST)
    dt = 0.01 / 50 + READING_OVERHEAD_S
    smu.write(':TRIG:LOAD "DurationLoop",0.1,0,"defbuffer1";:INIT')
    assert int(ask(smu, ":TRAC:ACT?")) == int(np.ceil(0.1 / dt))
    smu.write(":TRAC:CLE;:TRIG:LOAD:LOOP:SIMP 7,0,'defbuffer1';:INIT")
    assert ask(smu, ':TRAC:ACT? "defbuffer1"') == "7"
    smu.write(":TRAC:CLE;:TRIG:LOAD:LOOP:DUR 0.01;:INIT")
    assert int(ask(smu, ":TRAC:ACT?")) == int(np.ceil(0.01 / dt))
    smu.write(':TRAC:CLE;:TRIG:LOAD "Empty";:INIT;:TRIG:LOAD:EMPT;:INIT')
    assert ask(smu, ":TRAC:ACT?;:TRIG:STAT?") == "0;IDLE;IDLE;0"
    smu.write(':TRIG:LOAD "SimpleLoop",0')
    smu.write(':TRIG:LOAD "SimpleLoop",5,0,"nobuf"')
    smu.write(':TRIG:LOAD "Whatever",5')
    smu.write(":TRIG:LOAD:LOOP:SIMP")
    assert errors(smu) == [-222, -224, -224, -109]


def test_compliance_clamps_reading_and_sets_trip(smu):
    on(smu, 0.5, ilim=1e-7)  # the 1 Mohm load wants 500 nA
    assert float(ask(smu, ":READ?")) == pytest.approx(1e-7)
    assert ask(smu, ":SOUR:VOLT:ILIM:TRIP?") == "1"
    assert ask(smu, ":SOUR:VOLT:ILIM:LEV:TRIP?") == "1"  # Rev B spelling
    stat = ask(smu, ':TRAC:DATA? 1,1,"defbuffer1",READ,SOURSTAT')
    assert stat.split(",")[1] == "32"
    smu.write(":SOUR:VOLT:ILIM 1e-3")
    assert float(ask(smu, ":READ?")) == pytest.approx(5e-7)
    assert ask(smu, ":SOUR:VOLT:ILIM:TRIP?") == "0"
    assert ask(smu, ":SOUR:VOLT:ILIM?") == "0.001"


def test_fixed_range_overflow_and_autorange(smu):
    on(smu, 0.5)
    smu.write(":SENS:CURR:RANG 1e-7")  # 500 nA on the 100 nA range
    assert ask(smu, ":SENS:CURR:RANG:AUTO?;:SENS:CURR:RANG?") == "0;1E-07"
    assert float(ask(smu, ":READ?")) == 9.9e37
    smu.write(":SENS:CURR:RANG:AUTO ON")
    assert float(ask(smu, ":READ?")) == pytest.approx(5e-7)
    assert ask(smu, ":SENS:CURR:RANG?") == "1E-06"
    smu.write(":SENS:CURR:RANG 2")
    assert errors(smu) == [-222]


def test_fill_once_discards_when_full(smu, bench):
    on(smu)
    smu.write(FAST + ';:TRAC:MAKE "once",10;:TRAC:FILL:MODE? "once"')
    assert smu.read() == b"ONCE\n"
    smu.write(':TRIG:LOAD "SimpleLoop",25,0,"once";:INIT')
    assert ask(smu, ':TRAC:ACT? "once"') == "10"
    dt = 0.01 / 50 + READING_OVERHEAD_S
    rel = floats(ask(smu, ':TRAC:DATA? 1,10,"once",REL'))
    assert rel == pytest.approx(dt * np.arange(10))  # the first ten were kept
    t_before = bench.clock.now_s
    smu.write(':TRIG:LOAD "SimpleLoop",100,0,"once";:INIT')  # all discarded, time passes
    assert ask(smu, ':TRAC:ACT? "once"') == "10"
    assert bench.clock.now_s - t_before == pytest.approx(100 * dt)
    assert float(ask(smu, ':READ? "once"')) == pytest.approx(5e-7)  # READ? still answers


def test_fill_cont_overwrites_oldest(smu):
    on(smu)
    smu.write(FAST + ';:TRAC:POIN 10,"defbuffer1";:TRAC:FILL:MODE? "defbuffer1"')
    assert smu.read() == b"CONT\n"
    dt = 0.01 / 50 + READING_OVERHEAD_S
    smu.write(':TRIG:LOAD "SimpleLoop",8;:INIT;:INIT')  # 16 readings, the last 10 stay
    assert ask(smu, ":TRAC:ACT?") == "10"
    rel = floats(ask(smu, ":TRAC:DATA? 1,10,'defbuffer1',REL"))
    assert rel == pytest.approx(dt * np.arange(6, 16))
    smu.write(':TRAC:CLE;:TRIG:LOAD "SimpleLoop",25;:INIT')  # one run longer than the buffer
    rel = floats(ask(smu, ":TRAC:DATA? 1,10,'defbuffer1',REL"))
    assert rel == pytest.approx(dt * np.arange(15, 25))
    smu.write(":TRAC:FILL:MODE ONCE")  # changing the mode clears the buffer
    assert ask(smu, ":TRAC:ACT?;:TRAC:FILL:MODE?") == "0;ONCE"


def test_buffer_management(smu):
    on(smu)
    assert ask(smu, ':TRAC:POIN? "defbuffer1";:TRAC:POIN? "defbuffer2"') == "10000;10000"
    smu.write(':TRAC:MAKE "b1",100,COMP;:TRAC:MAKE "b1",50')
    smu.write(':TRAC:MAKE "defbuffer1",50;:TRAC:MAKE "small",5;:TRAC:POIN 9,"b1"')
    smu.write(':TRAC:ACT? "nope"')
    assert errors(smu) == [1115, 1115, -222, -222, -224]
    smu.write(':TRAC:TRIG "b1";:TRAC:TRIG "b1"')
    assert ask(smu, ':TRAC:ACT? "b1";:TRAC:ACT:END? "b1"') == "2;2"
    smu.write(':TRAC:DATA? 0,1,"b1"')
    smu.write(':TRAC:DATA? 1,3,"b1"')
    smu.write(':TRAC:DATA? 2,1,"b1"')
    assert errors(smu) == [-222, -222, -222]
    assert float(ask(smu, ':TRAC:STAT:AVER? "b1"')) == pytest.approx(5e-7)
    assert float(ask(smu, ':FETC? "b1"')) == pytest.approx(5e-7)
    smu.write(':TRAC:CLE "b1";:FETC? "b1"')
    smu.write(':TRAC:DEL "b1";:TRAC:ACT? "b1"')
    smu.write(':TRAC:DEL "defbuffer2"')
    assert errors(smu) == [-230, -224, -224]


def test_ascii_elements(smu):
    on(smu)
    smu.write(FAST)
    smu.write(':TRIG:LOAD "SimpleLoop",2;:INIT')
    reply = ask(smu, ':TRAC:DATA? 1,2,"defbuffer1",READ,REL,SOUR,UNIT,SOURUNIT,SEC,FRAC,DATE')
    parts = reply.split(",")
    assert len(parts) == 16
    assert parts[3:5] == ["Amp DC", "Volt DC"] and float(parts[2]) == 0.5
    assert int(parts[5]) == 1_700_000_000 and parts[7] == "11/14/2023"
    smu.write(":FORM:ASC:PREC 4")
    assert ask(smu, ":READ?") == "5.000E-07"
    assert ask(smu, ":FORM:ASC:PREC?") == "4"


def find_volts_with_lf(resistance: float) -> float:
    """A source voltage whose current's float64 bytes contain 0x0A."""
    for k in range(1, 10_000):
        volts = k * 1e-3
        if b"\n" in struct.pack("<d", volts / resistance):
            return volts
    raise AssertionError("no candidate")


def test_binary_block_framing_with_lf_in_data(smu):
    volts = find_volts_with_lf(1e6)
    on(smu, volts)
    smu.write(FAST)
    smu.write(':TRIG:LOAD "SimpleLoop",3;:INIT;:FORM REAL')
    assert ask(smu, ":FORM?;:FORM:BORD?") == "REAL;SWAP"
    smu.write(':TRAC:DATA? 1,3,"defbuffer1",READ,REL')
    raw = smu.read()
    assert raw[:2] == b"#0" and raw[-1:] == b"\n" and len(raw) == 2 + 3 * 2 * 8 + 1
    assert raw.count(b"\n") > 1  # a reader that stops at the first LF would cut the block
    values = np.frombuffer(raw[2:-1], "<f8")
    assert values[0::2] == pytest.approx(np.full(3, volts / 1e6))
    assert values[1::2] == pytest.approx((0.01 / 50 + READING_OVERHEAD_S) * np.arange(3))
    # single precision, big endian; READ? in binary too
    smu.write(":FORM SRE;:FORM:BORD NORM")
    smu.write(':TRAC:DATA? 1,2,"defbuffer1",READ,SOUR')
    raw = smu.read()
    assert len(raw) == 2 + 2 * 2 * 4 + 1
    assert np.frombuffer(raw[2:-1], ">f4")[1] == pytest.approx(volts)
    smu.write(":FORM REAL;:FORM:BORD SWAP;:READ?")
    raw = smu.read()
    assert len(raw) == 11 and np.frombuffer(raw[2:-1], "<f8")[0] == pytest.approx(volts / 1e6)


def test_binary_formats_allow_only_read_rel_sour_extr(smu):
    on(smu)
    smu.write(":READ?")
    smu.read()
    smu.write(':FORM REAL;:TRAC:DATA? 1,1,"defbuffer1",READ,UNIT')
    smu.write(':TRAC:DATA? 1,1,"defbuffer1",TST')
    smu.write(':READ? "defbuffer1",READ,DATE')
    assert not smu.reply_pending
    assert ask(smu, ":SYST:ERR?") == (
        '1133,"Parameter 4, Syntax error, expected valid name parameters"'
    )
    assert errors(smu) == [1133, 1133]
    smu.write(':TRAC:DATA? 1,1,"defbuffer1",READ,REL,SOUR,EXTR')
    assert len(smu.read()) == 2 + 4 * 8 + 1


def test_2400_style_buffer_commands_are_undefined(smu):
    for cmd in (
        ":TRAC:FEED SENS",
        ":TRAC:FEED:CONT NEXT",
        ":STAT:MEAS:ENAB 512",
        ":TRAC:CLEAR;:TRAC:FEED:CONT NEV",
    ):
        smu.write(cmd)
    assert errors(smu) == [-113, -113, -113, -113]


def test_event_log_format_depth_and_reset_semantics(smu, bench):
    bench.clock.advance(2.25)
    smu.write(":SENS:CURR:NPLC")
    assert ask(smu, ":SYST:EVEN:NEXT?") == '-109,"Missing parameter;1,1700000002,250000000"'
    assert ask(smu, ":SYST:EVEN:NEXT?") == '0,"No error;0,0,0"'
    for _ in range(1005):
        smu.write("NOPE")
    assert ask(smu, ":SYST:ERR:COUN?") == "1000"
    smu.write("*RST")
    codes = errors(smu)
    assert len(codes) == 1000 and codes[-1] == -350
    smu.write("NOPE;*CLS")
    assert errors(smu) == []


def test_rst_turns_output_off_and_deletes_user_buffers(smu, bench):
    on(smu, 1.0)
    smu.write(':TRAC:MAKE "mine",20;:SENS:CURR:NPLC 0.1;:FORM REAL;NOPE')
    smu.write("*RST")
    assert bench.drive[TERM] == (0.0, False)
    assert ask(smu, ":OUTP?;:SOUR:VOLT?;:SENS:CURR:NPLC?;:FORM?") == "0;0;1;ASC"
    smu.write(':TRAC:ACT? "mine"')
    assert errors(smu) == [-113, -224]


def test_linear_sweep(smu, bench):
    smu.write(FAST + ";:SOUR:SWE:VOLT:LIN 0,1,5,0,1,BEST,OFF,ON,'defbuffer1';:INIT")
    assert ask(smu, "*OPC?;:TRAC:ACT?") == "1;10"
    data = floats(ask(smu, ":TRAC:DATA? 1,10,'defbuffer1',SOUR,READ"))
    src = [0, 0.25, 0.5, 0.75, 1, 1, 0.75, 0.5, 0.25, 0]
    assert data[0::2] == pytest.approx(src)
    assert data[1::2] == pytest.approx(np.array(src) / 1e6)
    assert bench.drive[TERM] == (0.0, True)
    smu.write(":SOUR:SWE:VOLT:LIN 0,1,100000,0,10")
    assert errors(smu) == [-222]


def test_current_source_uses_bench_voltage_for_current(smu, bench):
    bench.voltage_for_current = lambda terminal, amps: amps * bench.resistance_ohm
    smu.write(":SOUR:FUNC CURR;:SOUR:CURR 1e-6;:SOUR:CURR:VLIM 5;:OUTP ON")
    assert bench.drive[TERM] == (pytest.approx(1.0), True)
    assert float(ask(smu, ":MEAS:VOLT?")) == pytest.approx(1.0)
    assert float(ask(smu, ":MEAS:CURR?")) == pytest.approx(1e-6)
    smu.write(":SOUR:CURR:VLIM 0.5")
    assert bench.drive[TERM] == (pytest.approx(0.5), True)
    assert ask(smu, ":SOUR:CURR:VLIM:TRIP?") == "1"


# ---------------------------------------------------------------------------- pymeasure


@pytest.fixture
def driver(smu) -> PymeasureKeithley2450:
    return PymeasureKeithley2450(EmulatorAdapter(smu))


def test_pymeasure_driver_basic_flow(driver, smu, bench):
    assert driver.id == "KEITHLEY INSTRUMENTS,MODEL 2450,04512345,1.7.12b"
    driver.reset()
    driver.apply_voltage(compliance_current=1e-3)
    driver.measure_current(nplc=0.1, current=1e-5, auto_range=False)
    driver.source_voltage = 0.25
    driver.enable_source()
    assert driver.source_enabled is True
    assert driver.current == pytest.approx(2.5e-7)
    assert driver.source_mode == "voltage"
    assert driver.source_voltage == pytest.approx(0.25)
    assert driver.compliance_current == pytest.approx(1e-3)
    assert driver.current_nplc == pytest.approx(0.1)
    assert driver.current_range == pytest.approx(1e-5)
    driver.source_voltage_range = 2
    assert driver.source_voltage_range == pytest.approx(2)
    driver.wires = 4
    assert driver.wires == 4
    driver.current_filter_count = 5
    assert driver.current_filter_count == 5
    driver.current_output_off_state = "HIMP"
    assert driver.current_output_off_state == "HIMP"
    driver.source_voltage_delay_auto = False
    assert driver.source_voltage_delay_auto is False
    driver.buffer_points = 100
    assert driver.buffer_points == 100
    driver.beep(440, 0.1)
    driver.use_rear_terminals()
    driver.measure_resistance(nplc=1, auto_range=True)
    assert driver.resistance == pytest.approx(1e6)
    driver.measure_voltage()
    assert driver.voltage == pytest.approx(0.25)
    driver.disable_source()
    assert driver.source_enabled is False
    assert driver.check_errors() == []
    assert driver.complete == "1"
    driver.apply_current(compliance_voltage=5)
    driver.source_current = 1e-7
    assert driver.source_current == pytest.approx(1e-7)
    assert driver.check_errors() == []


def test_pymeasure_inherited_2400_buffer_gives_113(driver):
    driver.config_buffer(points=64)  # calls check_errors: pymeasure logs the errors
    codes = [int(e[0]) for e in driver.check_errors()]
    assert codes == []  # config_buffer drained them itself ...
    driver.write(":TRAC:FEED SENSE;:TRAC:FEED:CONT NEXT;")
    assert [int(e[0]) for e in driver.check_errors()] == [-113, -113]


# ---------------------------------------------------------------------------- fuzz

VALID_2450 = [
    "*IDN?", "*RST", "*CLS", "*OPC?", "*WAI", "*TRG", "*ESR?", "*STB?", "*LANG?",
    ":SOUR:FUNC VOLT", ":SOUR:VOLT 0.5", ":SOUR:VOLT:ILIM 1e-3", ":SOUR:VOLT:ILIM:TRIP?",
    ":SOUR:VOLT:RANG 2", ":SOUR:VOLT:RANG:AUTO ON", ":OUTP ON", ":OUTP?", ":OUTP OFF",
    ":SENS:FUNC 'CURR'", ':SENS:FUNC "VOLT"', ":SENS:CURR:RANG 1e-6", ":SENS:CURR:RANG:AUTO ON",
    ":SENS:CURR:NPLC 0.01", ":SENS:CURR:NPLC?", ":SENS:CURR:AZER OFF", ":READ?", ":MEAS:CURR?",
    ':TRAC:MAKE "buf",100', ':TRAC:POIN 50,"defbuffer1"', ":TRAC:CLE", ':TRAC:ACT? "buf"',
    ':TRAC:FILL:MODE ONCE,"defbuffer1"', ':TRIG:LOAD "SimpleLoop",20,0,"defbuffer1"',
    ':TRIG:LOAD "DurationLoop",0.01,0', ":TRIG:LOAD:LOOP:SIMP 5", ":INIT", ":ABOR",
    ':TRAC:DATA? 1,5,"defbuffer1",READ,REL', ":FORM REAL", ":FORM SRE", ":FORM ASC",
    ":FORM:BORD NORM", ":SYST:ERR?", ":SYST:EVEN:NEXT?", ":TRAC:FEED SENS",
    ":SOUR:SWE:VOLT:LIN 0,1,5", ':READ? "defbuffer1",READ,REL', ":SOUR:CURR 1e-6",
    ":SOUR:FUNC CURR", ":TRAC:STAT:AVER?", ":FETC?",
]  # fmt: skip
CODES_2450 = PARSER_CODES | {-221, -222, -224, -230, 1115, 1133}


FUZZ_EXAMPLES, FUZZ_LINES = 250, 40  # 10,000 lines


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(fuzz_lines())
def test_fuzz_2450_never_raises_and_uses_manual_codes(rng):
    smu = FUZZ_SMU
    fuzz_emulator(smu, rng, VALID_2450, CODES_2450, FUZZ_LINES)


FUZZ_SMU = Keithley2450(FakeBench())


def test_fuzz_budget():
    """The fuzz test above covers >= 10,000 command lines in a few seconds."""
    assert FUZZ_EXAMPLES * FUZZ_LINES >= 10_000
    start = time.perf_counter()
    smu = Keithley2450(FakeBench())
    for line in VALID_2450 * 20:
        smu.write(line)
    assert time.perf_counter() - start < 5


def test_formatted_elements_match_a_real_units_prints():
    """The two formatted values a real 2450 (firmware 1.6.7c) printed in the QCoDeS 2450
    example notebook: -1.608374e-08 A on the 100 nA range as ``-016.084 nA`` and a 5.07 uV
    source readback on the 20 mV range as ``+00.00507 mV``."""
    from ftjlab.simulators.emulators.keithley2450 import _display

    assert _display(-1.608374e-08, 1e-7, "Amp DC", 6) == "-016.084 nA"
    assert _display(5.07e-6, 0.02, "Volt DC", 7) == "+00.00507 mV"
    assert _display(9.9e37, 1e-7, "Amp DC", 6) == "Overflow"


def test_sweep_into_a_buffer_holding_single_readings_returns_exactly_its_points(smu):
    on(smu)
    for _ in range(3):
        smu.write(":READ?")
        smu.read()
    smu.write(":SOUR:SWE:VOLT:LIN 0.1, 0.5, 5, 0, 1, AUTO, ON, OFF, 'defbuffer1'")
    smu.write(":INIT")
    smu.write(":TRAC:ACT? 'defbuffer1'")
    assert smu.read() == b"5\n"
    smu.write(":TRAC:DATA? 1, 5, 'defbuffer1', SOUR")
    assert np.allclose(floats(smu.read().decode()), np.linspace(0.1, 0.5, 5))
