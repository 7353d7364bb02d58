"""Keithley 2636B emulator: RTN through buffered acquisition, compliance, buffers, pymeasure."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from ftjlab.simulators.bench import Bench
from ftjlab.simulators.emulators.keithley707b import Keithley707B
from ftjlab.simulators.emulators.keithley2636b import (
    OVERFLOW_READING,
    READING_OVERHEAD_S,
    STATUS_COMPLIANCE,
    Keithley2636B,
)
from ftjlab.simulators.params import ArrayParams
from ftjlab.simulators.transport import EmulatorAdapter
from ftjlab.simulators.traps import activation
from pymeasure.instruments import Instrument
from tsp_helpers import errors as no_errors

from ftjlab.wiring import Wiring

ROWS = {"A": "smu.a", "B": "smu.b"}


def make(seed: int = 5, n: int = 8):
    """Bench, 2636B, 707B and a plain pymeasure Instrument on the in-process adapter."""
    bench = Bench(ArrayParams(rows=n, cols=n), Wiring.default(n, n, ROWS), seed=seed)
    smu = Keithley2636B(bench, "smu")
    matrix = Keithley707B(bench, "matrix")
    return bench, smu, matrix, Instrument(EmulatorAdapter(smu), "2636B", includeSCPI=False)


def select(matrix: Keithley707B, r: int, c: int) -> None:
    matrix.write(f'channel.exclusiveclose("1B{r + 1:02d},2A{c + 1:02d}")')
    assert matrix.errorqueue.count == 0


def acquire(
    adapter: Instrument, bias_v: float, n: int, interval_s: float, nplc: float
) -> tuple[np.ndarray, np.ndarray]:
    """The lab's RTN recipe: fixed range, autozero off, buffered timed readings, REAL32."""
    for cmd in [
        "smub.source.levelv = 2 smub.source.output = smub.OUTPUT_ON",
        f"smua.source.func = smua.OUTPUT_DCVOLTS smua.source.levelv = {bias_v}",
        "smua.source.limiti = 1e-6 smua.source.output = smua.OUTPUT_ON",
        "smua.measure.autozero = smua.AUTOZERO_OFF smua.measure.autorangei = 0",
        "smua.measure.rangei = 1e-7",
        f"smua.measure.nplc = {nplc} smua.measure.count = {n} smua.measure.interval = {interval_s}",
        "smua.nvbuffer1.clear() smua.nvbuffer1.appendmode = 1",
        "smua.nvbuffer1.collecttimestamps = 1 smua.nvbuffer1.fillmode = smua.FILL_ONCE",
        "smua.measure.overlappedi(smua.nvbuffer1) waitcomplete()",
    ]:
        adapter.write(cmd)
    assert int(float(adapter.ask("print(smua.nvbuffer1.n)"))) == n
    adapter.write("format.data = format.REAL32 format.byteorder = format.LITTLEENDIAN")
    adapter.write(f"printbuffer(1, {n}, smua.nvbuffer1.readings)")
    raw = adapter.read_bytes(4 * n + 3)  # "#0" + data + LF; the data may contain LF bytes
    assert raw[:2] == b"#0" and raw[-1:] == b"\n"
    readings = np.frombuffer(raw[2:-1], "<f4").astype(float)
    adapter.write("format.data = format.ASCII")
    stamps = np.array(adapter.values(f"printbuffer(1, {n}, smua.nvbuffer1.timestamps)"))
    return readings, stamps


def two_levels(x: np.ndarray) -> tuple[float, float, float, float]:
    """1-D two-means: (low level, high level, fraction low, pooled robust spread)."""
    lo, hi = np.percentile(x, [10, 90])
    for _ in range(50):
        cut = 0.5 * (lo + hi)
        a, b = x[x < cut], x[x >= cut]
        if a.size == 0 or b.size == 0:
            break
        lo, hi = a.mean(), b.mean()
    cut = 0.5 * (lo + hi)
    a, b = x[x < cut], x[x >= cut]
    mad = np.median(np.abs(np.concatenate([a - np.median(a), b - np.median(b)])))
    return float(lo), float(hi), a.size / x.size, 1.4826 * float(mad)


