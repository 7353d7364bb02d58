"""shutdown_safely: running scripts aborted, every output off, then the matrix open, carrying
on past failures."""

import logging
import re

import pytest
from ftjlab.instruments import (
    InstrumentConnectionError,
    Keithley707B,
    Keithley2450,
    Keithley2636B,
    Keysight81160A,
    shutdown_safely,
)
from pymeasure.adapters import Adapter
from pyvisa import constants
from pyvisa.errors import VisaIOError

HANDSHAKES = {"waitcomplete() print(1)": "1.00000e+00", "*OPC?": "1"}
#: the line after a TSP instrument's ``abort``: a marker printed back (journaled as MARKER)
_MARKER = re.compile(r'^print\("(ftjabort[0-9a-z_]+)"\) format\.data = format\.ASCII$')
MARKER = "<abort marker>"


def aborted(name):
    """The journal of an SMU's script abort (the first step of a shutdown)."""
    return [(name, "abort"), (name, MARKER)]


class Recorder(Adapter):
    """Records (instrument, command) into a shared list; optionally fails on a command.

    Reads answer only the completion handshakes and the marker after an abort (shutdown
    needs no other reply).
    """

    def __init__(self, name, journal, fail_on=None, error=ConnectionError):
        super().__init__()
        self.name, self.journal, self.fail_on, self.error = name, journal, fail_on, error
        self.last = None
        self.marker = None

    def _write(self, command, **kwargs):
        if self.fail_on is not None and command.startswith(self.fail_on):
            raise self.error(f"{self.name}: {command!r} failed")
        marker = _MARKER.match(command)
        if marker:
            self.marker = marker.group(1)
        self.journal.append((self.name, MARKER if marker else command))
        self.last = command

    def _read_bytes(self, count, break_on_termchar=False, **kwargs):
        if self.marker is None:
            raise AssertionError("shutdown reads raw bytes only after an abort's marker")
        reply, self.marker = self.marker.encode() + b"\n", None
        return reply

    def _read(self, **kwargs):
        if self.last not in HANDSHAKES:
            raise AssertionError("shutdown needs no reply but the completion handshake")
        return HANDSHAKES[self.last]


class LostConnection(Recorder):
    """Every operation fails with VI_ERROR_CONN_LOST until ``reconnect()``."""

    def __init__(self, name, journal):
        super().__init__(name, journal)
        self.connected = False

    def reconnect(self):
        self.journal.append((self.name, "<reconnect>"))
        self.connected = True

    def _write(self, command, **kwargs):
        if not self.connected:
            raise VisaIOError(constants.StatusCode.error_connection_lost)
        super()._write(command, **kwargs)


def make_bench(journal, **failures):
    def adapter(name):
        return Recorder(name, journal, *failures.get(name, (None,)))

    return {
        "matrix": Keithley707B(adapter("matrix")),
        "smu": Keithley2636B(adapter("smu")),
        "smu2450": Keithley2450(adapter("smu2450")),
        "pg": Keysight81160A(adapter("pg")),
    }


def test_outputs_off_before_matrix_opens_whatever_the_argument_order():
    journal = []
    bench = make_bench(journal)
    failures = shutdown_safely(bench["matrix"], bench["smu"], None, bench["pg"], bench["smu2450"])
    assert failures == []
    assert journal == [
        # scripts terminated first: none can switch or source after the shutdown
        *aborted("smu"),
        ("smu", "smua.source.output = 0"),
        ("smu", "smub.source.output = 0"),
        ("pg", ":OUTP1 0"),
        ("pg", ":OUTP2 0"),
        ("smu2450", ":ABOR"),
        ("smu2450", ":OUTP OFF"),
        # every source confirms it has executed its commands before a relay moves
        ("smu", "waitcomplete() print(1)"),
        ("pg", "*OPC?"),
        ("smu2450", "*OPC?"),
        ("matrix", 'channel.open("allslots")'),
        ("matrix", "waitcomplete() print(1)"),
    ]


