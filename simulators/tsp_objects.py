"""The Python side of the TSP runtime: error codes, number formatting and the objects TSP code sees.

:class:`TSPObject` exposes public attributes to the sandboxed Lua (see :mod:`.tsp`);
:class:`NumberAttr` / :class:`TSPAttrObject` give range-checked numeric attributes; the
objects every TSP instrument has (``errorqueue``, ``format``, ``timer``, ``localnode``,
``status``, ``display``, ``beeper``) live here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .clock import VirtualClock

CODE_SYNTAX = -285
CODE_RUNTIME = -286
CODE_QUEUE_OVERFLOW = -350
# Keithley TSP parameter errors (2600B error summary; numbers [verify] against the manual).
CODE_TOO_BIG = 1101
CODE_TOO_SMALL = 1102
SEVERITY_INFO = 10
SEVERITY_RECOVERABLE = 20
ERROR_QUEUE_CAPACITY = 100
NIL = None  # what a Python attribute returns to read as Lua ``nil``


class TSPError(Exception):
    """An error raised by an instrument function; it aborts the chunk and is queued."""

    def __init__(self, code: int, message: str, severity: int = SEVERITY_RECOVERABLE) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.severity = int(code), message, int(severity)


def runtime_error(message: str) -> TSPError:
    """A Lua-style runtime error (-286) raised from Python code."""
    return TSPError(CODE_RUNTIME, f"TSP Runtime error: {message}")


def format_number(x: float, precision: int = 6) -> str:
    """TSP's ASCII number format: ``precision`` significant digits, exponent form."""
    x = float(x)
    if x - x != 0.0:  # not finite
        return "nan" if x != x else ("inf" if x > 0 else "-inf")
    return _EXPONENT_FORMATS.get(precision, _exponent_format(precision))(x)


def _exponent_format(precision: int) -> Callable[[float], str]:
    return f"{{:.{max(precision, 1) - 1}e}}".format


_EXPONENT_FORMATS = {p: _exponent_format(p) for p in range(0, 17)}


# ---------------------------------------------------------------------------- Lua objects


class TSPObject:
    """Base of every Python object Lua code can see (``smua``, ``channel``, ``errorqueue``...).

    From Lua, public attributes (no leading underscore) read as values, methods as functions,
    unknown names as ``nil``. Assignment works only for names listed in ``_settable`` (or
    properties with a setter); anything else is a runtime error, as on the instrument.
    Numeric indexing ``obj[i]`` calls :meth:`_lua_index`.
    """

    _settable: frozenset[str] = frozenset()
    #: public Python API that is not part of the instrument (reads as nil from Lua)
    _lua_hidden: frozenset[str] = frozenset()
    _lua_name = "table"

    def _lua_index(self, index: int) -> Any:
        return NIL

    def _lua_set(self, name: str, value: Any) -> None:
        prop = getattr(type(self), name, None)
        if isinstance(prop, property) and prop.fset is not None:
            prop.fset(self, value)
        elif name in self._settable:
            object.__setattr__(self, name, value)
        elif hasattr(self, name):
            raise runtime_error(f"attribute '{name}' is read-only")
        else:
            raise runtime_error(f"attempt to set unknown attribute '{name}'")

    def __repr__(self) -> str:  # what tostring() shows in Lua: never Python internals
        return f"{self._lua_name}: 0x{id(self) & 0xFFFFFFFF:08x}"


def _lua_getter(obj: Any, name: Any) -> Any:
    if not isinstance(obj, TSPObject):
        raise AttributeError("attribute access to this object is not allowed")
    if isinstance(name, int | float) and not isinstance(name, bool):
        if float(name) != int(name):
            return NIL
        return obj._lua_index(int(name))
    if not isinstance(name, str) or name.startswith("_") or name in obj._lua_hidden:
        return NIL
    return getattr(obj, name, NIL)


def _lua_setter(obj: Any, name: Any, value: Any) -> None:
    if not isinstance(obj, TSPObject) or not isinstance(name, str) or name.startswith("_"):
        raise runtime_error("attempt to index a read-only object")
    obj._lua_set(name, value)


