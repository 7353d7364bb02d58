"""On-instrument scripts of the Keithley 2636B for array work, and the guard rules of their calls.

A tester does not send one message per reading: the SMU (TSP-Link master) runs a loop that
switches the matrix (a 707B as ``node[N]``) from route to route and measures each into its
reading buffer, and the buffer comes back as one binary block. Each script here is a constant
Lua source, uploaded once per connection as a named function and registered with the safety
layer (:func:`~ftjlab.instruments.safety.register_script`): the guard accepts exactly this
upload text, and a call only with literal arguments that its rule accepts.

The scripts change no source setting (levels, limits, outputs): the caller sets the read
bias through the ordinary, guarded commands first. They only switch relays and measure.
Relay moves inside a sequence use ``connectrule = OFF`` (the relays of one step move
together and settle once: only read-role terminals and the gate change places); the first
step of a sequence breaks before it makes, so whatever was routed before (e.g. the pulser)
is disconnected before the read channel is connected.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._common import read_indefinite_block
from .safety import SafetyGuard, register_script

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


def _check_sequence(guard: SafetyGuard, args: tuple[Any, ...]) -> None:
    """Rule of ``ftjseq(nd, {gates...}, {bls...})``: a node number, crosspoint lists only,
    every route allowed by the matrix routing rules, and no more readings than the buffer."""
    call = f"{SEQUENCE_NAME}{args!r}"
    if len(args) != 3:
        raise guard.refuse(call, "ftjseq takes (node, {gate routes}, {bit-line crosspoints})")
    node, gates, bls = args
    if not (isinstance(node, (int, float)) and float(node).is_integer() and 2 <= node <= 64):
        raise guard.refuse(call, f"node must be a TSP-Link node number 2..64, got {node!r}")
    for name, items in (("gate routes", gates), ("bit-line crosspoints", bls)):
        if not isinstance(items, tuple) or not items:
            raise guard.refuse(call, f"{name} must be a non-empty table of crosspoint lists")
        bad = [x for x in items if not (isinstance(x, str) and _XP_LIST.fullmatch(x))]
        if bad:
            raise guard.refuse(call, f"{name}: not a crosspoint list: {bad[0]!r}")
    if any("," in x for x in bls):
        raise guard.refuse(call, "each bit-line entry must be one crosspoint")
    if len(gates) * len(bls) > MAX_READINGS:
        raise guard.refuse(call, f"more than {MAX_READINGS} readings in one sequence")
    for gate in gates:  # every route of the loop is a subset of gate + all bit lines
        guard.check_route(",".join((gate, *bls)))


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
    smu.write(
        "format.data = format.REAL64 format.byteorder = format.LITTLEENDIAN "
        f"{SEQUENCE_NAME}({int(node)}, {_lua_strings(gates)}, {_lua_strings(bls)}) "
        f"printbuffer(1, {n}, smua.nvbuffer1.readings) format.data = format.ASCII"
    )
    values = read_indefinite_block(smu, n, "<f8")
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
    smu.write(
        "format.data = format.REAL64 format.byteorder = format.LITTLEENDIAN "
        f"{MULTI_SEQUENCE_NAME}({int(node)}, {_lua_strings(gates)}, {_lua_strings(groups)}, "
        f"{_numbers(nodes)}, {_lua_strings(chans)}) format.data = format.ASCII"
    )
    values = read_indefinite_block(smu, n * k, "<f8")
    return np.asarray(values, dtype=np.float64).reshape(len(gates), len(groups), k)


def acquire_multi(
    smu: Any, channels: Sequence[tuple[int, str]], count: int, interval_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``ftjacqn``: ``count`` readings on every channel at once; returns
    ``(currents (count, channels), timestamps (count, channels))``, one message, one reply."""
    _upload(smu, MULTI_ACQUIRE_SOURCE, "_ftj_acq_loaded")
    k = len(channels)
    nodes, chans = [c[0] for c in channels], [c[1] for c in channels]
    smu.write(
        "format.data = format.REAL64 format.byteorder = format.LITTLEENDIAN "
        f"{MULTI_ACQUIRE_NAME}({_numbers(nodes)}, {_lua_strings(chans)}, {int(count)}, "
        f"{float(interval_s)!r}) format.data = format.ASCII"
    )
    values = read_indefinite_block(smu, count * 2 * k, "<f8").reshape(count, k, 2)
    return values[:, :, 0].copy(), values[:, :, 1].copy()