def test_a_failing_instrument_does_not_stop_the_others(caplog):
    journal = []
    bench = make_bench(journal, smu=("smua", RuntimeError))  # channel a of the SMU fails
    with caplog.at_level(logging.ERROR):
        failures = shutdown_safely(bench["smu"], bench["pg"], bench["matrix"])
    assert [(instrument, type(error)) for instrument, error in failures] == [
        (bench["smu"], RuntimeError)
    ]
    # channel b of the same SMU, the generator and the matrix were still shut down
    assert journal == [
        *aborted("smu"),
        ("smu", "smub.source.output = 0"),
        ("pg", ":OUTP1 0"),
        ("pg", ":OUTP2 0"),
        ("pg", "*OPC?"),
        ("matrix", 'channel.open("allslots")'),
        ("matrix", "waitcomplete() print(1)"),
    ]
    assert "Keithley 2636B SourceMeter" in caplog.text
    assert "'smua.source.output = 0' failed" in caplog.text


def test_every_instrument_failing_is_reported():
    journal = []
    bench = make_bench(journal, pg=(":OUTP",), matrix=("channel",))
    failures = shutdown_safely(bench["pg"], bench["matrix"], bench["smu"])
    assert [instrument for instrument, _ in failures] == [bench["pg"], bench["matrix"]]
    assert journal == [
        *aborted("smu"),
        ("smu", "smua.source.output = 0"),
        ("smu", "smub.source.output = 0"),
        ("smu", "waitcomplete() print(1)"),
    ]


def test_keyboard_interrupt_is_raised_after_all_were_shut_down():
    journal = []
    bench = make_bench(journal, smu2450=(":ABOR", KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        shutdown_safely(bench["smu2450"], bench["matrix"])
    # the 2450 still switched its output off after the interrupted abort, the matrix opened
    assert journal == [
        ("smu2450", ":OUTP OFF"),
        ("matrix", 'channel.open("allslots")'),
        ("matrix", "waitcomplete() print(1)"),
    ]


def test_guarded_instruments_can_always_shut_down(limits):
    journal = []
    smu = Keithley2636B(Recorder("smu", journal), limits=limits)
    pg = Keysight81160A(Recorder("pg", journal), limits=limits)
    assert shutdown_safely(smu, pg) == []
    # the SMU's abort, outputs off; no handshake without a matrix to switch after
    assert journal[:2] == aborted("smu") and len(journal) == 6


def test_an_unconfirmed_source_is_reported_and_the_matrix_still_opens(caplog):
    journal = []
    bench = make_bench(journal, smu=("waitcomplete",))  # the SMU never confirms
    with caplog.at_level(logging.ERROR):
        failures = shutdown_safely(bench["smu"], bench["matrix"])
    assert [(instrument, type(error)) for instrument, error in failures] == [
        (bench["smu"], InstrumentConnectionError)  # the ConnectionError, naming the SMU
    ]
    assert "shutdown confirmation of Keithley 2636B SourceMeter failed" in caplog.text
    assert journal[-2:] == [("matrix", 'channel.open("allslots")'),
                            ("matrix", "waitcomplete() print(1)")]


def test_a_lost_connection_is_reopened_to_shut_down():
    journal = []
    smu = Keithley2636B(LostConnection("smu", journal))
    matrix = Keithley707B(LostConnection("matrix", journal))
    assert shutdown_safely(smu, matrix) == []
    assert not smu.connection_lost and not matrix.connection_lost
    assert journal == [
        ("smu", "<reconnect>"),
        *aborted("smu"),
        ("smu", "smua.source.output = 0"),
        ("smu", "smub.source.output = 0"),
        ("smu", "waitcomplete() print(1)"),
        ("matrix", "<reconnect>"),
        ("matrix", 'channel.open("allslots")'),
        ("matrix", "waitcomplete() print(1)"),
    ]
