"""Speed-ups of the emulators must not change what they answer.

Each test runs the same traffic through an emulator whose caches / fast paths are in use and
through one whose caches are emptied (or fast path switched off) before every message, and
compares every reply and every error: header spellings (long/short, lower case, optional nodes,
suffixes in and out of range, relative paths after compound units), 707B channel lists whose
items were seen before in other combinations, TSP common commands in every situation the
manual gives them (inside a script, behind a running script, with prompts on), ``print`` of
integers and floats, and the sim server's TCP path (a write then a query, split messages).
"""

from __future__ import annotations

import random
import socket

import pytest
from ftjlab.simulators import scpi, tsp
from ftjlab.simulators.bench import Bench, Wiring
from ftjlab.simulators.emulators.keithley707b import Keithley707B
from ftjlab.simulators.emulators.keithley2450 import Keithley2450
from ftjlab.simulators.emulators.keysight33500b import Keysight33500B
from ftjlab.simulators.emulators.keysight81160a import Keysight81160A
from ftjlab.simulators.params import ArrayParams
from ftjlab.simulators.server import SimServer
from ftjlab.simulators.tsp import TSPEmulator
from test_scpi_helpers import FakeBench

from ftjlab.config import load_bench_config

# -- SCPI: parsed headers and found command paths ----------------------------------------------

SPELLINGS_2450 = [
    ":SOUR:VOLT 1", ":SOUR:VOLT?", ":sour:volt?", ":SOURce:VOLTage?", ":SOURCE:VOLTAGE:LEVEL?",
    "SOUR:VOLT:LEV 2;LEV?", ":SOUR:VOLT:LEV?;:SOUR:VOLT:ILIM?", "SOUR:VOLT:ILIM 1e-3;ILIM?",
    ":SOUR:VOLT:ILIM?", ":VOLT?", "VOLT:LEV?", ":SOUR1:VOLT?", ":SOUR2:VOLT?", "OUTP ON",
    ":OUTP?", ":OUTP1?", ":OUTP2?", ":outp:stat?", ":OUTPut:STATe?", "OUTP OFF;STAT?",
    ":SENS:CURR:NPLC 0.1;NPLC?", ":sens:curr:nplc?", ":SENS:CURR:NPLC?;:SENS:CURR:RANG?",
    ":SOUR:VOLT 1;:SOUR:VOLT?;VOLT?", ":SOUR:VOLT?;SOUR:VOLT?", ":SOURCEX:VOLT?",
    ":SOURC:VOLT?", ":SOUR:VOLTAGELEVELX?", "*IDN?", "*idn?", "*OPC?;:SOUR:VOLT?", "*ESR?",
    ":SYST:ERR?", "  :SOUR:VOLT?  ", ":SOUR:VOLT? ;", ";;:SOUR:VOLT?",
]
SPELLINGS_GEN = [
    "SOUR1:VOLT 1", "VOLT?", "VOLT1?", "VOLT2?", "SOUR2:VOLT?", "SOUR3:VOLT?", ":sour1:volt?",
    ":SOURce1:VOLTage?", "OUTP1 ON", "OUTP1?", "OUTP2?", "OUTP3?", ":outp1:stat?",
    "OUTP1:LOAD INF;LOAD?", "OUTP2:LOAD?", ":FUNC PULS;:FUNC?", ":SOUR2:FUNC?", "FUNC2?",
    "VOLT:HIGH 1.5;HIGH?;LOW?", ":VOLT2:HIGH?", "VOLT1:HIGH 0.5;:VOLT2:HIGH 0.7;:VOLT1:HIGH?",
    ":VOLT2:HIGH?", "*IDN?", "*RST", "VOLT?", "SYST:ERR?",
]


def _errors(emulator) -> list[int]:
    codes = []
    for _ in range(50):
        entry = emulator.next_error()
        if entry.code == 0:
            break
        codes.append(entry.code)
    return codes


def _cold(emulator) -> None:
    scpi._HEADERS.clear()
    emulator.tree._found.clear()


@pytest.mark.parametrize("make, messages", [
    (lambda: Keithley2450(FakeBench(), "smu2450"), SPELLINGS_2450),
    (lambda: Keysight33500B(FakeBench(), "pg"), SPELLINGS_GEN),
    (lambda: Keysight81160A(FakeBench()), SPELLINGS_GEN),
], ids=["2450", "33500B", "81160A"])
def test_header_caches_answer_as_a_fresh_parse(make, messages):
    """Three passes in shuffled orders through a warm emulator against a cold one (caches
    emptied before each message): same replies, same errors, message by message."""
    warm, cold = make(), make()
    order = list(messages)
    rng = random.Random(5)
    for _ in range(3):
        for message in order:
            warm.write(message)
            _cold(cold)
            cold.write(message)
            got = (warm.read_all(), _errors(warm))
            assert got == (cold.read_all(), _errors(cold)), message
        rng.shuffle(order)
    assert warm.tree._found  # the caches were in use (the test can tell them apart)


