"""Transports for instrument emulators: in-process adapter, TCP server, faults, record/replay.

An emulator does not know its transport. It implements :class:`Emulator` - ``write`` one
message (no terminator), ``read`` the next reply (bytes, with its LF) or signal that none is
pending, ``reset`` - and any of the transports here carries its bytes:

* :class:`EmulatorAdapter` - a pymeasure ``Adapter`` for fast in-process tests; unmodified
  pymeasure drivers run on it. Reading with nothing pending raises pyvisa's
  ``VisaIOError(VI_ERROR_TMO)`` after the timeout, as a real VISA session would.
* :class:`InstrumentServer` - a raw-socket TCP server on one port (127.0.0.1 by default),
  LF-terminated messages, reachable with real pyvisa-py as ``TCPIP0::127.0.0.1::<port>::SOCKET``.
* :class:`FaultyEmulator` + :class:`Faults` - fault injection between emulator and transport:
  drop the next reply(ies) (the client times out), drop the connection (the server closes the
  socket; the adapter raises ``VI_ERROR_CONN_LOST``), inject error-queue entries, slow replies
  (each reply arrives a wall-time delay late; the instrument goes on executing meanwhile).
* :class:`RecordingAdapter` records any adapter's (command, reply) traffic to JSON lines;
  :func:`load_protocol`/:func:`replay_protocol` turn such a file into a strict protocol test
  (pymeasure's ``expected_protocol``).

"None pending" is signalled by raising :class:`NoReplyPending` (or the SCPI emulators'
``NoReply``, or ``IndexError`` from an empty deque), or by returning ``b""``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import select
import socket
import socketserver
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pymeasure.adapters import Adapter
from pymeasure.adapters.protocol import ProtocolAdapter
from pyvisa import constants
from pyvisa.errors import VisaIOError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_MS = 2000
TRAFFIC_FORMAT = "ftjlab-traffic"
TRAFFIC_VERSION = 1


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


# ---------------------------------------------------------------------------- faults


class Faults:
    """Fault-injection switches shared by a :class:`FaultyEmulator` and its transports.

    Thread-safe; every switch can be flipped while a server runs.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._drop_replies = 0
        self._drop_connection = False
        self.reply_delay_s = 0.0

    def drop_next_reply(self, count: int = 1) -> None:
        """Swallow the next ``count`` replies: the client sees a timeout."""
        with self._lock:
            self._drop_replies += int(count)

    def drop_connection(self) -> None:
        """Close the connection on the next message (server) / fail the next operation
        (adapter) with ``VI_ERROR_CONN_LOST``."""
        with self._lock:
            self._drop_connection = True

    def slow_replies(self, delay_s: float) -> None:
        """Deliver each reply ``delay_s`` of wall time late (0 switches it off).

        Commands are still executed when they arrive (the instrument is slow to answer, not
        stopped): the TCP server keeps reading and executing while replies wait, the adapter
        sleeps at most its timeout and then leaves the late reply to the next read.
        """
        if not delay_s >= 0:
            raise ValueError(f"reply delay must be >= 0 s, got {delay_s!r}")
        self.reply_delay_s = float(delay_s)

    def clear(self) -> None:
        """Switch every fault off."""
        with self._lock:
            self._drop_replies = 0
            self._drop_connection = False
            self.reply_delay_s = 0.0

    def take_reply_drop(self) -> bool:
        """True (once per requested drop) if this reply is to be swallowed."""
        if not self._drop_replies:  # the common case, without the lock
            return False
        with self._lock:
            if self._drop_replies > 0:
                self._drop_replies -= 1
                return True
            return False

    def take_connection_drop(self) -> bool:
        """True once after :meth:`drop_connection`."""
        if not self._drop_connection:  # the common case, without the lock
            return False
        with self._lock:
            drop, self._drop_connection = self._drop_connection, False
            return drop


