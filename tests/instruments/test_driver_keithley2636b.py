"""Protocol tests of the Keithley 2636B driver (commands from the 2600B reference manual)."""

import numpy as np
import pytest
from ftjlab.instruments import InstrumentError, Keithley2636B
from pymeasure.test import expected_protocol

# (property, value set, command sent)
SETS = [
    ("source_function", "voltage", "smua.source.func = 1"),
    ("source_function", "current", "smua.source.func = 0"),
    ("source_voltage", 0.8, "smua.source.levelv = 0.8"),
    ("source_voltage", -200, "smua.source.levelv = -200"),
    ("source_current", 1e-6, "smua.source.leveli = 1e-06"),
    ("source_voltage_range", 2, "smua.source.rangev = 2"),
    ("source_voltage_autorange", True, "smua.source.autorangev = 1"),
    ("source_current_range", 1e-3, "smua.source.rangei = 0.001"),
    ("source_current_autorange", False, "smua.source.autorangei = 0"),
    ("current_limit", 100e-12, "smua.source.limiti = 1e-10"),
    ("current_limit", 1.5, "smua.source.limiti = 1.5"),
    ("voltage_limit", 20, "smua.source.limitv = 20"),
    ("output_enabled", True, "smua.source.output = 1"),
    ("output_enabled", False, "smua.source.output = 0"),
    ("measure_nplc", 0.001, "smua.measure.nplc = 0.001"),
    ("measure_nplc", 25, "smua.measure.nplc = 25"),
    ("measure_current_range", 1e-7, "smua.measure.rangei = 1e-07"),
    ("measure_current_autorange", True, "smua.measure.autorangei = 1"),
    ("measure_voltage_range", 2, "smua.measure.rangev = 2"),
    ("measure_voltage_autorange", False, "smua.measure.autorangev = 0"),
    ("measure_autozero", "OFF", "smua.measure.autozero = 0"),
    ("measure_autozero", "ONCE", "smua.measure.autozero = 1"),
    ("measure_autozero", "AUTO", "smua.measure.autozero = 2"),
    ("measure_count", 20000, "smua.measure.count = 20000"),
    ("measure_interval", 5e-5, "smua.measure.interval = 5e-05"),
    ("buffer_append_mode", True, "smua.nvbuffer1.appendmode = 1"),
    ("buffer_collect_timestamps", True, "smua.nvbuffer1.collecttimestamps = 1"),
    ("buffer_fill_mode", "ONCE", "smua.nvbuffer1.fillmode = 0"),
    ("buffer_fill_mode", "WINDOW", "smua.nvbuffer1.fillmode = 1"),
]

