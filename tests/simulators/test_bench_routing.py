"""The Bench: wiring semantics, 707B routing selects cells, pulses reach only WL-on cells."""

from __future__ import annotations

import numpy as np
import pytest
from ftjlab.simulators.bench import RELAY_SETTLE_S, Bench, Crosspoint, Wiring
from ftjlab.simulators.emulators.keithley707b import Keithley707B
from ftjlab.simulators.params import ArrayParams
from tsp_helpers import errors
from tsp_helpers import run as tsp

ROWS = {"A": "smu.a", "B": "smu.b", "C": "pg.1", "D": "pg.2"}


def make_bench(seed: int = 7, n: int = 8) -> Bench:
    # 8 WLs on slot 1 columns 1-8, 8 BLs on slot 2 columns 1-8
    return Bench(ArrayParams(rows=n, cols=n), Wiring.default(n, n, ROWS), seed=seed)


def wl(i: int) -> str:  # matrix column of WL i (default wiring, 8x8)
    return f"1{{row}}{i + 1:02d}"


def bl(j: int) -> str:
    return f"2{{row}}{j + 1:02d}"


def route(matrix: Keithley707B, r: int, c: int, wl_row: str = "B", bl_row: str = "A") -> None:
    spec = f"{wl(r).format(row=wl_row)},{bl(c).format(row=bl_row)}"
    tsp(matrix, f'channel.exclusiveclose("{spec}")')
    assert errors(matrix) == []


def usable_cell(bench: Bench) -> tuple[int, int]:
    """A cell that is not stuck (stuck cells ignore pulses)."""
    stuck = bench.array.stuck.reshape(bench.array.shape)
    r, c = np.argwhere(stuck == 0)[5]
    return int(r), int(c)


def test_closing_wl_and_bl_selects_exactly_that_cell():
    bench = make_bench()
    matrix = Keithley707B(bench)
    bench.source("smu.b", 2.0, True)  # gate drive above the 1 V threshold
    bench.source("smu.a", 0.2, True)  # read bias
    aperture = 1 / 60
    for r, c in [(0, 0), (3, 5), (7, 2)]:
        route(matrix, r, c)
        i = bench.measure_current("smu.a", 1, aperture, aperture)[0]
        g = bench.array.conductance()[r, c]
        expected = g * float(bench.array.current_factor(0.2))
        assert i == pytest.approx(expected, rel=0.02)
        mask = bench.wordlines_on()
        assert mask.sum() == 1 and mask[r]
        assert bench.bitline_volts()[c] == 0.2 and np.count_nonzero(bench.bitline_volts()) == 1


def test_current_is_the_kirchhoff_sum_over_reached_bitlines_and_on_wordlines():
    bench = make_bench()
    matrix = Keithley707B(bench)
    bench.source("smu.b", 1.5, True)
    bench.source("smu.a", 0.2, True)
    tsp(matrix, 'channel.exclusiveclose("1B02,1B05,2A03,2A07")')
    assert errors(matrix) == []
    ap = 0.1
    i = bench.measure_current("smu.a", 1, ap, ap)[0]
    g = bench.array.conductance()
    expected = g[np.ix_([1, 4], [2, 6])].sum() * float(bench.array.current_factor(0.2))
    assert i == pytest.approx(expected, rel=0.02)
    assert bench.measure_current("smu.b", 1, ap, ap)[0] == 0.0  # gates draw no current


def test_gate_below_threshold_or_output_off_turns_nothing_on():
    bench = make_bench()
    matrix = Keithley707B(bench)
    route(matrix, 2, 2)
    bench.source("smu.a", 0.2, True)
    bench.source("smu.b", 0.9, True)  # below wl_on_threshold_v = 1.0
    assert not bench.wordlines_on().any()
    bench.source("smu.b", 2.0, False)
    assert not bench.wordlines_on().any()
    bench.source("smu.b", 2.0, True)
    assert bench.wordlines_on()[2]
    bench.source("smu.a", 0.2, False)
    assert np.all(bench.measure_current("smu.a", 3, 1e-3, 1e-4) == 0.0)


def test_pulse_changes_the_selected_cell_and_no_cell_whose_wl_is_off():
    bench = make_bench(seed=11)
    matrix = Keithley707B(bench)
    r, c = usable_cell(bench)
    tsp(matrix, f'channel.exclusiveclose("{wl(r).format(row="B")},{bl(c).format(row="C")}")')
    assert errors(matrix) == []
    bench.source("smu.b", 2.0, True)
    before = bench.array.switched_fraction().copy()
    t0 = bench.clock.now_s
    bench.pulse("pg.1", 3.5, 0.0, 1e-6, 2e-6, 10)
    assert bench.clock.now_s - t0 == pytest.approx(10 * 2e-6)
    after = bench.array.switched_fraction()
    changed = np.argwhere(after != before)
    assert [tuple(x) for x in changed] == [(r, c)]
    assert after[r, c] > before[r, c] + 0.5


