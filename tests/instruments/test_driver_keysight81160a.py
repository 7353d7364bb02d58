"""Protocol tests of the Keysight 81160A driver (81150A/81160A user guide command set)."""

import pytest
from ftjlab.instruments import InstrumentError, Keysight81160A
from pymeasure.test import expected_protocol

SETS = [
    ("shape", "PULS", ":FUNC1 PULS"),
    ("voltage_high", 2.5, ":VOLT1:HIGH 2.5"),
    ("voltage_low", -0.5, ":VOLT1:LOW -0.5"),
    ("amplitude", 5, ":VOLT1 5"),
    ("offset", 0.25, ":VOLT1:OFFS 0.25"),
    ("pulse_width", 1.5e-9, ":PULS:WIDT1 1.5e-09"),
    ("pulse_width", 100e-9, ":PULS:WIDT1 1e-07"),
    ("pulse_period", 3.03e-9, ":PULS:PER1 3.03e-09"),
    ("leading_edge", 1e-9, ":PULS:TRAN1 1e-09"),
    ("pulse_transition", 2e-9, ":PULS:TRAN1 2e-09"),
    ("trailing_edge", 1e3, ":PULS:TRAN1:TRA 1000"),
    ("trailing_edge_coupled", False, ":PULS:TRAN1:TRA:AUTO OFF"),
    ("pulse_delay", 5e-9, ":PULS:DEL1 5e-09"),
    ("polarity", "INV", ":OUTP1:POL INV"),
    ("output", True, ":OUTP1 1"),
    ("output_enabled", False, ":OUTP1 0"),
    ("output_load", 50, ":OUTP1:LOAD 50"),
    ("burst_count", 10, ":TRIG1:COUN 10"),
    ("arm_source", "MAN", ":ARM:SOUR1 MAN"),
    ("arm_source", "EXT", ":ARM:SOUR1 EXT"),
]

GETS = [
    ("shape", ":FUNC1?", "PULS", "PULS"),
    ("voltage_high", ":VOLT1:HIGH?", "+2.50000000000000E+00", 2.5),
    ("voltage_low", ":VOLT1:LOW?", "-5.00000000000000E-01", -0.5),
    ("amplitude", ":VOLT1?", "+3.00000000000000E+00", 3.0),
    ("offset", ":VOLT1:OFFS?", "+1.00000000000000E+00", 1.0),
    ("pulse_width", ":PULS:WIDT1?", "+1.00000000000000E-07", 1e-7),
    ("pulse_period", ":PULS:PER1?", "+1.00000000000000E-06", 1e-6),
    ("leading_edge", ":PULS:TRAN1?", "+5.00000000000000E-09", 5e-9),
    ("trailing_edge", ":PULS:TRAN1:TRA?", "+8.00000000000000E-09", 8e-9),
    ("trailing_edge_coupled", ":PULS:TRAN1:TRA:AUTO?", "1", True),
    ("pulse_delay", ":PULS:DEL1?", "+0.00000000000000E+00", 0.0),
    ("polarity", ":OUTP1:POL?", "INV", "INV"),
    ("polarity", ":OUTP1:POL?", "NORM", "NORM"),
    ("output", ":OUTP1?", "1", True),
    ("output_load", ":OUTP1:LOAD?", "+5.00000000000000E+01", 50.0),
    ("burst_count", ":TRIG1:COUN?", "+10", 10),
    ("arm_source", ":ARM:SOUR1?", "IMM", "IMM"),
]

INVALID = [
    ("pulse_width", 1e-9),  # below 1.5 ns
    ("pulse_period", 3e-9),  # below 3.03 ns
    ("leading_edge", 0.5e-9),
    ("trailing_edge", 2e3),
    ("amplitude", 0.01),
    ("amplitude", 6),
    ("voltage_high", 5.5),
    ("voltage_low", -5.1),
    ("polarity", "REV"),
    ("arm_source", "BUS"),
    ("burst_count", 0),
    ("pulse_delay", -1e-9),
    ("shape", "TRI"),
]


@pytest.mark.parametrize(("prop", "value", "command"), SETS)
def test_set(prop, value, command):
    with expected_protocol(Keysight81160A, [(command, None)]) as gen:
        setattr(gen.channels[1], prop, value)


@pytest.mark.parametrize(("prop", "query", "reply", "value"), GETS)
def test_get(prop, query, reply, value):
    with expected_protocol(Keysight81160A, [(query, reply)]) as gen:
        got = getattr(gen.channels[1], prop)
    assert got == pytest.approx(value) if isinstance(value, float) else got == value
    assert type(got) is type(value)


