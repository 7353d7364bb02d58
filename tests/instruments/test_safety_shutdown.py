"""shutdown_safely: every output off, then the matrix open, carrying on past failures."""

import logging

import pytest
from ftjlab.instruments import (
    Keithley707B,
    Keithley2450,
    Keithley2636B,
    Keysight81160A,
    shutdown_safely,
)
from pymeasure.adapters import Adapter


class Recorder(Adapter):
    """Records (instrument, command) into a shared list; optionally fails on a command."""

    def __init__(self, name, journal, fail_on=None, error=ConnectionError):
        super().__init__()
        self.name, self.journal, self.fail_on, self.error = name, journal, fail_on, error

    def _write(self, command, **kwargs):
        if self.fail_on is not None and command.startswith(self.fail_on):
            raise self.error(f"{self.name}: connection lost")
        self.journal.append((self.name, command))

    def _read(self, **kwargs):
        raise AssertionError("shutdown must not need replies")


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
        ("smu", "smua.source.output = 0"),
        ("smu", "smub.source.output = 0"),
        ("pg", ":OUTP1 0"),
        ("pg", ":OUTP2 0"),
        ("smu2450", ":ABOR"),
        ("smu2450", ":OUTP OFF"),
        ("matrix", 'channel.open("allslots")'),
    ]


def test_a_failing_instrument_does_not_stop_the_others(caplog):
    journal = []
    bench = make_bench(journal, smu=("smua",))  # channel a of the SMU cannot be reached
    with caplog.at_level(logging.ERROR):
        failures = shutdown_safely(bench["smu"], bench["pg"], bench["matrix"])
    assert [(instrument, type(error)) for instrument, error in failures] == [
        (bench["smu"], ConnectionError)
    ]
    # channel b of the same SMU, the generator and the matrix were still shut down
    assert journal == [
        ("smu", "smub.source.output = 0"),
        ("pg", ":OUTP1 0"),
        ("pg", ":OUTP2 0"),
        ("matrix", 'channel.open("allslots")'),
    ]
    assert "Keithley 2636B SourceMeter" in caplog.text
    assert "connection lost" in caplog.text


def test_every_instrument_failing_is_reported():
    journal = []
    bench = make_bench(journal, pg=(":OUTP",), matrix=("channel",))
    failures = shutdown_safely(bench["pg"], bench["matrix"], bench["smu"])
    assert [instrument for instrument, _ in failures] == [bench["pg"], bench["matrix"]]
    assert journal == [("smu", "smua.source.output = 0"), ("smu", "smub.source.output = 0")]


def test_keyboard_interrupt_is_raised_after_all_were_shut_down():
    journal = []
    bench = make_bench(journal, smu2450=(":ABOR", KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        shutdown_safely(bench["smu2450"], bench["matrix"])
    # the 2450 still switched its output off after the interrupted abort, the matrix opened
    assert journal == [("smu2450", ":OUTP OFF"), ("matrix", 'channel.open("allslots")')]


def test_guarded_instruments_can_always_shut_down(limits):
    journal = []
    smu = Keithley2636B(Recorder("smu", journal), limits=limits)
    pg = Keysight81160A(Recorder("pg", journal), limits=limits)
    assert shutdown_safely(smu, pg) == []
    assert len(journal) == 4
