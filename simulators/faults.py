"""Fault injection between an emulator and its transport (adapter or TCP server).

Drop the next reply(ies) (the client times out), drop the connection (the server closes the
socket; the adapter raises ``VI_ERROR_CONN_LOST``), inject error-queue entries, slow replies
(each reply arrives a wall-time delay late; the instrument goes on executing meanwhile).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from .transport import (
    Emulator,
    drain,
)

log = logging.getLogger(__name__)

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