def as_number(name: str, value: Any) -> float:
    """A Lua number argument, else a runtime error naming the attribute."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise runtime_error(f"{name} must be a number, got {_lua_type(value)}")
    return float(value)


def _lua_type(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "table"


class NumberAttr:
    """A numeric TSP attribute with a range: out-of-range values are refused with an error
    in the queue (the chunk goes on, as on the instrument), non-numbers abort the chunk.

    ``on_set(obj, x)`` may adjust the value (return it) or refuse it (raise) before it is
    stored; ``after(obj, x)`` runs once it is stored.
    """

    def __init__(
        self,
        default: float,
        lo: float | None = None,
        hi: float | None = None,
        choices: Iterable[float] | None = None,
        integer: bool = False,
        on_set: Callable[[Any, float], float | None] | None = None,
        after: Callable[[Any, float], None] | None = None,
    ) -> None:
        self.default, self.lo, self.hi = default, lo, hi
        self.choices = None if choices is None else frozenset(choices)
        self.integer, self.on_set, self.after = integer, on_set, after

    def __set_name__(self, owner: type, name: str) -> None:
        self.name, self.slot = name, f"_v_{name}"

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return obj.__dict__.get(self.slot, self.default)

    def __set__(self, obj: Any, value: Any) -> None:
        x = as_number(self.name, value)
        queue: ErrorQueue | None = getattr(obj, "_errors", None)
        bad = None
        if self.choices is not None and x not in self.choices:
            bad = (
                CODE_TOO_BIG if x > max(self.choices) else CODE_TOO_SMALL,
                f"Parameter error: {self.name} must be one of {sorted(self.choices)}",
            )
        elif self.hi is not None and x > self.hi:
            bad = (CODE_TOO_BIG, f"Parameter too big: {self.name} > {self.hi:g}")
        elif self.lo is not None and x < self.lo:
            bad = (CODE_TOO_SMALL, f"Parameter too small: {self.name} < {self.lo:g}")
        if bad is not None:
            if queue is None:
                raise TSPError(*bad)
            queue.push(*bad)
            return
        if self.integer:
            x = int(x)
        if self.on_set is not None:
            adjusted = self.on_set(obj, x)
            if adjusted is not None:
                x = adjusted
        obj.__dict__[self.slot] = x
        if self.after is not None:
            self.after(obj, x)

    def reset(self, obj: Any) -> None:
        obj.__dict__.pop(self.slot, None)


def reset_attrs(obj: Any) -> None:
    """Put every :class:`NumberAttr` of ``obj`` back to its default."""
    for klass in type(obj).__mro__:
        for attr in vars(klass).values():
            if isinstance(attr, NumberAttr):
                attr.reset(obj)


class TSPAttrObject(TSPObject):
    """A TSP object whose :class:`NumberAttr` attributes are settable from Lua."""

    def __init__(self, errors: ErrorQueue | None = None) -> None:
        self._errors = errors

    def _lua_set(self, name: str, value: Any) -> None:
        if isinstance(getattr(type(self), name, None), NumberAttr):
            setattr(self, name, value)
        else:
            super()._lua_set(name, value)


class ErrorQueue(TSPObject):
    """The instrument's error/event queue (FIFO, ``ERROR_QUEUE_CAPACITY`` deep)."""

    _lua_hidden = frozenset({"push", "entries"})

    def __init__(self, node: int = 1, capacity: int = ERROR_QUEUE_CAPACITY) -> None:
        self._entries: deque[tuple[int, str, int, int]] = deque()
        self._node, self._capacity = node, capacity

    def push(self, code: int, message: str, severity: int = SEVERITY_RECOVERABLE) -> None:
        """Queue an entry; when full the last entry becomes -350 "Queue overflow"."""
        if len(self._entries) >= self._capacity:
            self._entries[-1] = (
                CODE_QUEUE_OVERFLOW,
                "Queue overflow",
                SEVERITY_RECOVERABLE,
                self._node,
            )
            return
        self._entries.append((int(code), str(message), int(severity), self._node))

    @property
    def count(self) -> int:
        """Number of entries in the queue."""
        return len(self._entries)

    def next(self) -> tuple[int, str, int, int]:
        """Oldest entry as (code, message, severity, node); ``0, "Queue Is Empty"`` if none."""
        if not self._entries:
            return (0, "Queue Is Empty", 0, 0)
        return self._entries.popleft()

    def clear(self) -> None:
        """Remove every entry."""
        self._entries.clear()

    def entries(self) -> list[tuple[int, str, int, int]]:
        """A copy of the queued entries (for tests and fault reports)."""
        return list(self._entries)


