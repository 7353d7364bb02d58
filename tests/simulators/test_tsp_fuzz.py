"""Hostile input for the TSP emulators (2636B, 707B): >= 10,000 random command lines each.

Every line must leave the emulator working, never reach the host (a sentinel file that the
classic sandbox escapes would create never appears; the escapes still fail afterwards), and put
the manual's error into the queue: a line that Lua 5.1 cannot compile gives exactly one -285
"TSP Syntax error at line N: ...", a line that runs may only give -286 "TSP Runtime error...",
the parameter errors 1100/1101/1102 or the reading-overflow event; an exception of the
emulator's own Python code that no bad argument explains is a bug and fails the test.

Hypothesis drives a seeded ``random.Random`` (drawing thousands of lines as individual
hypothesis examples would cost more than the emulators do), like the SCPI fuzz tests.
"""

from __future__ import annotations

import random
import socket
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from ftjlab.simulators.bench import Bench, Wiring
from ftjlab.simulators.emulators.keithley707b import Keithley707B
from ftjlab.simulators.emulators.keithley2636b import Keithley2636B
from ftjlab.simulators.params import ArrayParams
from ftjlab.simulators.tsp import CODE_RUNTIME, CODE_SYNTAX, TSPEmulator, TSPError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lupa import lua51

from ftjlab.config import load_bench_config

