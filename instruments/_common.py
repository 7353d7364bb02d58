"""Helpers shared by the drivers: reply parsing, binary blocks, errors, timeouts, transport."""

from __future__ import annotations

import logging
import math
import select
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import numpy as np
from pyvisa.constants import StatusCode
from pyvisa.errors import VisaIOError

from .safety import raw_adapter

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())


class InstrumentError(RuntimeError):
    """The instrument reported an error, or its reply was malformed."""


def strict_real_range(value: Any, values: tuple[float, float]) -> float:
    """Validator: a real number (not bool, not NaN) within ``[min(values), max(values)]``.

    Like pymeasure's ``strict_range`` but refuses ``True``/``False``, strings and NaN with a
    clear message; never clips.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"Value {value!r} is not a real number")
    low, high = min(values), max(values)
    if math.isnan(value) or not low <= value <= high:
        raise ValueError(f"Value of {value:g} is not in range [{low:g},{high:g}]")
    return float(value) if isinstance(value, (float, np.floating)) else int(value)


def strict_int_range(value: Any, values: tuple[int, int]) -> int:
    """Validator: an integer (not bool, not a float with a fraction) within the range."""
    if isinstance(value, bool):
        raise TypeError(f"Value {value!r} is not an integer")
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or value != int(value):
            raise ValueError(f"Value {value!r} is not an integer")
    elif not isinstance(value, (int, np.integer)):
        raise TypeError(f"Value {value!r} is not an integer")
    number = int(value)
    low, high = min(values), max(values)
    if not low <= number <= high:
        raise ValueError(f"Value of {number} is not in range [{low},{high}]")
    return number


def parse_ascii_floats(text: str) -> np.ndarray:
    """Parse ``"1.2e-09, 3.4e-09"`` (comma separated, optional spaces) into float64."""
    body = text.strip()
    if not body:
        return np.empty(0, dtype=np.float64)
    try:
        return np.asarray(body.split(","), dtype=np.float64)
    except ValueError as exc:
        raise InstrumentError(f"malformed numeric reply {body[:80]!r}") from exc


def parse_indefinite_block(raw: bytes, n_values: int, dtype: str | np.dtype) -> np.ndarray:
    """Decode an IEEE 488.2 indefinite block: ``#0`` + ``n_values`` binary numbers + LF.

    :param dtype: numpy dtype with explicit byte order, e.g. ``"<f4"`` or ``"<f8"``.
    :returns: the values as float64.
    :raises InstrumentError: if the header, length or terminator is wrong.
    """
    size = np.dtype(dtype).itemsize
    expected = 2 + n_values * size + 1
    if raw[:2] != b"#0":
        raise InstrumentError(f"binary reply does not start with '#0': {raw[:8]!r}")
    if len(raw) != expected:
        raise InstrumentError(
            f"binary reply has {len(raw)} bytes, expected {expected} for {n_values} values"
        )
    if raw[-1:] != b"\n":
        raise InstrumentError(f"binary reply does not end with LF: {raw[-4:]!r}")
    return np.frombuffer(raw[2:-1], dtype=dtype).astype(np.float64)


def read_indefinite_block(instrument: Any, n_values: int, dtype: str) -> np.ndarray:
    """Read a ``#0`` block of ``n_values`` numbers by byte count (the data may contain LF)."""
    size = np.dtype(dtype).itemsize
    raw = instrument.read_bytes(2 + n_values * size + 1)
    return parse_indefinite_block(raw, n_values, dtype)


@contextmanager
def longer_timeout(instrument: Any, seconds: float | None) -> Iterator[None]:
    """Temporarily raise the VISA timeout of ``instrument`` to at least ``seconds``.

    Does nothing if ``seconds`` is None or the adapter has no pyvisa-like ``timeout``
    (milliseconds) on its connection.
    """
    connection = getattr(raw_adapter(getattr(instrument, "adapter", None)), "connection", None)
    old = getattr(connection, "timeout", None)
    if seconds is None or not isinstance(old, (int, float)):
        yield
        return
    connection.timeout = max(old, seconds * 1000.0)
    try:
        yield
    finally:
        connection.timeout = old


