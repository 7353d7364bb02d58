"""On-instrument scripts of the Keithley 2636B for array work, and the guard rules of their calls.

A tester does not send one message per reading: the SMU (TSP-Link master) runs a loop that
switches the matrix (a 707B as ``node[N]``) from route to route and measures each into its
reading buffer, and the buffer comes back as one binary block. Each script here is a constant
Lua source, uploaded once per connection as a named function and registered with the safety
layer (:func:`~ftjlab.instruments.script_registry.register_script`): the guard accepts exactly this
upload text, and a call only with literal arguments that its rule accepts.

The scripts change no source setting (levels, limits, outputs): the caller sets the read
bias through the ordinary, guarded commands first. They only switch relays and measure.
Relay moves inside a sequence use ``connectrule = OFF`` (the relays of one step move
together and settle once: only read-role terminals and the gate change places); the first
step of a sequence breaks before it makes, so whatever was routed before (e.g. the pulser)
is disconnected before the read channel is connected.

Every call is sent with :func:`~ftjlab.instruments._script_calls.call_script`: a call whose
reply times out may still be running (switching relays, printing its reply later), so it is
aborted and its late output read past before anything else is sent, and relay closes stay
refused until the SMU has answered after the abort.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._common import read_indefinite_block
from ._guard_tspnet import declare_generator_effects
from ._script_calls import (  # noqa: F401 (re-exported)
    abort_script,
    call_script,
)
from .safety import SafetyGuard
from .script_registry import register_script

#: readings one sequence may take (the 2600B's dedicated buffer holds 100,000)
MAX_READINGS = 100_000
#: one crosspoint list: "1B05" or "1B05,1B07,..." (slot, row letter, two-digit column)
_XP_LIST = re.compile(r"[1-6][A-H](?:0[1-9]|1[0-2])(?:,[1-6][A-H](?:0[1-9]|1[0-2]))*")

#: Measure channel a at every route ``gates[p] .. "," .. bls[i]`` (gate-set-major), one reading
#: each, into ``smua.nvbuffer1`` (cleared first). ``nd``: the TSP-Link node of the 707B.
SEQUENCE_NAME = "ftjseq"
SEQUENCE_SOURCE = (
    "function ftjseq(nd, gates, bls) "
    "smua.nvbuffer1.clear() smua.nvbuffer1.appendmode = 1 "
    "smua.nvbuffer1.collecttimestamps = 0 smua.measure.count = 1 "
    "node[nd].channel.connectrule = node[nd].channel.BREAK_BEFORE_MAKE "
    "for p = 1, table.getn(gates) do for i = 1, table.getn(bls) do "
    'node[nd].channel.exclusiveclose(gates[p] .. "," .. bls[i]) '
    "smua.measure.i(smua.nvbuffer1) "
    "node[nd].channel.connectrule = node[nd].channel.OFF "
    "end end "
    "node[nd].channel.connectrule = node[nd].channel.BREAK_BEFORE_MAKE "
    "end"
)


#: argument forms of ``ftjseq`` found well-formed (node, gates, bls), and the routes of each
#: (the routes are still checked at every call: they depend on the channels' present roles).
#: Only well-formed forms are kept, whose items are all str and the node a whole number
#: 2..64, so no other value compares equal to a key (as ``True == 1`` or ``-0.0 == 0.0``).
_SEQUENCE_FORMS: dict[tuple[Any, ...], tuple[str, ...]] = {}


def _sequence_problem(node: Any, gates: Any, bls: Any) -> str | None:
    """What is wrong with the form of ``ftjseq``'s arguments (None: nothing)."""
    if not (isinstance(node, (int, float)) and float(node).is_integer() and 2 <= node <= 64):
        return f"node must be a TSP-Link node number 2..64, got {node!r}"
    for name, items in (("gate routes", gates), ("bit-line crosspoints", bls)):
        if not isinstance(items, tuple) or not items:
            return f"{name} must be a non-empty table of crosspoint lists"
        bad = [x for x in items if not (isinstance(x, str) and _XP_LIST.fullmatch(x))]
        if bad:
            return f"{name}: not a crosspoint list: {bad[0]!r}"
    if any("," in x for x in bls):
        return "each bit-line entry must be one crosspoint"
    if len(gates) * len(bls) > MAX_READINGS:
        return f"more than {MAX_READINGS} readings in one sequence"
    return None


