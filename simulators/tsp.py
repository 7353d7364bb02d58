"""A TSP (Keithley Test Script Processor) runtime: a real Lua interpreter in a sandbox.

TSP instruments (2600B SMUs, the 707B matrix) execute every command line as a Lua chunk;
queries are ``print(...)`` calls. :class:`TSPEmulator` runs them in Lua 5.1 (lupa; TSP itself
is Lua 5.0 based, 5.1 is the nearest runtime lupa ships) with:

* a sandbox: no ``os``, ``io``, ``require``/``package``/``module``, ``load``/``loadstring``/
  ``dofile``/``loadfile``, ``debug``, ``string.dump``, ``collectgarbage``, ``getfenv``/
  ``setfenv``, ``newproxy``, no ``python`` bridge; Python objects are reachable only through
  :class:`TSPObject` attributes (no names starting with ``_``); the instrument's memory
  (:data:`~.tsp_sandbox.MAX_LUA_MEMORY_BYTES`: "not enough memory" past it), lupa's own cap
  far above it;
* a runaway guard: an instruction-count hook aborts a chunk after ``max_script_s`` of the
  CPU time its thread got (checked from that much wall time on; ``pcall``/``xpcall``/
  coroutines cannot swallow the abort) -> TSP error -286; a call into Python stuck past the
  limit is ended by the :class:`~.tsp_watchdog.Watchdog` (the same error; the host's read
  times out, as with a real instrument);
* TSP output: ``print`` with TSP number formatting (``4.00000e+00``, ``nil``, ``true``,
  tab-separated), ``printnumber``, ``printbuffer``, ``format.data``/``asciiprecision``/
  ``byteorder`` (binary replies are ``#0`` + IEEE-754 + LF);
* ``errorqueue`` (``count``, ``next()``, ``clear()``), ``waitcomplete()``, ``opc()``,
  ``delay()``, ``timer``, ``reset()``, ``localnode``, ``status``, ``display``, ``beeper``;
* ``*IDN?``, ``*RST``, ``*CLS``, ``*OPC?``, ``*OPC``, ``*WAI``, ``*TRG``, ``*ESR?``, ``*STB?``
  handled outside Lua; ``loadandrunscript [name]`` / ``loadscript name`` ... ``endscript``.

Errors never escape: syntax errors become -285 "TSP Syntax error at line N: ...", runtime
errors -286 "TSP Runtime error at line N: ...", errors raised by instrument functions
(:class:`TSPError`) keep their own code. All timing is virtual (the bench clock): overlapped
operations complete at once, ``waitcomplete()`` returns immediately (the 2636B emulator runs
overlapped current readings of several channels together until then).
"""

from __future__ import annotations

import functools
import gc
import logging
import math
import re
import threading
import time
from collections import deque
from collections.abc import Sized
from types import MethodType
from typing import Any

import numpy as np
from lupa import lua51

from .clock import VirtualClock
from .tsp_objects import (
    CODE_RUNTIME,
    CODE_SYNTAX,
    SEVERITY_RECOVERABLE,
    Beeper,
    Display,
    ErrorQueue,
    Format,
    LocalNode,
    RemoteNode,
    ScriptStall,
    Status,
    Timer,
    TSPError,
    TSPObject,
    _lua_getter,
    _lua_setter,
    as_number,
    format_number,
    reset_attrs,
    runtime_error,
)
from .tsp_sandbox import (
    ABORT_MESSAGE,
    LUPA_HEADROOM_BYTES,
    MAX_LUA_MEMORY_BYTES,
    MEMORY_MESSAGE,
    REMOVED_GLOBALS,
    SANDBOX_SETUP,
)
from .tsp_watchdog import WATCHDOG, CommandTimeout

log = logging.getLogger(__name__)

#: Compiled command lines kept for reuse (see :meth:`TSPEmulator.execute`).
CHUNK_CACHE_ENTRIES = 512
CHUNK_CACHE_MAX_CHARS = 2048
#: Source characters of all kept lines: a compiled line lives in the Lua heap (tens of
#: bytes per character for the long calls of on-board scripts), within its memory cap.
CHUNK_CACHE_CHARS = 64 * 1024
#: Lua heap above which a full collection runs after a command (see ``_run``).
GC_AFTER_BYTES = MAX_LUA_MEMORY_BYTES // 8
#: Python objects with a userdata in Lua beyond those after the last sweep that start one.
SWEEP_AFTER_OBJECTS = 4096
#: Lua heap growth since the last sweep below which the objects are not counted.
SWEEP_CHECK_BYTES = 128 * 1024


