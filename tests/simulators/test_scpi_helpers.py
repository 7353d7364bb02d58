"""Test doubles shared by the SCPI emulator tests: a resistor bench and an in-test adapter.

(A module of helpers, no tests: the SCPI emulator tests must not depend on the real bench's
physics or on the transport helper's adapter.)
"""

from __future__ import annotations

import random

import numpy as np
from ftjlab.simulators.clock import VirtualClock
from ftjlab.simulators.scpi import NoReply, ScpiInstrument
from hypothesis import strategies as st
from pymeasure.adapters import Adapter
from pyvisa import constants
from pyvisa.errors import VisaIOError


class FakeBench:
    """A bench where every terminal drives a resistor to ground: I = V / R while on.

    Records ``source`` calls, ``pulse`` bursts and ``measure_current`` requests.
    """

    def __init__(self, resistance_ohm: float = 1e6) -> None:
        self.clock = VirtualClock()
        self.resistance_ohm = resistance_ohm
        self.drive: dict[str, tuple[float, bool]] = {}
        self.pulses: list[tuple[str, float, float, float, float, int]] = []
        self.measures: list[tuple[str, int, float, float]] = []
        self.sources: list[tuple[str, float, bool]] = []

    def source(self, terminal: str, volts: float, output_on: bool) -> None:
        assert np.isfinite(volts)
        self.drive[terminal] = (float(volts), bool(output_on))
        self.sources.append((terminal, float(volts), bool(output_on)))

    def measure_current(
        self, terminal: str, n: int, interval_s: float, aperture_s: float
    ) -> np.ndarray:
        assert n >= 1 and aperture_s > 0 and interval_s >= aperture_s
        self.measures.append((terminal, n, interval_s, aperture_s))
        volts, on = self.drive.get(terminal, (0.0, False))
        self.clock.advance(n * interval_s)
        return np.full(n, volts / self.resistance_ohm if on else 0.0)

    def pulse(
        self,
        terminal: str,
        high_v: float,
        low_v: float,
        width_s: float,
        period_s: float,
        count: int,
    ) -> None:
        assert 0 < width_s <= period_s and count >= 0
        self.pulses.append((terminal, high_v, low_v, width_s, period_s, count))
        self.clock.advance(count * period_s)

    def idle(self, dt_s: float) -> None:
        self.clock.advance(dt_s)


class EmulatorAdapter(Adapter):
    """Minimal pymeasure adapter forwarding to an emulator (reads buffer whole replies)."""

    def __init__(self, emulator: ScpiInstrument, **kwargs) -> None:
        super().__init__(**kwargs)
        self.emulator = emulator
        self._buffer = bytearray()

    def _write(self, command: str, **kwargs) -> None:
        self.emulator.write(command)

    def _pull(self) -> None:
        try:
            self._buffer += self.emulator.read()
        except NoReply:
            raise VisaIOError(constants.StatusCode.error_timeout) from None

    def _read(self, **kwargs) -> str:
        while b"\n" not in self._buffer:
            self._pull()
        end = self._buffer.index(b"\n")
        data = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return data.decode("latin-1")

    def _read_bytes(self, count: int, break_on_termchar: bool = False, **kwargs) -> bytes:
        if count is None or count < 0:
            if not self._buffer:
                self._pull()
            data = bytes(self._buffer)
            self._buffer.clear()
            return data
        while len(self._buffer) < count:
            self._pull()
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    def flush_read_buffer(self) -> None:
        self._buffer.clear()


def ask(emulator: ScpiInstrument, message: str) -> str:
    """Send ``message`` and return the reply without its LF (AssertionError if none)."""
    emulator.write(message)
    reply = emulator.read()
    assert reply.endswith(b"\n"), reply
    return reply[:-1].decode("latin-1")


def errors(emulator: ScpiInstrument) -> list[int]:
    """Drain the error queue through ``:SYST:ERR?``; returns the codes (without the 0)."""
    codes = []
    for _ in range(2000):
        code = int(ask(emulator, ":SYST:ERR?").split(",", 1)[0])
        if code == 0:
            return codes
        codes.append(code)
    raise AssertionError("error queue never empties")


# ---------------------------------------------------------------------------- fuzzing

#: Codes any SCPI emulator may legitimately log for garbage input.
PARSER_CODES = {
    -101,
    -102,
    -103,
    -104,
    -108,
    -109,
    -112,
    -113,
    -114,
    -120,
    -131,
    -138,
    -141,
    -151,
    -161,
    -410,
    -350,
}

_NOISE = [
    "",
    " ",
    ";",
    ":",
    "?",
    ",",
    "'",
    '"',
    "#",
    "#0",
    "#H1F",
    "(",
    ")",
    "*",
    "\t",
    "1e",
    "MAX",
    "MIN",
    "DEF",
    "INF",
    "ON",
    "OFF",
    "-",
    "1e400",
    "9.9E37",
    "-1",
    "0",
    "1e-12",
    "7",
    "10",
    "ms",
    "V",
    "\x00",
    "é",
]


def _printable(rng: random.Random, max_size: int = 40) -> str:
    return "".join(chr(rng.randint(1, 0x7E)) for _ in range(rng.randint(0, max_size)))


def random_line(rng: random.Random, valid: list[str]) -> str:
    """One random command line: printable garbage, a valid command, or a valid command mutated
    (characters deleted, case swapped, noise tokens or garbage spliced in, commands chained)."""
    kind = rng.random()
    if kind < 0.2:
        return _printable(rng)
    text = rng.choice(valid)
    if kind < 0.35:
        return text
    for _ in range(rng.randint(1, 3)):
        op = rng.randint(0, 4)
        pos = rng.randint(0, len(text))
        if op == 0 and text:
            text = text[:pos] + text[pos + 1 :]
        elif op == 1:
            text = text[:pos] + rng.choice(_NOISE) + text[pos:]
        elif op == 2 and text:
            text = text[:pos] + text[pos:].swapcase()
        elif op == 3:
            text = text + ";" + rng.choice(valid)
        else:
            text = text[:pos] + _printable(rng, 8) + text[pos:]
    return text


def fuzz_lines() -> st.SearchStrategy[random.Random]:
    """Hypothesis drives the fuzz through a seeded ``random.Random``: drawing thousands of
    lines as individual hypothesis examples would cost more than the emulators do."""
    return st.randoms(use_true_random=True)


def fuzz_emulator(emulator, rng, valid: list[str], codes: set[int], lines: int = 40) -> None:
    """Reset ``emulator`` and send it ``lines`` random command lines: every reply is framed,
    nothing fails inside the emulator, and only the manual's error codes are queued."""
    emulator.reset()
    for _ in range(lines):
        emulator.write(random_line(rng, valid))
        while emulator.reply_pending:
            assert emulator.read().endswith(b"\n")
        assert emulator.internal_faults == []
    assert {e.code for e in emulator.errors.peek_all()} <= codes
