"""The TSP runtime: Lua sandbox, runaway guard, output formatting, errors, scripts."""

from __future__ import annotations

import struct
import time

import numpy as np
import pytest
from ftjlab.simulators.transport import NoReplyPending
from ftjlab.simulators.tsp import CODE_RUNTIME, CODE_SYNTAX, TSPEmulator
from tsp_helpers import errors, run

ESCAPES = [
    "os.execute('touch /tmp/ftjlab-escaped')",
    "io.open('/etc/passwd')",
    "io.popen('id')",
    "require('os')",
    "package.loadlib('libc.so.6', 'system')",
    "load('return 1')()",
    "loadstring('return 1')()",
    "dofile('/etc/passwd')",
    "loadfile('/etc/passwd')()",
    "string.dump(print)",
    "('x').dump(print)",
    "getmetatable('').__index.dump(print)",
    "debug.getinfo(1)",
    "debug.sethook()",
    "collectgarbage('count')",
    "getfenv(0).os.execute('id')",
    "setfenv(1, {})",
    "python.eval('1')",
    "python.builtins.open('/etc/passwd')",
    "module('x')",
    "newproxy(true)",
    "errorqueue.__class__.__init__.__globals__['os'].system('id')",
    "errorqueue._entries.clear()",
    "local f = errorqueue.next; f.__self__._entries.clear()",
    "format.__dict__.clear()",
]


@pytest.mark.parametrize("code", ESCAPES)
def test_sandbox_escapes_fail_with_a_tsp_error(tsp, code):
    run(tsp, code)
    errs = errors(tsp)
    assert len(errs) == 1, errs
    assert errs[0][0] == CODE_RUNTIME
    assert "TSP Runtime error" in errs[0][1]


def test_sandbox_leaves_the_usual_lua_library(tsp):
    out = run(
        tsp,
        "print(string.format('%5.2f', math.sqrt(2)), table.concat({1, 2}, '-'), "
        "select('#', 1, 2, 3), type(pcall), tostring(nil))",
    )
    assert out == [b" 1.41\t1-2\t3.00000e+00\tfunction\tnil\n"]
    assert errors(tsp) == []


@pytest.mark.parametrize(
    "code",
    [
        "while true do end",
        "while true do pcall(function() while true do end end) end",
        "while true do xpcall(function() while true do end end, function(e) return e end) end",
        "local co = coroutine.wrap(function() while true do end end) while true do pcall(co) end",
        "local co = coroutine.create(function() while true do end end) coroutine.resume(co) "
        "while true do end",
        "local function f() return f() end f()",
    ],
)
def test_runaway_script_is_aborted_in_bounded_time(tsp, code):
    t0 = time.monotonic()
    run(tsp, code)
    elapsed = time.monotonic() - t0
    assert elapsed < 2.0
    errs = errors(tsp)
    assert len(errs) == 1 and errs[0][0] == CODE_RUNTIME
    # the runtime keeps working afterwards
    assert run(tsp, "print(1 + 1)") == [b"2.00000e+00\n"]


def test_memory_hog_is_an_error_not_a_crash(tsp):
    run(tsp, "local t = {} for i = 1, 1e9 do t[i] = i end")
    errs = errors(tsp)
    assert errs and errs[0][0] == CODE_RUNTIME and "memory" in errs[0][1]
    assert run(tsp, "print('alive')") == [b"alive\n"]


def test_garbage_of_a_command_is_collected_before_the_next(tsp):
    """A command that leaves a big heap of garbage (a 1e6-entry table, about 16 MB) does not
    leave it for the next one: Lua 5.1 cannot collect in an emergency, so garbage left over
    would count against the memory cap of the next command."""
    from ftjlab.simulators.tsp import GC_AFTER_BYTES

    run(tsp, "local t = {} for i = 1, 1000000 do t[i] = i end")
    assert not errors(tsp)
    assert tsp._lua.get_memory_used() < GC_AFTER_BYTES
    assert run(tsp, "print('alive')") == [b"alive\n"]


def test_kept_command_lines_stay_small_in_the_lua_heap(tsp):
    """Compiled command lines are kept for reuse, but one-off long lines (the calls of
    on-board scripts, with their per-cell arguments) must not fill the Lua heap, which has a
    memory cap: 400 different 1,600-character lines leave under 1 MB, and a short line sent
    again is still reused."""
    rng = np.random.default_rng(0)
    for _ in range(400):
        values = ",".join(f"{v:.6f}" for v in rng.random(180))
        run(tsp, f"local t = {{{values}}} x = t[1]")
    assert not errors(tsp)
    tsp._lua.gccollect()
    assert tsp._lua.get_memory_used() < 1_000_000
    run(tsp, "x = 2")
    kept = tsp._chunks["x = 2"]
    run(tsp, "x = 2")
    assert tsp._chunks["x = 2"] is kept


def test_print_uses_tsp_number_formatting(tsp):
    assert run(tsp, "print(4)") == [b"4.00000e+00\n"]
    assert run(tsp, "print(-1.5e-9, 0, 123456789)") == [b"-1.50000e-09\t0.00000e+00\t1.23457e+08\n"]
    assert run(tsp, "print(nil, true, false, 'text')") == [b"nil\ttrue\tfalse\ttext\n"]
    assert run(tsp, "print()") == [b"\n"]
    assert run(tsp, "print(x)") == [b"nil\n"]
    assert run(tsp, "format.asciiprecision = 10 print(3.14159265)") == [b"3.141592650e+00\n"]
    assert run(tsp, "format.asciiprecision = 0 print(1)") == [b"1.00000e+00\n"]
    assert run(tsp, "print(1/0, -1/0)") == [b"inf\t-inf\n"]


