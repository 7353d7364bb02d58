"""Protocol tests of the Keysight 33500B driver (33500 series operating/programming guide)."""

import math

import pytest
from ftjlab.instruments import Keysight33500B
from pymeasure.test import expected_protocol

SETS = [
    ("shape", "PULS", "SOUR1:FUNC PULS"),
    ("voltage_high", 2.0, "SOUR1:VOLT:HIGH 2"),
    ("voltage_low", 0, "SOUR1:VOLT:LOW 0"),
    ("amplitude", 1e-3, "SOUR1:VOLT 0.001"),
    ("offset", -1.5, "SOUR1:VOLT:OFFS -1.5"),
    ("pulse_width", 16e-9, "SOUR1:FUNC:PULS:WIDT 1.6e-08"),
    ("pulse_period", 1e-5, "SOUR1:FUNC:PULS:PER 1e-05"),
    ("leading_edge", 8.4e-9, "SOUR1:FUNC:PULS:TRAN:LEAD 8.4e-09"),
    ("trailing_edge", 1e-6, "SOUR1:FUNC:PULS:TRAN:TRA 1e-06"),
    ("pulse_transition", 1e-8, "SOUR1:FUNC:PULS:TRAN:BOTH 1e-08"),
    ("burst_state", True, "SOUR1:BURS:STAT 1"),
    ("burst_mode", "TRIG", "SOUR1:BURS:MODE TRIG"),
    ("burst_ncycles", 100_000_000, "SOUR1:BURS:NCYC 100000000"),
    ("trigger_source", "BUS", "TRIG1:SOUR BUS"),
    ("trigger_source", "TIM", "TRIG1:SOUR TIM"),
    ("trigger_timer", 1e-3, "TRIG1:TIM 0.001"),
    ("trigger_delay", 2e-6, "TRIG1:DEL 2e-06"),
    ("polarity", "INV", "OUTP1:POL INV"),
    ("output", True, "OUTP1 1"),
    ("output_enabled", False, "OUTP1 0"),
    ("output_load", 50, "OUTP1:LOAD 50"),
    ("output_load", "INF", "OUTP1:LOAD INF"),
]

GETS = [
    ("shape", "SOUR1:FUNC?", "PULS", "PULS"),
    ("voltage_high", "SOUR1:VOLT:HIGH?", "+2.000000000000000E+00", 2.0),
    ("voltage_low", "SOUR1:VOLT:LOW?", "+0.000000000000000E+00", 0.0),
    ("amplitude", "SOUR1:VOLT?", "+1.000000000000000E-01", 0.1),
    ("offset", "SOUR1:VOLT:OFFS?", "-1.500000000000000E+00", -1.5),
    ("pulse_width", "SOUR1:FUNC:PULS:WIDT?", "+1.000000000000000E-06", 1e-6),
    ("pulse_period", "SOUR1:FUNC:PULS:PER?", "+1.000000000000000E-05", 1e-5),
    ("leading_edge", "SOUR1:FUNC:PULS:TRAN:LEAD?", "+8.400000000000000E-09", 8.4e-9),
    ("trailing_edge", "SOUR1:FUNC:PULS:TRAN:TRA?", "+1.000000000000000E-08", 1e-8),
    ("burst_state", "SOUR1:BURS:STAT?", "1", True),
    ("burst_mode", "SOUR1:BURS:MODE?", "TRIG", "TRIG"),
    ("burst_ncycles", "SOUR1:BURS:NCYC?", "+5.000000000000000E+00", 5),
    ("trigger_source", "TRIG1:SOUR?", "TIM", "TIM"),
    ("trigger_timer", "TRIG1:TIM?", "+1.000000000000000E-03", 1e-3),
    ("trigger_delay", "TRIG1:DEL?", "+0.000000000000000E+00", 0.0),
    ("polarity", "OUTP1:POL?", "NORM", "NORM"),
    ("output", "OUTP1?", "0", False),
    ("output_load", "OUTP1:LOAD?", "+5.000000000000000E+01", 50.0),
]

INVALID = [
    ("pulse_width", 10e-9),
    ("leading_edge", 5e-9),
    ("trailing_edge", 2e-6),
    ("amplitude", 11),
    ("voltage_high", 5.1),
    ("burst_ncycles", 100_000_001),
    ("trigger_source", "MAN"),
    ("trigger_timer", 1e-7),
    ("output_load", 0.5),
    ("output_load", "HIGHZ"),
    ("burst_mode", "ONCE"),
]


@pytest.mark.parametrize(("prop", "value", "command"), SETS)
def test_set(prop, value, command):
    with expected_protocol(Keysight33500B, [(command, None)]) as gen:
        setattr(gen.channels[1], prop, value)


@pytest.mark.parametrize(("prop", "query", "reply", "value"), GETS)
def test_get(prop, query, reply, value):
    with expected_protocol(Keysight33500B, [(query, reply)]) as gen:
        got = getattr(gen.channels[1], prop)
    assert got == pytest.approx(value) if isinstance(value, float) else got == value
    assert type(got) is type(value)


@pytest.mark.parametrize(("prop", "value"), INVALID)
def test_out_of_range_raises_and_sends_nothing(prop, value):
    with expected_protocol(Keysight33500B, []) as gen, pytest.raises((ValueError, TypeError)):
        setattr(gen.channels[1], prop, value)


def test_infinite_load_reply():
    with expected_protocol(Keysight33500B, [("OUTP2:LOAD?", "+9.900000000000000E+37")]) as gen:
        assert math.isinf(gen.channels[2].output_load)


def test_configure_pulse_refuses_edge_longer_than_0625_width():
    # the 33500B would shorten the edge and log an error; we refuse before sending
    with expected_protocol(Keysight33500B, []) as gen, pytest.raises(ValueError, match=r"0\.625"):
        gen.channels[1].configure_pulse(1.0, 0.0, 100e-9, 10e-6, leading_edge_s=70e-9)


def test_configure_pulse_sequence():
    with expected_protocol(
        Keysight33500B,
        [
            ("SOUR2:FUNC PULS", None),
            ("SOUR2:VOLT:HIGH?", "+1.0E-01"),  # both levels: the write order depends on them
            ("SOUR2:VOLT:LOW?", "+0.0E+00"),
            ("SOUR2:VOLT:HIGH 1", None),
            ("SOUR2:VOLT:LOW 0", None),
            ("SOUR2:FUNC:PULS:PER?", "+1.0E-03"),
            ("SOUR2:FUNC:PULS:WIDT 1e-06", None),
            ("SOUR2:FUNC:PULS:PER 1e-05", None),
            ("SOUR2:FUNC:PULS:TRAN:LEAD 1e-08", None),
            ("SOUR2:FUNC:PULS:TRAN:TRA 2e-08", None),
            ("SYST:ERR?", '+0,"No error"'),
        ],
    ) as gen:
        gen.channels[2].configure_pulse(1.0, 0.0, 1e-6, 1e-5, 10e-9, 20e-9)


def test_bus_trigger_and_opc():
    with expected_protocol(Keysight33500B, [("*TRG;*OPC?", "1")]) as gen:
        gen.fire_burst()


def test_shutdown_both_outputs_off():
    with expected_protocol(Keysight33500B, [("OUTP1 0", None), ("OUTP2 0", None)]) as gen:
        gen.shutdown()