class FaultyEmulator:
    """Wraps an emulator with :class:`Faults`; a drop-in :class:`Emulator` itself.

    ``faults`` holds the switches; :meth:`inject_error` puts an entry into the wrapped
    emulator's error queue (TSP ``inject_error`` or SCPI ``push_error``).
    """

    def __init__(self, emulator: Emulator, faults: Faults | None = None) -> None:
        self.emulator = emulator
        self.faults = faults or Faults()

    def write(self, message: str) -> None:
        self.emulator.write(message)

    def read(self) -> bytes:
        while True:
            data = self.emulator.read()  # raises (or returns b"") when none is pending
            if not (data and self.faults.take_reply_drop()):
                return data
            log.info("fault injection: dropped reply %r", data[:60])

    def read_all(self) -> list[bytes]:
        """Every pending reply, less those the faults drop."""
        replies = drain(self.emulator)
        if not self.faults._drop_replies:
            return replies
        kept = []
        for reply in replies:
            if self.faults.take_reply_drop():
                log.info("fault injection: dropped reply %r", reply[:60])
            else:
                kept.append(reply)
        return kept

    def reset(self) -> None:
        self.emulator.reset()

    def inject_error(self, code: int, message: str = "") -> None:
        """Queue an instrument error, as if the instrument had detected it."""
        target = self.emulator
        if hasattr(target, "inject_error"):
            target.inject_error(code, message)
        elif hasattr(target, "push_error"):
            target.push_error(code, message)
        else:
            raise TypeError(f"{type(target).__name__} has no error queue to inject into")

    def __getattr__(self, name: str) -> Any:  # the emulator's own API stays reachable
        return getattr(self.emulator, name)


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


# ---------------------------------------------------------------------------- TCP


class _TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    owner: InstrumentServer


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.server.owner._serve_client(self.request)  # type: ignore[attr-defined]


def _block_end(data: bytes, start: int) -> int:
    """Where the definite block ``#<n><len>...`` at ``data[start]`` ends; -1 if it is not one
    (yet): fewer bytes than announced are a block still arriving."""
    nd = data[start + 1 : start + 2]
    if not nd.isdigit() or nd == b"0":
        return -1
    n = int(nd)
    digits = data[start + 2 : start + 2 + n]
    if len(digits) < n or not digits.isdigit():
        return -1 if len(digits) == n else len(data) + 1
    return start + 2 + n + int(digits)


def split_messages(data: bytes) -> tuple[list[bytes], bytes]:
    """Split received bytes into complete LF-terminated messages and the incomplete rest.

    An LF ends a message except inside a definite-length block (``#<n><len><data>``): binary
    data (DAC words, float arrays) may contain 0x0A, and an instrument reads a block by its
    length. The end of a block also ends its message unless white space, ``,`` or ``;``
    follows. A trailing CR before the LF is dropped unless it is a block's last data byte.
    """
    messages: list[bytes] = []
    start = i = 0
    n = len(data)
    quote = 0
    while i < n:
        c = data[i]
        if quote and c != 0x0A:  # a '#' inside a string is text; an LF still ends the message
            if c == quote:
                quote = 0
        elif c in (0x22, 0x27):  # " '
            quote = c
        elif c == 0x23:  # '#'
            end = _block_end(data, i)
            if end > n:  # the block has not arrived in full
                break
            if end > 0:
                # After a block only white space, ',' or ';' may follow within a message. A
                # block that ends the received bytes, or is followed by a new header, ended
                # its message: GPIB and VXI-11 writes carry END on their last byte, which a raw
                # socket cannot (pymeasure's write_binary_values adds no terminator).
                nxt = data[end : end + 1]
                if not nxt or not (nxt.isspace() or nxt in b",;"):
                    messages.append(data[start:end])
                    start = end
                i = end
                continue
        elif c == 0x0A:
            message = data[start:i]
            if message.endswith(b"\r") and not _ends_in_block(message):
                message = message[:-1]
            messages.append(message)
            start = i + 1
            quote = 0
        i += 1
    return messages, data[start:]


def _ends_in_block(message: bytes) -> bool:
    k = message.rfind(b"#")
    while k >= 0:
        if _block_end(message, k) == len(message):
            return True
        k = message.rfind(b"#", 0, k)
    return False


def _quickack(sock: socket.socket) -> Any:
    """A callable that ACKs what ``sock`` has received at once (a no-op where unsupported).

    A client that writes a command and then a query (``write(":SOUR:VOLT 1")``, then
    ``query(":READ?")``) sends two small segments; with Nagle's algorithm on (pyvisa-py's
    default, NI-VISA's too) the query waits until the command's segment is ACKed. A command
    has no reply to carry that ACK, so a delayed-ACK receiver holds it for up to 40 ms (Linux)
    or 200 ms (Windows): every set-then-measure step would cost that. Linux's TCP_QUICKACK
    sends the pending ACK now, but the kernel drops back to delayed ACKs by itself, so it is
    re-armed after every ``recv``. Elsewhere the server cannot change the client's Nagle, and
    the callable does nothing.
    """
    option = getattr(socket, "TCP_QUICKACK", None)
    if option is None:
        return lambda: None

    def quickack() -> None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, option, 1)

    quickack()
    return quickack


