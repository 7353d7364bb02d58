"""The TSP runtime over long on-board runs: Lua memory per ``ftjchain`` call stays flat (lupa's
table of userdata cannot be corrupted by Python objects pushed and collected), and the
watchdog turns a command stuck in Python into the instrument's timeout instead of a hang."""

from __future__ import annotations

import gc
import time

import pytest
from ftjlab.simulators.transport import EmulatorAdapter
from ftjlab.simulators.tsp import CODE_RUNTIME, TSPEmulator
from pyvisa.errors import VisaIOError

from ftjlab.controller import ArrayController
from ftjlab.session import BenchSession


def _retained(emulator) -> tuple[int, int]:
    """Lua heap after a plain full collection (kept command lines dropped first: they are a
    bounded cache) and the number of Python objects lupa holds for Lua."""
    emulator._chunks.clear()
    emulator._chunk_chars = 0
    gc.collect()
    emulator._lua.gccollect()
    return emulator._lua.get_memory_used(), len(emulator._pushed)


def test_lua_memory_per_chain_call_stays_flat():
    """The driver's ``ftjchain`` call (2 cells, 1 step; captured from one
    ``ArrayController.chain_onboard``) sent 200 times, each a new line as on a live run: the
    Lua heap after 200 calls is within 16 kB of that after 20, and lupa holds no more
    Python objects than after 20. (Each call reads ~20 bound methods of instrument objects;
    fresh each time and with lupa's table weak during commands, the heap grew by 92 kB over
    these 180 calls, ~0.5 kB a call.)"""
    with BenchSession.open(seed=7) as session:
        controller = ArrayController(session)
        smu = session.emulators["smu"]
        sent: list[str] = []
        write = smu.write
        smu.write = lambda message: (sent.append(message), write(message))[1]
        try:
            controller.chain_onboard([0], [[0, 1]], [1.5, 1.5], [-1.5, -1.5], [1e-7, 1e-7],
                                     [0, 1], 4.0, 1e-6, 0.1, 0.01, 1)
        finally:
            del smu.write
        call = next(m for m in sent if m.startswith("ftjchain("))
        seen = []
        for i in range(200):
            smu.write(f"{call} -- {i}")
            assert len(smu.read().strip()) == 2
            if i + 1 in (20, 200):
                seen.append(_retained(smu))
        assert smu.errorqueue.entries() == []
    (heap20, objects20), (heap200, objects200) = seen
    assert heap200 - heap20 < 16_000, seen
    assert objects200 == objects20, seen


def test_python_objects_pushed_while_lua_collects_leave_nothing_behind(tsp):
    """Commands that each push 2,000 fresh Python objects into Lua while making 2 MB of
    garbage (so Lua's collector runs during the command): the Lua heap after 60 such commands
    is within 0.5 MB of that after 20, and lupa holds no more Python objects. (With lupa's
    table weak during commands its free list broke and the heap grew ~70 kB a command:
    1.1 MB after 20, 4.4 MB after 60.)"""
    tsp._lua.globals().fresh = lambda: object()

    def after(n: int) -> tuple[int, int]:
        for _ in range(n):
            tsp.write('for i = 1, 2000 do local o = fresh() local s = string.rep("x", 1000) .. i '
                      "end")
        tsp._sweep()
        return tsp._lua.get_memory_used(), len(tsp._pushed)

    (heap20, objects20), (heap60, objects60) = after(20), after(40)
    assert tsp.errorqueue.entries() == []
    assert heap60 - heap20 < 500_000, (heap20, heap60)
    assert objects60 == objects20


@pytest.fixture
def stuck() -> tuple[TSPEmulator, dict]:
    """An emulator (0.3 s command limit, watchdog 0.2 s after it) with ``spin()``, a call into
    Python that would run for 20 s; ``seen`` records the exception that ended it."""
    emulator = TSPEmulator(max_script_s=0.3)
    emulator.watchdog_grace_s = 0.2
    seen: dict = {}

    def spin() -> None:
        t0 = time.monotonic()
        try:
            while time.monotonic() < t0 + 20:
                pass
        except BaseException as exc:
            seen["exception"] = exc
            raise

    emulator._lua.globals().spin = spin
    return emulator, seen