def _check_sequence(guard: SafetyGuard, args: tuple[Any, ...]) -> None:
    """Rule of ``ftjseq(nd, {gates...}, {bls...})``: a node number, crosspoint lists only,
    every route allowed by the matrix routing rules, and no more readings than the buffer."""
    if len(args) != 3:
        raise guard.refuse(f"{SEQUENCE_NAME}{args!r}",
                           "ftjseq takes (node, {gate routes}, {bit-line crosspoints})")
    routes = _SEQUENCE_FORMS.get(args) if type(args[0]) is float else None
    if routes is None:
        problem = _sequence_problem(*args)
        if problem is not None:
            raise guard.refuse(f"{SEQUENCE_NAME}{args!r}", problem)
        _, gates, bls = args
        # every route of the loop is a subset of gate + all bit lines
        routes = tuple(",".join((gate, *bls)) for gate in gates)
        if type(args[0]) is float and len(_SEQUENCE_FORMS) < 4096:
            _SEQUENCE_FORMS[args] = routes
    for route in routes:
        guard.check_route(route)


SEQUENCE = register_script(SEQUENCE_NAME, SEQUENCE_SOURCE, _check_sequence, model="2636B")


def _lua_strings(items: Sequence[str]) -> str:
    return "{" + ",".join(f'"{x}"' for x in items) + "}"


def measure_sequence(
    smu: Any, node: int, gates: Sequence[str], bls: Sequence[str]
) -> np.ndarray:
    """Run ``ftjseq`` on ``smu`` (a :class:`~ftjlab.instruments.Keithley2636B`) and return
    its readings (A), shape ``(len(gates), len(bls))``: one message and one binary reply.

    The read channel (a) must already be biased with its output on; the gate channel must
    already drive. The script is uploaded on first use on this connection.
    """
    if not getattr(smu, "_ftj_sequence_loaded", False):
        smu.write(SEQUENCE_SOURCE)
        smu._ftj_sequence_loaded = True
    n = len(gates) * len(bls)
    if n == 0:
        return np.empty((len(gates), len(bls)))
    values = call_script(
        smu, SEQUENCE_NAME,
        "format.data = format.REAL64 format.byteorder = format.LITTLEENDIAN "
        f"{SEQUENCE_NAME}({int(node)}, {_lua_strings(gates)}, {_lua_strings(bls)}) "
        f"printbuffer(1, {n}, smua.nvbuffer1.readings) format.data = format.ASCII",
        lambda: read_indefinite_block(smu, n, "<f8"))
    return np.asarray(values, dtype=np.float64).reshape(len(gates), len(bls))


# --------------------------------------------------------------- several SMU channels at once
#: Select SMU channel k: ``nodes[k]`` (1 = this instrument, N = TSP-Link node N) and
#: ``chans[k]`` ("a" or "b"); clear its buffer for the readings of the call.
_SELECT = (
    "local smus = {} local bufs = {} "
    "for k = 1, table.getn(nodes) do local s = smua "
    'if nodes[k] == 1 then if chans[k] == "b" then s = smub end '
    'elseif chans[k] == "a" then s = node[nodes[k]].smua else s = node[nodes[k]].smub end '
    "s.nvbuffer1.clear() s.nvbuffer1.appendmode = 1 smus[k] = s end "
)

#: Like ``ftjseq`` with several SMU channels measuring at once: for every gate set and every
#: group (one bit-line crosspoint per channel, in channel order), route, start one overlapped
#: reading on each channel, wait; then print every channel's readings interleaved (one block).
MULTI_SEQUENCE_NAME = "ftjseqn"
MULTI_SEQUENCE_SOURCE = (
    "function ftjseqn(nd, gates, groups, nodes, chans) "
    + _SELECT
    + "for k = 1, table.getn(smus) do smus[k].nvbuffer1.collecttimestamps = 0 "
    "smus[k].measure.count = 1 bufs[k] = smus[k].nvbuffer1.readings end "
    "node[nd].channel.connectrule = node[nd].channel.BREAK_BEFORE_MAKE "
    "for p = 1, table.getn(gates) do for g = 1, table.getn(groups) do "
    'node[nd].channel.exclusiveclose(gates[p] .. "," .. groups[g]) '
    "for k = 1, table.getn(smus) do smus[k].measure.overlappedi(smus[k].nvbuffer1) end "
    "waitcomplete() "
    "node[nd].channel.connectrule = node[nd].channel.OFF "
    "end end "
    "node[nd].channel.connectrule = node[nd].channel.BREAK_BEFORE_MAKE "
    "printbuffer(1, table.getn(gates) * table.getn(groups), unpack(bufs)) "
    "end"
)

