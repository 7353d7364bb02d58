"""Protocol tests of the Keithley 707B driver (707B-901-01 channel functions)."""

import re

import pytest
from ftjlab.instruments import InstrumentError, Keithley707B, MatrixGeometry
from pymeasure.test import expected_protocol

# every switching command is followed by the completion handshake (707B-901-01, waitcomplete)
DONE = ("waitcomplete() print(1)", "1.00000e+00")


def test_close_sends_expanded_validated_list():
    with expected_protocol(
        Keithley707B, [('channel.close("1A01,1A02,1A03,1C03")', None), DONE]
    ) as matrix:
        matrix.close("1A01:1A03, 1C03")


def test_close_accepts_an_iterable():
    with expected_protocol(Keithley707B, [('channel.close("1A01,2B05")', None), DONE]) as matrix:
        matrix.close(["2B05", "1A01"])


def test_switching_without_waiting_sends_no_handshake():
    with expected_protocol(
        Keithley707B,
        [('channel.close("1A01")', None), ('channel.open("1A01")', None),
         ('channel.exclusiveclose("1B01")', None), ('channel.open("allslots")', None)],
    ) as matrix:
        matrix.close("1A01", wait=False)
        matrix.open("1A01", wait=False)
        matrix.exclusive_close("1B01", wait=False)
        matrix.open_all(wait=False)


def test_a_missing_handshake_reply_is_an_error():
    with expected_protocol(
        Keithley707B, [('channel.close("1A01")', None), ("waitcomplete() print(1)", "nil")]
    ) as matrix, pytest.raises(InstrumentError, match="waitcomplete"):
        matrix.close("1A01")


def test_open_all_slots_and_slot():
    with expected_protocol(
        Keithley707B,
        [
            ('channel.open("allslots")', None), DONE,
            ('channel.open("slot3")', None), DONE,
            ('channel.open("1H12")', None), DONE,
            ('channel.open("allslots")', None), DONE,
        ],
    ) as matrix:
        matrix.open("allslots")
        matrix.open("slot3")
        matrix.open("1H12")
        matrix.open_all()


def test_exclusive_close():
    with expected_protocol(
        Keithley707B,
        [('channel.exclusiveclose("1A01,1A02,1C03") waitcomplete() print(1)', "1")],
    ) as matrix:
        matrix.exclusive_close("1A01:1A02, 1C03")


@pytest.mark.parametrize("text", ["slot1", "allslots", "1A01,slot2"])
def test_exclusive_close_refuses_slots_before_sending(text):
    with expected_protocol(Keithley707B, []) as matrix, pytest.raises(ValueError):
        matrix.exclusive_close(text)


@pytest.mark.parametrize(
    ("method", "text", "bad"),
    [
        ("close", "1A01,1I01", "1I01"),
        ("open", "9A01", "9A01"),
        ("close", "1A05:1A01", "1A05:1A01"),
        ("close", '1A01") reset() print("', '1A01") reset() print("'),
    ],
)
def test_invalid_specifier_raises_before_anything_is_sent(method, text, bad):
    with (
        expected_protocol(Keithley707B, []) as matrix,
        pytest.raises(ValueError, match=re.escape(repr(bad))),
    ):
        getattr(matrix, method)(text)


def test_closed_list_and_nil():
    with expected_protocol(
        Keithley707B,
        [
            ('print(channel.getclose("allslots"))', "1A01;1B02"),
            ('print(channel.getclose("allslots"))', "nil"),
            ('print(channel.getclose("slot4"))', "4A01"),
        ],
    ) as matrix:
        assert matrix.closed() == ["1A01", "1B02"]
        assert matrix.closed() == []
        assert matrix.closed("slot4") == ["4A01"]


def test_malformed_getclose_reply_raises():
    with expected_protocol(
        Keithley707B, [('print(channel.getclose("allslots"))', "1A01;oops")]
    ) as matrix, pytest.raises(InstrumentError):
        matrix.closed()


@pytest.mark.parametrize(
    ("rule", "value"), [("BREAK_BEFORE_MAKE", 1), ("MAKE_BEFORE_BREAK", 2), ("OFF", 0)]
)
def test_connect_rule(rule, value):
    with expected_protocol(
        Keithley707B,
        [
            (f"channel.connectrule = channel.{rule}", None),
            ("print(channel.connectrule)", f"{value:.5e}"),
        ],
    ) as matrix:
        matrix.connect_rule = rule
        assert matrix.connect_rule == rule


def test_connect_rule_invalid():
    with expected_protocol(Keithley707B, []) as matrix, pytest.raises(ValueError):
        matrix.connect_rule = "SOMETIMES"


def test_error_queue_reset_identity():
    with expected_protocol(
        Keithley707B,
        [
            ("*IDN?", "Keithley Instruments Inc., Model 707B, 1234567, 1.5.0"),
            ("reset()", None),
            ("print(errorqueue.count)", "1.00000e+00"),
            ("print(errorqueue.next())",
             "-2.86000e+02\tTSP Runtime error: invalid channel\t3.00000e+01\t0"),
        ],
    ) as matrix:
        assert matrix.id.endswith("1.5.0")
        matrix.reset()
        assert matrix.check_errors() == [(-286, "TSP Runtime error: invalid channel")]


def test_geometry_restricts_names():
    with expected_protocol(
        Keithley707B, [('channel.close("1D04")', None), DONE], geometry=MatrixGeometry(slots=1)
    ) as matrix:
        matrix.close("1D04")
        with pytest.raises(ValueError, match="slot 2"):
            matrix.close("2A01")


def test_shutdown_opens_everything():
    with expected_protocol(Keithley707B, [('channel.open("allslots")', None), DONE]) as matrix:
        matrix.shutdown()
    assert matrix.isShutdown