_LUA_POS = re.compile(r"^(?:tsp|\[string \"[^\"]*\"\]):(\d+):\s*(.*)$", re.S)
_SCRIPT_COMMANDS = frozenset({"loadandrunscript", "loadscript", "loadonly"})
_COMMON = re.compile(r"^\*([A-Za-z]+\??)\s*(.*)$")
#: Common commands as drivers send them (upper case, no argument): name for ``_common``.
_COMMON_EXACT = {
    f"*{name}": name
    for name in ("IDN?", "RST", "CLS", "OPC?", "ESR?", "STB?", "OPC", "WAI", "TRG")
}


class TSPEmulator(ScriptStall):
    """Base of TSP instrument emulators: Lua runtime, output and error queues, common commands.

    Subclasses set :attr:`model`, extend :meth:`_install` to put their objects into Lua's
    globals and :meth:`_reset_instrument` for ``reset()``/``*RST``.

    Parameters
    ----------
    clock: the virtual clock (the bench's) for ``delay()``, ``timer`` and timestamps.
    max_script_s: wall-time limit of one command or script (runaway guard).
    seed: seed of ``math.random`` (a stream of its own, so Lua code never perturbs the
        bench's random numbers).
    """

    model = "TSP"
    #: how long past its deadline a command stuck in Python is ended (:class:`Watchdog`)
    watchdog_grace_s = 2.0
    manufacturer = "Keithley Instruments Inc."
    serialno = "4000001"
    firmware = "1.0.0"

    def __init__(
        self, clock: VirtualClock | None = None, max_script_s: float = 10.0, seed: int = 0
    ) -> None:
        self.clock = clock or VirtualClock()
        self.max_script_s = float(max_script_s)
        self._math_rng = np.random.default_rng([int(seed) & (2**63 - 1), 0x75A])
        self._output: deque[bytes] = deque()
        self._chunks: dict[str, Any] = {}
        self._gc_after = GC_AFTER_BYTES
        self._chunk_chars = 0
        self._script_lines: list[str] | None = None
        self._script_name: str | None = None
        self._script_run = False
        self._deadline = math.inf
        self._cpu_mark: float | None = None
        self._slow = False
        self._watchdog_lock = threading.Lock()
        self._watchdog_fired = False
        self._timeout_class = WATCHDOG.watch(self)
        self._no_stall()
        self._anchored: dict[int, TSPObject] = {}
        self._methods: dict[tuple[int, str], MethodType] = {}
        self.errorqueue = ErrorQueue()
        self.format = Format(self.errorqueue)
        self.localnode = LocalNode(self.errorqueue, self.model, self.serialno, self.firmware)
        self._lua = lua51.LuaRuntime(
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            attribute_handlers=(self._lua_get, _lua_setter),
            encoding="latin-1",
            max_memory=MAX_LUA_MEMORY_BYTES + LUPA_HEADROOM_BYTES,
        )
        self._api = self._lua.execute(SANDBOX_SETUP, self._over_time, ABORT_MESSAGE, MEMORY_MESSAGE)
        self._anchor_in_lua = self._api.anchor  # looked up here: not from inside a Lua call
        self._sweep_lua = self._api.sweep
        self._pushed = _pushed_objects(self._lua)
        self._sweep_at = 0
        self._check_at = 0
        g = self._lua.globals()
        string = g.string
        string.dump = None
        g.pcall, g.xpcall = self._api.pcall, self._api.xpcall
        g.coroutine.create, g.coroutine.wrap = self._api.cocreate, self._api.cowrap
        g.math.random, g.math.randomseed = self._math_random, self._math_randomseed
        for name in REMOVED_GLOBALS:
            g[name] = None
        self._install(g)
        for name in list(g):
            self._anchor_tree(g[name])
        self._sweep()

    # ------------------------------------------------------------------ object identity
    # lupa 2.8 (Lua 5.1) keeps the userdata of each Python object pushed into Lua in a
    # weak-valued table, with slots handed out by luaL_ref (scoder/lupa#293). A userdata that
    # became garbage leaves a hole there before its finalizer frees the slot; luaL_ref can hand
    # that hole to a new userdata, whose slot the old finalizer then frees (and lupa's
    # Python-side entry of an object with it). The free list is corrupted from then on: the table
    # grows without bound (an on-board chain's calls filled the Lua heap towards its cap), a
    # Python object can be released while Lua still calls it, and an access can land on
    # another object (we saw ``smub.source.func = 1`` set an attribute of ``smua.nvbuffer1``).
    # So the table is strong while commands run (no holes can appear) and weak only while
    # ``_sweep`` collects between commands; every TSP object Lua can reach is anchored (its
    # first userdata kept for good, never finalized, reused by every later push), and so is
    # each bound method Lua reads from one: reading ``ch.exclusiveclose`` again hands Lua the
    # same function, not a fresh object each time.
    def _lua_get(self, obj: Any, name: Any) -> Any:
        value = _lua_getter(obj, name)
        cls = value.__class__
        if cls is MethodType:
            return self._method(obj, name, value)
        if isinstance(value, TSPObject) and id(value) not in self._anchored:
            self._anchor(value)
        return value

    def _method(self, obj: Any, name: str, method: MethodType) -> MethodType:
        """The bound method Lua has for ``obj.name`` (``method``, the first time)."""
        if method.__self__ is not obj or id(obj) not in self._anchored:
            return method
        key = (id(obj), name)
        kept = self._methods.get(key)
        if kept is not None and kept.__func__ is method.__func__:
            return kept
        self._methods[key] = method
        self._anchor_in_lua(method)
        return method

    def _anchor(self, obj: TSPObject) -> None:
        self._anchored[id(obj)] = obj
        self._anchor_in_lua(obj)

    def _anchor_tree(self, obj: Any) -> None:
        """Anchor ``obj`` and every TSP object reachable through its attributes."""
        stack = [obj]
        while stack:
            item = stack.pop()
            if isinstance(item, TSPObject) and id(item) not in self._anchored:
                self._anchor(item)
                stack.extend(vars(item).values())

    # ------------------------------------------------------------------ TSP-Link
    def link_nodes(self, nodes: dict[int, TSPEmulator]) -> None:
        """Make other TSP instruments reachable as ``node[N]`` from this one's scripts (the
        master of a TSP-Link network): ``node[N].<object>`` is that instrument's object,
        e.g. ``node[2].channel`` of a 707B. Their errors surface here, as on the master."""
        table = self._lua.table()
        for number, other in nodes.items():
            remote = RemoteNode(other)
            table[number] = remote
            self._anchor_tree(remote)
        self._lua.globals().node = table

    # ------------------------------------------------------------------ subclass hooks
    def _install(self, g: Any) -> None:
        """Put the instrument's objects and functions into Lua's globals ``g``."""
        g.print = self._lua_print
        g.printnumber = self._lua_printnumber
        g.printbuffer = self._lua_printbuffer
        g.errorqueue = self.errorqueue
        g.format = self.format
        g.localnode = self.localnode
        g.timer = Timer(self.clock)
        g.delay = self._lua_delay
        g.waitcomplete = _noop
        g.opc = _noop
        g.exit = _noop
        g.reset = self._lua_reset
        g.display = Display()
        g.beeper = Beeper()
        g.status = self._make_status()

    def _make_status(self) -> Status:
        return Status(self.errorqueue)

    def _reset_instrument(self) -> None:
        """Instrument part of ``reset()``/``*RST`` (outputs off, relays open ...)."""
        reset_attrs(self.format)

    # ------------------------------------------------------------------ Emulator protocol
    def write(self, message: str) -> None:
        """Execute one message; each LF-separated line is one TSP command, as on the wire.

        Never raises: whatever goes wrong ends up in the error queue.
        """
        if message.__class__ is not str:
            if isinstance(message, bytes | bytearray):
                message = bytes(message).decode("latin-1")
            message = str(message)
        if not message.isascii():  # the wire carries bytes: what latin-1 cannot say arrives as ?
            message = message.encode("latin-1", errors="replace").decode("latin-1")
        if "\n" not in message:  # the usual message: one command line
            try:
                # common commands as drivers send them are answered without parsing
                name = (_COMMON_EXACT.get(message)
                        if self._script_lines is None and self._running is None else None)
                if name is None or not self._common(name, ""):
                    self._line(message.rstrip("\r"))
            except Exception as exc:  # last line of defence: an emulator bug, not user input
                self._internal_error(message, exc)
            return
        for line in message.split("\n"):
            try:
                self._line(line.rstrip("\r"))
            except Exception as exc:
                self._internal_error(line, exc)

    def _internal_error(self, line: str, exc: Exception) -> None:
        if isinstance(exc, CommandTimeout):  # the watchdog's, arrived after the Lua call
            if exc.owner() is not self:
                raise exc  # a command of the emulator that called this one over TSP-Net
            self._report(ABORT_MESSAGE)
            return
        log.exception("TSP emulator failed on %r", line[:80], exc_info=exc)
        self.errorqueue.push(CODE_RUNTIME, f"TSP Runtime error: internal: {exc}")

    def read(self) -> bytes:
        """Next pending reply (with its LF); raises ``NoReplyPending`` when there is none.

        A script still running (:meth:`stall_script`) answers no read until it has outlasted
        the reads it was set to; then it runs to its end, and so do the lines queued behind
        it."""
        if not self._output and self._running is not None:
            self._read_while_running()
        if not self._output:
            raise _no_reply_pending()(f"{self.model}: no reply pending")
        return self._output.popleft()

    def read_all(self) -> list[bytes]:
        """Every pending reply (with their LFs), oldest first; empty if none."""
        out = list(self._output)
        self._output.clear()
        return out

    def reset(self) -> None:
        """Like a power cycle of the interface: ``*RST``, pending output and scripts dropped."""
        self._output.clear()
        self._script_lines = None
        self._no_stall()
        self._reset_instrument()

    def inject_error(self, code: int, message: str, severity: int = SEVERITY_RECOVERABLE) -> None:
        """Fault injection: put an entry into the error queue."""
        self.errorqueue.push(code, message, severity)

    @property
    def pending_replies(self) -> int:
        """Number of replies waiting to be read."""
        return len(self._output)

    # ------------------------------------------------------------------ command handling
    def _line(self, line: str) -> None:
        stripped = line.strip()
        if self._script_lines is not None:
            if stripped == "endscript":
                self._end_script()
            else:
                self._script_lines.append(line)
            return
        if not stripped:
            return
        if self._running is not None:
            self._behind_running(stripped, line)
            return
        first = stripped[0]
        if first == "*":
            common = _COMMON.match(stripped)
            if common and self._common(common.group(1).upper(), common.group(2)):
                return
        elif first in "lLaA":  # loadandrunscript, loadscript, loadonly, abort
            words = stripped.split(None, 2)
            head = words[0].lower()
            if head in _SCRIPT_COMMANDS:
                self._script_lines = []
                self._script_name = words[1] if len(words) > 1 else None
                self._script_run = head == "loadandrunscript"
                return
            if head == "abort":
                return
        if self._stall is not None and self._starts_stalled(stripped):
            return
        self._execute_line(stripped)

    def _execute_line(self, stripped: str) -> None:
        self.execute(stripped)
        if self.localnode.prompts:
            self._output.append(b"TSP>\n")

    def _common(self, name: str, arg: str) -> bool:
        if name == "IDN?":
            self._output.append(self._idn)
        elif name == "RST":
            self._reset_instrument()
        elif name == "CLS":
            self.errorqueue.clear()
        elif name == "OPC?":
            self._emit("1")
        elif name in ("ESR?", "STB?"):
            self._emit("0")
        elif name in ("OPC", "WAI", "TRG", "ESE", "SRE"):
            pass
        else:
            return False
        return True

    def _end_script(self) -> None:
        source = "\n".join(self._script_lines or [])
        name, run = self._script_name, self._script_run
        self._script_lines = None
        fn = self._compile(source, name or "script")
        if fn is None:
            return
        if name:
            self._lua.globals()[name] = self._api.script(name, fn, source)
        if run:
            self._run(fn)

    def execute(self, code: str) -> bool:
        """Compile and run a Lua chunk; errors go to the error queue. True on success.

        Compiled chunks are kept by their source: drivers send the same lines again and again,
        and a Lua 5.1 chunk has no state of its own (its environment is the one global table,
        which sandboxed code cannot replace), so running it again equals compiling it again.
        """
        fn = self._chunks.get(code)
        if fn is None:
            fn = self._compile(code, "tsp")
            if fn is None:
                return False
            if len(code) <= CHUNK_CACHE_MAX_CHARS:
                if (len(self._chunks) >= CHUNK_CACHE_ENTRIES
                        or self._chunk_chars + len(code) > CHUNK_CACHE_CHARS):
                    self._chunks.clear()
                    self._chunk_chars = 0
                self._chunks[code] = fn
                self._chunk_chars += len(code)
        return self._run(fn)

    def _compile(self, code: str, name: str) -> Any:
        try:
            fn, err = _pad2(self._api.compile(code, f"={name}"))
        except lua51.LuaMemoryError:
            self.errorqueue.push(CODE_RUNTIME, "TSP Runtime error: not enough memory")
            return None
        if fn is None:
            line, text = _split_position(str(err))
            self.errorqueue.push(CODE_SYNTAX, f"TSP Syntax error at line {line}: {text}")
        return fn

    def _run(self, fn: Any) -> bool:
        self._deadline = time.monotonic() + self.max_script_s
        try:
            result = self._api.run(fn)
        except lua51.LuaMemoryError:
            self.errorqueue.push(CODE_RUNTIME, "TSP Runtime error: not enough memory")
            return False
        except Exception as exc:  # never let an error escape into the transport
            log.exception("TSP runtime failure")
            self._report(exc)
            return False
        finally:
            self._deadline = math.inf
            if self._slow:  # read after the deadline is cleared (see Watchdog)
                WATCHDOG.end_slow(self)
            # Lua 5.1 has no emergency collection: an allocation over the cap fails at once,
            # however much of the heap is garbage (and a memory error raised inside a Python
            # callback can hang lupa). So garbage is not left to pile up between commands,
            # nor the userdata of Python objects pushed during them (see ``_lua_get``).
            used = self._lua.get_memory_used()
            if used > self._check_at and (used > self._gc_after
                                          or len(self._pushed) > self._sweep_at):
                self._sweep()
        ok, err = result if result.__class__ is tuple and len(result) == 2 else _pad2(result)
        if not ok:
            self._report(err)
        return bool(ok)

    def _sweep(self) -> None:
        """Full collection between commands, the only time lupa's table of userdata is weak
        (see ``_lua_get``); the next one at twice the heap that lives on (as Lua's own
        pause, and at once past the instrument's memory) or after
        :data:`SWEEP_AFTER_OBJECTS` more Python objects were pushed (each with a userdata in
        the heap, so they are counted only once it has grown by :data:`SWEEP_CHECK_BYTES`,
        less than their userdata take). lupa's cap is kept :data:`LUPA_HEADROOM_BYTES`
        above the heap."""
        self._sweep_lua()
        live = self._lua.get_memory_used()
        if live > MAX_LUA_MEMORY_BYTES:  # what the command left is more than the instrument has
            self._report(MEMORY_MESSAGE)
        cap = max(live, MAX_LUA_MEMORY_BYTES) + LUPA_HEADROOM_BYTES
        if self._lua.get_max_memory() != cap:
            self._lua.set_max_memory(cap)
        self._gc_after = min(max(GC_AFTER_BYTES, 2 * live), MAX_LUA_MEMORY_BYTES)
        self._check_at = min(live + SWEEP_CHECK_BYTES, self._gc_after)
        self._sweep_at = len(self._pushed) + SWEEP_AFTER_OBJECTS

    def _report(self, err: Any) -> None:
        if isinstance(err, TSPError):
            self.errorqueue.push(err.code, err.message, err.severity)
        elif isinstance(err, CommandTimeout):
            self._report(ABORT_MESSAGE)
        elif isinstance(err, BaseException):
            log.debug("python error inside TSP call", exc_info=err)
            self.errorqueue.push(CODE_RUNTIME, f"TSP Runtime error: {err}")
        else:
            text = str(err)
            if text == ABORT_MESSAGE:
                self.errorqueue.push(
                    CODE_RUNTIME, f"TSP Runtime error: {ABORT_MESSAGE} ({self.max_script_s:g} s)"
                )
                return
            if text == MEMORY_MESSAGE:
                self.errorqueue.push(CODE_RUNTIME, f"TSP Runtime error: {MEMORY_MESSAGE}")
                return
            line, text = _split_position(text)
            where = f" at line {line}" if line else ""
            self.errorqueue.push(CODE_RUNTIME, f"TSP Runtime error{where}: {text}")

    def _over_time(self) -> bool:
        """The count hook's question: has the command run out of time (see Watchdog)?"""
        now = time.monotonic()
        if now <= self._deadline:
            if self._cpu_mark is None:  # the first look of a long command
                self._cpu_mark, self._slow = time.thread_time(), True
            return False
        return self._watchdog_fired or WATCHDOG.over_budget(self, now)

    # ------------------------------------------------------------------ output
    @functools.cached_property
    def _idn(self) -> bytes:
        text = f"{self.manufacturer}, Model {self.model}, {self.serialno}, {self.firmware}"
        return (text + "\n").encode("latin-1")

    def _emit(self, text: str) -> None:
        self._output.append((text + "\n").encode("latin-1", errors="replace"))

    def emit_bytes(self, data: bytes) -> None:
        """Queue one raw reply (binary blocks)."""
        self._output.append(bytes(data))

    def format_value(self, value: Any) -> str:
        """How ``print`` shows one value."""
        cls = value.__class__
        if cls is float or cls is int:  # the usual cases first (Lua's 1 arrives as an int)
            return format_number(value, self.format.precision())
        if value is None:
            return "nil"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return format_number(value, self.format.precision())
        if isinstance(value, str):
            return value
        if isinstance(value, TSPObject):
            return repr(value)
        kind = lua51.lua_type(value)
        if kind is not None:
            return f"{kind}: 0x{id(value) & 0xFFFFFFFF:08x}"
        return "userdata"

    def _lua_print(self, *args: Any) -> None:
        text = "\t".join([self.format_value(a) for a in args]) + "\n"
        self._output.append(text.encode("latin-1", errors="replace"))

    def _lua_printnumber(self, *args: Any) -> None:
        values = [as_number("printnumber argument", a) for a in args]
        self.emit_bytes(self.format.encode(values))

    def _lua_printbuffer(self, start: Any, end: Any, *buffers: Any) -> None:
        lo, hi = int(as_number("start index", start)), int(as_number("end index", end))
        if not buffers:
            raise runtime_error("printbuffer needs at least one buffer")
        columns = []
        for b in buffers:
            series = getattr(b, "_series", None)
            if series is None:
                raise runtime_error("printbuffer argument is not a reading buffer")
            data = series()
            if data is None:
                raise runtime_error("buffer element not collected (see collecttimestamps)")
            if lo < 1 or hi > len(data) or lo > hi:
                raise runtime_error(f"printbuffer index out of range ({lo}..{hi} of {len(data)})")
            columns.append(np.asarray(data[lo - 1 : hi], dtype=np.float64))
        self.emit_bytes(self.format.encode(np.column_stack(columns).ravel()))

    def _lua_delay(self, seconds: Any) -> None:
        s = as_number("delay", seconds)
        if s < 0:
            raise runtime_error("delay must be >= 0 s")
        self.clock.advance(s)

    def _lua_reset(self, *args: Any) -> None:
        self._reset_instrument()

    def _math_random(self, m: Any = None, n: Any = None) -> float:
        if m is None:
            return float(self._math_rng.random())
        lo, hi = (1, int(m)) if n is None else (int(m), int(n))
        if lo > hi:
            raise runtime_error("bad argument to 'random' (interval is empty)")
        return int(self._math_rng.integers(lo, hi + 1))

    def _math_randomseed(self, seed: Any) -> None:
        self._math_rng = np.random.default_rng(int(as_number("seed", seed)) & (2**63 - 1))


def _noop(*args: Any) -> None:
    return None


@functools.cache
def _no_reply_pending() -> type[Exception]:
    from .transport import NoReplyPending  # transport imports pymeasure: import late

    return NoReplyPending


def _pushed_objects(runtime: Any) -> Sized:
    """lupa's Python-side record of the objects with a userdata in ``runtime`` (its one dict;
    an empty stand-in if this lupa keeps none where the garbage collector sees it)."""
    found = [o for o in gc.get_referents(runtime) if o.__class__ is dict]
    return found[0] if len(found) == 1 else {}


def _pad2(result: Any) -> tuple[Any, Any]:
    if isinstance(result, tuple):
        return (*result, None, None)[:2]
    return result, None


def _split_position(text: str) -> tuple[int | None, str]:
    m = _LUA_POS.match(text.strip())
    if m:
        return int(m.group(1)), m.group(2)
    return None, text