class Format(TSPAttrObject):
    """``format``: how ``printnumber``/``printbuffer`` (and ``print`` precision) output data."""

    _lua_hidden = frozenset({"encode", "precision"})

    ASCII = 1
    SREAL = REAL32 = 2
    REAL = REAL64 = DREAL = 3
    NORMAL = BIGENDIAN = NETWORK = 0
    SWAPPED = LITTLEENDIAN = 1

    data = NumberAttr(1, choices=(1, 2, 3), integer=True)
    byteorder = NumberAttr(1, choices=(0, 1), integer=True)
    asciiprecision = NumberAttr(6, lo=0, hi=16, integer=True)

    def precision(self) -> int:
        return int(self.asciiprecision) or 6

    def encode(self, values: Iterable[float] | np.ndarray) -> bytes:
        """One reply: ASCII ``a, b, c`` or binary ``#0`` + packed values, both + LF.

        REAL32 turns values beyond the float32 range into +-inf, as the instrument's cast does.
        """
        if self.data == self.ASCII:
            p = self.precision()
            text = ", ".join(format_number(v, p) for v in np.asarray(values, np.float64).tolist())
            return (text + "\n").encode("latin-1")
        order = "<" if self.byteorder == self.LITTLEENDIAN else ">"
        dtype = np.dtype(order + ("f4" if self.data == self.REAL32 else "f8"))
        with np.errstate(over="ignore"):
            data = np.asarray(values, dtype=np.float64).astype(dtype, copy=False)
        return b"".join((b"#0", data.tobytes(), b"\n"))