def test_printnumber_ascii_and_binary(tsp):
    assert run(tsp, "printnumber(1, 2.5)") == [b"1.00000e+00, 2.50000e+00\n"]
    # a float32 whose bytes contain LF: binary data must be read by byte count
    x = struct.unpack("<f", b"\x0a\x00\x80\x3f")[0]
    out = run(
        tsp,
        f"format.data = format.REAL32 format.byteorder = format.LITTLEENDIAN printnumber({x!r})",
    )
    assert out == [b"#0\x0a\x00\x80\x3f\n"]
    out = run(tsp, "format.data = format.REAL64 format.byteorder = format.BIGENDIAN printnumber(1)")
    assert out == [b"#0" + struct.pack(">d", 1.0) + b"\n"]


def test_errorqueue_codes_and_format(tsp):
    run(tsp, "x = = 1")
    run(tsp, "nosuchfunction()")
    tsp.inject_error(-222, "Parameter data out of range")
    assert run(tsp, "print(errorqueue.count)") == [b"3.00000e+00\n"]
    out = run(tsp, "print(errorqueue.next())")[0].decode()
    code, message, severity, node = out.rstrip("\n").split("\t")
    assert float(code) == CODE_SYNTAX
    assert message.startswith("TSP Syntax error at line 1:")
    assert float(severity) == 20 and float(node) == 1
    out = run(tsp, "print(errorqueue.next())")[0].decode()
    assert float(out.split("\t")[0]) == CODE_RUNTIME
    assert "attempt to call global 'nosuchfunction'" in out
    assert run(tsp, "code, msg = errorqueue.next() print(code, msg)") == [
        b"-2.22000e+02\tParameter data out of range\n"
    ]
    assert run(tsp, "print(errorqueue.next())") == [
        b"0.00000e+00\tQueue Is Empty\t0.00000e+00\t0.00000e+00\n"
    ]
    tsp.inject_error(1, "x")
    run(tsp, "errorqueue.clear()")
    assert tsp.errorqueue.count == 0


def test_errors_in_the_middle_of_a_chunk_keep_earlier_output(tsp):
    assert run(tsp, "print('before') error('boom') print('after')") == [b"before\n"]
    errs = errors(tsp)
    assert errs[0][0] == CODE_RUNTIME and "boom" in errs[0][1]


def test_common_commands_are_handled_outside_lua(tsp):
    assert run(tsp, "*IDN?") == [b"Keithley Instruments Inc., Model TSP, 4000001, 1.0.0\n"]
    assert run(tsp, "*OPC?") == [b"1\n"]
    tsp.inject_error(5, "x")
    run(tsp, "*CLS")
    assert tsp.errorqueue.count == 0
    run(tsp, "format.data = 2")
    run(tsp, "*RST")
    assert tsp.format.data == 1
    assert run(tsp, "waitcomplete() opc() print(1)") == [b"1.00000e+00\n"]
    run(tsp, "*BOGUS?")
    assert errors(tsp)[0][0] == CODE_SYNTAX


def test_loadandrunscript_blocks(tsp):
    # one message with CRLF lines (as QCoDeS sends it) and separate writes both work
    out = run(
        tsp,
        "loadandrunscript\r\nlocal s = 0\r\nfor i = 1, 4 do s = s + i end\r\nprint(s)\r\nendscript",
    )
    assert out == [b"1.00000e+01\n"]
    for line in ["loadscript twice", "function double(x) return 2 * x end", "endscript"]:
        assert run(tsp, line) == []
    assert run(tsp, "twice() print(double(21))") == [b"4.20000e+01\n"]
    assert run(tsp, "twice.run() print(twice.name)") == [b"twice\n"]
    run(tsp, "loadandrunscript\nif then\nendscript")
    assert errors(tsp)[0][0] == CODE_SYNTAX


def test_delay_and_timer_use_the_virtual_clock(tsp):
    t_wall = time.monotonic()
    assert run(tsp, "timer.reset() delay(5) print(timer.measure.t())") == [b"5.00000e+00\n"]
    assert time.monotonic() - t_wall < 1.0
    assert tsp.clock.now_s == pytest.approx(5.0)


def test_read_with_nothing_pending_signals_no_reply(tsp):
    with pytest.raises(NoReplyPending):
        tsp.read()


def test_attribute_rules(tsp):
    run(tsp, "errorqueue.count = 3")
    assert "read-only" in errors(tsp)[0][1]
    run(tsp, "format.nosuch = 3")
    assert "unknown attribute" in errors(tsp)[0][1]
    assert run(tsp, "print(format.nosuch, localnode.model)") == [b"nil\tTSP\n"]
    run(tsp, "format.data = 'x'")
    assert errors(tsp)[0][0] == CODE_RUNTIME
    run(tsp, "format.data = 9")  # out of range: error queued, value kept
    assert errors(tsp)[0][0] == 1101
    assert tsp.format.data == 1


def test_math_random_is_seeded():
    a, b = TSPEmulator(seed=3), TSPEmulator(seed=3)
    code = "print(math.random(), math.random(1, 6))"
    assert run(a, code) == run(b, code)


def test_python_side_api_is_hidden_from_lua(tsp):
    assert run(tsp, "print(errorqueue.push, format.encode, errorqueue.entries)") == [
        b"nil\tnil\tnil\n"
    ]