class InstrumentServer:
    """Serve one emulator on a raw TCP socket (one port per instrument).

    Messages are LF-terminated (a trailing CR is dropped); after each message every reply
    the emulator produced is sent back. Several clients may connect; commands of all
    instruments of one bench are serialised by the bench lock.

    Parameters
    ----------
    emulator: the emulator; it is wrapped in a :class:`FaultyEmulator` unless it is one.
    host: interface to bind; loopback unless told otherwise.
    port: 0 picks a free (ephemeral) port; see :attr:`port` after :meth:`start`.
    """

    def __init__(
        self, emulator: Emulator, host: str = "127.0.0.1", port: int = 0, name: str = ""
    ) -> None:
        if not isinstance(emulator, FaultyEmulator):
            emulator = FaultyEmulator(emulator)
        self.emulator: FaultyEmulator = emulator
        self.name = name
        self._lock = _lock_of(emulator)
        #: the wrapped emulator's ``read_all`` (every pending reply as bytes), if it has one
        self._read_all = getattr(emulator.emulator, "read_all", None)
        self._server = _TCPServer((host, port), _Handler, bind_and_activate=True)
        self._server.owner = self
        self._thread: threading.Thread | None = None
        self._clients: set[socket.socket] = set()
        self._clients_lock = threading.Lock()

    @property
    def faults(self) -> Faults:
        """The fault switches of this instrument."""
        return self.emulator.faults

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def resource(self) -> str:
        """The VISA resource string pyvisa-py opens: ``TCPIP0::<host>::<port>::SOCKET``."""
        return f"TCPIP0::{self.host}::{self.port}::SOCKET"

    def start(self) -> InstrumentServer:
        """Serve in a background thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"sim-{self.name or self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every client connection."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.disconnect_clients()
        self._server.server_close()

    def disconnect_clients(self) -> None:
        """Close every open client connection now."""
        with self._clients_lock:
            clients = list(self._clients)
        for sock in clients:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> InstrumentServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _serve_client(self, sock: socket.socket) -> None:
        with self._clients_lock:
            self._clients.add(sock)
        with contextlib.suppress(OSError):  # replies are small and go out at once
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        quickack = _quickack(sock)
        faults = self.faults
        pending = b""
        late: deque[tuple[float, bytes]] = deque()  # slowed-down replies, in order
        try:
            while True:
                if late:
                    now = time.monotonic()
                    while late and late[0][0] <= now:
                        sock.sendall(late.popleft()[1])
                    if late:
                        readable, _, _ = select.select([sock], [], [], late[0][0] - now)
                        if not readable:
                            continue
                data = sock.recv(65536)
                if not data:
                    return
                quickack()
                if not pending and data.find(b"\n") == len(data) - 1 and b"#" not in data:
                    lines, pending = (data[:-1],), b""  # the usual case: one whole message
                else:
                    pending += data
                    if b"\n" not in pending and b"#" not in pending:
                        continue
                    lines, pending = split_messages(pending)
                for line in lines:
                    if faults._drop_connection and faults.take_connection_drop():
                        log.info("fault injection: %s drops the connection", self.name)
                        return
                    replies = self._execute(line.decode("latin-1"))
                    if not replies:
                        continue
                    delay = faults.reply_delay_s
                    if delay > 0 or late:
                        # the instrument goes on executing; only its replies come late
                        due = time.monotonic() + delay
                        late.extend((due, reply) for reply in replies)
                    else:
                        sock.sendall(replies[0] if len(replies) == 1 else b"".join(replies))
        except OSError:
            return
        finally:
            with self._clients_lock:
                self._clients.discard(sock)
            with contextlib.suppress(OSError):
                sock.close()

    def _execute(self, message: str) -> list[bytes]:
        """Run one message (a trailing CR dropped) and collect its replies.

        This is on every round trip's critical path, so it calls the wrapped emulator directly
        unless a reply drop is armed (the :class:`FaultyEmulator` layer only forwards then).
        """
        if message.endswith("\r") and "#" not in message:  # split_messages did the rest
            message = message[:-1]
        faulty = self.emulator
        with self._lock:
            try:
                faulty.emulator.write(message)
            except Exception:  # an emulator bug must not kill the connection
                log.exception("emulator %s failed on %r", self.name, message[:80])
            if faulty.faults._drop_replies or self._read_all is None:
                return drain(faulty)
            return self._read_all()


# ---------------------------------------------------------------------------- record / replay


class RecordingAdapter(Adapter):
    """Wraps any adapter and records its traffic as JSON lines, one (write, read) pair each.

    The first line is a header ``{"format": "ftjlab-traffic", "version": 1, ...}``; then
    ``{"write": cmd, "read": reply}`` where either may be null, and binary or non-UTF-8
    replies are stored as ``"read_b64"``. Close the adapter (or use it as a context
    manager) to write the last pair.
    """

    def __init__(self, inner: Adapter, path: str | Path, **meta: Any) -> None:
        super().__init__()
        self.inner = inner
        self.path = Path(path)
        self._file = self.path.open("w", encoding="utf-8")
        header = {"format": TRAFFIC_FORMAT, "version": TRAFFIC_VERSION, **meta}
        self._file.write(json.dumps(header) + "\n")
        self._pending: dict[str, Any] | None = None

    @property
    def connection(self) -> Any:  # type: ignore[override]
        return getattr(self.inner, "connection", None)

    def _emit(self) -> None:
        if self._pending is not None and not self._file.closed:
            if "read_b64" not in self._pending:
                self._pending.setdefault("read", None)
            self._file.write(json.dumps(self._pending) + "\n")
            self._file.flush()
        self._pending = None

    def _record_read(self, reply: str | bytes) -> None:
        if isinstance(reply, bytes):
            try:
                text = reply.decode("utf-8")
                entry: dict[str, Any] = {"read": text} if text.isprintable() or not text else {}
            except UnicodeDecodeError:
                entry = {}
            if not entry:
                entry = {"read_b64": base64.b64encode(reply).decode("ascii")}
        else:
            entry = {"read": reply}
        if (
            self._pending is not None
            and "read" not in self._pending
            and "read_b64" not in self._pending
        ):  # the reply to the pending write
            self._pending.update(entry)
            self._emit()
        else:
            self._emit()
            self._pending = {"write": None, **entry}
            self._emit()

    def _write(self, command: str, **kwargs: Any) -> None:
        self._emit()
        self._pending = {"write": command}
        self.inner.write(command, **kwargs)

    def _write_bytes(self, content: bytes, **kwargs: Any) -> None:
        self._write(bytes(content).decode("latin-1"))

    def _read(self, **kwargs: Any) -> str:
        reply = self.inner.read(**kwargs)
        self._record_read(reply)
        return reply

    def _read_bytes(self, count: int, break_on_termchar: bool = False, **kwargs: Any) -> bytes:
        reply = self.inner.read_bytes(count, break_on_termchar, **kwargs)
        self._record_read(reply)
        return reply

    def flush_read_buffer(self) -> None:
        self.inner.flush_read_buffer()

    def close(self) -> None:
        """Write the last pair and close the file (the inner adapter stays open)."""
        if not getattr(self, "_file", None) or self._file.closed:
            return
        self._emit()
        self._file.close()

    def __enter__(self) -> RecordingAdapter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def load_protocol(path: str | Path) -> list[tuple[str | bytes | None, str | bytes | None]]:
    """Read a recorded traffic file as pymeasure ``comm_pairs`` (strictly: a malformed line
    raises ValueError naming the line)."""
    path = Path(path)
    pairs: list[tuple[str | bytes | None, str | bytes | None]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not JSON ({exc})") from None
        if not isinstance(entry, dict):
            raise ValueError(f"{path}:{number}: expected an object")
        if "format" in entry:
            if entry["format"] != TRAFFIC_FORMAT or entry.get("version") != TRAFFIC_VERSION:
                raise ValueError(f"{path}:{number}: unsupported traffic format {entry!r}")
            continue
        unknown = set(entry) - {"write", "read", "read_b64"}
        if unknown or ("read" in entry and "read_b64" in entry):
            raise ValueError(f"{path}:{number}: unexpected keys {sorted(entry)}")
        write = entry.get("write")
        read: str | bytes | None = entry.get("read")
        if "read_b64" in entry:
            read = base64.b64decode(entry["read_b64"])
        if write is not None and not isinstance(write, str):
            raise ValueError(f"{path}:{number}: 'write' must be a string or null")
        if write is None and read is None:
            raise ValueError(f"{path}:{number}: a pair needs a write or a read")
        pairs.append((write, read))
    return pairs


def replay_adapter(path: str | Path) -> ProtocolAdapter:
    """A strict pymeasure ``ProtocolAdapter`` that expects exactly the recorded traffic."""
    return ProtocolAdapter(load_protocol(path))


@contextlib.contextmanager
def replay_protocol(instrument_cls: type, path: str | Path, **kwargs: Any) -> Iterator[Any]:
    """Like ``pymeasure.test.expected_protocol`` with the pairs of a recorded file."""
    from pymeasure.test import expected_protocol

    with expected_protocol(instrument_cls, load_protocol(path), **kwargs) as instrument:
        yield instrument
