"""A raw-socket TCP server for one instrument emulator (LF-terminated messages).

Reachable with real pyvisa-py as ``TCPIP0::127.0.0.1::<port>::SOCKET``; the emulator is wrapped
in a :class:`~.faults.FaultyEmulator` so faults can be injected while it runs.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import socketserver
import threading
import time
from collections import deque
from typing import Any

from .faults import Faults, FaultyEmulator
from .transport import (
    Emulator,
    _lock_of,
    drain,
)

log = logging.getLogger(__name__)

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
    re-armed after every ``recv`` that no reply answers at once (a reply carries the ACK, and
    the system call costs a query round trip a few microseconds). Elsewhere the server cannot
    change the client's Nagle, and the callable does nothing.
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
        self._write = emulator.emulator.write
        self._faults = emulator.faults
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
                if not pending and data.find(b"\n") == len(data) - 1 and b"#" not in data:
                    lines, pending = (data[:-1],), b""  # the usual case: one whole message
                else:
                    pending += data
                    if b"\n" not in pending and b"#" not in pending:
                        quickack()
                        continue
                    lines, pending = split_messages(pending)
                answered = False
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
                        answered = True
                if not answered:  # a reply carries the ACK; without one, send it now
                    quickack()
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
        with self._lock:
            try:
                self._write(message)
            except Exception:  # an emulator bug must not kill the connection
                log.exception("emulator %s failed on %r", self.name, message[:80])
            if self._faults._drop_replies or self._read_all is None:
                return drain(self.emulator)
            return self._read_all()