@pytest.mark.parametrize(("prop", "value"), INVALID)
def test_out_of_range_raises_and_sends_nothing(prop, value):
    with expected_protocol(Keysight81160A, []) as gen, pytest.raises((ValueError, TypeError)):
        setattr(gen.channels[1], prop, value)


def test_channel_2_suffix():
    with expected_protocol(
        Keysight81160A, [(":PULS:TRAN2:TRA 5e-09", None), (":OUTP2:POL?", "NORM")]
    ) as gen:
        gen.channels[2].trailing_edge = 5e-9
        assert gen.ch_2.polarity == "NORM"


def test_configure_pulse_orders_writes_and_checks_errors():
    with expected_protocol(
        Keysight81160A,
        [
            (":FUNC1 PULS", None),
            (":VOLT1:HIGH?", "+5.0E-01"),
            (":VOLT1:LOW?", "-5.0E-01"),  # (2.5, -0.5) keeps more amplitude: high first
            (":VOLT1:HIGH 2.5", None),
            (":VOLT1:LOW 0", None),
            (":PULS:PER1?", "1.0E-06"),  # the period shrinks: width first
            (":PULS:WIDT1 1e-07", None),
            (":PULS:PER1 5e-07", None),
            (":PULS:TRAN1 5e-09", None),
            (":PULS:TRAN1:TRA 4e-09", None),
            ("SYST:ERR?", '+0,"No error"'),
        ],
    ) as gen:
        gen.channels[1].configure_pulse(2.5, 0.0, 100e-9, 500e-9, 5e-9, 4e-9)


def test_configure_pulse_low_first_when_going_down():
    with expected_protocol(
        Keysight81160A,
        [
            (":FUNC1 PULS", None),
            (":VOLT1:HIGH?", "+3.0E+00"),
            (":VOLT1:LOW?", "+2.0E+00"),  # (-0.5, 2) would be inverted: low first
            (":VOLT1:LOW -1", None),
            (":VOLT1:HIGH -0.5", None),
            (":PULS:PER1?", "+1.0E-08"),  # the period grows: period first
            (":PULS:PER1 1e-05", None),
            (":PULS:WIDT1 1e-06", None),
            ("SYST:ERR?", '-222,"Data out of range"'),
            ("SYST:ERR?", '+0,"No error"'),
        ],
    ) as gen, pytest.raises(InstrumentError, match="Data out of range"):
        gen.channels[1].configure_pulse(-0.5, -1.0, 1e-6, 1e-5, check_errors=True)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0.0, 1.0, 1e-7, 1e-6), "above low"),
        ((1.0, 0.0, 1e-7, 1.05e-7, 5e-9), "width \\+ 1.6 x edge"),
        ((1.0, 0.0, -1e-7, 1e-6), "positive"),
    ],
)
def test_configure_pulse_rejects_before_sending(args, match):
    with expected_protocol(Keysight81160A, []) as gen, pytest.raises(ValueError, match=match):
        gen.channels[1].configure_pulse(*args)


def test_trigger_and_opc_after_burst():
    with expected_protocol(
        Keysight81160A, [("*TRG;*OPC?", "1"), ("*TRG", None), ("*OPC?", "1")]
    ) as gen:
        gen.fire_burst(timeout_s=1)
        gen.trigger()
        gen.wait_for_completion()


def test_shutdown_both_outputs_off():
    with expected_protocol(Keysight81160A, [(":OUTP1 0", None), (":OUTP2 0", None)]) as gen:
        gen.shutdown()
    assert gen.isShutdown


def test_levels_are_written_in_the_order_that_keeps_the_amplitude():
    """From (0.05, -0.05) to (0, -4): writing high = 0 first would pass through an amplitude
    of 50 mV, below the generator's minimum; the low level must go first."""
    with expected_protocol(
        Keysight81160A,
        [
            (":FUNC1 PULS", None),
            (":VOLT1:HIGH?", "+5.0E-02"),
            (":VOLT1:LOW?", "-5.0E-02"),
            (":VOLT1:LOW -4", None),
            (":VOLT1:HIGH 0", None),
            (":PULS:PER1?", "+1.0E-06"),
            (":PULS:PER1 0.004", None),
            (":PULS:WIDT1 0.001", None),
        ],
    ) as gen:
        gen.channels[1].configure_pulse(0.0, -4.0, 1e-3, 4e-3, check_errors=False)