#: ``count`` readings ``interval`` apart on every selected channel, started together by one
#: script (the channels measure in parallel), then every channel's readings and timestamps
#: printed interleaved (one block).
MULTI_ACQUIRE_NAME = "ftjacqn"
MULTI_ACQUIRE_SOURCE = (
    "function ftjacqn(nodes, chans, count, interval) "
    + _SELECT
    + "for k = 1, table.getn(smus) do local s = smus[k] s.nvbuffer1.collecttimestamps = 1 "
    "s.measure.autozero = 0 s.measure.count = count s.measure.interval = interval "
    "bufs[2 * k - 1] = s.nvbuffer1.readings bufs[2 * k] = s.nvbuffer1.timestamps end "
    "for k = 1, table.getn(smus) do smus[k].measure.overlappedi(smus[k].nvbuffer1) end "
    "waitcomplete() "
    "printbuffer(1, count, unpack(bufs)) "
    "end"
)


def _check_channels(guard: SafetyGuard, call: str, nodes: Any, chans: Any) -> int:
    if not (isinstance(nodes, tuple) and isinstance(chans, tuple) and nodes
            and len(nodes) == len(chans) <= 8):
        raise guard.refuse(call, "nodes and chans must be tables of equal length 1..8")
    for n, c in zip(nodes, chans, strict=True):
        if not (isinstance(n, (int, float)) and float(n).is_integer() and 1 <= n <= 64):
            raise guard.refuse(call, f"node must be 1..64, got {n!r}")
        if c not in ("a", "b"):
            raise guard.refuse(call, f"channel must be 'a' or 'b', got {c!r}")
    if len(set(zip(nodes, chans, strict=True))) != len(nodes):
        raise guard.refuse(call, "a channel is listed twice")
    return len(nodes)


def _check_multi_sequence(guard: SafetyGuard, args: tuple[Any, ...]) -> None:
    """Rule of ``ftjseqn``: as ``ftjseq``, with groups of at most one crosspoint per channel."""
    call = f"{MULTI_SEQUENCE_NAME}{args!r}"
    if len(args) != 5:
        raise guard.refuse(call, "ftjseqn takes (node, gates, groups, nodes, chans)")
    node, gates, groups, nodes, chans = args
    k = _check_channels(guard, call, nodes, chans)
    if not (isinstance(groups, tuple) and groups
            and all(isinstance(g, str) and _XP_LIST.fullmatch(g) for g in groups)):
        raise guard.refuse(call, "groups must be a non-empty table of crosspoint lists")
    if any(len(g.split(",")) > k for g in groups):
        raise guard.refuse(call, f"a group routes more bit lines than the {k} channels")
    # every bit line of every group, with every gate set: a superset of each step's route
    _check_sequence(guard, (node, gates, tuple(x for g in groups for x in g.split(","))))


def _check_multi_acquire(guard: SafetyGuard, args: tuple[Any, ...]) -> None:
    """Rule of ``ftjacqn``: channels, a count that fits the buffer, an interval of 0..1 s."""
    call = f"{MULTI_ACQUIRE_NAME}{args!r}"
    if len(args) != 4:
        raise guard.refuse(call, "ftjacqn takes (nodes, chans, count, interval)")
    nodes, chans, count, interval = args
    _check_channels(guard, call, nodes, chans)
    if not (isinstance(count, (int, float)) and float(count).is_integer()
            and 1 <= count <= MAX_READINGS):
        raise guard.refuse(call, f"count must be 1..{MAX_READINGS}, got {count!r}")
    if not (isinstance(interval, (int, float)) and 0 <= interval <= 1):
        raise guard.refuse(call, f"interval must be 0..1 s, got {interval!r}")


MULTI_SEQUENCE = register_script(MULTI_SEQUENCE_NAME, MULTI_SEQUENCE_SOURCE,
                                 _check_multi_sequence, model="2636B")
MULTI_ACQUIRE = register_script(MULTI_ACQUIRE_NAME, MULTI_ACQUIRE_SOURCE, _check_multi_acquire,
                                model="2636B")


def _upload(smu: Any, source: str, flag: str) -> None:
    if not getattr(smu, flag, False):
        smu.write(source)
        setattr(smu, flag, True)


def _numbers(items: Sequence[float]) -> str:
    return "{" + ",".join(str(int(x)) for x in items) + "}"


