"""Issue 3, "what it must show": one suite, run against the in-process adapter and against
``ftjlab sim-server`` over pyvisa-py (the ``rig`` fixture), with our drivers and the limits of
the bench config, and with unmodified pymeasure drivers where they cover the instrument.
"""

from __future__ import annotations

import numpy as np
import pytest
from ftjlab.instruments import (
    Keithley707B,
    Keithley2450,
    Keithley2636B,
    Keysight33500B,
    Keysight81160A,
)
from ftjlab.simulators.traps import activation

SAMPLING_BIAS_V = 0.8
GATE_V = 2.0
PROGRAM_V = 3.5

DRIVERS = {
    "smu": (Keithley2636B, "Model 2636B"),
    "matrix": (Keithley707B, "Model 707B"),
    "pg": (Keysight81160A, "81160A"),
    "smu2450": (Keithley2450, "MODEL 2450"),
    "awg": (Keysight33500B, "33522B"),
}


def test_every_instrument_identifies_itself(rig):
    assert set(rig.config.instruments) == set(DRIVERS)
    for name, (driver, model) in DRIVERS.items():
        instrument = rig.connect(name, driver)
        assert model in instrument.id, name
        assert instrument.check_errors() == [], name


# ------------------------------------------------------------------------- RTN of one cell


def rtn_cell(rig) -> tuple[int, int, float, float, float]:
    """The first non-stuck cell with exactly one trap switching on the ms scale at the sampling
    bias, with a clearly visible step: (row, col, tau_capture_s, tau_emission_s, dI/I)."""
    array, traps = rig.bench.array, rig.bench.array.traps
    for cell in range(array.rows * array.cols):
        first, end = traps.cell_ptr[cell], traps.cell_ptr[cell + 1]
        if end - first != 1 or array.stuck[cell]:
            continue
        trap = np.array([first])
        tau_c = 1.0 / float(traps.capture_rate(trap, SAMPLING_BIAS_V)[0])
        tau_e = 1.0 / float(traps.emission_rate(trap, SAMPLING_BIAS_V)[0])
        step = float(traps.amp0[first]) * float(
            activation(array.params.traps, SAMPLING_BIAS_V)
        )
        if 1e-3 < tau_c < 3e-3 and 1e-3 < tau_e < 3e-3 and step > 0.05:
            return cell // array.cols, cell % array.cols, tau_c, tau_e, step
    raise AssertionError("no single-trap RTN cell on this bench")