def rtn_cell(bench: Bench) -> tuple[int, int, int]:
    """A non-stuck cell with exactly one trap, switching on the ms scale at 0.8 V."""
    traps, a = bench.array.traps, bench.array
    for cell in range(a.rows * a.cols):
        lo, hi = traps.cell_ptr[cell], traps.cell_ptr[cell + 1]
        if hi - lo != 1 or a.stuck[cell]:
            continue
        tid = np.array([lo])
        tau_c = 1 / traps.capture_rate(tid, 0.8)[0]
        tau_e = 1 / traps.emission_rate(tid, 0.8)[0]
        if 4e-4 < tau_c < 3e-3 and 4e-4 < tau_e < 3e-3 and traps.amp0[lo] > 0.03:
            return cell // a.cols, cell % a.cols, int(lo)
    raise AssertionError("no suitable RTN cell in this seed")


def test_rtn_is_two_level_at_the_sampling_bias_and_absent_at_the_vmm_bias():
    bench, smu, matrix, adapter = make(seed=5)
    r, c, trap = rtn_cell(bench)
    select(matrix, r, c)
    n, interval = 4000, 5e-4
    readings, stamps = acquire(adapter, 0.8, n, interval, nplc=0.01)
    assert no_errors(smu) == []
    assert np.allclose(np.diff(stamps), interval)
    lo, hi, frac_low, spread = two_levels(readings)
    traps = bench.array.traps
    amp = float(traps.amp0[trap]) * float(activation(bench.array.params.traps, 0.8))
    # a filled trap lowers the current by dI/I = a0 * g(V)
    assert (hi - lo) / hi == pytest.approx(amp, rel=0.25)
    assert (hi - lo) / spread > 10  # two well separated levels
    tau_c = 1 / traps.capture_rate(np.array([trap]), 0.8)[0]
    tau_e = 1 / traps.emission_rate(np.array([trap]), 0.8)[0]
    assert frac_low == pytest.approx(tau_e / (tau_c + tau_e), abs=0.15)
    # the same cell at the VMM bias: no visible telegraph structure
    readings, _ = acquire(adapter, 0.2, n, interval, nplc=0.01)
    lo, hi, _, spread = two_levels(readings)
    assert (hi - lo) / spread < 4
    assert readings.std() / readings.mean() < 0.01
    g = bench.array.conductance()[r, c]
    assert readings.mean() == pytest.approx(g * float(bench.array.current_factor(0.2)), rel=0.02)


def test_buffered_acquisition_timing_follows_nplc_interval_and_linefreq():
    bench, smu, matrix, adapter = make()
    select(matrix, 0, 0)
    adapter.write("smua.source.output = 1 smua.measure.autozero = smua.AUTOZERO_OFF")
    adapter.write("smua.measure.nplc = 0.001 smua.measure.count = 1000 smua.measure.interval = 0")
    t0 = bench.clock.now_s
    adapter.write("smua.nvbuffer1.clear() smua.measure.i(smua.nvbuffer1)")
    per_reading = (bench.clock.now_s - t0) / 1000
    assert per_reading == pytest.approx(0.001 / 60 + READING_OVERHEAD_S)
    assert 15_000 < 1 / per_reading < 25_000  # ~20,000 readings/s measure-to-memory
    adapter.write("localnode.linefreq = 50 smua.measure.nplc = 1 smua.measure.count = 1")
    t0 = bench.clock.now_s
    adapter.ask("print(smua.measure.i())")
    assert bench.clock.now_s - t0 == pytest.approx(1 / 50 + READING_OVERHEAD_S)
    assert no_errors(smu) == []


