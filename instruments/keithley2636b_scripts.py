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