def telegraph(x: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Two levels (1-D two-means) and the state of every sample (1 = high, 0 = low), with
    hysteresis (a state changes only past 35 % / 65 % of the step) so noise does not flip it."""
    lo, hi = np.percentile(x, [10, 90])
    for _ in range(50):
        cut = 0.5 * (lo + hi)
        lo, hi = x[x < cut].mean(), x[x >= cut].mean()
    step = hi - lo
    mark = np.where(x > lo + 0.65 * step, 1, np.where(x < lo + 0.35 * step, 0, -1))
    last = np.where(mark >= 0, np.arange(x.size), 0)
    np.maximum.accumulate(last, out=last)
    state = mark[last]
    state[state < 0] = int(x[0] > lo + 0.5 * step)  # before the first decided sample
    return float(lo), float(hi), state


def dwell_samples(state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lengths (in samples) of the complete low and high runs (the censored first and last
    runs dropped)."""
    edges = np.flatnonzero(np.diff(state)) + 1
    runs = np.diff(edges)
    kinds = state[edges[:-1]]
    return runs[kinds == 0], runs[kinds == 1]


def mean_dwell_s(runs: np.ndarray, interval_s: float, shortest: int = 3) -> float:
    """Mean dwell time from the runs of at least ``shortest`` samples: dwell times are
    exponential (memoryless), so ``L - shortest`` of those runs has the same mean as any run,
    and dwells too short to resolve (aperture, hysteresis) do not bias the estimate."""
    long = runs[runs >= shortest]
    return float(long.mean() - shortest + 0.5) * interval_s


def test_a_cell_selected_through_the_matrix_shows_the_rtn_of_its_trap(rig):
    """Select one cell with the 707B, gate it with smub, sample it with smua at 0.8 V in a
    timed buffered acquisition, read the buffer in binary: a random telegraph signal whose
    step, occupancy and dwell times are those of the cell's trap."""
    r, c, tau_c, tau_e, step = rtn_cell(rig)
    smu = rig.connect("smu", Keithley2636B, limits=rig.limits,
                      roles={"a": "sample", "b": "program"})
    matrix = rig.connect("matrix", Keithley707B)
    matrix.exclusive_close([rig.crosspoint("B", f"WL{r}"), rig.crosspoint("A", f"BL{c}")])
    smu.smub.apply_voltage(GATE_V, current_limit=1e-3)
    smu.smub.output_enabled = True
    a = smu.smua
    a.apply_voltage(SAMPLING_BIAS_V, current_limit=1e-6)
    a.measure_autozero = "OFF"
    a.measure_current_range = 1e-6
    a.measure_nplc = 0.002  # 33 us aperture at 60 Hz, 66 us per reading with the overhead
    a.output_enabled = True
    n, interval = 50_000, 7e-5  # 3.5 s: ~1,300 capture/emission cycles
    a.configure_timed_acquisition(count=n, interval_s=interval)
    a.start_current_acquisition()
    smu.wait_for_completion(timeout_s=10)
    current, stamps = a.read_buffer(binary=True)
    assert smu.check_errors() == []
    assert current.shape == stamps.shape == (n,)
    assert np.allclose(np.diff(stamps), interval, atol=1e-6)  # REAL32 resolution at 4 s

    lo, hi, state = telegraph(current)
    noise = float(np.std(current[state == 1] - hi))
    # two levels, well apart: a filled trap lowers the current by dI/I = a0 g(V)
    assert (hi - lo) / noise > 5
    assert (hi - lo) / hi == pytest.approx(step, rel=0.1)
    g = rig.bench.array.conductance()[r, c]
    assert hi == pytest.approx(g * float(rig.bench.array.current_factor(SAMPLING_BIAS_V)),
                               rel=0.05)
    # occupancy: filled (low) a fraction tau_e / (tau_c + tau_e) of the time, within 4 sigma
    # of a telegraph signal's time average over n * interval
    filled = tau_e / (tau_c + tau_e)
    tau_corr = tau_c * tau_e / (tau_c + tau_e)
    sigma = np.sqrt(2 * filled * (1 - filled) * tau_corr / (n * interval))
    assert float(np.mean(state == 0)) == pytest.approx(filled, abs=4 * sigma)
    # dwell times: low (filled) lasts tau_e, high (empty) tau_c; ~1,000 runs each give 3 %
    # sigma, and dwells of the other state too short to see merge runs (a few % bias)
    low_runs, high_runs = dwell_samples(state)
    assert min(low_runs.size, high_runs.size) > 800
    assert mean_dwell_s(low_runs, interval) == pytest.approx(tau_e, rel=0.12)
    assert mean_dwell_s(high_runs, interval) == pytest.approx(tau_c, rel=0.12)


# ------------------------------------------------------------------------- a programming burst


def program_cell(rig) -> tuple[int, int]:
    """A cell that is not stuck and not switched yet (the array starts off)."""
    array = rig.bench.array
    off = (array.stuck.reshape(array.shape) == 0) & (array.switched_fraction() < 0.05)
    r, c = np.argwhere(off)[len(np.argwhere(off)) // 3]
    return int(r), int(c)


def conductance_later(rig) -> tuple[float, np.ndarray]:
    """Every cell's true conductance at a fixed virtual time after the test (no drift between
    a before/after pair)."""
    t = rig.bench.clock.now_s + 100.0
    return t, rig.bench.array.conductance(t_s=t)


def test_a_burst_changes_the_selected_cell_and_no_cell_whose_word_line_is_off(rig):
    r, c = program_cell(rig)
    smu = rig.connect("smu", Keithley2636B, limits=rig.limits, roles={"b": "program"})
    matrix = rig.connect("matrix", Keithley707B)
    gen = rig.connect("pg", Keysight81160A, limits=rig.limits)
    matrix.exclusive_close([rig.crosspoint("B", f"WL{r}"), rig.crosspoint("C", f"BL{c}")])
    smu.smub.apply_voltage(GATE_V, current_limit=1e-3)
    smu.smub.output_enabled = True
    smu.wait_for_completion()  # the gate is on before another instrument relies on it
    assert np.flatnonzero(rig.bench.wordlines_on()).tolist() == [r]
    t, before = conductance_later(rig)
    ch = gen.channels[1]
    gen.reset()  # a known state: the guard lets levels through only from one
    ch.output_load = 1e6  # levels are the volts at the (high-impedance) cell
    ch.configure_pulse(high_v=PROGRAM_V, low_v=0.0, width_s=1e-6, period_s=2e-6,
                       leading_edge_s=5e-9, trailing_edge_s=5e-9)
    ch.arm_source = "MAN"
    ch.burst_count = 10
    ch.output = True
    gen.fire_burst(timeout_s=5)
    ch.output = False
    after = rig.bench.array.conductance(t_s=t)
    changed = np.argwhere(~np.isclose(after, before, rtol=1e-12, atol=0.0))
    assert [tuple(int(i) for i in cell) for cell in changed] == [(r, c)]
    assert after[r, c] > 3 * before[r, c]
    assert gen.check_errors() == [] and smu.check_errors() == []


# ------------------------------------------------------------------------- unmodified pymeasure


def test_unmodified_pymeasure_keithley2600_reads_a_routed_cell(rig):
    from pymeasure.instruments.keithley import Keithley2600

    r, c = 4, 6
    matrix = rig.connect("matrix", Keithley707B)
    matrix.exclusive_close([rig.crosspoint("B", f"WL{r}"), rig.crosspoint("A", f"BL{c}")])
    k = rig.connect_plain("smu", Keithley2600)
    assert k.id.startswith("Keithley Instruments Inc., Model 2636B")
    k.ChB.apply_voltage(compliance_current=1e-3)
    k.ChB.source_voltage = GATE_V
    k.ChB.source_output = "ON"
    k.ChA.apply_voltage(voltage_range=2, compliance_current=1e-6)
    k.ChA.measure_current(nplc=1, current=1e-6, auto_range=False)
    k.ChA.source_voltage = 0.2
    k.ChA.source_output = "ON"
    assert k.ChA.source_output == "ON" and k.ChA.source_voltage == pytest.approx(0.2)
    expected = rig.bench.expected_current("smu.a")
    assert expected > 0
    assert k.ChA.current == pytest.approx(expected, rel=0.02)
    for channel in (k.ChA, k.ChB):  # what ChX.shutdown() does, without its 3 s ramps
        channel.ramp_to_voltage(0.0, steps=3, pause=0)
        channel.source_output = "OFF"
    assert k.ChA.source_output == "OFF" and k.ChB.source_output == "OFF"
    assert rig.bench.expected_current("smu.a") == 0.0
    assert k.check_errors() == []


def test_unmodified_pymeasure_keysight81160a_programs_a_gated_cell(rig):
    from pymeasure.instruments.keysight import Keysight81160A as PymeasureKeysight81160A

    r, c = program_cell(rig)
    smu = rig.connect("smu", Keithley2636B)
    matrix = rig.connect("matrix", Keithley707B)
    matrix.exclusive_close([rig.crosspoint("B", f"WL{r}"), rig.crosspoint("C", f"BL{c}")])
    smu.smub.apply_voltage(GATE_V, current_limit=1e-3)
    smu.smub.output_enabled = True
    smu.wait_for_completion()
    t, before = conductance_later(rig)
    gen = rig.connect_plain("pg", PymeasureKeysight81160A)
    assert "81160A" in gen.id
    ch = gen.channels[1]
    ch.shape = "PULS"
    ch.voltage_high = PROGRAM_V
    ch.voltage_low = 0.0
    ch.pulse_period = 2e-6
    ch.pulse_width = 1e-6
    ch.pulse_transition = 5e-9
    ch.trigger_count = 10
    ch.trigger_mode = "MAN"
    ch.output = True
    assert ch.shape == "PULS" and ch.voltage_high == pytest.approx(PROGRAM_V)
    assert ch.pulse_width == pytest.approx(1e-6) and ch.trigger_count == 10
    gen.trigger()
    gen.wait_for_trigger(timeout=5)
    ch.output = False
    after = rig.bench.array.conductance(t_s=t)
    changed = np.argwhere(~np.isclose(after, before, rtol=1e-12, atol=0.0))
    assert [tuple(int(i) for i in cell) for cell in changed] == [(r, c)]
    assert gen.check_errors() == []


def test_unmodified_pymeasure_agilent33500_programs_a_gated_cell(rig):
    from pymeasure.instruments.agilent import Agilent33500

    r, c = program_cell(rig)
    smu = rig.connect("smu", Keithley2636B)
    matrix = rig.connect("matrix", Keithley707B)
    matrix.exclusive_close([rig.crosspoint("B", f"WL{r}"), rig.crosspoint("F", f"BL{c}")])
    smu.smub.apply_voltage(GATE_V, current_limit=1e-3)
    smu.smub.output_enabled = True
    smu.wait_for_completion()
    t, before = conductance_later(rig)
    gen = rig.connect_plain("awg", Agilent33500)
    assert "33522B" in gen.id
    gen.output_load = "INF"  # levels as the array sees them
    gen.shape = "PULS"
    gen.voltage_high = PROGRAM_V
    gen.voltage_low = 0.0
    gen.pulse_width = 1e-6  # width first: the default would not fit the 10 us period
    gen.pulse_period = 1e-5
    gen.pulse_transition = 20e-9
    gen.burst_mode = "TRIG"
    gen.burst_ncycles = 10
    gen.burst_state = True
    gen.trigger_source = "BUS"
    gen.output = True
    assert gen.voltage_high == pytest.approx(PROGRAM_V) and gen.burst_ncycles == 10
    gen.trigger()
    gen.wait_for_trigger(timeout=5)
    gen.output = False
    after = rig.bench.array.conductance(t_s=t)
    changed = np.argwhere(~np.isclose(after, before, rtol=1e-12, atol=0.0))
    assert [tuple(int(i) for i in cell) for cell in changed] == [(r, c)]
    assert gen.check_errors() == []


# ------------------------------------------------------------------------- driver extras


def test_driver_extras_beyond_pymeasure_are_answered(rig):
    """What our drivers add (trailing edge and its coupling, delay, polarity, trigger timer and
    delay, separate edges, REAL64 buffers, the 707B's completion handshake) works on the
    emulators, with the bench limits bound."""
    pg = rig.connect("pg", Keysight81160A, limits=rig.limits)
    pg.reset()  # a known state: the guard lets timing through only from one
    ch = pg.channels[2]
    ch.trailing_edge_coupled = False
    ch.trailing_edge = 20e-9
    ch.pulse_delay = 1e-7
    ch.polarity = "INV"
    assert ch.trailing_edge_coupled is False
    assert ch.trailing_edge == pytest.approx(20e-9)
    assert ch.pulse_delay == pytest.approx(1e-7)
    assert ch.polarity == "INV"
    assert pg.check_errors() == []

    awg = rig.connect("awg", Keysight33500B, limits=rig.limits)
    awg.reset()
    ch = awg.channels[1]
    ch.output_load = "INF"
    ch.configure_pulse(high_v=1.0, low_v=0.0, width_s=1e-6, period_s=1e-5,
                       leading_edge_s=10e-9, trailing_edge_s=30e-9)
    ch.trigger_source = "TIM"
    ch.trigger_timer = 1e-3
    ch.trigger_delay = 2e-6
    assert ch.leading_edge == pytest.approx(10e-9) and ch.trailing_edge == pytest.approx(30e-9)
    assert ch.trigger_source == "TIM" and ch.trigger_timer == pytest.approx(1e-3)
    assert ch.trigger_delay == pytest.approx(2e-6)
    assert awg.check_errors() == []

    smu = rig.connect("smu", Keithley2636B, limits=rig.limits)
    a = smu.smua
    a.measure_nplc = 0.01
    a.measure_autozero = "OFF"
    a.configure_timed_acquisition(count=100, interval_s=1e-3)
    a.start_current_acquisition()
    smu.wait_for_completion()
    r64, t64 = a.read_buffer(binary=True, binary_format="REAL64")
    text, t_text = a.read_buffer(binary=False)
    assert np.allclose(t64, np.arange(100) * 1e-3, atol=1e-9)
    assert np.allclose(r64, text, rtol=1e-5, atol=1e-15)  # ASCII has 6 digits
    assert np.allclose(t_text, t64, rtol=1e-5)

    matrix = rig.connect("matrix", Keithley707B)
    matrix.close("1A01,2B02")  # returns after the instrument confirmed the switching
    assert [str(p) for p in rig.bench.closed()] == ["1A01", "2B02"]
    assert matrix.closed() == ["1A01", "2B02"]
    matrix.open_all()
    assert rig.bench.closed() == []
