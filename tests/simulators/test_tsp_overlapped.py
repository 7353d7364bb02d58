"""Overlapped readings of the 2636B emulator: started on two channels, they integrate at the
same time (the clock advances once), each reads its own bit line, and what cannot run
together runs one after the other."""

from __future__ import annotations

import numpy as np
import pytest
from ftjlab.simulators.bench import Bench
from ftjlab.simulators.emulators.keithley707b import Keithley707B
from ftjlab.simulators.emulators.keithley2636b import READING_OVERHEAD_S, Keithley2636B
from ftjlab.simulators.params import ArrayParams

from ftjlab.wiring import Wiring

ROWS = {"A": "smu.a", "B": "smu.b", "C": "gate.a"}
NPLC = 0.1
SLOT = NPLC / 60 + READING_OVERHEAD_S  # one reading at 60 Hz


def _bench():
    bench = Bench(ArrayParams(rows=8, cols=8), Wiring.default(8, 8, ROWS), seed=3)
    smu, gate, matrix = Keithley2636B(bench, "smu"), Keithley2636B(bench, "gate"), \
        Keithley707B(bench, "matrix")
    gate.write("smua.source.levelv = 1.5 smua.source.output = 1")
    matrix.write('channel.exclusiveclose("1C01,2A01,2B03")')  # WL0; a on BL0, b on BL2
    smu.write(f"smua.source.levelv = 0.2 smub.source.levelv = 0.2 smua.measure.nplc = {NPLC} "
              f"smub.measure.nplc = {NPLC} smua.measure.autozero = 1 smub.measure.autozero = 1 "
              "smua.source.output = 1 smub.source.output = 1")
    return bench, smu


def _printed(smu, code: str) -> list[float]:
    """Run ``code`` (which prints) and return the numbers it printed."""
    smu.write(code)
    return [float(x) for x in smu.read().decode().split()]


@pytest.mark.parametrize("overlapped", [True, False])
def test_overlapped_readings_on_two_channels_take_one_aperture(overlapped):
    bench, smu = _bench()
    smu.write("smua.nvbuffer1.clear() smub.nvbuffer1.clear()")
    t0 = bench.clock.now_s
    how = "overlappedi" if overlapped else "i"
    values = _printed(smu, f"smua.measure.{how}(smua.nvbuffer1) smub.measure.{how}"
                           "(smub.nvbuffer1) waitcomplete() "
                           "print(smua.nvbuffer1.readings[1], smub.nvbuffer1.readings[1])")
    assert bench.clock.now_s - t0 == pytest.approx(SLOT if overlapped else 2 * SLOT, rel=1e-9)
    # each channel reads the cell on its own bit line (WL0 x BL0 and WL0 x BL2)
    g = bench.array.conductance(bench.clock.now_s, np.array([0, 2])) * 0.2
    np.testing.assert_allclose(values, g, rtol=0.05)


def test_a_reading_of_the_buffer_completes_what_runs_and_a_channel_reads_one_at_a_time():
    bench, smu = _bench()
    smu.write("smua.nvbuffer1.clear() smua.nvbuffer1.appendmode = 1")
    t0 = bench.clock.now_s
    # no waitcomplete: reading the buffer waits for the reading; the second overlapped
    # reading on the same channel starts after the first
    assert _printed(smu, "smua.measure.overlappedi(smua.nvbuffer1) "
                         "smua.measure.overlappedi(smua.nvbuffer1) print(smua.nvbuffer1.n)") == [2]
    assert bench.clock.now_s - t0 == pytest.approx(2 * SLOT)


def test_abort_drops_a_reading_not_taken_yet_and_a_bad_buffer_is_a_tsp_error():
    bench, smu = _bench()
    smu.write("smua.nvbuffer1.clear() smub.nvbuffer1.clear()")
    t0 = bench.clock.now_s
    assert _printed(smu, "smua.measure.overlappedi(smua.nvbuffer1) smub.measure.overlappedi("
                         "smub.nvbuffer1) smua.abort() waitcomplete() "
                         "print(smua.nvbuffer1.n, smub.nvbuffer1.n)") == [0, 1]
    assert bench.clock.now_s - t0 == pytest.approx(SLOT)
    smu.write("smua.measure.overlappedi(5)")
    assert _printed(smu, "print(errorqueue.count)") == [1]