SENTINEL = Path(tempfile.gettempdir()) / f"ftjlab-tsp-escaped-{random.randrange(10**9)}"
S = str(SENTINEL)
ESCAPES = [
    f"os.execute('touch {S}')", f"io.open('{S}', 'w'):write('x')",
    f"require('os').execute('touch {S}')",
    f"loadstring(\"os.execute('touch {S}')\")()", f"load(\"io.open('{S}','w')\")()",
    f"dofile('{S}')", f"loadfile('{S}')", "debug.getregistry()", "getfenv(0).os",
    "setfenv(1, {})", "string.dump(print)", "getmetatable('').__index.dump(print)",
    "python.builtins.open('/etc/passwd')", "package.loaded.os.execute('id')",
    "collectgarbage('count')", "newproxy(true)", "module('x')",
    "errorqueue.__class__.__init__.__globals__['os'].system('id')", "errorqueue._entries",
    "format.__dict__.clear()", "print.__self__", "pcall(os.exit)", "coroutine.wrap(io.open)",
    "rawget(_G, 'os').execute('id')", "setmetatable(_G, nil)", "_G.os = nil",
]  # fmt: skip
COMMON_TSP = [
    "*IDN?", "*RST", "*CLS", "*OPC?", "*OPC", "*WAI", "*TRG", "*ESR?", "*STB?", "reset()",
    "print(errorqueue.count)", "print(errorqueue.next())", "errorqueue.clear()",
    "waitcomplete() print(1)", "print(localnode.model, localnode.linefreq)", "delay(0.001)",
    "timer.reset() print(timer.measure.t())", "format.data = format.REAL32",
    "format.byteorder = format.LITTLEENDIAN", "format.data = format.ASCII", "printnumber(1, 2.5)",
    "format.asciiprecision = 10", "print(math.random(1, 6), string.rep('x', 3))",
    "local t = {} for i = 1, 10 do t[i] = i * i end print(table.concat(t, ','))",
    "while true do end", "local function f() return f() end f()", "x = 1 print(x + 1)",
    "print(nil, true, 1e308 * 10, -0.0, 0/0)", "print(type(smua), tostring(errorqueue))",
    "pcall(error, 'boom')", "error('boom')", "print(#'abc', ('x'):rep(2))", "display.clear()",
    "beeper.beep(0.1, 440)", "status.reset()", "print(status.condition)", "exit()",
]  # fmt: skip
VALID_2636B = COMMON_TSP + ESCAPES + [
    "smua.reset()", "smua.source.func = smua.OUTPUT_DCVOLTS", "smua.source.levelv = 0.8",
    "smua.source.limiti = 1e-6", "smua.source.output = smua.OUTPUT_ON", "smua.source.output = 0",
    "smub.source.levelv = 2 smub.source.output = 1", "smua.source.rangev = 2",
    "smua.source.autorangev = 1", "smua.measure.nplc = 0.01", "smua.measure.autozero = 0",
    "smua.measure.rangei = 1e-7", "smua.measure.autorangei = smua.AUTORANGE_ON",
    "smua.measure.count = 20", "smua.measure.interval = 1e-4", "print(smua.measure.i())",
    "print(smua.measure.v(), smua.measure.iv())", "print(smua.measure.r(), smua.measure.p())",
    "smua.nvbuffer1.clear()", "smua.nvbuffer1.appendmode = 1",
    "smua.nvbuffer1.collecttimestamps = 1", "smua.nvbuffer1.fillmode = smua.FILL_WINDOW",
    "smua.measure.overlappedi(smua.nvbuffer1)", "smua.measure.i(smua.nvbuffer2)",
    "print(smua.nvbuffer1.n, smua.nvbuffer1.capacity)",
    "printbuffer(1, 5, smua.nvbuffer1.readings, smua.nvbuffer1.timestamps)",
    "printbuffer(1, smua.nvbuffer1.n, smua.nvbuffer1)", "print(smua.nvbuffer1.readings[1])",
    "b = smua.makebuffer(10) b.appendmode = 1 smua.measure.i(b) print(b.n)",
    "print(smua.source.compliance)", "print(status.measurement.instrument.smua.condition)",
    "smua.source.func = smua.OUTPUT_DCAMPS smua.source.leveli = 1e-9 smua.source.limitv = 1",
    "smua.measure.filter.enable = 1", "smua.sense = smua.SENSE_REMOTE",
    "smua.source.levelv = 500", "smua.measure.nplc = 100", "smua.source.limiti = 0",
    "smua.nvbuffer1.collecttimestamps = 0",
]  # fmt: skip
VALID_707B = COMMON_TSP + ESCAPES + [
    'channel.close("1A01")', 'channel.close("1A01,1B02:1B05")', 'channel.open("allslots")',
    'channel.open("slot2")', 'channel.exclusiveclose("1A01, 2C03")',
    'channel.exclusiveslotclose("3H12")', 'print(channel.getclose("allslots"))',
    'print(channel.getclose("slot1"))', "channel.connectrule = channel.BREAK_BEFORE_MAKE",
    "channel.connectrule = channel.OFF", "print(channel.connectrule)",
    "print(channel.createspecifier(1, 2, 3))", 'channel.setforbidden("1A02")',
    'channel.clearforbidden("1A02")', 'print(channel.getforbidden("allslots"))',
    'channel.pattern.setimage("1A01,1B01", "p1")', 'channel.close("p1")',
    'print(channel.pattern.getimage("p1"))', 'channel.pattern.delete("p1")',
    'channel.reset("allslots")', 'channel.close("7A01")', 'channel.close("1I01")',
    'channel.close("1A13")', 'channel.exclusiveclose("allslots")', "channel.close(1)",
    'channel.close("1A05:1A01")', 'channel.open("1A01") print(channel.getclose("1A01"))',
]  # fmt: skip
#: parameter errors (2600B error summary) and the reading-overflow event
PARAMETER_CODES = {1100, 1101, 1102, 5048}
#: what Lua code may legitimately raise in Python (all reported as -286 runtime errors): our
#: TSP errors, the getter refusing attribute access to functions, and wrong arguments to an
#: instrument function (count, type, value: ``errorqueue.next(1)``, ``delay(0/0)``). Anything
#: else (IndexError, KeyError, ZeroDivisionError, NameError...) is a bug of the emulator.
EXPECTED_PYTHON_ERRORS = (TSPError, AttributeError, TypeError, ValueError, OverflowError)

_NOISE = [
    "", " ", "(", ")", "((", "))", "[", "]", "[[", "]]", "{", "}", '"', "'", ",", ";", ".", "..",
    ":", "=", "==", "~=", "#", "--", "--[[", "+", "-", "*", "/", "%", "^", "end", "then", "do",
    "function", "local", "return", "nil", "true", "not", "and", "or", "1e308", "-1", "0", "1/0",
    "0/0", "math.huge", "\t", "\x00", "\xe9", "\\", "\\x", "os", "io", "_G", "self", "...",
    "smua", "smub", "channel", ".source", ".measure", "[1]", "[1e400]", "[0/0]", "()",
]  # fmt: skip


