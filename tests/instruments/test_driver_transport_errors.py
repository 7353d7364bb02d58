"""Drivers: LF termination by default on raw sockets; transport failures as clear errors."""

from __future__ import annotations

import socket
import warnings

import pytest
from ftjlab.instruments import (
    InstrumentConnectionError,
    InstrumentError,
    InstrumentTimeoutError,
    Keithley707B,
    Keithley2450,
    Keithley2636B,
    Keysight33500B,
    Keysight81160A,
)
from pymeasure.adapters import Adapter
from pyvisa import constants
from pyvisa.errors import VisaIOError

DRIVERS = [Keithley2636B, Keithley707B, Keithley2450, Keysight81160A, Keysight33500B]


@pytest.mark.parametrize("driver", DRIVERS)
def test_raw_socket_resources_default_to_lf_termination(driver):
    with socket.create_server(("127.0.0.1", 0)) as listener:  # accepts in the backlog
        port = listener.getsockname()[1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inst = driver(f"TCPIP0::127.0.0.1::{port}::SOCKET", visa_library="@py")
        try:
            assert inst.adapter.connection.read_termination == "\n"
            assert inst.adapter.connection.write_termination == "\n"
        finally:
            inst.adapter.close()
        explicit = driver(f"TCPIP0::127.0.0.1::{port}::SOCKET", visa_library="@py",
                          read_termination="\r\n")
        try:  # explicit arguments win
            assert explicit.adapter.connection.read_termination == "\r\n"
        finally:
            explicit.adapter.close()


class Connection:
    timeout = 250  # ms, like a pyvisa resource

    def close(self):
        pass


class Failing(Adapter):
    """Writes succeed until ``fail_with`` is set; reads raise it (or time out)."""

    def __init__(self):
        super().__init__()
        self.connection = Connection()
        self.fail_with: BaseException | None = None
        self.writes: list[str] = []
        self.reconnects = 0

    def reconnect(self):
        self.reconnects += 1
        self.fail_with = None

    def _write(self, command, **kwargs):
        if self.fail_with is not None:
            raise self.fail_with
        self.writes.append(command)

    def _read(self, **kwargs):
        raise self.fail_with or VisaIOError(constants.StatusCode.error_timeout)

    def _read_bytes(self, count, break_on_termchar=False, **kwargs):
        return self._read()


def test_a_timeout_names_the_instrument_the_fault_and_the_command():
    smu = Keithley2636B(Failing())
    with pytest.raises(InstrumentTimeoutError) as err:
        smu.smua.current  # noqa: B018 (a query)
    text = str(err.value)
    assert text.startswith("Keithley 2636B SourceMeter: timeout: no reply within 250 ms")
    assert "'print(smua.measure.i())'" in text
    assert isinstance(err.value, InstrumentError)
    assert isinstance(err.value.__cause__, VisaIOError)
    assert not smu.connection_lost  # a timeout alone does not close the session


@pytest.mark.parametrize(
    "error",
    [VisaIOError(constants.StatusCode.error_connection_lost), BrokenPipeError(32, "Broken pipe"),
     ConnectionResetError(104, "Connection reset by peer")],
)
def test_a_lost_connection_fails_fast_until_reconnected(error):
    adapter = Failing()
    matrix = Keithley707B(adapter)
    adapter.fail_with = error
    with pytest.raises(InstrumentConnectionError, match=r"^Keithley 707B Switching Matrix: "
                       r"connection lost .*sending 'channel.open\(\"allslots\"\)'"):
        matrix.open_all()
    assert matrix.connection_lost
    adapter.fail_with = None  # even if the adapter would work again: reconnect first
    with pytest.raises(InstrumentConnectionError, match="before a reconnect"):
        matrix.open_all(wait=False)
    assert adapter.writes == []
    matrix.reconnect()
    matrix.open_all(wait=False)
    assert adapter.reconnects == 1 and adapter.writes == ['channel.open("allslots")']


def test_other_visa_errors_pass_unchanged():
    adapter = Failing()
    gen = Keysight81160A(adapter)
    adapter.fail_with = VisaIOError(constants.StatusCode.error_resource_busy)
    with pytest.raises(VisaIOError):
        gen.channels[1].output = False
    assert not gen.connection_lost