# (property, query sent, reply, value read)
GETS = [
    ("source_function", "print(smua.source.func)", "1.00000e+00", "voltage"),
    ("source_function", "print(smua.source.func)", "0.00000e+00", "current"),
    ("source_voltage", "print(smua.source.levelv)", "8.00000e-01", 0.8),
    ("source_current", "print(smua.source.leveli)", "-1.00000e-06", -1e-6),
    ("source_voltage_range", "print(smua.source.rangev)", "2.00000e+00", 2.0),
    ("source_voltage_autorange", "print(smua.source.autorangev)", "1.00000e+00", True),
    ("source_current_range", "print(smua.source.rangei)", "1.00000e-03", 1e-3),
    ("source_current_autorange", "print(smua.source.autorangei)", "0.00000e+00", False),
    ("current_limit", "print(smua.source.limiti)", "1.00000e-06", 1e-6),
    ("voltage_limit", "print(smua.source.limitv)", "2.00000e+01", 20.0),
    ("in_compliance", "print(smua.source.compliance)", "true", True),
    ("in_compliance", "print(smua.source.compliance)", "false", False),
    ("output_enabled", "print(smua.source.output)", "1.00000e+00", True),
    ("output_enabled", "print(smua.source.output)", "0.00000e+00", False),
    ("measure_nplc", "print(smua.measure.nplc)", "1.00000e-03", 0.001),
    ("measure_current_range", "print(smua.measure.rangei)", "1.00000e-07", 1e-7),
    ("measure_current_autorange", "print(smua.measure.autorangei)", "0.00000e+00", False),
    ("measure_voltage_range", "print(smua.measure.rangev)", "2.00000e+01", 20.0),
    ("measure_voltage_autorange", "print(smua.measure.autorangev)", "1.00000e+00", True),
    ("measure_autozero", "print(smua.measure.autozero)", "2.00000e+00", "AUTO"),
    ("measure_count", "print(smua.measure.count)", "2.00000e+04", 20000),
    ("measure_interval", "print(smua.measure.interval)", "5.00000e-05", 5e-5),
    ("current", "print(smua.measure.i())", "1.23456e-09", 1.23456e-9),
    ("voltage", "print(smua.measure.v())", "7.99990e-01", 0.79999),
    ("buffer_count", "print(smua.nvbuffer1.n)", "1.25000e+02", 125),
    ("buffer_capacity", "print(smua.nvbuffer1.capacity)", "1.49789e+05", 149789),
    ("buffer_append_mode", "print(smua.nvbuffer1.appendmode)", "1.00000e+00", True),
    ("buffer_collect_timestamps", "print(smua.nvbuffer1.collecttimestamps)", "0.00000e+00",
     False),
    ("buffer_fill_mode", "print(smua.nvbuffer1.fillmode)", "1.00000e+00", "WINDOW"),
]

# (property, invalid value): the instrument's own range, strictly
INVALID = [
    ("source_voltage", 200.5),
    ("source_voltage", float("nan")),
    ("source_current", -1.6),
    ("current_limit", 5e-11),
    ("current_limit", 2.0),
    ("measure_nplc", 0.0005),
    ("measure_nplc", 26),
    ("measure_interval", 1.5),
    ("measure_count", 0),
    ("measure_count", 2.5),
    ("measure_autozero", "SOMETIMES"),
    ("buffer_fill_mode", "FOREVER"),
    ("source_function", "power"),
    ("output_enabled", "yes"),
]


@pytest.mark.parametrize(("prop", "value", "command"), SETS)
def test_set(prop, value, command):
    with expected_protocol(Keithley2636B, [(command, None)]) as smu:
        setattr(smu.smua, prop, value)


@pytest.mark.parametrize(("prop", "query", "reply", "value"), GETS)
def test_get(prop, query, reply, value):
    with expected_protocol(Keithley2636B, [(query, reply)]) as smu:
        got = getattr(smu.smua, prop)
    assert got == pytest.approx(value) if isinstance(value, float) else got == value
    assert type(got) is type(value)


@pytest.mark.parametrize(("prop", "value"), INVALID)
def test_out_of_range_raises_and_sends_nothing(prop, value):
    with expected_protocol(Keithley2636B, []) as smu, pytest.raises((ValueError, TypeError)):
        setattr(smu.smua, prop, value)


def test_channel_b_uses_smub():
    with expected_protocol(
        Keithley2636B,
        [("smub.source.levelv = 1.5", None), ("print(smub.measure.i())", "-2.00000e-12")],
    ) as smu:
        smu.smub.source_voltage = 1.5
        assert smu.smub.current == pytest.approx(-2e-12)


def test_identity_reset_and_format_settings():
    with expected_protocol(
        Keithley2636B,
        [
            ("*IDN?", "Keithley Instruments Inc., Model 2636B, 4420001, 4.0.4"),
            ("reset()", None),
            ("format.data = format.REAL64", None),
            ("format.byteorder = format.BIGENDIAN", None),
            ("errorqueue.clear()", None),
        ],
    ) as smu:
        assert smu.id == "Keithley Instruments Inc., Model 2636B, 4420001, 4.0.4"
        smu.reset()
        smu.data_format = "REAL64"
        smu.byte_order = "BIGENDIAN"
        smu.clear_errors()


