"""The watchdog of TSP emulator commands (:mod:`.tsp`): their time limit counted in the CPU
time their thread gets, and a thread that ends commands stuck in Python code."""

from __future__ import annotations

import ctypes
import sys
import threading
import time
import weakref
from typing import Any


class CommandTimeout(Exception):  # noqa: N818 - reads as the event it signals
    """Raised by the :class:`Watchdog` in the thread of a command that outlasted its limit
    (each watched emulator has a subclass of its own, whose ``owner()`` is the emulator)."""

    @staticmethod
    def owner() -> Any:
        """The emulator whose command timed out (None if it is gone)."""
        return None


class Watchdog:
    """The time limit of TSP emulator commands, counted in the CPU time their thread got,
    and one daemon thread per process that ends commands stuck in Python code.

    A command's wall-clock deadline (``_deadline``, set by the command; infinite between
    commands) is only where checking starts: on a loaded machine a command can take many
    times its CPU time in wall time, and ending it then would be a timeout the instrument
    never has. Past the deadline, the command is over once its thread has had
    :data:`CPU_SHARE` of ``max_script_s`` of CPU time since its mark (``_cpu_mark``, taken
    at the first look of the Lua count hook; :meth:`over_budget`), else its deadline moves
    on by the CPU time it has left.

    The count hook runs only while Lua does: a call into Python that never returns (a stuck
    or endlessly looping instrument function) would hang the process. Every
    :data:`PERIOD_S` the thread looks at each watched emulator, and once a command is
    ``watchdog_grace_s`` past its deadline and has had its CPU time (or has stood still
    for :data:`STILL_LIMITS` limits, getting none), raises the emulator's
    :class:`CommandTimeout` in the command's thread (``PyThreadState_SetAsyncExc``; it
    arrives at the next Python bytecode, not inside a blocking C call). The emulator reports
    it as the runaway abort; a host waiting for the reply times out, as with a real
    instrument. The command's own path costs one attribute read (``_slow``) at its end:
    that flag and the deadline are written in opposite order on both sides, so either the
    thread sees the command over or the command sees the flag and withdraws a pending
    exception (:meth:`end_slow`). The thread finds the command's thread by its frames.
    """

    PERIOD_S = 0.25
    CPU_SHARE = 0.8
    STILL_LIMITS = 10.0

    def __init__(self) -> None:
        self._watched: weakref.WeakSet[Any] = weakref.WeakSet()
        #: per emulator: (deadline of the command over, wall and CPU time at the first look)
        self._first: weakref.WeakKeyDictionary[Any, tuple[float, float, float | None]] = (
            weakref.WeakKeyDictionary())
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, emulator: Any) -> type[CommandTimeout]:
        """Watch ``emulator`` (from now on, for as long as it lives); its exception class."""
        with self._lock:
            self._watched.add(emulator)
            if self._thread is None or not self._thread.is_alive():  # (a forked child)
                self._thread = threading.Thread(target=self._loop, name="tsp-watchdog",
                                                daemon=True)
                self._thread.start()
        return type("CommandTimeout", (CommandTimeout,),
                    {"owner": staticmethod(weakref.ref(emulator))})

    def over_budget(self, emulator: Any, now: float) -> bool:
        """In the command's thread, past its deadline: whether it has had its CPU time (else
        its deadline moves on by what it has left)."""
        cpu = time.thread_time()
        if emulator._cpu_mark is None:
            emulator._cpu_mark, emulator._slow = cpu, True
        used = cpu - emulator._cpu_mark
        limit = emulator.max_script_s
        if used >= self.CPU_SHARE * limit:
            return True
        emulator._deadline = now + max(limit - used, 0.1 * limit)
        return False

    def _loop(self) -> None:
        while True:
            time.sleep(self.PERIOD_S)
            now = time.monotonic()
            for emulator in list(self._watched):
                deadline = emulator._deadline
                if now > deadline + emulator.watchdog_grace_s and self._stuck(
                        emulator, deadline, now):
                    self.check(emulator, deadline)

    def _stuck(self, emulator: Any, deadline: float, now: float) -> bool:
        runner = _runner_of(emulator)
        if runner is None:
            return False
        cpu = _thread_cpu(runner)
        first = self._first.get(emulator)
        if first is None or first[0] != deadline:
            self._first[emulator] = first = (deadline, now, cpu)
        mark = emulator._cpu_mark if emulator._cpu_mark is not None else first[2]
        limit = emulator.max_script_s
        return ((cpu is not None and mark is not None and cpu - mark >= self.CPU_SHARE * limit)
                or now - first[1] >= self.STILL_LIMITS * limit)

    def check(self, emulator: Any, deadline: float) -> bool:
        """Raise the timeout in ``emulator``'s command if it is still the one whose deadline
        was ``deadline``; True if raised."""
        with emulator._watchdog_lock:
            emulator._slow = True
            if emulator._deadline != deadline:  # read after the flag
                return False
            runner = _runner_of(emulator)
            if runner is None or not _async_raise(runner, emulator._timeout_class):
                return False
            emulator._watchdog_fired = True
            return True

    @staticmethod
    def end_slow(emulator: Any) -> None:
        """In the command's thread, at its end: withdraw a timeout raised but not yet
        delivered; forget the command's CPU mark."""
        with emulator._watchdog_lock:
            if emulator._watchdog_fired:
                _async_raise(threading.get_ident(), None)
                emulator._watchdog_fired = False
            emulator._cpu_mark, emulator._slow = None, False


def _runner_of(emulator: Any) -> int | None:
    """The thread running a command of ``emulator`` (its ``_run``), None if none is."""
    for ident, frame in sys._current_frames().items():
        f = frame
        while f is not None:
            if f.f_code.co_name == "_run" and f.f_locals.get("self") is emulator:
                return ident
            f = f.f_back
    return None


def _thread_cpu(thread_id: int) -> float | None:
    """CPU time (s) thread ``thread_id`` has had; None where the platform cannot say."""
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread_id))
    except (AttributeError, OSError, OverflowError):
        return None


def _async_raise(thread_id: int, exc: type[BaseException] | None) -> bool:
    """Raise ``exc`` in thread ``thread_id`` at its next bytecode (None: withdraw)."""
    n = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None)
    return n == 1


WATCHDOG = Watchdog()