def random_tsp_line(rng: random.Random, valid: list[str]) -> str:
    """Printable garbage, a valid line, or a valid line mutated (characters deleted, noise or
    garbage spliced in, case swapped, lines joined) - never an LF (that would make two)."""
    kind = rng.random()
    if kind < 0.15:
        text = "".join(chr(rng.randint(1, 0x7E)) for _ in range(rng.randint(0, 40)))
    else:
        text = rng.choice(valid)
        if kind > 0.3:
            for _ in range(rng.randint(1, 3)):
                op = rng.randint(0, 4)
                pos = rng.randint(0, len(text))
                if op == 0 and text:
                    text = text[:pos] + text[pos + 1 :]
                elif op == 1:
                    text = text[:pos] + rng.choice(_NOISE) + text[pos:]
                elif op == 2:
                    text = text[:pos] + text[pos:].swapcase()
                elif op == 3:
                    text = text + " " + rng.choice(valid)
                else:
                    text = text[:pos] + chr(rng.randint(1, 0xFF)) + text[pos:]
    return text.replace("\n", " ").replace("\r", " ")


_REFERENCE = lua51.LuaRuntime(register_eval=False, encoding="latin-1")
_COMPILES = _REFERENCE.eval("function(code) return loadstring(code) ~= nil end")
_OUTSIDE_LUA = ("*", "loadscript", "loadandrunscript", "loadonly", "endscript", "abort")


def compiles(line: str) -> bool:
    """Whether the reference Lua 5.1 parser accepts the line as a chunk (as latin-1 bytes,
    which is what an instrument receives)."""
    return bool(_COMPILES(line.encode("latin-1", errors="replace").decode("latin-1")))


def bench() -> Bench:
    return Bench(ArrayParams(rows=4, cols=4), Wiring.default(4, 4, {"A": "smu.a", "B": "smu.b"}),
                 seed=7)


class Watched:
    """Records the Python exceptions the emulator turned into runtime errors."""

    def __init__(self, emulator: TSPEmulator) -> None:
        self.emulator = emulator
        self.python_errors: list[BaseException] = []
        report = emulator._report

        def watch(err: Any) -> None:
            if isinstance(err, BaseException):
                self.python_errors.append(err)
            report(err)

        emulator._report = watch  # type: ignore[method-assign]


def run_line(watched: Watched, line: str) -> None:
    """One line: never raises, errors are the manual's, replies are LF-terminated."""
    emulator = watched.emulator
    before = emulator.errorqueue.count
    in_script = emulator._script_lines is not None
    emulator.write(line)
    for reply in emulator.read_all():
        assert reply.endswith(b"\n"), (line, reply[-20:])
    new = emulator.errorqueue.entries()[before:]
    emulator.errorqueue.clear()
    bugs = [e for e in watched.python_errors if not isinstance(e, EXPECTED_PYTHON_ERRORS)]
    assert not bugs, (line, bugs)
    watched.python_errors.clear()
    for code, message, _severity, _node in new:
        assert "internal" not in message, (line, message)
        if code == CODE_SYNTAX:
            assert message.startswith("TSP Syntax error at line "), (line, message)
        elif code == CODE_RUNTIME:
            assert message.startswith("TSP Runtime error"), (line, message)
        else:
            assert code in PARAMETER_CODES, (line, code, message)
    stripped = line.strip()
    if in_script or not stripped or stripped.lower().startswith(_OUTSIDE_LUA):
        return
    if emulator._script_lines is None and not compiles(stripped):
        assert [code for code, *_ in new] == [CODE_SYNTAX], (line, new)


def sandbox_holds(emulator: TSPEmulator) -> None:
    """The escapes still fail with a TSP error (whatever the lines did to the globals), and
    nothing reached the host."""
    emulator.errorqueue.clear()
    emulator.write("os, io, require, loadstring, dofile, loadfile, load, debug = nil")
    for escape in ESCAPES[:12]:
        emulator.write(escape)
        codes = [code for code, *_ in emulator.errorqueue.entries()]
        emulator.errorqueue.clear()
        assert codes and set(codes) <= {CODE_RUNTIME, CODE_SYNTAX}, (escape, codes)
    emulator.read_all()
    assert not SENTINEL.exists()