def test_error_queue_reads_count_entries():
    with expected_protocol(
        Keithley2636B,
        [
            ("print(errorqueue.count)", "2.00000e+00"),
            ("print(errorqueue.next())", "-2.85000e+02\tProgram syntax error\t2.00000e+01\t0"),
            ("print(errorqueue.next())",
             "-2.22000e+02\tParameter data out of range\t2.00000e+01\t0"),
        ],
    ) as smu:
        errors = smu.check_errors()
    assert errors == [(-285, "Program syntax error"), (-222, "Parameter data out of range")]


def test_empty_error_queue():
    with expected_protocol(
        Keithley2636B,
        [
            ("print(errorqueue.count)", "0.00000e+00"),
            ("print(errorqueue.next())", "0.00000e+00\tQueue Is Empty\t0.00000e+00\t0"),
        ],
    ) as smu:
        assert smu.check_errors() == []
        assert smu.next_error == (0, "Queue Is Empty")


def test_raise_errors_names_the_error():
    with expected_protocol(
        Keithley2636B,
        [
            ("print(errorqueue.count)", "1.00000e+00"),
            ("print(errorqueue.next())", "1.10000e+03\tReading Overflow\t1.00000e+01\t0"),
        ],
    ) as smu, pytest.raises(InstrumentError, match="1100: Reading Overflow"):
        smu.raise_errors()


def test_timed_acquisition_sequence():
    with expected_protocol(
        Keithley2636B,
        [
            ("smua.measure.count = 1000", None),
            ("smua.measure.interval = 0.0001", None),
            ("smua.nvbuffer1.clear()", None),
            ("smua.nvbuffer1.appendmode = 1", None),
            ("smua.nvbuffer1.collecttimestamps = 1", None),
            ("smua.nvbuffer1.fillmode = 0", None),
            ("smua.measure.overlappedi(smua.nvbuffer1)", None),
            ("waitcomplete() print(1)", "1.00000e+00"),
            ("smua.measure.i(smua.nvbuffer1)", None),
        ],
    ) as smu:
        smu.smua.configure_timed_acquisition(count=1000, interval_s=1e-4)
        smu.smua.start_current_acquisition(overlapped=True)
        smu.wait_for_completion(timeout_s=2)
        smu.smua.start_current_acquisition(overlapped=False)


def test_wait_for_completion_rejects_other_reply():
    with (
        expected_protocol(Keithley2636B, [("waitcomplete() print(1)", "nil")]) as smu,
        pytest.raises(InstrumentError),
    ):
        smu.wait_for_completion()


def test_apply_voltage_sequence():
    with expected_protocol(
        Keithley2636B,
        [
            ("smua.source.func = 1", None),
            ("smua.source.autorangev = 1", None),
            ("smua.source.limiti = 1e-06", None),
            ("smua.source.levelv = 0.8", None),
            ("smub.source.func = 1", None),
            ("smub.source.rangev = 2", None),
            ("smub.source.limiti = 0.0001", None),
            ("smub.source.levelv = 1.5", None),
        ],
    ) as smu:
        smu.smua.apply_voltage(0.8, current_limit=1e-6)
        smu.smub.apply_voltage(1.5, current_limit=1e-4, voltage_range=2)


READINGS = [1.5e-9, 1.52e-9, 2.01e-9]
TIMES = [0.0, 5e-5, 1e-4]
PRINTBUFFER = "printbuffer(1, 3, smua.nvbuffer1.readings, smua.nvbuffer1.timestamps)"


def test_read_buffer_ascii():
    reply = "1.50000e-09, 0.00000e+00, 1.52000e-09, 5.00000e-05, 2.01000e-09, 1.00000e-04"
    with expected_protocol(Keithley2636B, [(PRINTBUFFER, reply)]) as smu:
        readings, times = smu.smua.read_buffer(3, binary=False)
    np.testing.assert_allclose(readings, READINGS)
    np.testing.assert_allclose(times, TIMES)