@pytest.mark.parametrize("command", ["spin() print(1)", "local ok = pcall(spin) print(ok)"])
def test_watchdog_turns_a_stuck_command_into_a_timeout(stuck, command):
    """A command stuck in Python ends within seconds, not after 20 s (on an idle machine
    ~0.8 s: deadline 0.3 s + grace 0.2 s, then 0.24 s of its CPU time; at most 3 s more when
    the thread gets no CPU); the host's read times out (VI_ERROR_TMO),
    the error queue has the runaway abort, ``pcall`` cannot swallow it, and the instrument
    answers the next command."""
    emulator, seen = stuck
    adapter = EmulatorAdapter(emulator, timeout_ms=100)
    t0 = time.monotonic()
    adapter.write(command)
    elapsed = time.monotonic() - t0
    assert elapsed < 6.0, elapsed
    assert type(seen["exception"]).__name__ == "CommandTimeout"
    with pytest.raises(VisaIOError) as info:
        adapter.read()
    assert "TMO" in str(info.value)
    entries = emulator.errorqueue.entries()
    assert len(entries) == 1 and entries[0][0] == CODE_RUNTIME
    assert "ran longer than the execution limit" in entries[0][1]
    adapter.write("print(2)")
    assert adapter.read() == "2.00000e+00"


def test_watchdog_leaves_commands_within_their_limit_alone(stuck):
    """Commands that end in time are never interrupted, however many run while the watchdog
    looks (2 s of 0.01 s Python calls: ~8 of its checks)."""
    emulator, _ = stuck

    def busy() -> None:
        t0 = time.monotonic()
        while time.monotonic() < t0 + 0.01:
            pass

    emulator._lua.globals().busy = busy
    t_end = time.monotonic() + 2.0
    n = 0
    while time.monotonic() < t_end:
        emulator.write("busy() print(1)")
        assert emulator.read() == b"1.00000e+00\n"
        n += 1
    assert n > 20 and emulator.errorqueue.entries() == []


def test_wall_time_alone_does_not_end_a_command(stuck):
    """Time the command's thread does not get (here: sleeping, as on a loaded machine) does
    not count: a command of 40 naps of 0.04 s (1.6 s, over 5 times its 0.3 s limit) between
    Lua loops ends normally, and so does one call sleeping 1 s; Lua burning its CPU time
    is still ended near its limit."""
    emulator, _ = stuck
    emulator._lua.globals().nap = lambda s: time.sleep(s)
    emulator.write("for i = 1, 400000 do if i % 10000 == 0 then nap(0.04) end end print(1)")
    emulator.write("nap(1.0) print(2)")
    assert emulator.read_all() == [b"1.00000e+00\n", b"2.00000e+00\n"]
    assert emulator.errorqueue.entries() == []
    t0 = time.thread_time()
    emulator.write("while true do end")
    assert 0.2 < time.thread_time() - t0 < 1.0
    assert "execution limit" in emulator.errorqueue.entries()[0][1]


_NEAR_THE_CAP = """
from ftjlab.simulators.tsp import TSPEmulator
e = TSPEmulator(max_script_s=30)
e._lua.globals().big = lambda: "x" * (8 * 1024 * 1024)
e.write('t = {} for i = 1, 62 do t[i] = string.rep("x", 1000000) .. i end')
e.write("s = big()")
e.write("t = nil s = nil print(1)")
print(e.read_all(), [m for _, m, _, _ in e.errorqueue.entries()])
"""


def test_a_call_into_python_near_the_memory_limit_is_an_error_not_a_hang():
    """62 MB of Lua data (the instrument has 64 MB), then a call into Python returning an
    8 MB string: lupa's own cap, met while converting a Python result, left the process
    waiting forever for the GIL its own thread holds. Now the cap has headroom, the command
    ends with "not enough memory" and the runtime answers once the data is released. (In a
    subprocess: a hang here would stop the test run.)"""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _NEAR_THE_CAP], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    replies, messages = done.stdout.strip().split("] [", 1)
    assert "1.00000e+00" in replies
    assert messages.count("not enough memory") == 1, messages
