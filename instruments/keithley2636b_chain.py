"""The flip chain of stochastic switches run by the 2636B itself (``ftjchain``), and its rule.

One chain step on the cells of a word line (see :mod:`ftjlab.switching.engine`): every OFF
cell gets its own SET pulse and every ON cell its own RESET pulse (one trigger of the pulse
generator per SET/RESET cell pair: output 1 programs, output 2 erases, each routed to one bit
line), every cell is read and called ON above the middle of its window, and every cell is
saturated to the state it was read in (one trigger for the word line: output 1 on the ON
cells, output 2 on the OFF cells). The SMU (TSP-Link master) does all of it for ``steps``
steps: it switches the matrix (a 707B as ``node[nd]``), sets the generator's levels and
triggers it over TSP-Net (``host``/``port``; both outputs' load 1 MOhm first, so a level is
the volts at the cell), reads on every read channel at once (overlapped), and prints the
bits, one character per cell and step, in one reply.

The reads of a word line run interleaved with its pulses: the routing that fires SET/RESET
pair r also connects the read channels to cells pulsed two routings earlier or before (each
channel one cell), so consecutive routings never hand a bit line from the generator to a
read channel. Relays then move together (``connectrule = OFF``, one settling time) from
routing to routing within a word line's step: every terminal moves from bit lines to other
bit lines and no line is reached by two terminals, even while they move. They break before
they make where a line may change terminal: at the first routing of a word line's step
(after the saturation), where nothing is left to fire and only cells pulsed in the previous
routing remain to be read, and at the saturation.

The generator's width and period are the host's (set through its guarded driver before the
call); the saturating pulse has the same width as the weak ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._guard_tspnet import declare_generator_effects
from ._script_calls import call_script
from .keithley2636b_scripts import (
    _SELECT,
    MAX_READINGS,
    _check_cell_routes,
    _check_channels,
    _check_gate_lines,
    _check_tspnet_rows,
    _lua_numbers,
    _lua_strings,
    _numbers,
    _numbers_ok,
    _upload,
    _whole,
)
from .routing import SMU_MODELS
from .safety import SafetyGuard
from .script_registry import register_script

#: steps one call may run (a stop request waits for the call's reply)
MAX_CHAIN_STEPS = 1000

#: ``ftjchain(nd, host, port, nodes, chans, gates, cnt, rd, p1, p2, vu, vd, mid, s, sat,
#: steps)``: word line ``w``'s gate route ``gates[w]`` and ``cnt[w]`` cells, which follow
#: each other in the per-cell tables: read crosspoints ``rd`` (every cell for the first read
#: channel, then for the second...), program ``p1`` and erase ``p2`` crosspoints, SET and
#: RESET amplitudes ``vu``/``vd`` (V, > 0; RESET goes out negative on output 2), read
#: threshold ``mid`` (A) and state ``s`` (0 OFF, 1 ON); ``sat`` the saturating amplitude.
CHAIN_NAME = "ftjchain"
CHAIN_SOURCE = (
    "function ftjchain(nd, host, port, nodes, chans, gates, cnt, rd, p1, p2, vu, vd, mid, s, "
    "sat, steps) "
    + _SELECT
    + "local kc = table.getn(smus) "
    "for k = 1, kc do smus[k].nvbuffer1.collecttimestamps = 0 smus[k].measure.count = 1 end "
    "local m = table.getn(p1) local ch = node[nd].channel local out = {} local no = 0 "
    "local rv = {} local h1 = -1 local l2 = 1 local OFF = ch.OFF local BBM = ch.BREAK_BEFORE_MAKE "
    "local rule = -1 local function order(r) if r ~= rule then ch.connectrule = r rule = r end end "
    "local pg = tspnet.connect(host, port) "
    'tspnet.write(pg, ":OUTP1:LOAD 1000000;:OUTP2:LOAD 1000000;*OPC?") tspnet.read(pg) '
    "local function trig(hi, lo) local cmd = \"\" "
    'if hi ~= h1 then cmd = string.format(":VOLT1:HIGH %.4f;", hi) h1 = hi end '
    'if lo ~= l2 then cmd = cmd .. string.format(":VOLT2:LOW %.4f;", lo) l2 = lo end '
    'tspnet.write(pg, cmd .. "*TRG;*OPC?") tspnet.read(pg) end '
    "local function route(gate, pts) "
    'ch.exclusiveclose(gate .. "," .. table.concat(pts, ",")) order(OFF) end '
    "for t = 1, steps do local lo = 1 "
    "for w = 1, table.getn(gates) do local gate = gates[w] local hi = lo + cnt[w] - 1 "
    "local ups = {} local dns = {} local nu = 0 local nw = 0 "
    "for i = lo, hi do if s[i] == 0 then nu = nu + 1 ups[nu] = i "
    "else nw = nw + 1 dns[nw] = i end end "
    "local pq = {} local pr = {} local npq = 0 local head = 1 local r = 0 local nread = 0 "
    "if kc > 1 then for k = 1, kc do smus[k].nvbuffer1.clear() end end "
    "order(BBM) "
    "while nread < cnt[w] do r = r + 1 local pts = {} local np0 = 0 local a = h1 local b = l2 "
    "if r <= nu then np0 = np0 + 1 pts[np0] = p1[ups[r]] a = vu[ups[r]] "
    "npq = npq + 1 pq[npq] = ups[r] pr[ups[r]] = r end "
    "if r <= nw then np0 = np0 + 1 pts[np0] = p2[dns[r]] b = -vd[dns[r]] "
    "npq = npq + 1 pq[npq] = dns[r] pr[dns[r]] = r end "
    "local grp = {} local q = 0 "
    "while q < kc and head <= npq and pr[pq[head]] <= r - 2 do "
    "q = q + 1 grp[q] = pq[head] head = head + 1 end "
    "if q == 0 and np0 == 0 then order(BBM) "
    "while q < kc and head <= npq do q = q + 1 grp[q] = pq[head] head = head + 1 end end "
    "for j = 1, q do pts[np0 + j] = rd[(j - 1) * m + grp[j]] end "
    "route(gate, pts) if np0 > 0 then trig(a, b) end "
    "if q > 0 then if kc == 1 then rv[1] = smus[1].measure.i() else "
    "for j = 1, q do smus[j].measure.overlappedi(smus[j].nvbuffer1) end waitcomplete() "
    "for j = 1, q do local bf = smus[j].nvbuffer1 rv[j] = bf.readings[bf.n] end end "
    "for j = 1, q do local i = grp[j] if rv[j] > mid[i] then s[i] = 1 else s[i] = 0 end end "
    "nread = nread + q end end "
    "for i = lo, hi do no = no + 1 out[no] = s[i] end "
    "order(BBM) local pts = {} "
    "for i = lo, hi do if s[i] == 1 then table.insert(pts, p1[i]) "
    "else table.insert(pts, p2[i]) end end "
    "route(gate, pts) trig(sat, -sat) lo = hi + 1 end end "
    "order(BBM) tspnet.disconnect(pg) "
    "print(table.concat(out)) "
    "end"
)


def _check_chain(guard: SafetyGuard, args: tuple[Any, ...]) -> None:
    """Rule of ``ftjchain``: literal tables of crosspoints and numbers; every amplitude as
    sent (``%.4f``: the SET and RESET amplitudes and the saturating one) within the program
    limit, and the generator's least amplitude at 1 MOhm too (a smaller level is raised to
    it); the routes allowed.

    Per word line the script closes the gate route with program and erase crosspoints of
    distinct cells (a SET/RESET pair, or the saturation's ON cells on program and OFF cells on
    erase) and at most one read crosspoint per read channel, of other cells. Each gate route must
    reach exactly one word line (a different one per route) and a cell's crosspoints one bit
    line (no two cells of a word line the same one); then every set closed, and every set the
    relays pass through while they move together, is the gate with read,
    program and erase crosspoints of distinct bit lines, which the routes checked here (the
    gate with all the word line's crosspoints of one read channel, or all its program, or all
    its erase crosspoints) cover line by line.
    """
    call = f"{CHAIN_NAME}(...)"
    if len(args) != 16:
        raise guard.refuse(call, "ftjchain takes 16 arguments")
    nd, host, port, nodes, chans, gates, cnt, rd, p1, p2, vu, vd, mid, s, sat, steps = args
    k = _check_channels(guard, call, nodes, chans)
    m = _check_tspnet_rows(guard, call, k, nd, host, port, gates, cnt, rd, p1, p2)
    if not _whole(steps, 1, MAX_CHAIN_STEPS) or steps * m > MAX_READINGS:
        raise guard.refuse(call, f"steps must be 1..{MAX_CHAIN_STEPS} with at most "
                           f"{MAX_READINGS} readings in all, got {steps!r} x {m}")
    for name, items, lo, hi in (("SET amplitudes", vu, 1e-4, 1e3),
                                ("RESET amplitudes", vd, 1e-4, 1e3),
                                ("thresholds", mid, -1e-3, 1e-3), ("states", s, 0, 1)):
        if not _numbers_ok(items, m, lo, hi):
            raise guard.refuse(call, f"{name}: {m} numbers in [{lo:g}, {hi:g}]")
    if any(x not in (0, 1) for x in s):
        raise guard.refuse(call, "states: 0 (OFF) or 1 (ON) per cell")
    if not (isinstance(sat, (int, float)) and not isinstance(sat, bool) and sat > 0):
        raise guard.refuse(call, f"saturating amplitude must be a number > 0, got {sat!r}")
    for volts in (*vu, *vd, sat):  # as the script sends them
        guard.limits.check_voltage("program", float(f"{volts:.4f}"))
    if guard.routing is not None:  # a generator raises a smaller amplitude to its minimum
        for _, generator in guard.routing.pulse_generator_guards():
            least = getattr(generator.rules, "least_amplitude_v", None)
            if least is not None:
                guard.limits.check_voltage("program", least(1e6))
        _check_gate_lines(guard, call, gates)
    if guard.routing is not None:
        _check_terminals(guard, call, rd, p1, p2, k, m)
    _check_cell_routes(guard, call, gates, cnt, rd, p1, p2, k, m)


def _check_terminals(guard: SafetyGuard, call: str, rd: tuple, p1: tuple, p2: tuple, k: int,
                     m: int) -> None:
    """Each read crosspoint on an SMU terminal (one per read channel, the same for all its
    cells), the program crosspoints on output 1 and the erase ones on output 2 of one pulse
    generator: the levels the script sets reach the cells it means."""
    routing = guard.routing
    terminal = {x: routing.rows.get(x[1]) for x in (*rd, *p1, *p2)}
    model = {name: routing.models.get(name) for name in {str(t).split(".")[0]
                                                           for t in terminal.values()}}

    def kind(t: str | None) -> tuple[str | None, str | None]:
        if t is None:
            return None, None
        name, _, channel = t.partition(".")
        return model.get(name), channel

    reads = [{terminal[x] for x in rd[c * m:(c + 1) * m]} for c in range(k)]
    if any(len(r) != 1 or kind(next(iter(r)))[0] not in SMU_MODELS for r in reads) or len(
            set().union(*reads)) != k:
        raise guard.refuse(call, "read crosspoints: one SMU terminal per read channel")
    outs = [{terminal[x] for x in p} for p in (p1, p2)]
    if any(len(o) != 1 for o in outs):
        raise guard.refuse(call, "program and erase crosspoints: one generator output each")
    (one,), (two,) = outs
    generators = routing.pulse_generators()
    if (str(one).split(".")[0] not in generators or kind(one)[1] != "1" or kind(two)[1] != "2"
            or str(one).split(".")[0] != str(two).split(".")[0]):
        raise guard.refuse(call, "program crosspoints on output 1 and erase crosspoints on "
                           "output 2 of one pulse generator")


CHAIN = register_script(CHAIN_NAME, CHAIN_SOURCE, _check_chain, model="2636B")
#: what ``ftjchain`` changes on the generator over TSP-Net (its only messages there are
#: ``:OUTP1:LOAD 1000000;:OUTP2:LOAD 1000000``, ``:VOLT1:HIGH``, ``:VOLT2:LOW``, ``*TRG`` and
#: ``*OPC?``)
CHAIN_GENERATOR_EFFECTS = declare_generator_effects(
    CHAIN_NAME, {1: ("load", "high", "output"), 2: ("load", "low", "output")},
    load_ohm=1e6, model="2636B")


def chain_steps(
    smu: Any, node: int, host: str, port: int, channels: Sequence[tuple[int, str]],
    gates: Sequence[str], counts: Sequence[int], reads: Sequence[str], programs: Sequence[str],
    erases: Sequence[str], set_v: Sequence[float], reset_v: Sequence[float],
    thresholds_a: Sequence[float], state: Sequence[int], saturate_v: float, steps: int,
) -> np.ndarray:
    """Run ``ftjchain`` once (one message, one reply): ``steps`` chain steps of the cells
    (word line after word line, per-cell tables in that order). ``channels``: the read
    channels (node, "a"|"b"); ``reads``: every cell's crosspoint for each channel in turn;
    ``set_v``/``reset_v``: the magnitudes of each cell's SET and RESET amplitudes. Returns
    the cells' states after each step, uint8 of shape ``(steps, cells)``.

    The generator guards hold what the script sets until its reply is read; a call that
    fails after it was sent is aborted first (:func:`~._script_calls.call_script`)."""
    _upload(smu, CHAIN_SOURCE, "_ftj_chain_loaded")
    nodes, chans = [c[0] for c in channels], [c[1] for c in channels]
    reply = call_script(smu, CHAIN_NAME, (
        f'{CHAIN_NAME}({int(node)}, "{host}", {int(port)}, {_numbers(nodes)}, '
        f"{_lua_strings(chans)}, {_lua_strings(gates)}, {_numbers(counts)}, "
        f"{_lua_strings(reads)}, {_lua_strings(programs)}, {_lua_strings(erases)}, "
        f"{_lua_numbers(set_v)}, {_lua_numbers(reset_v)}, {_lua_numbers(thresholds_a)}, "
        f"{_numbers(state)}, {float(saturate_v)!r}, {int(steps)})")).strip()
    m = len(programs)
    if len(reply) != steps * m or set(reply) - {"0", "1"}:
        raise ValueError(f"{CHAIN_NAME}: expected {steps * m} bits, got {reply[:40]!r}")
    return (np.frombuffer(reply.encode("ascii"), np.uint8) - ord("0")).reshape(steps, m)


__all__ = ["CHAIN", "CHAIN_NAME", "CHAIN_SOURCE", "MAX_CHAIN_STEPS", "chain_steps"]