def test_read_buffer_ascii_asks_count_first():
    with expected_protocol(
        Keithley2636B,
        [
            ("print(smua.nvbuffer1.n)", "2.00000e+00"),
            ("printbuffer(1, 2, smua.nvbuffer1.readings)", "1.00000e-09, 2.00000e-09"),
        ],
    ) as smu:
        readings, times = smu.smua.read_buffer(binary=False, timestamps=False)
    np.testing.assert_allclose(readings, [1e-9, 2e-9])
    assert times is None


def _binary_reply(values, dtype):
    return b"#0" + np.asarray(values, dtype=dtype).tobytes() + b"\n"


def test_read_buffer_binary_real32_by_byte_count():
    interleaved = np.ravel(np.column_stack([READINGS, TIMES]))
    # 1.0 as little-endian float32 is 00 00 80 3f; make sure a 0x0A byte inside the data
    # does not end the read: float32 of this value contains 0x0a
    tricky = np.frombuffer(b"\x0a\x0a\x0a\x3c", dtype="<f4")[0]
    interleaved[2] = tricky
    reply = _binary_reply(interleaved, "<f4")
    assert b"\n" in reply[2:-1]
    assert len(reply) == 4 * 6 + 3
    with expected_protocol(
        Keithley2636B,
        [
            ("format.data = format.REAL32", None),
            ("format.byteorder = format.LITTLEENDIAN", None),
            (PRINTBUFFER, reply),
            ("format.data = format.ASCII", None),
        ],
    ) as smu:
        readings, times = smu.smua.read_buffer(3, binary=True)
    expected = interleaved.astype("<f4").astype(float)
    np.testing.assert_array_equal(readings, expected[0::2])
    np.testing.assert_array_equal(times, expected[1::2])


def test_read_buffer_binary_real64():
    interleaved = np.ravel(np.column_stack([READINGS, TIMES]))
    with expected_protocol(
        Keithley2636B,
        [
            ("format.data = format.REAL64", None),
            ("format.byteorder = format.LITTLEENDIAN", None),
            (PRINTBUFFER, _binary_reply(interleaved, "<f8")),
            ("format.data = format.ASCII", None),
        ],
    ) as smu:
        readings, times = smu.smua.read_buffer(3, binary=True, binary_format="REAL64")
    np.testing.assert_array_equal(readings, READINGS)
    np.testing.assert_array_equal(times, TIMES)


def test_read_buffer_binary_bad_header_raises_and_restores_ascii():
    bad = b"#1" + np.zeros(6, "<f4").tobytes() + b"\n"
    with expected_protocol(
        Keithley2636B,
        [
            ("format.data = format.REAL32", None),
            ("format.byteorder = format.LITTLEENDIAN", None),
            (PRINTBUFFER, bad),
            ("format.data = format.ASCII", None),
        ],
    ) as smu, pytest.raises(InstrumentError, match="#0"):
        smu.smua.read_buffer(3)


def test_read_empty_buffer_sends_no_printbuffer():
    with expected_protocol(Keithley2636B, [("print(smua.nvbuffer1.n)", "0.00000e+00")]) as smu:
        readings, times = smu.smua.read_buffer()
    assert readings.size == 0 and times.size == 0


def test_ascii_count_mismatch_raises():
    with expected_protocol(
        Keithley2636B, [(PRINTBUFFER, "1.00000e-09, 0.00000e+00")]
    ) as smu, pytest.raises(InstrumentError, match="expected 6"):
        smu.smua.read_buffer(3, binary=False)


def test_shutdown_turns_both_outputs_off():
    with expected_protocol(
        Keithley2636B, [("smua.source.output = 0", None), ("smub.source.output = 0", None)]
    ) as smu:
        smu.shutdown()
    assert smu.isShutdown