FUZZ_EXAMPLES, FUZZ_LINES = 125, 80  # 10,000 lines per emulator


@pytest.mark.parametrize(("model", "valid"), [("2636B", VALID_2636B), ("707B", VALID_707B)])
def test_fuzz_tsp_emulator(model, valid):
    emulator = {"2636B": Keithley2636B, "707B": Keithley707B}[model](bench(), max_script_s=0.01)
    watched = Watched(emulator)

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(st.randoms(use_true_random=True))
    def fuzz(rng: random.Random) -> None:
        emulator.reset()
        for _ in range(FUZZ_LINES):
            run_line(watched, random_tsp_line(rng, valid))
        emulator._script_lines = None  # an unfinished loadscript block
        sandbox_holds(emulator)
        assert emulator.errorqueue.count == 0
        emulator.write("*IDN?")  # still serving (globals like print may have been replaced)
        assert emulator.read_all()[-1].startswith(b"Keithley Instruments Inc., Model ")
        assert emulator.execute("local x = 1 + 1")

    fuzz()
    assert not SENTINEL.exists()


# ---------------------------------------------------------------------------- over TCP

TCP_LINES = 300


class _Reader(threading.Thread):
    """Reads everything a server sends, so its replies never back up."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock, self.received, self.closed = sock, bytearray(), False
        self.start()

    def run(self) -> None:
        try:
            while chunk := self.sock.recv(65536):
                self.received += chunk
        except OSError:
            pass
        self.closed = True

    def wait_for(self, expect: bytes, timeout_s: float = 5.0) -> None:
        """Until a line starting with ``expect`` has arrived after everything sent so far."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(line.startswith(expect) for line in bytes(self.received).split(b"\n")):
                return
            assert not self.closed, "the server closed the connection"
            time.sleep(0.005)
        raise AssertionError(f"no {expect!r} within {timeout_s} s")


def _identify(host: str, port: int, expect: bytes, lines: list[bytes] = ()) -> None:
    with socket.create_connection((host, port), timeout=5) as sock:
        reader = _Reader(sock)
        for line in lines:
            sock.sendall(line)
        sock.sendall(b"\n*IDN?\n")
        reader.wait_for(expect)


def test_fuzz_through_the_sim_server_keeps_every_instrument_serving():
    """Random lines (any bytes, LF/CR/NUL included) to every instrument of ``SimServer``; each
    keeps answering, the TSP sandboxes hold and the server survives."""
    from ftjlab.simulators.server import SimServer

    rng = random.Random(2026)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        server = SimServer(load_bench_config(), seed=5, max_script_s=0.05).start()
    try:
        valid = {"smu": VALID_2636B, "matrix": VALID_707B, "pg": [
            "*IDN?", ":FUNC1 PULS", ":VOLT1:HIGH 2.5", ":PULS:WIDT1 1e-6", ":OUTP1 ON",
            ":SYST:ERR?", "*TRG", "*OPC?", ":ARM:SOUR1 MAN", ":TRIG1:COUN 3"]}
        for name, lines in valid.items():
            host, port = server.servers[name].host, server.servers[name].port
            expect = b"Keithley" if name != "pg" else b"Agilent"
            sent = []
            while len(sent) < TCP_LINES:
                line = random_tsp_line(rng, lines).encode("latin-1")
                if b"IDN" in line.upper():
                    continue  # the identification at the end must be the only one
                if rng.random() < 0.1:  # raw bytes: LF, CR, NUL, high bytes, no terminator
                    line += bytes(rng.randint(0, 255) for _ in range(rng.randint(1, 8)))
                sent.append(line + b"\n")
            _identify(host, port, expect, sent)  # answers after all of them
            _identify(host, port, expect)  # and on a fresh connection
        for name in ("smu", "matrix"):
            emulator = server.emulators[name].emulator
            with server.bench.lock:
                emulator._script_lines = None
                sandbox_holds(emulator)
        assert not SENTINEL.exists()
    finally:
        server.stop()
