"""Overlapped measurements of the emulated 2636B channels (``smuX.measure.overlappedi``).

On the instrument an overlapped measurement runs in the background: a script starts one on
each of several channels (of this 2636B and of others over TSP-Link), and they integrate at
the same time until ``waitcomplete()``. The emulator queues them per bench and runs the
queued ones together (:meth:`Bench.acquire_many`: a common start, the clock advances once)
at the next point where their results or the channels are needed: ``waitcomplete()``, a read
of a reading buffer, another measurement, the end of the command. Whatever is not that
simple (a current source, a source delay, a filter, a fixed current range, channels that do
not each reach one bit line, different settings) runs one after the other as before.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

#: queued overlapped measurements per bench: (channel, reading buffer or None)
_QUEUED: weakref.WeakKeyDictionary[Any, list[tuple[Any, Any]]] = weakref.WeakKeyDictionary()


def start(smu: Any, buf: Any) -> None:
    """Queue a current measurement of ``smu`` into ``buf`` (a channel measures one thing at
    a time: a second one on the same channel first completes what is queued)."""
    from ..tsp_objects import runtime_error
    from .keithley2636b import ReadingBuffer

    if buf is not None and not isinstance(buf, ReadingBuffer):
        raise runtime_error("measure argument must be a reading buffer")
    queued = _QUEUED.setdefault(smu._bench, [])
    if any(s is smu for s, _ in queued):
        complete(smu._bench)
        queued = _QUEUED.setdefault(smu._bench, [])
    queued.append((smu, buf))


def cancel(smu: Any) -> None:
    """``smuX.abort()``: drop what ``smu`` has queued (its readings are never taken)."""
    queued = _QUEUED.get(smu._bench)
    if queued:
        queued[:] = [(s, b) for s, b in queued if s is not smu]


def complete(bench: Any) -> None:
    """Run every measurement queued on ``bench``: together where the settings allow."""
    if not _QUEUED:  # the usual case, at the end of every command: nothing queued anywhere
        return
    queued = _QUEUED.pop(bench, None)
    if not queued:
        return
    if len(queued) > 1 and _together(bench, queued):
        return
    for smu, buf in queued:
        smu._measure(ibuf=buf)


def _settings(smu: Any) -> tuple[float, float, int, float] | None:
    """(aperture, dead time, count, interval) of a plain voltage-source current reading."""
    from .keithley2636b import READING_OVERHEAD_S

    src, meas = smu.source, smu.measure
    if (src.func != smu.OUTPUT_DCVOLTS or src.output != smu.OUTPUT_ON or meas.delay > 0
            or meas.filter.enable or (not meas.autorangei and meas.rangei)):
        return None
    aperture = smu._aperture_s()
    dead = READING_OVERHEAD_S + (2 * aperture if meas.autozero == smu.AUTOZERO_AUTO else 0)
    return aperture, dead, int(meas.count), float(meas.interval)


def _together(bench: Any, queued: list[tuple[Any, Any]]) -> bool:
    from .tsp_native import _clip

    settings = [_settings(smu) for smu, _ in queued]
    if any(s is None for s in settings) or len(set(settings)) != 1:
        return False
    aperture, dead, count, interval = settings[0]
    period = max(interval, aperture + dead)
    t0 = bench.clock.now_s
    traces = bench.acquire_many([smu._terminal for smu, _ in queued], count, period, aperture)
    if traces is None:
        return False
    times = t0 + period * np.arange(count)
    for (smu, buf), trace in zip(queued, traces, strict=True):
        currents, status, v = _clip(smu, np.asarray(trace, dtype=np.float64))
        if buf is not None:
            buf.store(currents, times, status, v)
        smu._last_status = status[-1:]
    return True