def measure_sequence_multi(
    smu: Any,
    node: int,
    gates: Sequence[str],
    groups: Sequence[str],
    channels: Sequence[tuple[int, str]],
) -> np.ndarray:
    """Run ``ftjseqn``: readings (A) of shape ``(len(gates), len(groups), len(channels))``;
    one message, one binary reply. ``channels``: (node, "a"|"b"), node 1 = ``smu`` itself."""
    _upload(smu, MULTI_SEQUENCE_SOURCE, "_ftj_multi_loaded")
    n, k = len(gates) * len(groups), len(channels)
    if n == 0:
        return np.empty((len(gates), len(groups), k))
    nodes, chans = [c[0] for c in channels], [c[1] for c in channels]
    values = call_script(
        smu, MULTI_SEQUENCE_NAME,
        "format.data = format.REAL64 format.byteorder = format.LITTLEENDIAN "
        f"{MULTI_SEQUENCE_NAME}({int(node)}, {_lua_strings(gates)}, {_lua_strings(groups)}, "
        f"{_numbers(nodes)}, {_lua_strings(chans)}) format.data = format.ASCII",
        lambda: read_indefinite_block(smu, n * k, "<f8"))
    return np.asarray(values, dtype=np.float64).reshape(len(gates), len(groups), k)


