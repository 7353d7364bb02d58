"""End to end: our drivers over pyvisa-py against the shipped simulated bench (sim.toml).

Route with the 707B, gate with the 2636B, program one cell with an 81160A burst, then sample
it with a buffered 2636B acquisition: only the selected cell changes, and the readings match
the array's conductance.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("ftjlab.simulators.emulators.keysight81160a")
pytest.importorskip("ftjlab.instruments.keysight81160a")

from ftjlab.instruments.keithley707b import Keithley707B
from ftjlab.instruments.keithley2636b import Keithley2636B
from ftjlab.instruments.keysight81160a import Keysight81160A
from ftjlab.instruments.safety import Limits
from ftjlab.simulators.server import SimServer

from ftjlab.config import load_bench_config

# raw-socket resources carry LF-terminated messages
# Each instrument has its own connection, served concurrently: like on a real bench, a client
# must synchronise (*OPC?) before another instrument relies on what it just did.
VISA = {"visa_library": "@py", "read_termination": "\n", "write_termination": "\n", "timeout": 5000}


def test_program_and_read_one_cell_through_the_routing():
    config = load_bench_config()
    limits = Limits.from_dict(config.limits)
    with SimServer(config, seed=3) as server, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        res = server.resources
        smu = Keithley2636B(
            res["smu"], limits=limits, roles={"a": "sample", "b": "program"}, **VISA
        )
        matrix = Keithley707B(res["matrix"], **VISA)
        gen = Keysight81160A(res["pg"], limits=limits, **VISA)
        array = server.bench.array
        r, c = 5, 7  # WL5 on slot 1 column 06, BL7 on slot 4 column 08 (sim.toml)
        assert array.stuck.reshape(array.shape)[r, c] == 0
        matrix.exclusive_close(f"1B{r + 1:02d},4C{c + 1:02d}")  # gate <- smu.b, BL <- pg.1
        smu.smub.apply_voltage(2.0, current_limit=1e-3)
        smu.smub.output_enabled = True
        assert matrix.ask("*OPC?").strip() == smu.ask("*OPC?").strip() == "1"
        before = array.switched_fraction().copy()
        ch = gen.channels[1]
        gen.reset()  # a known state: the guard lets levels through only from one
        ch.output_load = 1e6  # levels are the volts at the (high-impedance) cell
        ch.configure_pulse(
            high_v=3.5,
            low_v=0.0,
            width_s=1e-6,
            period_s=2e-6,
            leading_edge_s=5e-9,
            trailing_edge_s=5e-9,
        )
        ch.arm_source = "MAN"
        ch.burst_count = 10
        ch.output = True
        gen.fire_burst()
        ch.output = False
        after = array.switched_fraction()
        assert [tuple(x) for x in np.argwhere(after != before)] == [(r, c)]
        assert after[r, c] > 0.5

        matrix.exclusive_close(f"1B{r + 1:02d},4A{c + 1:02d}")  # BL <- smu.a
        assert matrix.ask("*OPC?").strip() == "1"
        a = smu.smua
        a.apply_voltage(0.2, current_limit=1e-6)
        a.measure_nplc = 0.01
        a.output_enabled = True
        a.configure_timed_acquisition(count=500, interval_s=1e-3)
        a.start_current_acquisition()
        smu.wait_for_completion(timeout_s=5)
        current, stamps = a.read_buffer(binary=True)
        assert current.shape == (500,)
        assert np.allclose(np.diff(stamps), 1e-3, rtol=1e-3)
        expected = array.conductance()[r, c] * float(array.current_factor(0.2))
        assert current.mean() == pytest.approx(expected, rel=0.02)
        smu.shutdown()
        assert smu.ask("*OPC?").strip() == "1"  # writes are asynchronous over TCP: sync first
        assert not server.bench.wordlines_on().any()
