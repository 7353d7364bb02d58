"""The in-process transport for instrument emulators, and the emulator contract of all transports.

An emulator does not know its transport. It implements :class:`Emulator` - ``write`` one
message (no terminator), ``read`` the next reply (bytes, with its LF) or signal that none is
pending, ``reset`` - and any transport carries its bytes:

* :class:`EmulatorAdapter` (here) - a pymeasure ``Adapter`` for fast in-process tests; unmodified
  pymeasure drivers run on it. Reading with nothing pending raises pyvisa's
  ``VisaIOError(VI_ERROR_TMO)`` after the timeout, as a real VISA session would.
* :class:`~.instrument_server.InstrumentServer` - a raw-socket TCP server on one port
  (127.0.0.1 by default), LF-terminated messages, reachable with real pyvisa-py as
  ``TCPIP0::127.0.0.1::<port>::SOCKET``.
* :class:`~.faults.FaultyEmulator` + :class:`~.faults.Faults` - fault injection between emulator
  and transport: drop the next reply(ies) (the client times out), drop the connection (the
  server closes the socket; the adapter raises ``VI_ERROR_CONN_LOST``), inject error-queue
  entries, slow replies (each reply arrives a wall-time delay late; the instrument goes on
  executing meanwhile).
* :class:`~.traffic.RecordingAdapter` records any adapter's (command, reply) traffic to JSON
  lines; :func:`~.traffic.load_protocol`/:func:`~.traffic.replay_protocol` turn such a file into
  a strict protocol test (pymeasure's ``expected_protocol``).

"None pending" is signalled by raising :class:`NoReplyPending` (or the SCPI emulators'
``NoReply``, or ``IndexError`` from an empty deque), or by returning ``b""``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pymeasure.adapters import Adapter
from pyvisa import constants
from pyvisa.errors import VisaIOError

if TYPE_CHECKING:
    from .faults import Faults

DEFAULT_TIMEOUT_MS = 2000


class NoReplyPending(LookupError):  # noqa: N818 - reads as the condition it signals
    """Raised by an emulator's ``read()`` when it has nothing to send."""


def _no_reply_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [NoReplyPending, IndexError]
    with contextlib.suppress(ImportError):  # the SCPI emulators' own exception
        from .scpi import NoReply

        types.append(NoReply)
    return tuple(types)


_NO_REPLY = _no_reply_types()


@runtime_checkable
class Emulator(Protocol):
    """What every emulator implements; transports depend on nothing else."""

    def write(self, message: str) -> None:
        """Execute one message (terminator stripped)."""

    def read(self) -> bytes:
        """The next reply with its terminator; raise :class:`NoReplyPending` (or return
        ``b""``) when none is pending. (An emulator may also offer ``read_all()``: every
        pending reply at once, used by :func:`drain`.)"""

    def reset(self) -> None:
        """Back to the power-on state."""


def next_reply(emulator: Emulator) -> bytes | None:
    """The emulator's next reply, or None if none is pending."""
    try:
        data = emulator.read()
    except _NO_REPLY:
        return None
    return bytes(data) if data else None


def drain(emulator: Emulator) -> list[bytes]:
    """Every reply pending now (``emulator.read_all()`` if it has one, else ``read()`` until
    none is pending)."""
    read_all = getattr(emulator, "read_all", None)
    if read_all is not None:
        return [bytes(reply) for reply in read_all() if reply]
    out = []
    while (reply := next_reply(emulator)) is not None:
        out.append(reply)
    return out


def timeout_error() -> VisaIOError:
    """The error a VISA read raises when the instrument does not answer in time."""
    return VisaIOError(constants.StatusCode.error_timeout)


def connection_lost_error() -> VisaIOError:
    """The error a VISA operation raises on a closed connection."""
    return VisaIOError(constants.StatusCode.error_connection_lost)


def _lock_of(emulator: Any) -> Any:
    # Emulators of one bench share the bench lock: the array is one object.
    inner = getattr(emulator, "emulator", emulator)
    bench = getattr(inner, "bench", None)
    return getattr(bench, "lock", None) or threading.RLock()


# ---------------------------------------------------------------------------- in-process


