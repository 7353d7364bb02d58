"""Row-parallel write-verify against the cell-serial algorithm on the same seeded array, and
what the row-parallel schedule sends to the bench (pulses only to unconverged cells, one
sequence per verify, autozero once)."""

import numpy as np
import pytest

from ftjlab.controller import ArrayController
from ftjlab.session import BenchSession
from ftjlab.traffic import Meter

SEED = 11
ROWS = 3  # 96 cells per schedule: a few seconds each


def _targets(c: ArrayController) -> np.ndarray:
    lo, hi = c.conductance_range()
    rng = np.random.default_rng(5)
    t = np.full((c.rows, c.cols), np.nan)
    t[:ROWS] = lo + (hi - lo) * rng.integers(0, 9, (ROWS, c.cols)) / 8  # 9 levels
    return t


def _program(mode: str):
    session = BenchSession.open(seed=SEED)
    try:
        c = ArrayController(session)
        targets = _targets(c)
        before = session.sim.array.switched_fraction().copy()
        pulses_seen = []
        bench_pulse = session.sim.pulse

        def spy(terminal, high_v, low_v, width_s, period_s, count):
            wls, bls = session.sim.reach(terminal)
            if bls.size and wls.size == 0 and session.sim.wordlines_on().any():
                rows = np.flatnonzero(session.sim.wordlines_on())
                pulses_seen.append((tuple(rows), tuple(int(b) for b in bls)))
            return bench_pulse(terminal, high_v, low_v, width_s, period_s, count)

        session.sim.pulse = spy
        with Meter(session) as meter:
            report = c.write_verify(targets, 0.02, parallel=mode != "serial",
                                    onboard=mode == "onboard")
            assert mode != "onboard" or c.onboard_rows
        after = session.sim.array.switched_fraction().copy()
        return report, meter.result, pulses_seen, before, after
    finally:
        session.close()


@pytest.fixture(scope="module")
def runs():
    return {mode: _program(mode) for mode in ("onboard", "host", "serial")}


@pytest.mark.parametrize("mode", ["onboard", "host"])
def test_row_parallel_matches_the_cell_serial_result(runs, mode):
    """Row-parallel, its loop on the SMU (onboard) or driven from here (host), against the
    cell-serial algorithm on the same seeded array."""
    (par, acc_par, *_), (ser, acc_ser, *_) = runs[mode], runs["serial"]
    n = int(np.isfinite(par.targets_s).sum())
    # both meet the figures on the same seeded array
    for report in (par, ser):
        assert report.error_sigma_converged_rel <= 0.015
        assert report.mean_pulses <= 10
        assert report.ok.sum() >= 0.9 * n
        assert set(report.reasons) == {tuple(map(int, rc)) for rc in np.argwhere(
            np.isfinite(report.targets_s) & ~report.ok)}
        assert all(why for why in report.reasons.values())
    # and agree with each other: same cells converge (up to a few), similar precision/effort
    assert abs(int(par.ok.sum()) - int(ser.ok.sum())) <= 0.05 * n
    assert par.error_sigma_converged_rel == pytest.approx(ser.error_sigma_converged_rel, abs=0.005)
    assert par.mean_pulses <= 1.5 * ser.mean_pulses
    # the row schedule takes much less instrument time and far fewer round trips
    assert acc_par.instrument_s < 0.75 * acc_ser.instrument_s
    assert acc_par.round_trips < 0.5 * acc_ser.round_trips
    if mode == "onboard":  # one message and one reply per word line and budget
        assert acc_par.round_trips < 0.02 * acc_ser.round_trips


@pytest.mark.parametrize("mode", ["onboard", "host"])
def test_pulses_reach_only_cells_of_the_row_that_still_needed_one(runs, mode):
    par, _, seen, before, after = runs[mode]
    assert seen, "no pulse reached the array"
    for rows, _bls in seen:
        assert len(rows) == 1 and rows[0] < ROWS  # one word line at a time
    pulsed = {(rows[0], b) for rows, bls in seen for b in bls}
    counts = {}
    for rows, bls in seen:
        for b in bls:
            counts[(rows[0], b)] = counts.get((rows[0], b), 0) + 1
    # every pulse a cell got is counted in its outcome, and nothing else was pulsed
    for (r, col), k in counts.items():
        assert par.pulses[r, col] == k
    untouched = [(r, col) for r in range(ROWS) for col in range(32)
                 if par.pulses[r, col] == 0]
    for r, col in untouched:
        assert (r, col) not in pulsed
        assert after[r, col] == before[r, col]
    # rows outside the targets are never pulsed and keep their state
    np.testing.assert_array_equal(after[ROWS:], before[ROWS:])


