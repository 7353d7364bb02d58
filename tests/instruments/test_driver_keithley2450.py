"""Protocol tests of the Keithley 2450 driver (SCPI, 2450 reference manual 2450-901-01)."""

import numpy as np
import pytest
from ftjlab.instruments import InstrumentError, Keithley2450
from pymeasure.test import expected_protocol

SETS = [
    ("source_function", "voltage", ":SOUR:FUNC VOLT"),
    ("source_function", "current", ":SOUR:FUNC CURR"),
    ("source_voltage", 0.8, ":SOUR:VOLT 0.8"),
    ("source_voltage", -210, ":SOUR:VOLT -210"),
    ("source_voltage_range", 2, ":SOUR:VOLT:RANG 2"),
    ("source_voltage_autorange", True, ":SOUR:VOLT:RANG:AUTO 1"),
    ("current_limit", 1e-6, ":SOUR:VOLT:ILIM 1e-06"),
    ("source_current", 1e-6, ":SOUR:CURR 1e-06"),
    ("source_current_range", 1e-3, ":SOUR:CURR:RANG 0.001"),
    ("voltage_limit", 2, ":SOUR:CURR:VLIM 2"),
    ("source_voltage_delay", 0.01, ":SOUR:VOLT:DEL 0.01"),
    ("source_voltage_delay_auto", False, ":SOUR:VOLT:DEL:AUTO 0"),
    ("output_enabled", True, ":OUTP ON"),
    ("output_enabled", False, ":OUTP OFF"),
    ("sense_function", "current", ':SENS:FUNC "CURR"'),
    ("sense_function", "voltage", ':SENS:FUNC "VOLT"'),
    ("measure_current_range", 1e-6, ":SENS:CURR:RANG 1e-06"),
    ("measure_current_autorange", False, ":SENS:CURR:RANG:AUTO 0"),
    ("measure_nplc", 0.01, ":SENS:CURR:NPLC 0.01"),
    ("measure_nplc", 10, ":SENS:CURR:NPLC 10"),
    ("measure_autozero", False, ":SENS:CURR:AZER 0"),
    ("voltage_nplc", 1, ":SENS:VOLT:NPLC 1"),
    ("current_filter_count", 10, ":SENS:CURR:AVER:COUNT 10"),
    ("buffer_points", 10000, ':TRAC:POIN 10000,"defbuffer1"'),
    ("data_format", "REAL", ":FORM REAL"),
    ("data_format", "ASC", ":FORM ASC"),
    ("byte_order", "SWAP", ":FORM:BORD SWAP"),
]

GETS = [
    ("source_function", ":SOUR:FUNC?", "VOLT", "voltage"),
    ("source_voltage", ":SOUR:VOLT?", "8.000000E-01", 0.8),
    ("source_voltage_autorange", ":SOUR:VOLT:RANG:AUTO?", "1", True),
    ("current_limit", ":SOUR:VOLT:ILIM?", "1.000000E-06", 1e-6),
    ("in_compliance", ":SOUR:VOLT:ILIM:TRIP?", "1", True),
    ("in_compliance", ":SOUR:VOLT:ILIM:TRIP?", "0", False),
    ("output_enabled", ":OUTP?", "1", True),
    ("output_enabled", ":OUTP?", "0", False),
    ("sense_function", ":SENS:FUNC?", '"CURR:DC"', "current"),
    ("measure_current_range", ":SENS:CURR:RANG?", "1.000000E-06", 1e-6),
    ("measure_current_autorange", ":SENS:CURR:RANG:AUTO?", "0", False),
    ("measure_nplc", ":SENS:CURR:NPLC?", "1.000000E-02", 0.01),
    ("measure_autozero", ":SENS:CURR:AZER?", "1", True),
    ("data_format", ":FORM?", "ASC", "ASC"),
    ("byte_order", ":FORM:BORD?", "SWAP", "SWAP"),
    ("buffer_points", ':TRAC:POIN? "defbuffer1"', "100000", 100000),
]

INVALID = [
    ("source_voltage", 500),  # pymeasure's Keithley2450 accepts this
    ("source_voltage", -210.1),
    ("current_limit", 1.1),
    ("current_limit", 1e-10),
    ("measure_nplc", 0.001),  # QCoDeS's validator allowed it; the 2450 does not
    ("measure_nplc", 11),
    ("measure_current_range", 2.0),  # pymeasure clipped to 1.05
    ("source_voltage_range", 300),
    ("current_filter_count", 101),
    ("data_format", "HEX"),
    ("sense_function", "power"),
]


@pytest.mark.parametrize(("prop", "value", "command"), SETS)
def test_set(prop, value, command):
    with expected_protocol(Keithley2450, [(command, None)]) as smu:
        setattr(smu, prop, value)


@pytest.mark.parametrize(("prop", "query", "reply", "value"), GETS)
def test_get(prop, query, reply, value):
    with expected_protocol(Keithley2450, [(query, reply)]) as smu:
        got = getattr(smu, prop)
    assert got == pytest.approx(value) if isinstance(value, float) else got == value
    assert type(got) is type(value)


@pytest.mark.parametrize(("prop", "value"), INVALID)
def test_out_of_range_raises_and_sends_nothing(prop, value):
    with expected_protocol(Keithley2450, []) as smu, pytest.raises((ValueError, TypeError)):
        setattr(smu, prop, value)