class _Connection:
    """The adapter's ``connection``: a VISA-like ``timeout`` (ms) and ``close()``."""

    def __init__(self, timeout_ms: float) -> None:
        self.timeout = timeout_ms
        self.closed = False

    def close(self) -> None:
        self.closed = True


class EmulatorAdapter(Adapter):
    """A pymeasure ``Adapter`` that talks to an emulator in-process.

    Parameters
    ----------
    emulator: any :class:`Emulator` (wrap it in :class:`FaultyEmulator` for faults).
    timeout_ms: VISA-like timeout; a read with no reply raises ``VI_ERROR_TMO`` (at once:
        nothing can arrive later in-process, except a reply slowed down by a fault).
    read_termination: stripped from ``read()`` results.
    """

    def __init__(
        self,
        emulator: Emulator,
        timeout_ms: float = DEFAULT_TIMEOUT_MS,
        read_termination: str = "\n",
        log: logging.Logger | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(log=log, **kwargs)
        self.emulator = emulator
        self.connection = _Connection(timeout_ms)
        self.read_termination = read_termination
        self._buffer = bytearray()
        self._lock = _lock_of(emulator)
        self._faults: Faults | None = getattr(emulator, "faults", None)

    @property
    def faults(self) -> Faults | None:
        """The fault switches if the emulator is a :class:`FaultyEmulator`."""
        return self._faults

    def _check_connected(self) -> None:
        faults = self._faults
        if faults is not None and faults.take_connection_drop():
            self.connection.close()
        if self.connection.closed:
            raise connection_lost_error()

    def reconnect(self) -> None:
        """Open a fresh connection after a dropped one (pending bytes are lost)."""
        self._buffer.clear()
        self.connection.closed = False

    def _write(self, command: str, **kwargs: Any) -> None:
        self._check_connected()
        with self._lock:
            self.emulator.write(command)

    def _write_bytes(self, content: bytes, **kwargs: Any) -> None:
        self._write(bytes(content).decode("latin-1"))

    def _next(self) -> bytes | None:
        """The emulator's next reply, after the fault's delay; None if none is pending."""
        with self._lock:
            reply = next_reply(self.emulator)
        if reply is None:
            return None
        delay = self._faults.reply_delay_s if self._faults is not None else 0.0
        if delay > 0:
            timeout_s = self.connection.timeout / 1000.0
            time.sleep(min(delay, timeout_s))
            if delay > timeout_s:
                self._buffer += reply  # it arrives late: a later read gets this stale reply
                raise timeout_error()
        return reply

    def _pull(self) -> bool:
        """Move the next reply into the buffer; False if none is pending."""
        reply = self._next()
        if reply is None:
            return False
        self._buffer += reply
        return True

    def _read(self, **kwargs: Any) -> str:
        self._check_connected()
        term = self.read_termination.encode("latin-1") or b"\n"
        if not self._buffer:  # the common case: one whole reply, straight from the emulator
            reply = self._next()
            if reply is None:
                raise timeout_error()
            end = reply.find(term)
            if end == len(reply) - len(term):
                return reply[:end].decode("latin-1").rstrip("\r")
            self._buffer += reply
        while term not in self._buffer:
            if not self._pull():
                raise timeout_error()
        end = self._buffer.index(term)
        data = bytes(self._buffer[:end])
        del self._buffer[: end + len(term)]
        return data.decode("latin-1").rstrip("\r")

    def _read_bytes(self, count: int, break_on_termchar: bool = False, **kwargs: Any) -> bytes:
        self._check_connected()
        if count is None or count < 0:
            if not self._buffer and not self._pull():
                raise timeout_error()
            data = bytes(self._buffer)
            self._buffer.clear()
            return data
        while len(self._buffer) < count:
            if break_on_termchar and b"\n" in self._buffer:
                break
            if not self._pull():
                raise timeout_error()
        end = count
        if break_on_termchar and b"\n" in self._buffer[:count]:
            end = self._buffer.index(b"\n") + 1
        data = bytes(self._buffer[:end])
        del self._buffer[:end]
        return data

    def flush_read_buffer(self) -> None:
        """Discard buffered bytes and every reply pending in the emulator."""
        self._buffer.clear()
        with self._lock:
            drain(self.emulator)

    def __repr__(self) -> str:
        inner = getattr(self.emulator, "emulator", self.emulator)
        return f"<EmulatorAdapter {type(inner).__name__}>"