def test_compliance_clamps_readings_flags_status_and_source_compliance():
    _, smu, matrix, adapter = make()
    select(matrix, 2, 3)
    adapter.write("smub.source.levelv = 2 smub.source.output = 1")
    adapter.write("smua.source.levelv = 0.5 smua.source.output = 1")
    i_free = float(adapter.ask("print(smua.measure.i())"))
    assert adapter.ask("print(smua.source.compliance)") == "false"
    limit = abs(i_free) / 4
    adapter.write(f"smua.source.limiti = {limit!r}")
    assert adapter.ask("print(smua.source.compliance)") == "true"
    adapter.write("smua.measure.count = 5 smua.nvbuffer1.clear() smua.measure.i(smua.nvbuffer1)")
    values = adapter.values("printbuffer(1, 5, smua.nvbuffer1.readings, smua.nvbuffer1.statuses)")
    readings, statuses = np.array(values[0::2]), np.array(values[1::2], dtype=int)
    assert np.allclose(np.abs(readings), limit)
    assert np.all(statuses & STATUS_COMPLIANCE)
    assert adapter.ask("print(status.measurement.instrument.smua.condition)") == "2.00000e+00"
    adapter.write("smua.source.limiti = 1e-3")
    assert adapter.ask("print(smua.source.compliance)") == "false"
    assert no_errors(smu) == []


def test_fixed_range_overflow_and_current_source_mode():
    bench, smu, matrix, adapter = make()
    select(matrix, 1, 1)
    adapter.write("smub.source.levelv = 2 smub.source.output = 1")
    adapter.write("smua.source.levelv = 1 smua.source.output = 1")
    adapter.write("smua.measure.autorangei = 0 smua.measure.rangei = 1e-10")
    assert float(adapter.ask("print(smua.measure.i())")) == OVERFLOW_READING
    adapter.write("smua.measure.autorangei = 1")
    # current source: the voltage settles where the cell draws the sourced current
    adapter.write(
        "smua.source.func = smua.OUTPUT_DCAMPS smua.source.leveli = 1e-10 smua.source.limitv = 2"
    )
    v = float(adapter.ask("print(smua.measure.v())"))
    g = bench.array.conductance()[1, 1]
    assert g * float(bench.array.current_factor(v)) == pytest.approx(1e-10, rel=1e-3)
    assert float(adapter.ask("print(smua.measure.i())")) == pytest.approx(1e-10)
    adapter.write("smua.source.limitv = 0.01")
    assert adapter.ask("print(smua.source.compliance)") == "true"
    assert abs(float(adapter.ask("print(smua.measure.v())"))) == pytest.approx(0.01)
    assert no_errors(smu) == []


def test_buffer_fill_modes_append_and_capacity():
    _, smu, matrix, adapter = make()
    select(matrix, 0, 0)
    adapter.write("smua.source.output = 1 smua.measure.count = 4 smua.measure.nplc = 0.01")
    buf = "smua.nvbuffer2"
    adapter.write(f"{buf}.clear() {buf}.appendmode = 0 smua.measure.i({buf}) smua.measure.i({buf})")
    assert adapter.ask(f"print({buf}.n)") == "4.00000e+00"  # append off: overwritten
    adapter.write(f"{buf}.appendmode = 1 smua.measure.i({buf})")
    assert adapter.ask(f"print({buf}.n)") == "8.00000e+00"
    adapter.write("small = smua.makebuffer(6) small.appendmode = 1")
    adapter.write("smua.measure.i(small) smua.measure.i(small)")  # FILL_ONCE: 2 dropped
    assert adapter.ask("print(small.n, small.capacity)") == "6.00000e+00\t6.00000e+00"
    _, message, severity, _ = smu.errorqueue.next()
    assert message == "Reading Overflow" and severity == 10
    adapter.write(
        "win = smua.makebuffer(100) win.appendmode = 1 win.fillmode = smua.FILL_WINDOW "
        "win.fillcount = 6 win.collecttimestamps = 1"
    )
    for _ in range(3):
        adapter.write("smua.measure.i(win)")
    assert adapter.ask("print(win.n, win.next)") == "6.00000e+00\t1.00000e+00"
    stamps = adapter.values("printbuffer(1, 6, win.timestamps)")
    # indices 1-6 now hold readings 7-12: the first reading (timestamp 0) is gone
    assert stamps[0] > 0 and np.all(np.diff(stamps) > 0)
    # timestamps can only be switched on while the buffer is empty
    adapter.write(f"{buf}.collecttimestamps = 1")
    assert smu.errorqueue.next()[0] == 1100
    adapter.write(f"printbuffer(1, 2, {buf}.timestamps)")
    assert "not collected" in smu.errorqueue.next()[1]
    adapter.write(f"printbuffer(1, 99, {buf})")
    assert "out of range" in smu.errorqueue.next()[1]
    assert adapter.ask(f"print({buf}.readings[1] ~= nil, {buf}[99])") == "true\tnil"