def test_a_command_added_after_a_lookup_is_found():
    """A command declared after a header was cached (inserted first, so it wins) answers."""
    smu = Keithley2450(FakeBench(), "smu2450")
    smu.write(":SOUR:VOLT?")
    before = smu.read_all()
    smu.tree.add(":SOURce:VOLTage[:LEVel][:IMMediate][:AMPLitude]", query=lambda c: "shadow")
    smu.write(":SOUR:VOLT?")
    assert before != [b"shadow\n"] and smu.read_all() == [b"shadow\n"]


# -- 707B: crosspoints per list item -----------------------------------------------------------


def test_707b_lists_of_seen_items_close_as_a_fresh_parse():
    """Items spelled in upper/lower case, with blanks, duplicates, ranges and ';', in new
    combinations after each was seen alone; and invalid items after valid cached ones."""
    lists = ["1A01", "1a01", " 1A01 ", "1A01:1B02", "1a01:1b02", "1A01,1A01", "1B02;1A01:1B02",
             "1A01, 1B02 ,1C03", "1A01,,1B02", "1A01,1Z99", "1A01,slot1", "1B02:1A01", "1A01,",
             "1A01:1B02,1B01", "1A1", "1A01;1D04", "1E01,1A01"]
    rng = random.Random(9)

    def fresh() -> Keithley707B:
        bench = Bench(ArrayParams(rows=4, cols=4), Wiring.default(4, 4, {"A": "smu.a"}), seed=2)
        return Keithley707B(bench)

    warm, cold = fresh(), fresh()
    order = lists * 2
    rng.shuffle(order)
    for text in order + lists:
        results = []
        for m in (warm, cold):
            if m is cold:
                m.channel._expanded.clear()
            m.write(f'channel.open("allslots") channel.close("{text}")')
            m.write("print(channel.getclose('allslots'))")
            results.append((m.read_all(), [m.errorqueue.next()[1] for _ in
                                        range(int(m.errorqueue.count))]))
        assert results[0] == results[1], text
    assert warm.channel._expanded


# -- TSP: common commands without parsing ------------------------------------------------------

TSP_TRAFFIC = [
    "*IDN?", "*OPC?", "*RST", "*CLS", "*ESR?", "*STB?", "*TRG", "*WAI", "*OPC", "*IDN?;*OPC?",
    "*IDN? ", "*IDN?\r", "*idn?", "*ESE 1", "*ESE", "*SRE?", "*IDN? 1", "x = = 1",
    "localnode.prompts = 1", "*IDN?", "*OPC?", "print(1)", "*RST", "localnode.prompts = 0",
    "loadscript s1", "*IDN?", "*OPC?", "print(2)", "endscript", "s1()", "*IDN?",
    "loadandrunscript", "*OPC?", "print(3)", "endscript", "*OPC?",
]


def test_tsp_common_commands_fast_path_matches_the_parser(monkeypatch):
    """The same traffic with and without the exact-match table: same replies and errors."""
    runs = []
    for table in (dict(tsp._COMMON_EXACT), {}):
        monkeypatch.setattr(tsp, "_COMMON_EXACT", table)
        emulator = TSPEmulator(max_script_s=0.25)
        replies = []
        for line in TSP_TRAFFIC:
            emulator.write(line)
            replies.append((emulator.read_all(), int(emulator.errorqueue.count)))
        runs.append(replies)
    assert runs[0] == runs[1]


def test_tsp_common_command_behind_a_running_script_waits(monkeypatch):
    """``*IDN?`` sent while a stalled script runs is queued behind it, as the parser does."""
    runs = []
    for table in (dict(tsp._COMMON_EXACT), {}):
        monkeypatch.setattr(tsp, "_COMMON_EXACT", table)
        emulator = TSPEmulator(max_script_s=0.25)
        emulator.write("function slow() print('done') end")
        emulator.stall_script("slow", reads=1)
        emulator.write("slow()")
        emulator.write("*IDN?")
        got = [emulator.pending_replies]
        emulator.run_on()
        got.append(emulator.read_all())
        runs.append(got)
    assert runs[0] == runs[1]
    assert runs[0][0] == 0 and runs[0][1][0] == b"done\n"


