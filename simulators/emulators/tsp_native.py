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
from ftjlab.instruments.keithley2636b_scripts import SEQUENCE_NAME, SEQUENCE_SOURCE

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
    if code == SEQUENCE_SOURCE:
        emulator._lua.globals()[SEQUENCE_NAME] = lambda nd, gates, bls: sequence(
            emulator, nd, gates, bls
        )


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
    from .keithley2636b import READING_OVERHEAD_S, STATUS_4WIRE, STATUS_COMPLIANCE

    aperture = smu._aperture_s()
    dead = READING_OVERHEAD_S + (2 * aperture if smu.measure.autozero == smu.AUTOZERO_AUTO
                                 else 0)
    currents, starts = bench.measure_grid(smu._terminal, gates, bls, aperture, dead)
    currents, starts = currents.ravel(), starts.ravel()
    status = np.full(currents.size, STATUS_4WIRE if smu.sense == smu.SENSE_REMOTE else 0,
                     float)
    on = smu.source.output == smu.OUTPUT_ON
    v = np.full(currents.size, float(smu.source.levelv) if on else 0.0)
    if on:
        limit = float(smu.source.limiti)
        over = np.abs(currents) > limit
        if over.any():
            currents = np.where(over, np.copysign(limit, currents), currents)
            status[over] += STATUS_COMPLIANCE
    buf.store(currents, starts, status, v)
    smu._last_status = status[-1:]