def test_reset_turns_outputs_off_and_defaults_back():
    *_, adapter = make()
    adapter.write("smua.source.levelv = 0.5 smua.source.output = 1 smua.measure.count = 7")
    adapter.write("reset()")
    assert adapter.ask("print(smua.source.output, smua.source.levelv, smua.measure.count)") == (
        "0.00000e+00\t0.00000e+00\t1.00000e+00"
    )
    adapter.write("smub.source.output = 1")
    adapter.write("*RST")
    assert adapter.ask("print(smub.source.output)") == "0.00000e+00"
    assert adapter.ask("print(localnode.model)") == "2636B"
    assert adapter.ask("*IDN?").startswith("Keithley Instruments Inc., Model 2636B, ")


def test_unmodified_pymeasure_keithley2600_drives_the_emulator():
    from pymeasure.instruments.keithley import Keithley2600

    bench, _, matrix, adapter = make()
    select(matrix, 4, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        k = Keithley2600(adapter.adapter)
    assert k.id.startswith("Keithley Instruments Inc., Model 2636B")
    k.ChB.apply_voltage(compliance_current=1e-3)
    k.ChB.source_voltage = 2.0
    k.ChB.source_output = "ON"
    k.ChA.apply_voltage(voltage_range=2, compliance_current=1e-6)
    assert k.ChA.source_mode == "voltage"
    assert k.ChA.compliance_current == pytest.approx(1e-6)
    assert k.ChA.source_voltage_range == 2
    k.ChA.measure_current(nplc=1, current=1e-6, auto_range=False)
    assert k.ChA.current_range == pytest.approx(1e-6)
    k.ChA.ramp_to_voltage(0.2, steps=3, pause=0)
    assert k.ChA.source_voltage == pytest.approx(0.2)
    k.ChA.source_output = "ON"
    assert k.ChA.source_output == "ON"
    g = bench.array.conductance()[4, 6]
    assert k.ChA.current == pytest.approx(g * float(bench.array.current_factor(0.2)), rel=0.02)
    assert k.ChA.voltage == pytest.approx(0.2)
    assert k.ChA.resistance == pytest.approx(
        0.2 / (g * float(bench.array.current_factor(0.2))), rel=0.02
    )
    k.ChA.wires_mode = "4"
    assert k.ChA.wires_mode == "4"
    k.ChA.apply_current(compliance_voltage=1.0)
    assert k.ChA.source_mode == "current"
    k.ChA.source_current = 2e-6  # the driver formats with %f: 1e-10 would be sent as 0
    assert k.ChA.source_current == pytest.approx(2e-6)
    assert k.check_errors() == []
    k.write("smua.source.levelv = 'bad'")
    code, message = k.next_error
    assert code == -286 and "levelv" in message
    assert k.next_error == (0, "Queue Is Empty")