def acquire_multi(
    smu: Any, channels: Sequence[tuple[int, str]], count: int, interval_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``ftjacqn``: ``count`` readings on every channel at once; returns
    ``(currents (count, channels), timestamps (count, channels))``, one message, one reply."""
    _upload(smu, MULTI_ACQUIRE_SOURCE, "_ftj_acq_loaded")
    k = len(channels)
    nodes, chans = [c[0] for c in channels], [c[1] for c in channels]
    values = call_script(
        smu, MULTI_ACQUIRE_NAME,
        "format.data = format.REAL64 format.byteorder = format.LITTLEENDIAN "
        f"{MULTI_ACQUIRE_NAME}({_numbers(nodes)}, {_lua_strings(chans)}, {int(count)}, "
        f"{float(interval_s)!r}) format.data = format.ASCII",
        lambda: read_indefinite_block(smu, count * 2 * k, "<f8")).reshape(count, k, 2)
    return values[:, :, 0].copy(), values[:, :, 1].copy()


# --------------------------------------------------------------- word lines programmed on board
#: Row-parallel write-verify of the cells of several word lines, run by the SMU itself, one
#: word line after the other: ``gates[w]`` is word line w's gate route and ``cnt[w]`` the
#: number of its cells, which follow each other in the per-cell tables. Verify readings
#: through the matrix (node ``nd``) on the channels ``nodes[k]``/``chans[k]`` (as for
#: ``ftjseqn``), one cell per channel at a time, started together (``rd`` holds every cell's
#: crosspoint for the first channel, then for the second...); a cell with ``fr`` = 1 is read
#: once first. Per
#: iteration the unconverged cells of the word line are grouped by polarity and amplitude
#: class, and per class pair the generator (``host``/``port`` on the LAN, over TSP-Net) gets
#: its output 1 high level (program, normal polarity, low level 0 V) and output 2 low level
#: (erase, inverted, high level 0 V) and one ``*TRG`` in one message (both outputs' load set
#: to 1 Mohm first, once per call: a level is then the volts at the cell, whatever load setting
#: the generator had, and a load change only lowers an output), with just the class's
#: bit lines routed, starting with a class pair none of the cells just read is in; then the
#: pulsed cells are verified, those of the last class pair last. Relays move
#: break-before-make at each word line's first step and where a bit line just read is
#: pulsed next or the first one to read was just pulsed; elsewhere they move together
#: (``connectrule = OFF``; one settling time): between class pairs (generator outputs resting
#: at 0 V change bit lines), between readings, and between the read channel on one bit line
#: and the generator on others, so no bit line is ever reached by both. The rule per cell
#: is that of :class:`ftjlab.writeverify.CellRule`; all amplitudes stay <= ``vmax``. Once
#: ``budget`` seconds have passed, the cells not finished keep code 9 and their state, so a
#: second call continues them: readings ``g`` (A), pulses ``n``, direction ``d``,
#: amplitude ``a``, last moving amplitudes ``lu``/``ld``, ``st`` pulses without movement,
#: ``mv`` moved ever, ``fr`` still to be read first. Prints per cell
#: ``g,n,code,d,a,lu,ld,st,mv,fr`` (code 0 converged, 1 no convergence in ``maxp`` pulses,
#: 2 not reachable, 3 stuck, 9 unfinished), cells separated by ``;``.
ROW_PROGRAM_NAME = "ftjrowwv"
ROW_PROGRAM_SOURCE = (
    "function ftjrowwv(nd, host, port, nodes, chans, gates, cnt, rd, p1, p2, tg, su, sd, fr, "
    "g, n, d, a, lu, ld, st, mv, prm) "
    "local tol, vstep, vmax, maxp, cls, budget = prm[1], prm[2], prm[3], prm[4], prm[5], "
    "prm[6] "
    + _SELECT
    + "local kc = table.getn(smus) "
    "for k = 1, kc do smus[k].nvbuffer1.collecttimestamps = 0 smus[k].measure.count = 1 end "
    "local m = table.getn(p1) local ch = node[nd].channel local code = {} local ap = {} "
    "local rv = {} local lg = {} local nl = 0 "
    "for i = 1, m do code[i] = -1 ap[i] = 0 end "
    "local function readall(gate, lst, c0) "
    "for k = 1, c0, kc do local pts = {} local q = 0 "
    "for j = 1, kc do if k + j - 1 <= c0 then q = q + 1 lg[q] = lst[k + j - 1] "
    "pts[q] = rd[(j - 1) * m + lg[q]] end end nl = q "
    'ch.exclusiveclose(gate .. "," .. table.concat(pts, ",")) ch.connectrule = ch.OFF '
    "if kc == 1 then rv[lg[1]] = smus[1].measure.i() else "
    "for j = 1, q do smus[j].measure.overlappedi(smus[j].nvbuffer1) end waitcomplete() "
    "for j = 1, q do local b = smus[j].nvbuffer1 rv[lg[j]] = b.readings[b.n] end end end end "
    "timer.reset() "
    "local pg = tspnet.connect(host, port) local h1 = -1 local l2 = 1 local lo = 1 "
    'tspnet.write(pg, ":OUTP1:LOAD 1000000;:OUTP2:LOAD 1000000;*OPC?") tspnet.read(pg) '
    "for w = 1, table.getn(gates) do local gate = gates[w] local hi = lo + cnt[w] - 1 "
    "nl = 0 ch.connectrule = ch.BREAK_BEFORE_MAKE "
    "if timer.measure.t() <= budget then local lst = {} local c0 = 0 "
    "for i = lo, hi do if fr[i] == 1 then c0 = c0 + 1 lst[c0] = i end end "
    "readall(gate, lst, c0) for k = 1, c0 do g[lst[k]] = rv[lst[k]] fr[lst[k]] = 0 end end "
    "while true do "
    "if timer.measure.t() > budget then "
    "for i = lo, hi do if code[i] < 0 then code[i] = 9 end end break end "
    "local act = {} local na = 0 "
    "for i = lo, hi do if code[i] < 0 then "
    "if math.abs(g[i] - tg[i]) <= tol then code[i] = 0 "
    "elseif n[i] >= maxp then code[i] = 1 "
    "else local want = 1 if g[i] > tg[i] then want = -1 end "
    "if want ~= d[i] then local known = lu[i] if want < 0 then known = ld[i] end "
    "if known > 0 then a[i] = known - vstep elseif want > 0 then a[i] = su[i] "
    "else a[i] = sd[i] end d[i] = want st[i] = 0 "
    "else a[i] = a[i] + vstep * (1 + math.min(st[i], 3)) end "
    "if a[i] > vmax then if mv[i] == 1 then code[i] = 2 else code[i] = 3 end "
    "else ap[i] = math.max(math.floor(a[i] / cls + 1e-9) * cls, cls) "
    "na = na + 1 act[na] = i end end end end "
    "if na == 0 then break end "
    "local ups = {} local dns = {} local nu = 0 local nw = 0 local iu = {} local iw = {} "
    "for k = 1, na do local i = act[k] "
    "if d[i] > 0 then if not iu[ap[i]] then iu[ap[i]] = 1 nu = nu + 1 ups[nu] = ap[i] end "
    "elseif not iw[ap[i]] then iw[ap[i]] = 1 nw = nw + 1 dns[nw] = ap[i] end end "
    "table.sort(ups) table.sort(dns) local nc = math.max(nu, nw) "
    "for c = 1, nu do iu[ups[c]] = c end for c = 1, nw do iw[dns[c]] = c end "
    "local cl = {} local pc = {} for c = 1, nc do pc[c] = {} end "
    "for k = 1, na do local i = act[k] local c = iw[ap[i]] local x = p2[i] "
    "if d[i] > 0 then c = iu[ap[i]] x = p1[i] end "
    "cl[i] = c table.insert(pc[c], x) end "
    "local c0 = 0 "
    "for c = 1, nc do if c0 == 0 and nl > 0 then local free = true "
    "for t = 1, nl do if cl[lg[t]] == c then free = false end end "
    "if free then c0 = c end end end "
    "if c0 == 0 then c0 = 1 ch.connectrule = ch.BREAK_BEFORE_MAKE "
    "else ch.connectrule = ch.OFF end "
    "for cc = 1, nc do local c = c0 + cc - 1 if c > nc then c = c - nc end "
    "local pts = pc[c] local cmd = \"\" "
    "if c <= nu and ups[c] ~= h1 then "
    'cmd = string.format(":VOLT1:HIGH %.4f;", ups[c]) h1 = ups[c] end '
    "if c <= nw and -dns[c] ~= l2 then "
    'cmd = cmd .. string.format(":VOLT2:LOW %.4f;", -dns[c]) l2 = -dns[c] end '
    'ch.exclusiveclose(gate .. "," .. table.concat(pts, ",")) ch.connectrule = ch.OFF '
    'tspnet.write(pg, cmd .. "*TRG;*OPC?") tspnet.read(pg) end '
    "local last = c0 - 1 if last < 1 then last = nc end local ord = {} local no = 0 "
    "for k = 1, na do if cl[act[k]] ~= last then no = no + 1 ord[no] = act[k] end end "
    "if no < math.min(kc, na) then ch.connectrule = ch.BREAK_BEFORE_MAKE end "
    "for k = 1, na do if cl[act[k]] == last then no = no + 1 ord[no] = act[k] end end "
    "readall(gate, ord, na) "
    "for k = 1, na do local i = ord[k] local gn = rv[i] n[i] = n[i] + 1 "
    "if math.abs(gn - g[i]) > 0.3 * tol then "
    "if d[i] > 0 then lu[i] = ap[i] else ld[i] = ap[i] end mv[i] = 1 st[i] = 0 "
    "else st[i] = st[i] + 1 end g[i] = gn end end "
    "lo = hi + 1 end "
    "ch.connectrule = ch.BREAK_BEFORE_MAKE tspnet.disconnect(pg) local out = {} "
    "for i = 1, m do if code[i] < 0 then code[i] = 9 end "
    "out[i] = string.format(\"%.9e,%d,%d,%d,%.4f,%.4f,%.4f,%d,%d,%d\", "
    "g[i], n[i], code[i], d[i], a[i], lu[i], ld[i], st[i], mv[i], fr[i]) end "
    'print(table.concat(out, ";")) '
    "end"
)
_HOST = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
#: cells one call of the row program may carry (its tables are literals of the message)
MAX_ROW_CELLS = 256


def _numbers_ok(items: Any, m: int, lo: float, hi: float) -> bool:
    return (isinstance(items, tuple) and len(items) == m
            and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                    and lo <= x <= hi for x in items))


def _whole(x: Any, lo: int, hi: int) -> bool:
    return (isinstance(x, (int, float)) and not isinstance(x, bool) and float(x).is_integer()
            and lo <= x <= hi)


def _line_of(guard: SafetyGuard, xp: str) -> str:
    """The array line a crosspoint's column is wired to ("4C05" -> "BL3"), or its slot and
    column ("405") where the wiring is not known or leaves it unwired."""
    routing = guard.routing
    wired = routing.columns.get((int(xp[0]), int(xp[2:]))) if routing is not None else None
    return wired or xp[0] + xp[2:]


def _gate_lines(guard: SafetyGuard, gate: str) -> set[str]:
    """The array lines a gate route connects (row and column wired)."""
    routing = guard.routing
    return {_line_of(guard, x) for x in gate.split(",") if x[1] in routing.rows
            and (int(x[0]), int(x[2:])) in routing.columns}


def _check_tspnet_rows(guard: SafetyGuard, call: str, k: int, nd: Any, host: Any, port: Any,
                       gates: Any, cnt: Any, rd: Any, p1: Any, p2: Any) -> int:
    """The arguments a TSP-Net row script (``ftjrowwv``, ``ftjchain``) shares: the generator's
    node, host and port, the gate routes with their cell counts, and one read (per read
    channel, ``k``), program and erase crosspoint per cell. Returns the number of cells."""
    if not _whole(nd, 2, 64):
        raise guard.refuse(call, f"node must be 2..64, got {nd!r}")
    if not (isinstance(host, str) and _HOST.fullmatch(host)):
        raise guard.refuse(call, f"not a host name: {host!r}")
    if not _whole(port, 0, 65535):
        raise guard.refuse(call, f"port must be 0..65535, got {port!r}")
    if not (isinstance(gates, tuple) and gates
            and all(isinstance(x, str) and _XP_LIST.fullmatch(x) for x in gates)):
        raise guard.refuse(call, "gates: a non-empty table of crosspoint lists")
    m = len(p1) if isinstance(p1, tuple) else 0
    if not (isinstance(cnt, tuple) and len(cnt) == len(gates)
            and all(_whole(x, 1, MAX_ROW_CELLS) for x in cnt) and sum(cnt) == m):
        raise guard.refuse(call, "cnt: one cell count >= 1 per gate route, summing to the cells")
    for name, items, size in (("read", rd, k * m), ("program", p1, m), ("erase", p2, m)):
        if not (isinstance(items, tuple) and 1 <= m <= MAX_ROW_CELLS and len(items) == size
                and all(isinstance(x, str) and _XP_LIST.fullmatch(x) and "," not in x
                        for x in items)):
            raise guard.refuse(call, f"{name} crosspoints: one per cell (and read channel), "
                               f"1..{MAX_ROW_CELLS} cells")
    return m


def _check_gate_lines(guard: SafetyGuard, call: str, gates: tuple) -> None:
    """Each gate route of a TSP-Net row script reaches one word line, and none twice."""
    wls = [_gate_lines(guard, gate) for gate in gates]
    if any(len(x) != 1 or not next(iter(x)).startswith("WL") for x in wls) or len(
            set().union(*wls)) != len(wls):
        raise guard.refuse(call, "each gate route must reach exactly one word line (and "
                           "nothing else), a different one per route")


def _check_cell_routes(guard: SafetyGuard, call: str, gates: tuple, cnt: tuple, rd: tuple,
                       p1: tuple, p2: tuple, k: int, m: int) -> None:
    """Each cell's read (per read channel), program and erase crosspoints reach one bit line,
    distinct within a word line, and every route the script will close passes the guard."""
    start = 0
    for gate, size in zip(gates, cnt, strict=True):
        cells = range(start, start + int(size))
        start += int(size)
        lines = [_line_of(guard, p1[i]) for i in cells]
        reads = [rd[c * m: (c + 1) * m] for c in range(k)]  # per read channel
        if len(set(lines)) != len(lines) or any(
                _line_of(guard, p2[i]) != lines[j]
                or any(_line_of(guard, r[i]) != lines[j] for r in reads)
                for j, i in enumerate(cells)):
            raise guard.refuse(call, "a cell's read, program and erase crosspoints must reach "
                               "one bit line, and the cells of a word line distinct ones")
        for points in (*reads, p1, p2):
            guard.check_route(",".join((gate, *(points[i] for i in cells))))


def _check_row_program(guard: SafetyGuard, args: tuple[Any, ...]) -> None:
    """Rule of ``ftjrowwv``: literal tables of crosspoints and numbers, every amplitude
    bounded by ``vmax`` (the class step ``cls`` too) and ``vmax`` as sent (``%.4f``) by the
    program limit, and the routes allowed.

    Per word line, the script closes its gate route with one read crosspoint per read
    channel (of distinct cells) at a time, or with program and erase crosspoints of cells of
    one class pair. With the bench's wiring known, each gate route must reach exactly one
    word line (a different one per route); a cell's crosspoints (one per read channel,
    program, erase) must reach one bit line (by the wiring), and no two cells of a word line
    the same one; then
    every set the script closes, and every set its relays pass through while they move
    together, is the gate with read, program and erase crosspoints of distinct bit lines,
    and the matrix rules judge those one line at a time: the routes checked here (the gate
    with all the word line's read crosspoints of one channel, or all its program, or all its
    erase crosspoints) cover every one of them.
    """
    call = f"{ROW_PROGRAM_NAME}(...)"
    if len(args) != 23:
        raise guard.refuse(call, "ftjrowwv takes 23 arguments")
    (nd, host, port, nodes, chans, gates, cnt, rd, p1, p2, tg, su, sd, fr, g, n, d, a, lu, ld,
     st, mv, prm) = args
    k = _check_channels(guard, call, nodes, chans)
    m = _check_tspnet_rows(guard, call, k, nd, host, port, gates, cnt, rd, p1, p2)
    if not (isinstance(prm, tuple) and len(prm) == 6
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in prm)):
        raise guard.refuse(call, "prm must be 6 numbers")
    tol, vstep, vmax, maxp, cls, budget = prm
    guard.limits.check_voltage("program", vmax)
    if not (tol > 0 and 0 < vstep <= 1 and vmax > 0 and 1 <= maxp <= 1000 and 0 < cls <= 1
            and cls <= vmax and 0 <= budget <= 10):
        raise guard.refuse(call, f"settings out of range (and cls <= vmax): {prm!r}")
    # a pulse is max(floor(a / cls + 1e-9) * cls, cls) <= vmax + 1e-9 V, sent as %.4f
    guard.limits.check_voltage("program", float(f"{vmax + 2e-9:.4f}"))
    if guard.routing is not None:  # a generator raises a smaller amplitude to its minimum
        for _, generator in guard.routing.pulse_generator_guards():
            least = getattr(generator.rules, "least_amplitude_v", None)
            if least is not None:
                guard.limits.check_voltage("program", least(1e6))
    for name, items, lo, hi in (("targets", tg, -1e-3, 1e-3), ("start up", su, 0.0, vmax),
                                ("start down", sd, 0.0, vmax), ("first reads", fr, 0, 1),
                                ("readings", g, -1.0, 1.0), ("pulses", n, 0, 1000),
                                ("directions", d, -1, 1), ("amplitudes", a, 0.0, vmax),
                                ("moved up", lu, 0.0, vmax), ("moved down", ld, 0.0, vmax),
                                ("still", st, 0, 1000), ("moved", mv, 0, 1)):
        if not _numbers_ok(items, m, lo, hi):
            raise guard.refuse(call, f"{name}: {m} numbers in [{lo:g}, {hi:g}]")
    if guard.routing is not None:
        _check_gate_lines(guard, call, gates)
        _check_outputs(guard, call, p1, p2)
    _check_cell_routes(guard, call, gates, cnt, rd, p1, p2, k, m)


def _check_outputs(guard: SafetyGuard, call: str, p1: tuple, p2: tuple) -> None:
    """The script sets its program level on output 1 and its erase level on output 2 of the
    generator: wired program crosspoints must be on output 1 and wired erase crosspoints on
    output 2 of one pulse generator (swapped, a cell to be set would get the erase level)."""
    routing = guard.routing
    generators = routing.pulse_generators()
    outputs = []
    for items, output in ((p1, "1"), (p2, "2")):
        terminals = {routing.rows.get(x[1]) for x in items} - {None}
        if len(terminals) > 1 or any(
                t.partition(".")[0] not in generators or t.partition(".")[2] != output
                for t in terminals):
            raise guard.refuse(call, f"{'program' if output == '1' else 'erase'} crosspoints "
                               f"must be on output {output} of one pulse generator")
        outputs.append({t.partition(".")[0] for t in terminals})
    if outputs[0] and outputs[1] and outputs[0] != outputs[1]:
        raise guard.refuse(call, "program and erase crosspoints on two generators")


ROW_PROGRAM = register_script(ROW_PROGRAM_NAME, ROW_PROGRAM_SOURCE, _check_row_program,
                              model="2636B")
#: what ``ftjrowwv`` changes on the generator over TSP-Net (its only messages there are
#: ``:OUTP1:LOAD 1000000;:OUTP2:LOAD 1000000``, ``:VOLT1:HIGH``, ``:VOLT2:LOW``, ``*TRG`` and
#: ``*OPC?``): the generator's guard forgets these after a call (output state included, to be
#: safe), so the host sets them again through it before its own pulses
ROW_PROGRAM_GENERATOR_EFFECTS = declare_generator_effects(
    ROW_PROGRAM_NAME, {1: ("load", "high", "output"), 2: ("load", "low", "output")},
    load_ohm=1e6, model="2636B")


def _lua_numbers(items: Sequence[float]) -> str:
    return "{" + ",".join(f"{float(x):.10g}" for x in items) + "}"


def program_row(
    smu: Any, node: int, host: str, port: int, channels: Sequence[tuple[int, str]],
    gates: Sequence[str], counts: Sequence[int], reads: Sequence[str], programs: Sequence[str],
    erases: Sequence[str], targets_a: Sequence[float], starts_up: Sequence[float],
    starts_down: Sequence[float], state: Sequence[Sequence[float]], settings: Sequence[float],
) -> list[tuple[float, ...]]:
    """Run ``ftjrowwv`` once: one message, one reply; ``channels``: the read channels
    (node, "a"|"b"), ``reads`` every cell's crosspoint for each in turn; ``state`` is the
    tables ``fr, g, n, d, a, lu, ld, st, mv``. Returns per cell ``(g_a, pulses, code,
    direction, amplitude, moved_up, moved_down, still, moved, first_read)``.

    Sent with :func:`call_script`: the generator's guard holds what the program sets
    over TSP-Net until its reply is read, and a program still running after a failed read
    is aborted before the error is raised.
    """
    _upload(smu, ROW_PROGRAM_SOURCE, "_ftj_row_loaded")
    tables = ", ".join(_lua_numbers(t) for t in (targets_a, starts_up, starts_down, *state))
    nodes, chans = [c[0] for c in channels], [c[1] for c in channels]
    reply = call_script(
        smu, ROW_PROGRAM_NAME,
        f'{ROW_PROGRAM_NAME}({int(node)}, "{host}", {int(port)}, {_numbers(nodes)}, '
        f"{_lua_strings(chans)}, {_lua_strings(gates)}, "
        f"{_numbers(counts)}, {_lua_strings(reads)}, {_lua_strings(programs)}, "
        f"{_lua_strings(erases)}, {tables}, {_lua_numbers(settings)})"
    )
    return [tuple(float(v) for v in cell.split(",")) for cell in reply.strip().split(";")]