class Timer(TSPObject):
    """``timer``: ``timer.reset()``, ``timer.measure.t()`` on the virtual clock."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock, self._t0 = clock, clock.now_s
        self.measure = _TimerMeasure(self)

    def reset(self) -> None:
        self._t0 = self._clock.now_s


class _TimerMeasure(TSPObject):
    def __init__(self, timer: Timer) -> None:
        self._timer = timer

    def t(self) -> float:
        return self._timer._clock.now_s - self._timer._t0


class LocalNode(TSPAttrObject):
    """``localnode``: model, serial number, firmware, line frequency, prompts."""

    linefreq = NumberAttr(60, choices=(50, 60), integer=True)
    prompts = NumberAttr(0, choices=(0, 1), integer=True)
    prompts4882 = NumberAttr(1, choices=(0, 1), integer=True)
    showerrors = NumberAttr(0, choices=(0, 1), integer=True)
    autolinefreq = NumberAttr(0, choices=(0, 1), integer=True)

    def __init__(self, errors: ErrorQueue, model: str, serialno: str, revision: str) -> None:
        super().__init__(errors)
        self._model, self._serialno, self._revision = model, serialno, revision
        self.description = f"Keithley Instruments Model {model}"
        self._settable = frozenset({"description"})

    @property
    def model(self) -> str:
        return self._model

    @property
    def serialno(self) -> str:
        return self._serialno

    @property
    def revision(self) -> str:
        return self._revision


class StatusRegister(TSPAttrObject):
    """A status register set (``condition`` read-only; ``enable``/``ntr``/``ptr`` writable)."""

    enable = NumberAttr(0, lo=0, hi=65535, integer=True)
    ntr = NumberAttr(0, lo=0, hi=65535, integer=True)
    ptr = NumberAttr(0, lo=0, hi=65535, integer=True)

    def __init__(
        self, errors: ErrorQueue, condition: Callable[[], int] | None = None, **children: TSPObject
    ) -> None:
        super().__init__(errors)
        self._condition = condition or (lambda: 0)
        for name, child in children.items():
            object.__setattr__(self, name, child)

    @property
    def condition(self) -> int:
        return int(self._condition())

    @property
    def event(self) -> int:
        return 0


class Status(StatusRegister):
    """``status``: the status model, reduced to what drivers read; ``status.reset()``."""

    def reset(self) -> None:
        reset_attrs(self)


class Display(TSPObject):
    """``display``: accepted and ignored (no front panel in a simulation).

    ``display.sendkey(keyCode)`` simulates a front-panel key press (2600B reference,
    ``display.sendkey``); QCoDeS's ``exit_key()`` sends ``display.sendkey(75)``, EXIT. Only the
    screen constants (``display.SMUA``=0, ``SMUB``=1, ``SMUA_SMUB``=2, ``USER``=3) and
    ``KEY_EXIT``/``KEY_ENTER`` are named here; any key code 0-255 is accepted (a key has nothing
    to act on without a front panel), anything else is a runtime error.
    """

    _settable = frozenset({"screen", "locallockout"})
    SMUA, SMUB, SMUA_SMUB, USER = 0, 1, 2, 3
    KEY_NONE, KEY_EXIT, KEY_ENTER = 0, 75, 82

    def __init__(self) -> None:
        self.screen = 0
        self.locallockout = 0

    def sendkey(self, key_code: Any = None) -> None:
        if not isinstance(key_code, int | float) or not 0 <= key_code <= 255:
            raise runtime_error("bad argument #1 to 'sendkey' (key code expected)")

    def clear(self) -> None: ...

    def settext(self, text: Any = None) -> None: ...

    def setcursor(self, row: Any = None, column: Any = None) -> None: ...


class Beeper(TSPObject):
    """``beeper``: silent."""

    _settable = frozenset({"enable"})

    def __init__(self) -> None:
        self.enable = 1

    def beep(self, duration: Any = None, frequency: Any = None) -> None: ...


class RemoteNode(TSPObject):
    """``node[N]`` on a TSP-Link master: the instrument objects of node N."""

    def __init__(self, emulator: Any) -> None:
        for name in ("channel", "smua", "smub", "errorqueue"):
            obj = getattr(emulator, name, None)
            if obj is not None:
                setattr(self, name, obj)


class ScriptStall:
    """Fault injection of TSP emulators: a command line still running as a script.

    :meth:`stall_script` makes the next call of a script "long": the call is taken (it is
    running) but answers nothing during the next ``reads`` read attempts of the host (each
    one a reply timeout); lines that arrive meanwhile wait in the input queue, as on the
    instrument. At the read after those, the script runs to its end (switching, measuring,
    printing its reply) and the queued lines run after it. The 2600B's ``abort`` arriving
    meanwhile terminates the script instead: nothing more of it runs and it prints nothing;
    the queued lines then run. (The whole command line is taken as the script: statements
    before the call in the same line do not run either, and an aborted script has switched
    nothing yet. Reads count through ``read()``, as the in-process adapter makes them; the
    TCP server collects replies with ``read_all()``, which makes no time pass: there the
    script ends by ``abort`` or :meth:`run_on`.)

    The emulator provides ``_line(line)`` (one command line) and ``_execute_line(stripped)``
    (run it now) and calls :meth:`_no_stall` when it starts or resets.
    """

    _stall: tuple[str, int] | None
    #: the command line still running, the host reads it still outlasts, the input queue
    _running: str | None
    _running_reads: int
    _queued: list[str]

    def _line(self, line: str) -> None:  # pragma: no cover - the emulator's
        raise NotImplementedError

    def _execute_line(self, stripped: str) -> None:  # pragma: no cover - the emulator's
        raise NotImplementedError

    def _no_stall(self) -> None:
        self._stall, self._running, self._running_reads, self._queued = None, None, 0, []

    def stall_script(self, name: str, reads: int = 1) -> None:
        """The next command line calling ``name`` runs as a long script (see the class)."""
        if not (isinstance(reads, int) and reads >= 0):
            raise ValueError(f"reads must be a whole number >= 0, got {reads!r}")
        self._stall = (f"{name}(", reads)

    @property
    def script_running(self) -> bool:
        """Whether a command line is still running as a script (:meth:`stall_script`)."""
        return self._running is not None

    def run_on(self) -> None:
        """Time passes: a script still running runs to its end, and the lines queued behind
        it run after it (nothing if none is running)."""
        line, self._running = self._running, None
        queued, self._queued = self._queued, []
        if line is not None:
            self._execute_line(line)
        for later in queued:
            self._line(later)

    def _read_while_running(self) -> None:
        """A read of the host while a script runs (and nothing else is pending)."""
        if self._running_reads > 0:
            self._running_reads -= 1
        else:
            self.run_on()

    def _behind_running(self, stripped: str, line: str) -> None:
        """A line arriving while a script runs: ``abort`` terminates it, the rest queues."""
        if stripped != "abort":
            self._queued.append(line)
            return
        self._running = None
        queued, self._queued = self._queued, []
        for later in queued:
            self._line(later)

    def _starts_stalled(self, stripped: str) -> bool:
        """Whether this line is the stalled call (it then runs on until read or aborted)."""
        stall = self._stall
        if stall is None or stall[0] not in stripped or stripped.startswith("function"):
            return False
        self._stall = None
        self._running, self._running_reads = stripped, stall[1]
        return True