def test_buffer_channel_commands():
    with expected_protocol(
        Keithley2450,
        [
            (':TRAC:MAKE "rtn",5000,STAN', None),
            (':TRAC:FILL:MODE ONCE,"rtn"', None),
            (':TRAC:FILL:MODE? "rtn"', "ONCE"),
            (':TRAC:POIN 6000,"rtn"', None),
            (':TRAC:POIN? "rtn"', "6000"),
            (':TRAC:CLE "rtn"', None),
            (':TRAC:ACT? "rtn"', "0"),
            (':TRAC:ACT? "defbuffer1"', "17"),
        ],
    ) as smu:
        buffer = smu.make_buffer("rtn", 5000)
        buffer.fill_mode = "ONCE"
        assert buffer.fill_mode == "ONCE"
        buffer.capacity = 6000
        assert buffer.capacity == 6000
        buffer.clear()
        assert buffer.count == 0
        assert smu.defbuffer1.count == 17


def test_invalid_buffer_name_sends_nothing():
    with expected_protocol(Keithley2450, []) as smu, pytest.raises(ValueError, match="buffer"):
        smu.make_buffer('x",1;*RST;"', 10)


def test_trigger_model_sequence():
    with expected_protocol(
        Keithley2450,
        [
            (':TRIG:LOAD "SimpleLoop",1000,0,"defbuffer1"', None),
            (":INIT", None),
            ("*WAI", None),
            ("*OPC?", "1"),
            (":ABOR", None),
        ],
    ) as smu:
        smu.load_simple_loop(1000, 0.0, "defbuffer1")
        smu.start()
        smu.wait()
        smu.wait_for_completion(timeout_s=3)
        smu.abort()


def test_native_buffer_replaces_2400_mixin():
    with expected_protocol(Keithley2450, [(':TRAC:CLE "defbuffer1"', None)]) as smu:
        smu.reset_buffer()
        with pytest.raises(NotImplementedError, match="TRAC:FEED"):
            smu.config_buffer(10)
        with pytest.raises(NotImplementedError):
            smu.disable_buffer()


def test_read_ascii():
    with expected_protocol(
        Keithley2450,
        [(':TRAC:DATA? 1,3,"defbuffer1",READ,REL',
          "1.5E-09,0.000000E+00,1.6E-09,3.3E-04,1.7E-09,6.6E-04")],
    ) as smu:
        readings, times = smu.defbuffer1.read_data(1, 3, binary=False)
    np.testing.assert_allclose(readings, [1.5e-9, 1.6e-9, 1.7e-9])
    np.testing.assert_allclose(times, [0.0, 3.3e-4, 6.6e-4])


def test_read_binary_real_float64_by_byte_count():
    values = np.array([1.5e-9, 0.0, 1.6e-9, 3.3e-4], dtype="<f8")
    values[3] = np.frombuffer(b"\x0a" * 7 + b"\x3f", dtype="<f8")[0]  # bytes 0x0A in the data
    reply = b"#0" + values.tobytes() + b"\n"
    assert len(reply) == 8 * 4 + 3
    with expected_protocol(
        Keithley2450,
        [
            (":FORM REAL", None),
            (":FORM:BORD SWAP", None),
            (':TRAC:DATA? 1,2,"defbuffer1",READ,REL', reply),
            (":FORM ASC", None),
        ],
    ) as smu:
        readings, times = smu.defbuffer1.read_data(1, 2, binary=True)
    np.testing.assert_array_equal(readings, values[0::2])
    np.testing.assert_array_equal(times, values[1::2])


def test_read_binary_sreal_float32_asks_count():
    values = np.array([2.5e-9, 0.0, 2.75e-9, 1e-3], dtype="<f4")
    with expected_protocol(
        Keithley2450,
        [
            (':TRAC:ACT? "rtn"', "2"),
            (":FORM SRE", None),
            (":FORM:BORD SWAP", None),
            (':TRAC:DATA? 1,2,"rtn",READ,REL', b"#0" + values.tobytes() + b"\n"),
            (":FORM ASC", None),
        ],
    ) as smu:
        readings, times = smu.buffer("rtn").read_data(binary=True, binary_format="SRE")
    np.testing.assert_array_equal(readings, values[0::2].astype(float))
    np.testing.assert_array_equal(times, values[1::2].astype(float))


def test_read_binary_truncated_reply_raises():
    short = b"#0" + np.zeros(3, "<f8").tobytes() + b"\n"
    with expected_protocol(
        Keithley2450,
        [
            (":FORM REAL", None),
            (":FORM:BORD SWAP", None),
            (':TRAC:DATA? 1,2,"defbuffer1",READ,REL', short),
            (":FORM ASC", None),
        ],
    ) as smu, pytest.raises(InstrumentError, match="expected 35"):
        smu.defbuffer1.read_data(1, 2)


def test_errors_and_opc():
    with expected_protocol(
        Keithley2450,
        [
            ("SYST:ERR?", '-222,"Parameter data out of range"'),
            ("SYST:ERR?", '0,"No error"'),
            ("*OPC?", "0"),
        ],
    ) as smu:
        errors = smu.check_errors()
        assert [int(errors[0][0])] == [-222]
        with pytest.raises(InstrumentError):
            smu.wait_for_completion()


def test_shutdown_aborts_then_output_off():
    with expected_protocol(Keithley2450, [(":ABOR", None), (":OUTP OFF", None)]) as smu:
        smu.shutdown()
    assert smu.isShutdown


def test_apply_voltage():
    with expected_protocol(
        Keithley2450,
        [
            (":SOUR:FUNC VOLT", None),
            (":SOUR:VOLT:RANG 2", None),
            (":SOUR:VOLT:ILIM 1e-06", None),
            (":SOUR:VOLT 0.8", None),
        ],
    ) as smu:
        smu.apply_voltage(0.8, current_limit=1e-6, voltage_range=2)
