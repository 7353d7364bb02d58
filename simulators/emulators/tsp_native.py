"""Native execution of the 2636B driver's registered array scripts in the emulator.

A real 2636B runs ``ftjseq`` (see :mod:`ftjlab.instruments.keithley2636b_scripts`) as Lua; the
emulator runs the same Lua too, but every step then crosses into Python twice (a relay move
on the 707B node, a reading), which costs ~2 ms of wall time per reading. When a message
defines the function with exactly the registered source, the emulator replaces it with this
native version: the same buffer, settings, relay state and virtual time, the readings of
runs of routes computed together (:meth:`Bench.measure_routes`). Anything the native version
does not model exactly (a current source, a filter, a source delay, a fixed current range,
or a node that is not a 707B) runs the steps one by one through the same Python objects.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ftjlab.instruments.keithley2636b_scripts import (
    MULTI_ACQUIRE_NAME,
    MULTI_ACQUIRE_SOURCE,
    MULTI_SEQUENCE_NAME,
    MULTI_SEQUENCE_SOURCE,
    SEQUENCE_NAME,
    SEQUENCE_SOURCE,
)

from ..tsp import runtime_error


def _strings(table: Any) -> list[str]:
    if isinstance(table, (list, tuple)):
        items = list(table)
    else:
        try:
            n = len(table)
        except TypeError:
            raise runtime_error("ftjseq expects tables of strings") from None
        items = [table[i] for i in range(1, n + 1)]
    if not all(isinstance(x, str) for x in items):
        raise runtime_error("ftjseq expects tables of strings")
    return items


def install(emulator: Any, code: str) -> None:
    """After ``code`` ran on ``emulator``: if it defined a registered script, go native."""
    g = emulator._lua.globals()
    if code == SEQUENCE_SOURCE:
        g[SEQUENCE_NAME] = lambda nd, gates, bls: sequence(emulator, nd, gates, bls)
    elif code == MULTI_SEQUENCE_SOURCE:
        g[MULTI_SEQUENCE_NAME] = lambda nd, gates, groups, nodes, chans: sequence_multi(
            emulator, nd, gates, groups, nodes, chans)
    elif code == MULTI_ACQUIRE_SOURCE:
        g[MULTI_ACQUIRE_NAME] = lambda nodes, chans, count, interval: acquire_multi(
            emulator, nodes, chans, count, interval)


def sequence(emulator: Any, nd: Any, gates: Any, bls: Any) -> None:
    """``ftjseq(nd, gates, bls)``: measure channel a at every route ``gate .. "," .. bl``."""
    nodes = emulator._lua.globals().node
    remote = nodes[nd] if nodes is not None else None
    channel = getattr(remote, "channel", None)
    if channel is None:
        raise runtime_error(f"attempt to index node[{nd}] (no switch matrix there)")
    gate_list, bl_list = _strings(gates), _strings(bls)
    smu = emulator.smua
    buf = smu.nvbuffer1
    buf.clear()
    buf.appendmode = 1
    buf.collecttimestamps = 0
    smu.measure.count = 1
    if not gate_list or not bl_list:
        return
    channel.connectrule = channel.BREAK_BEFORE_MAKE
    gate_pts = [channel._closable(g) for g in gate_list]  # all-or-nothing, like each step
    bl_pts = [channel._closable(b) for b in bl_list]
    src, meas = smu.source, smu.measure
    exact = (
        src.func != smu.OUTPUT_DCVOLTS
        or meas.delay > 0
        or meas.filter.enable
        or (not meas.autorangei and meas.rangei)
        or any(len(b) != 1 for b in bl_pts)
        or not hasattr(channel, "_bench")
    )
    if exact:
        for k, text in enumerate(f"{g},{b}" for g in gate_list for b in bl_list):
            channel.exclusiveclose(text)
            smu.measure.i(buf)
            if k == 0:
                channel.connectrule = channel.OFF
    else:
        bench = channel._bench
        first = {*gate_pts[0], bl_pts[0][0]}
        bench.open([p for p in bench.closed() if p not in first])  # break before make
        _batched(smu, buf, bench, gate_pts, [b[0] for b in bl_pts])
    channel.connectrule = channel.BREAK_BEFORE_MAKE


def _batched(smu: Any, buf: Any, bench: Any, gates: list[Any], bls: list[Any]) -> None:
    from .keithley2636b import READING_OVERHEAD_S

    aperture = smu._aperture_s()
    dead = READING_OVERHEAD_S + (2 * aperture if smu.measure.autozero == smu.AUTOZERO_AUTO
                                 else 0)
    currents, starts = bench.measure_grid(smu._terminal, gates, bls, aperture, dead)
    currents, status, v = _clip(smu, currents.ravel())
    buf.store(currents, starts.ravel(), status, v)
    smu._last_status = status[-1:]


# --------------------------------------------------------------- several SMU channels at once
def _channels(emulator: Any, nodes: Any, chans: Any) -> list[Any]:
    node_list = [int(x) for x in _numbers(nodes)]
    chan_list = _strings(chans)
    if len(node_list) != len(chan_list):
        raise runtime_error("nodes and chans must have the same length")
    table = emulator._lua.globals().node
    smus = []
    for n, c in zip(node_list, chan_list, strict=True):
        owner = emulator if n == 1 else (table[n] if table is not None else None)
        smu = getattr(owner, f"smu{c}", None) if c in ("a", "b") else None
        if smu is None:
            raise runtime_error(f"attempt to index node[{n}].smu{c} (no such SMU)")
        smus.append(smu)
    return smus


def _numbers(table: Any) -> list[float]:
    if isinstance(table, (list, tuple)):
        items = list(table)
    else:
        items = [table[i] for i in range(1, len(table) + 1)]
    if not all(isinstance(x, (int, float)) for x in items):
        raise runtime_error("expected a table of numbers")
    return items


def _simple(smus: list[Any]) -> bool:
    nplc = {float(s.measure.nplc) for s in smus}
    return len(nplc) == 1 and all(
        s.source.func == s.OUTPUT_DCVOLTS and not s.measure.delay > 0
        and not s.measure.filter.enable and (s.measure.autorangei or not s.measure.rangei)
        and s._emu.localnode.linefreq == smus[0]._emu.localnode.linefreq
        for s in smus
    )


def _clip(smu: Any, currents: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from .keithley2636b import STATUS_4WIRE, STATUS_COMPLIANCE

    status = np.full(currents.size, STATUS_4WIRE if smu.sense == smu.SENSE_REMOTE else 0, float)
    on = smu.source.output == smu.OUTPUT_ON
    v = np.full(currents.size, float(smu.source.levelv) if on else 0.0)
    if on:
        limit = float(smu.source.limiti)
        over = np.abs(currents) > limit
        if over.any():
            currents = np.where(over, np.copysign(limit, currents), currents)
            status[over] += STATUS_COMPLIANCE
    return currents, status, v


def sequence_multi(
    emulator: Any, nd: Any, gates: Any, groups: Any, nodes: Any, chans: Any
) -> None:
    """``ftjseqn``: ``ftjseq`` with every selected channel reading at each route, at once."""
    from .keithley2636b import READING_OVERHEAD_S

    table = emulator._lua.globals().node
    channel = getattr(table[nd] if table is not None else None, "channel", None)
    if channel is None:
        raise runtime_error(f"attempt to index node[{nd}] (no switch matrix there)")
    smus = _channels(emulator, nodes, chans)
    gate_list, group_list = _strings(gates), _strings(groups)
    for s in smus:
        s.nvbuffer1.clear()
        s.nvbuffer1.appendmode = 1
        s.nvbuffer1.collecttimestamps = 0
        s.measure.count = 1
    channel.connectrule = channel.BREAK_BEFORE_MAKE
    gate_pts = [channel._closable(g) for g in gate_list]
    group_pts = [channel._closable(g) for g in group_list]
    n = len(gate_list) * len(group_list)
    done = None
    if n and _simple(smus) and hasattr(channel, "_bench"):
        bench = channel._bench
        first = {*gate_pts[0], *group_pts[0]}
        bench.open([p for p in bench.closed() if p not in first])  # break before make
        smu0 = smus[0]
        aperture = smu0._aperture_s()
        dead = READING_OVERHEAD_S + (2 * aperture if smu0.measure.autozero == smu0.AUTOZERO_AUTO
                                     else 0)
        done = bench.measure_grid_multi([s._terminal for s in smus], gate_pts, group_pts,
                                        aperture, dead)
    if done is not None:
        values, starts = done
        for k, s in enumerate(smus):
            currents, status, v = _clip(s, values[:, k])
            s.nvbuffer1.store(currents, starts, status, v)
    else:  # step by step, each channel after the other
        for i, text in enumerate(f"{g},{b}" for g in gate_list for b in group_list):
            channel.exclusiveclose(text)
            for s in smus:
                s.measure.i(s.nvbuffer1)
            if i == 0:
                channel.connectrule = channel.OFF
    channel.connectrule = channel.BREAK_BEFORE_MAKE
    if n:
        emulator._lua_printbuffer(1, n, *[s.nvbuffer1.readings for s in smus])


def acquire_multi(emulator: Any, nodes: Any, chans: Any, count: Any, interval: Any) -> None:
    """``ftjacqn``: ``count`` readings ``interval`` apart on every selected channel, all
    started at the same time."""
    from .keithley2636b import READING_OVERHEAD_S

    smus = _channels(emulator, nodes, chans)
    count, interval = int(count), float(interval)
    for s in smus:
        s.nvbuffer1.clear()
        s.nvbuffer1.appendmode = 1
        s.nvbuffer1.collecttimestamps = 1
        s.measure.autozero = 0
        s.measure.count = count
        s.measure.interval = interval
    bench = smus[0]._bench
    traces = None
    if _simple(smus):
        aperture = smus[0]._aperture_s()
        period = max(interval, aperture + READING_OVERHEAD_S)
        t0 = bench.clock.now_s
        traces = bench.acquire_many([s._terminal for s in smus], count, period, aperture)
    if traces is not None:
        times = t0 + period * np.arange(count)
        for s, trace in zip(smus, traces, strict=True):
            currents, status, v = _clip(s, trace)
            s.nvbuffer1.store(currents, times, status, v)
    else:  # one after the other
        for s in smus:
            s.measure.i(s.nvbuffer1)
    bufs = []
    for s in smus:
        bufs += [s.nvbuffer1.readings, s.nvbuffer1.timestamps]
    emulator._lua_printbuffer(1, count, *bufs)
