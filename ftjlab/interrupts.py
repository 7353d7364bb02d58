"""Ctrl-C and SIGTERM for the command line: a stop request first, an interrupt second, and
never an interrupt in the middle of settling a run.

``ftjlab`` installs :func:`handler` for SIGINT and SIGTERM as the first thing it does (so
SIGTERM, too, ends a command through Python and exit code 1, never the shell's 143). The
handler

* sets the current stop event (:func:`stop_on`) on the first signal: a running procedure
  stops at its next safe point and the run is marked ``aborted``; signals within
  :data:`GRACE_S` after that are part of the same burst and only counted;
* otherwise raises :class:`KeyboardInterrupt`, once: later signals are ignored while the
  command ends (a second ``KeyboardInterrupt`` would cut short the very code that records
  the status). Python may run the handler inside a callback from C (ctypes, a JIT cache)
  that swallows the exception; then the next signal raises again (no traceback is printed
  for the lost one);
* inside :func:`shielded` (the runner's shutdown and the writer's finish) only notes the
  signal: the run is being settled anyway.

Python runs signal handlers in the main thread only; elsewhere (a GUI worker) none of this
applies and :func:`shielded` costs nothing.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: seconds after a stop request during which further signals only repeat it
GRACE_S = 1.0


class _State:
    stop: threading.Event | None = None
    stop_at = 0.0  # when a signal set the stop event (monotonic s)
    seen = False  # a stop event was set by a signal
    unraisable: Any = None  # sys.unraisablehook before install()
    raised = False
    shield = 0
    pending = 0


_state = _State()


def reset() -> None:
    """Forget earlier signals (each command starts afresh)."""
    _state.stop, _state.seen, _state.raised, _state.shield, _state.pending = (
        None, False, False, 0, 0)


def handler(signum: int, frame: Any) -> None:
    """The SIGINT/SIGTERM handler (see the module docstring)."""
    name = signal.Signals(signum).name
    stop = _state.stop
    if stop is not None and not stop.is_set():
        stop.set()
        _state.seen = True
        _state.stop_at = time.monotonic()
        _say(f"\nftjlab: {name}: stopping at the next safe point (again to stop now)\n")
        return
    if _state.shield or _state.raised or (
            stop is not None and time.monotonic() - _state.stop_at < GRACE_S):
        _state.pending += 1
        return
    _state.raised = True
    raise KeyboardInterrupt(name)


def _say(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def install() -> dict[int, Any] | None:
    """Install :func:`handler` (main thread only); returns the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        return None
    reset()
    if sys.unraisablehook is not _unraisable:
        _state.unraisable = sys.unraisablehook
        sys.unraisablehook = _unraisable
    return {s: signal.signal(s, handler) for s in SIGNALS}


def _unraisable(args: Any) -> None:
    """A KeyboardInterrupt raised by :func:`handler` inside a callback that cannot pass it
    on is lost: re-arm, so the next signal raises again. Anything else: the usual report."""
    if isinstance(args.exc_value, KeyboardInterrupt):
        _state.raised = False
        return
    (_state.unraisable or sys.__unraisablehook__)(args)


def restore(previous: dict[int, Any] | None) -> None:
    """Put back handlers returned by :func:`install` - unless a signal came during the
    command: then the process is ending on it, and later signals of the same burst must not
    kill it by their default action (exit 130 / 143) on the way out."""
    if previous is None or threading.current_thread() is not threading.main_thread():
        return
    if _state.raised or _state.pending or _state.seen:
        ignore()
        return
    if sys.unraisablehook is _unraisable:
        sys.unraisablehook = _state.unraisable or sys.__unraisablehook__
    for sig, old in previous.items():
        signal.signal(sig, old)


def ignore() -> None:
    """Ignore SIGINT/SIGTERM from now on (the process is ending: Python's finalisation would
    otherwise put back their default action, exit 130 / 143, for the rest of a burst)."""
    _state.raised = True
    if threading.current_thread() is threading.main_thread():
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


def interrupted() -> bool:
    """Whether a :class:`KeyboardInterrupt` was raised by :func:`handler` in this command."""
    return _state.raised


def exit_now(code: int) -> None:
    """End the process with ``code`` at once (streams and logs flushed, files were closed by
    the command). Used after an interrupt: CPython marks a :class:`KeyboardInterrupt` that
    passed through code run by ``PyRun_String`` (some extension modules import that way) as
    unhandled even when it was caught, and would then end the process by SIGINT (exit 130)
    whatever ``main`` returned."""
    import logging
    import os

    ignore()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def ending() -> None:
    """The command is ending after an interrupt: ignore any further signal."""
    _state.raised = True


@contextmanager
def stop_on(event: threading.Event) -> Iterator[threading.Event]:
    """Within the block, the first signal sets ``event`` instead of interrupting."""
    previous, _state.stop = _state.stop, event
    try:
        yield event
    finally:
        _state.stop = previous


@contextmanager
def shielded() -> Iterator[None]:
    """Within the block, signals are only counted (see the module docstring)."""
    _state.shield += 1
    try:
        yield
    finally:
        _state.shield -= 1
