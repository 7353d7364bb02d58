"""TSP objects keep their identity in Lua over many commands (lupa userdata bookkeeping).

Before the emulator anchored its objects, lupa 2.8 (Lua 5.1) could hand Lua code the wrong
Python object after a few hundred commands: ``smub.source.func = 1`` landed on
``smua.nvbuffer1`` ("attempt to set unknown attribute 'func'").
"""

from __future__ import annotations

from ftjlab.simulators.bench import Bench
from ftjlab.simulators.emulators.keithley2636b import Keithley2636B
from ftjlab.simulators.params import ArrayParams

from ftjlab.wiring import Wiring

COMMANDS = [
    "smub.source.func = 1", "smub.source.levelv = 2", "smub.source.output = 1",
    "smua.source.levelv = 0.8", "smua.source.output = 1", "smua.measure.count = 20",
    "smua.nvbuffer1.clear()", "smua.nvbuffer1.appendmode = 1",
    "smua.nvbuffer1.collecttimestamps = 1", "smua.measure.overlappedi(smua.nvbuffer1)",
    "waitcomplete()", "print(smua.nvbuffer1.n)", "format.data = format.REAL32",
    "printbuffer(1, 20, smua.nvbuffer1.readings, smua.nvbuffer1.timestamps)",
    "format.data = format.ASCII", "b = smua.makebuffer(30) b.appendmode = 1",
    "smua.measure.i(b) print(b.n, b.readings[1] ~= nil)", "print(smua.source.compliance)",
]  # fmt: skip


def test_objects_keep_their_identity_over_thousands_of_commands():
    bench = Bench(ArrayParams(rows=4, cols=4), Wiring.default(4, 4, {"A": "smu.a"}), seed=1)
    smu = Keithley2636B(bench)
    for iteration in range(250):  # the failure showed within ~40 iterations
        for command in COMMANDS:
            smu.write(command)
        replies = smu.read_all()
        assert smu.errorqueue.entries() == [], (iteration, smu.errorqueue.entries()[:3])
        assert replies[0] == b"2.00000e+01\n"
        assert replies[-2] == b"2.00000e+01\ttrue\n"