@pytest.mark.parametrize("expr, value", [
    ("1", 1.0), ("7", 7.0), ("-3", -3.0), ("0", 0.0), ("2^53", 2.0**53), ("2^53 + 1", 2.0**53),
    ("1e15", 1e15), ("123456789012", 123456789012.0), ("1e300", 1e300), ("2^70", 2.0**70),
    ("0.5", 0.5), ("1/3", 1 / 3),
])
@pytest.mark.parametrize("precision", [6, 3, 1, 16])
def test_print_of_integers_and_floats(expr, value, precision):
    """print: ``precision`` significant digits in exponent form, integer or not (reference:
    Python's format of the double)."""
    emulator = TSPEmulator(max_script_s=0.25)
    emulator.write(f"format.asciiprecision = {precision}")
    emulator.write(f"print({expr})")
    assert emulator.read_all() == [f"{value:.{precision - 1}e}\n".encode()]


def test_print_of_special_values():
    emulator = TSPEmulator(max_script_s=0.25)
    emulator.write("print(1/0, -1/0, true, false, nil, 'x')")
    assert emulator.read_all() == [b"inf\t-inf\ttrue\tfalse\tnil\tx\n"]


# -- sim server: TCP path ----------------------------------------------------------------------

def _recv_lines(sock: socket.socket, n: int) -> list[bytes]:
    data = b""
    while data.count(b"\n") < n:
        chunk = sock.recv(65536)
        assert chunk, "connection closed"
        data += chunk
    return data.split(b"\n")[:n]


def test_server_write_query_pipelines_and_split_messages():
    """Writes and queries in one segment, a query split over segments (in the middle and
    before its LF), a write alone then a query: every reply, in order, none lost or doubled."""
    with SimServer(load_bench_config(), seed=3) as server:
        host, port = server.resources["smu"].split("::")[1:3]
        with socket.create_connection((host, int(port)), timeout=2) as sock:
            sock.sendall(b"x = 5\nprint(x)\nx = 6\nprint(x)\n")
            assert _recv_lines(sock, 2) == [b"5.00000e+00", b"6.00000e+00"]
            sock.sendall(b"print(x")
            sock.sendall(b" + 1)")
            sock.sendall(b"\n")
            assert _recv_lines(sock, 1) == [b"7.00000e+00"]
            for i in range(5):
                sock.sendall(f"x = {i}\n".encode())
                sock.sendall(b"print(x)\n*IDN?\n")
                got = _recv_lines(sock, 2)
                assert got[0] == f"{float(i):.5e}".encode() and got[1].startswith(b"Keithley")
            sock.settimeout(0.2)
            with pytest.raises(TimeoutError):
                sock.recv(1)  # nothing left over


def _spell(rng: random.Random, cmd) -> str:
    """A random spelling of a declared command's query: short/long forms, random case,
    optional nodes in or out, suffixes omitted, in range or out of it, a leading ':' or not."""
    words = []
    for node in cmd.nodes:
        if node.optional and rng.random() < 0.5:
            continue
        name = rng.choice((node.short, node.long))
        name = "".join(c.lower() if rng.random() < 0.3 else c for c in name)
        if node.suffix and rng.random() < 0.6:
            name += str(rng.choice((1, 2, 3, 9)))
        words.append(name)
    return (":" if rng.random() < 0.7 else "") + ":".join(words) + "?"


@pytest.mark.parametrize("make", [
    lambda: Keithley2450(FakeBench(), "smu2450"),
    lambda: Keysight33500B(FakeBench(), "pg"),
    lambda: Keysight81160A(FakeBench()),
], ids=["2450", "33500B", "81160A"])
def test_random_spellings_of_every_query_answer_as_a_fresh_parse(make):
    """1,500 queries (single and compound with relative paths) spelled at random from every
    declared command: the warm emulator answers message by message as the cold one."""
    warm, cold = make(), make()
    rng = random.Random(2026)
    queries = [c for c in warm.tree.commands if c.query is not None
               and all(p.optional for p in c.query_params)
               and "MEAS" not in c.pattern.upper() and "READ" not in c.pattern.upper()
               and "FETC" not in c.pattern.upper() and "DATA" not in c.pattern.upper()
               and "TRAC" not in c.pattern.upper()]
    assert len(queries) > 20
    spelled = [_spell(rng, c) for c in queries for _ in range(4)]
    for k in range(1500):
        message = rng.choice(spelled)
        if k % 3 == 0:  # a compound message: the second unit relative to the first's path
            other = rng.choice(spelled).lstrip(":")
            message = f"{message};{other.split(':')[-1]}"
        warm.write(message)
        _cold(cold)
        cold.write(message)
        assert (warm.read_all(), _errors(warm)) == (cold.read_all(), _errors(cold)), message
