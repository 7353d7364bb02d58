"""The dead-man supervisor process (see :mod:`ftjlab.instruments.deadman`).

Run as a script (``python _deadman_child.py <parent pid>``, targets as one JSON line on
stdin) so that it starts in a fraction of a second: raw-socket instruments
(``TCPIP0::host::port::SOCKET``) are driven with the standard library only, and only other
resources (GPIB, USB, VXI-11) or models without a known switch-off load the ftjlab drivers.

It connects to every target, prints ``ready``, and waits. ``release`` on stdin: it closes
and exits. End of file on stdin, or the parent process gone: it switches every source off,
confirms, then separates probes and opens matrices (in that order), and exits.
"""

from __future__ import annotations

import json
import os
import select
import socket
import sys
import time
from typing import Any

POLL_S = 0.1
TIMEOUT_S = 5.0
#: model -> (switch-off commands, completion query, order: sources 0, probers 5, matrices 10)
SHUTDOWN: dict[str, tuple[tuple[str, ...], str, int]] = {
    # abort first: a script the dead process left running could otherwise keep sourcing, or
    # close relays after the matrix opened (the 2600B takes ``abort`` while a script runs)
    "2636B": (("abort", "smua.source.output = 0 smub.source.output = 0"),
              "waitcomplete() print(1)", 0),
    "2450": ((":ABOR", ":OUTP OFF"), "*OPC?", 0),
    "81160A": ((":OUTP1 OFF", ":OUTP2 OFF"), "*OPC?", 0),
    "33500B": (("OUTP1 OFF", "OUTP2 OFF"), "*OPC?", 0),
    "707B": (('channel.open("allslots")',), "waitcomplete() print(1)", 10),
}


class SocketInstrument:
    """A raw-socket connection that can switch one instrument off (LF-terminated lines)."""

    def __init__(self, name: str, model: str, resource: str, timeout_s: float) -> None:
        parts = resource.split("::")
        host, port = parts[1], int(parts[2])
        self.name, self.model = name, model
        self.commands, self.query, self.shutdown_order = SHUTDOWN[model]
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout_s)

    def _ask(self, text: str) -> str:
        self.sock.sendall(text.encode("ascii") + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError(f"{self.name}: connection closed")
            data += chunk
        return data.decode("latin-1").strip()

    def shutdown(self) -> None:
        for command in self.commands:
            self.sock.sendall(command.encode("ascii") + b"\n")

    def wait_for_completion(self) -> None:
        reply = self._ask(self.query)
        if reply not in ("1", "+1", "1.00000e+00"):
            raise RuntimeError(f"{self.name}: unexpected completion reply {reply!r}")

    def close(self) -> None:
        self.sock.close()


def _is_socket(resource: str) -> bool:
    upper = resource.upper()
    return upper.startswith("TCPIP") and upper.endswith("::SOCKET") and upper.count("::") == 3


def connect(targets: list[dict[str, Any]]) -> list[Any]:
    """One connection per target: raw socket where possible, else the ftjlab driver."""
    opened = []
    for target in targets:
        timeout_s = target.get("timeout_ms", 5000) / 1000.0
        if _is_socket(target["resource"]) and target["model"] in SHUTDOWN:
            opened.append(
                SocketInstrument(target["name"], target["model"], target["resource"], timeout_s)
            )
        else:
            from ftjlab.instruments.deadman import Target
            from ftjlab.instruments.deadman import connect as connect_drivers

            opened.extend(driver for _, driver in connect_drivers([Target(**target)]))
    return opened


def make_safe(instruments: list[Any]) -> list[str]:
    """Sources off (confirmed), then probers and matrices; never stops at a failure."""
    failures: list[str] = []
    ordered = sorted(instruments, key=lambda i: getattr(i, "shutdown_order", 0))
    previous: list[Any] = []
    for instrument in ordered:
        order = getattr(instrument, "shutdown_order", 0)
        if previous and order > getattr(previous[-1], "shutdown_order", 0):
            for done in previous:  # the sources have executed before a relay moves
                try:
                    done.wait_for_completion()
                except Exception as exc:
                    failures.append(f"{getattr(done, 'name', done)}: {exc}")
            previous = []
        try:
            instrument.shutdown()
            previous.append(instrument)
        except Exception as exc:
            failures.append(f"{getattr(instrument, 'name', instrument)}: {exc}")
    for done in previous:
        try:
            done.wait_for_completion()
        except Exception as exc:
            failures.append(f"{getattr(done, 'name', done)}: {exc}")
    return failures


def _close(instruments: list[Any]) -> None:
    for instrument in instruments:
        try:
            if isinstance(instrument, SocketInstrument):
                instrument.close()
            else:
                instrument.adapter.close()
        except Exception:
            pass


def _parent_gone(parent: int) -> bool:
    if os.getppid() != parent:
        return True
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def main(argv: list[str]) -> int:
    parent = int(argv[0])
    fd = sys.stdin.fileno()
    buffer = b""
    while b"\n" not in buffer:  # the targets, one JSON line (read unbuffered)
        chunk = os.read(fd, 65536)
        if not chunk:
            return 2
        buffer += chunk
    line, _, buffer = buffer.partition(b"\n")
    try:
        instruments = connect(json.loads(line))
    except Exception as exc:
        print(f"cannot connect: {type(exc).__name__}: {exc}", flush=True)
        return 2
    print("ready", flush=True)
    released = b"release" in buffer
    while not released:
        readable, _, _ = select.select([fd], [], [], POLL_S)
        if readable:
            chunk = os.read(fd, 4096)
            if not chunk:
                break  # end of file: the parent is gone
            buffer += chunk
            released = b"release" in buffer
        elif _parent_gone(parent):
            break
    if released:
        _close(instruments)
        return 0
    started = time.monotonic()
    failures = make_safe(instruments)
    print(
        f"ftjlab dead-man: run process {parent} gone; bench made safe in "
        f"{time.monotonic() - started:.3f} s; failures: {failures or 'none'}",
        file=sys.stderr,
        flush=True,
    )
    _close(instruments)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