def on_off(value: Any) -> bool:
    """Parse ``1``/``0``/``ON``/``OFF`` replies into a bool."""
    text = str(value).strip().strip('"').upper()
    if text in ("1", "1.0", "ON", "TRUE"):
        return True
    if text in ("0", "0.0", "OFF", "FALSE"):
        return False
    raise InstrumentError(f"expected an on/off reply, got {value!r}")


def choice_reply(*choices: str) -> Any:
    """A ``get_process`` mapping a reply (short or long form, any case) to one of ``choices``.

    ``choice_reply("NORM", "INV")("INVerted") == "INV"``; longest matching prefix wins.
    """
    ordered = sorted(choices, key=len, reverse=True)

    def process(value: Any) -> str:
        text = str(value).strip().strip("\"'").upper()
        for choice in ordered:
            if text.startswith(choice.upper()):
                return choice
        raise InstrumentError(f"unexpected reply {value!r} (expected one of {list(choices)})")

    return process


# ------------------------------------------------------------------------- transport


class InstrumentTimeoutError(InstrumentError):
    """The instrument did not answer within the VISA timeout."""


class InstrumentConnectionError(InstrumentError):
    """The connection to the instrument is lost; :meth:`TransportErrors.reconnect` reopens it."""


def socket_defaults(adapter: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Connection keyword arguments with LF read/write termination for raw-socket resources.

    Instruments on ``TCPIP<n>::<host>::<port>::SOCKET`` frame messages with LF, but pyvisa
    opens raw sockets without a read termination (every read would wait for the timeout).
    Explicit arguments win; other resources and adapter objects are left alone.
    """
    if isinstance(adapter, str) and adapter.strip().upper().endswith("::SOCKET"):
        kwargs = dict(kwargs)
        kwargs.setdefault("read_termination", "\n")
        kwargs.setdefault("write_termination", "\n")
    return kwargs


def tune_socket(adapter: Any) -> None:
    """Send small messages at once on raw sockets (``TCP_NODELAY``).

    NI-VISA enables ``VI_ATTR_TCPIP_NODELAY`` by default; pyvisa-py declares it true but wires
    the attribute of raw-socket sessions to a generic setter, so the socket keeps Nagle's
    algorithm. A command followed by a short query (``close(...)`` then ``*OPC?``) then
    waits for the instrument's delayed ACK: ~40 ms per exchange. We set the option ourselves.
    """
    sock = _visa_socket(adapter)
    if sock is not None:
        with suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _timeout_ms(adapter: Any) -> float | None:
    value = getattr(getattr(adapter, "connection", None), "timeout", None)
    return float(value) if isinstance(value, (int, float)) else None


def _visa_socket(adapter: Any) -> socket.socket | None:
    """The socket of a pyvisa-py raw-socket session, if that is what the adapter uses."""
    connection = getattr(raw_adapter(adapter), "connection", None)
    sessions = getattr(getattr(connection, "visalib", None), "sessions", None)
    if not isinstance(sessions, dict):
        return None
    sock = getattr(sessions.get(getattr(connection, "session", None)), "interface", None)
    return sock if isinstance(sock, socket.socket) else None


def peer_closed(adapter: Any) -> bool:
    """True if the adapter's socket was closed by the instrument (pyvisa-py reads an end of
    file as "no data yet" and so reports a timeout instead)."""
    sock = _visa_socket(adapter)
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, VisaIOError) and exc.error_code == StatusCode.error_timeout


def _is_connection_lost(exc: BaseException) -> bool:
    if isinstance(exc, VisaIOError):
        return exc.error_code in (
            StatusCode.error_connection_lost, StatusCode.error_io,
            StatusCode.error_invalid_object, StatusCode.error_closing_failed,
        )
    return isinstance(exc, OSError)


def _quote(command: str) -> str:
    text = command if len(command) <= 80 else command[:77] + "..."
    return repr(text)


class TransportErrors:
    """Mixin for our drivers: transport failures become errors naming the instrument and fault.

    A pyvisa timeout becomes :class:`InstrumentTimeoutError` ("no reply within 500 ms to
    'print(...)'"); a lost connection (``VI_ERROR_CONN_LOST``, a socket error while writing,
    or a read that timed out because the instrument closed the socket) becomes
    :class:`InstrumentConnectionError`, after which every operation fails at once until
    :meth:`reconnect`. Put it after :class:`~ftjlab.instruments.safety.GuardedInstrument` and
    before pymeasure's ``Instrument`` in the bases.
    """

    _last_sent: str = ""
    _lost: str | None = None

    @property
    def connection_lost(self) -> bool:
        """True after the connection was found lost (until :meth:`reconnect`)."""
        return self._lost is not None

    @contextmanager
    def _transport(self, doing: str) -> Iterator[None]:
        name = getattr(self, "name", type(self).__name__)
        if self._lost is not None:
            raise InstrumentConnectionError(
                f"{name}: connection lost ({self._lost}); not {doing} before a reconnect"
            )
        adapter = getattr(self, "adapter", None)
        try:
            yield
        except (VisaIOError, OSError) as exc:
            if _is_timeout(exc) and not peer_closed(adapter):
                ms = _timeout_ms(adapter)
                within = f" within {ms:g} ms" if ms is not None else ""
                raise InstrumentTimeoutError(f"{name}: timeout: no reply{within} {doing}") from exc
            if not (_is_timeout(exc) or _is_connection_lost(exc)):
                raise
            reason = "closed by the instrument" if _is_timeout(exc) else str(exc) or type(
                exc).__name__
            self._lost = reason
            raise InstrumentConnectionError(
                f"{name}: connection lost ({reason}) {doing}"
            ) from exc

    def reconnect(self) -> None:
        """Open a fresh connection (after a lost one); settings of the old one are kept."""
        adapter = raw_adapter(getattr(self, "adapter", None))
        if hasattr(adapter, "reconnect"):  # the in-process emulator adapter
            adapter.reconnect()
        elif hasattr(adapter, "manager") and getattr(adapter, "resource_name", None):
            old = adapter.connection
            settings = {key: getattr(old, key) for key in
                        ("timeout", "read_termination", "write_termination", "encoding")
                        if hasattr(old, key)}
            with suppress(Exception):  # the old session may be half-closed already
                old.close()
            adapter.connection = adapter.manager.open_resource(adapter.resource_name, **settings)
            tune_socket(adapter)
        else:
            raise InstrumentConnectionError(
                f"{getattr(self, 'name', type(self).__name__)}: cannot reconnect {adapter!r}"
            )
        self._lost = None
        log.info("%s: reconnected", getattr(self, "name", ""))

    def write(self, command: str, **kwargs: Any) -> None:
        """Write a command; transport failures raise :class:`InstrumentError` subclasses."""
        with self._transport(f"sending {_quote(command)}"):
            super().write(command, **kwargs)  # type: ignore[misc]
        self._last_sent = command

    def write_bytes(self, content: bytes, **kwargs: Any) -> None:
        command = bytes(content).decode("latin-1")
        with self._transport(f"sending {_quote(command)}"):
            super().write_bytes(content, **kwargs)  # type: ignore[misc]
        self._last_sent = command

    def write_binary_values(self, command: str, values: Any, *args: Any, **kwargs: Any) -> None:
        with self._transport(f"sending {_quote(command)}"):
            super().write_binary_values(command, values, *args, **kwargs)  # type: ignore[misc]
        self._last_sent = command

    def read(self, **kwargs: Any) -> str:
        """Read a reply; transport failures raise :class:`InstrumentError` subclasses."""
        with self._transport(f"to {_quote(self._last_sent)}"):
            return super().read(**kwargs)  # type: ignore[misc]

    def read_bytes(self, count: int, **kwargs: Any) -> bytes:
        with self._transport(f"to {_quote(self._last_sent)} ({count} bytes expected)"):
            return super().read_bytes(count, **kwargs)  # type: ignore[misc]
