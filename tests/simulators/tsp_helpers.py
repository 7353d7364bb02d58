"""Helpers for driving a TSP emulator directly: send one message, collect replies and errors."""

from __future__ import annotations

from ftjlab.simulators.tsp import TSPEmulator


def run(emulator: TSPEmulator, command: str) -> list[bytes]:
    """Write ``command`` and return every reply it left pending, in order."""
    emulator.write(command)
    out = []
    while emulator.pending_replies:
        out.append(emulator.read())
    return out


def errors(emulator: TSPEmulator) -> list[tuple]:
    """Pop and return every entry of the emulator's error queue, oldest first."""
    out = []
    while emulator.errorqueue.count:
        out.append(emulator.errorqueue.next())
    return out