def test_the_emulator_runs_the_registered_sequence_natively_with_the_lua_results():
    """The emulator's native ftjseq and the Lua source it replaces: same virtual time, same
    relays left closed, the same readings up to read noise (1 NPLC)."""
    results = {}
    for native in (True, False):
        session = BenchSession.open(seed=7)
        try:
            session.emulators["smu"].native_scripts = native
            c = ArrayController(session)
            c.read_cells(0, [0], 0.2, 1.0)  # bias, gate and script in place
            t0 = session.now_s()
            with Meter(session) as meter:
                currents = c.measure_routes([[0], [1, 2], [5]], list(range(32)), 0.2, 1.0)
            results[native] = (currents, session.now_s() - t0, session.sim.closed(),
                               meter.result.round_trips)
        finally:
            session.close()
    (fast, t_fast, closed_fast, rt_fast), (lua, t_lua, closed_lua, rt_lua) = (
        results[True], results[False])
    assert t_fast == pytest.approx(t_lua, rel=1e-9)
    assert closed_fast == closed_lua
    assert rt_fast == rt_lua == 2
    np.testing.assert_allclose(fast, lua, rtol=3e-3)
    assert np.all(fast[1] > fast[0])  # two word lines on: more current than one


def _lines_reached(sim, points) -> dict[str, set[str]]:
    """Terminals reaching each array line through the crosspoints ``points``."""
    reached: dict[str, set[str]] = {}
    for p in points:
        terminal = sim.wiring.rows.get(p.row)
        line = sim.wiring.columns.get((p.slot, p.column))
        if terminal and line:
            reached.setdefault(line, set()).add(terminal)
    return reached


@pytest.mark.parametrize("bench", [None, "sim-4ch.toml"])
def test_the_row_program_never_routes_a_bit_line_to_two_terminals_even_in_passing(bench):
    """Every relay operation of the on-board program on several word lines (one read
    channel; three on sim-4ch), from the simulator's record: no line is ever reached by two
    terminals, neither after a step nor while relays moving together (connectrule OFF) pass
    through the union of the two routes."""
    from ftjlab.data import benches

    path = f"{benches.__path__[0]}/{bench}" if bench else None
    session = BenchSession.open(path, seed=SEED)
    try:
        sim = session.sim
        c = ArrayController(session)
        targets = _targets(c)
        steps = {"switch": 0, "close": 0, "open": 0}
        bad: list[str] = []
        originals = {name: getattr(sim, name) for name in steps}

        def watch(name):
            def op(*args):
                before = set(sim.closed())
                result = originals[name](*args)
                after = set(sim.closed())
                steps[name] += 1
                seen = before | after if name == "switch" else after
                for line, terminals in _lines_reached(sim, seen).items():
                    if len(terminals) > 1:
                        bad.append(f"{name}: {line} <- {sorted(terminals)}")
                return result
            return op

        for name in steps:
            setattr(sim, name, watch(name))
        report = c.write_verify(targets, 0.02, onboard=True)
        assert c.onboard_rows
        assert report.ok.sum() >= 0.9 * np.isfinite(targets).sum()
        assert bad == []
        # the program moved relays together between generator and read channel (fewer
        # settling times than break-before-make everywhere), and broke before making too
        assert steps["switch"] > 2 * steps["close"] > 0
    finally:
        session.close()


def test_write_verify_starts_from_a_given_map_without_reading_those_cells_again():
    """``start_s``: cells given a just-measured value are not read before their first pulse
    (one reading fewer per cell), and the outcome is as good."""
    results = {}
    for given in (False, True):
        session = BenchSession.open(seed=SEED)
        try:
            c = ArrayController(session)
            targets = _targets(c)
            start = c.read_map(0.2, 0.1, rows=range(ROWS)) if given else None
            if given:
                start = np.vstack([start, np.full((c.rows - ROWS, c.cols), np.nan)])
            readings = []
            measure = session.sim.measure_current

            def counted(*args, _measure=measure, _seen=readings):
                _seen.append(1)
                return _measure(*args)

            session.sim.measure_current = counted
            report = c.write_verify(targets, 0.02, onboard=True, start_s=start)
            results[given] = (report, len(readings))
        finally:
            session.close()
    (plain, n_plain), (started, n_started) = results[False], results[True]
    n = int(np.isfinite(plain.targets_s).sum())
    assert started.error_sigma_converged_rel <= 0.015
    assert started.ok.sum() >= 0.9 * n
    # the run from the map takes no first reading: its readings are its pulses (verifies)
    assert n_started == int(started.pulses.sum())
    assert n_plain == int(plain.pulses.sum()) + n