def test_pulse_routed_to_wordlines_only_does_nothing_to_cells():
    bench = make_bench(seed=11)
    matrix = Keithley707B(bench)
    r, _ = usable_cell(bench)
    tsp(matrix, f'channel.exclusiveclose("{wl(r).format(row="C")}")')  # pg.1 -> WL r only
    bench.source("smu.b", 2.0, True)
    before = bench.array.switched_fraction().copy()
    t0 = bench.clock.now_s
    bench.pulse("pg.1", 3.5, 0.0, 1e-6, 5e-6, 4)
    assert np.array_equal(bench.array.switched_fraction(), before)
    assert bench.clock.now_s - t0 == pytest.approx(4 * 5e-6)


def test_pulse_with_wl_off_does_nothing():
    bench = make_bench(seed=11)
    matrix = Keithley707B(bench)
    r, c = usable_cell(bench)
    tsp(matrix, f'channel.exclusiveclose("{wl(r).format(row="B")},{bl(c).format(row="C")}")')
    bench.source("smu.b", 0.0, True)  # gate at 0 V: the access transistor is off
    before = bench.array.switched_fraction().copy()
    bench.pulse("pg.1", 3.5, 0.0, 1e-6, 2e-6, 10)
    assert np.array_equal(bench.array.switched_fraction(), before)


def test_relays_settle_in_virtual_time_and_reset_opens_all():
    bench = make_bench()
    matrix = Keithley707B(bench)
    t0 = bench.clock.now_s
    tsp(matrix, 'channel.close("1A01,2B03")')
    assert bench.clock.now_s - t0 == pytest.approx(RELAY_SETTLE_S)
    tsp(matrix, 'channel.close("1A01")')  # already closed: nothing moves, no settling
    assert bench.clock.now_s - t0 == pytest.approx(RELAY_SETTLE_S)
    assert [str(p) for p in bench.closed()] == ["1A01", "2B03"]
    tsp(matrix, "reset()")
    assert bench.closed() == []


def test_measure_current_timing_and_shapes():
    bench = make_bench()
    route(Keithley707B(bench), 1, 1)
    bench.source("smu.b", 2.0, True)
    bench.source("smu.a", 0.8, True)
    t0 = bench.clock.now_s
    trace = bench.measure_current("smu.a", 500, 1e-3, 2e-4)
    assert trace.shape == (500,) and trace.dtype == np.float64
    assert bench.clock.now_s - t0 == pytest.approx(0.5)
    one = bench.measure_current("smu.a", 1, 1e-2, 1e-3)
    assert one.shape == (1,)
    assert bench.clock.now_s - t0 == pytest.approx(0.51)
    # an interval shorter than the aperture is stretched to it
    bench.measure_current("smu.a", 10, 0.0, 1e-3)
    assert bench.clock.now_s - t0 == pytest.approx(0.52)


def test_same_seed_same_commands_same_data():
    def run(seed: int) -> np.ndarray:
        bench = make_bench(seed=seed)
        route(Keithley707B(bench), 4, 4)
        bench.source("smu.b", 2.0, True)
        bench.source("smu.a", 0.8, True)
        return bench.measure_current("smu.a", 200, 1e-3, 1e-4)

    assert np.array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


def test_seed_is_drawn_and_recorded_when_not_given():
    a, b = Bench(ArrayParams(rows=4, cols=4)), Bench(ArrayParams(rows=4, cols=4))
    assert isinstance(a.seed, int) and a.seed != b.seed
    replay = Bench(ArrayParams(rows=4, cols=4), seed=a.seed)
    assert np.array_equal(replay.array.conductance(), a.array.conductance())


def test_wiring_is_validated():
    with pytest.raises(ValueError, match="WL9"):
        Bench(ArrayParams(rows=8, cols=8), Wiring(rows={"A": "smu.a"}, columns={(1, 1): "WL9"}))
    with pytest.raises(ValueError, match="two matrix columns"):
        Wiring(columns={(1, 1): "BL0", (1, 2): "BL0"}).validate(4, 4)
    with pytest.raises(ValueError, match="A-H"):
        Wiring(rows={"Z": "smu.a"}).validate(4, 4)
    bench = make_bench()
    with pytest.raises(ValueError, match="does not exist"):
        bench.close([Crosspoint(7, "A", 1)])


def test_two_sources_on_one_bitline_are_reported():
    bench = make_bench()
    tsp(Keithley707B(bench), 'channel.close("2A01,2C01")')
    bench.source("smu.a", 0.2, True)
    bench.source("pg.1", 0.5, True)
    volts = bench.bitline_volts()
    assert volts[0] == 0.5
    assert any("BL0" in w for w in bench.warnings)


def test_current_source_solves_the_voltage():
    bench = make_bench()
    route(Keithley707B(bench), 0, 0)
    bench.source("smu.b", 2.0, True)
    g = bench.conductance_seen("smu.a")
    v = bench.voltage_for_current("smu.a", 1e-10)
    assert g * float(bench.array.current_factor(v)) == pytest.approx(1e-10, rel=1e-9)
    assert bench.voltage_for_current("smu.b", 1e-9) == np.inf  # reaches no bit line
