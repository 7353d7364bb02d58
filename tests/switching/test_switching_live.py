"""Live switching noise with the chain run by the read SMU (``ftjchain``): what reaches the
cells, judged by the simulated device (every pulse the array sees, the cells' domain states),
not by ftjlab's own bookkeeping; the host-driven chain as a second reference; ``ftjlab
diffuse`` drawing an image's noise live."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ftjlab.procedures import PROCEDURES
from ftjlab.simulators.array import FTJArray
from ftjlab.simulators.bench import Bench
from switching_physics import Cells, with_mirror

from ftjlab.cli import main
from ftjlab.controller import ArrayController
from ftjlab.session import BenchSession
from ftjlab.store import RunWriter
from ftjlab.switching.diffusion import LiveNoise
from ftjlab.switching.engine import SwitchingCells, calibration_from_trials

SEED = 7
N_CELLS = 8


@pytest.fixture(scope="module")
def table() -> np.ndarray:
    """Calibration trials of cells 0..7 of word line 0 of the seed-7 bench, drawn from the
    simulated device (as tests/switching do; RESET mirrors SET: the default device has no
    imprint)."""
    with BenchSession.open(seed=SEED) as session:
        domains = session.sim.array.domains
    cells = Cells(N_CELLS, seed=1, domains=domains, index=np.arange(N_CELLS))
    return with_mirror(cells.calibration_table(+1, local_repeats=1300))


def _watch_pulses(monkeypatch) -> list[tuple[np.ndarray, np.ndarray, float, float]]:
    """Every pulse the simulated array sees: (rows, cols, volts, width)."""
    seen = []
    original = FTJArray.apply_pulse

    def spy(self, rows, cols, volts, width_s, *args, **kwargs):
        seen.append((np.atleast_1d(rows).copy(), np.atleast_1d(cols).copy(), float(volts),
                     float(width_s)))
        return original(self, rows, cols, volts, width_s, *args, **kwargs)

    monkeypatch.setattr(FTJArray, "apply_pulse", spy)
    return seen


def _watch_relays(monkeypatch) -> list[set]:
    """Every set of crosspoints closed at once while relays move together (the bench's
    ``switch``: the closed set before and the set closing, both reached during the move)."""
    unions = []
    original = Bench.switch

    def spy(self, close, open_):
        close = list(close)
        unions.append(set(self.closed()) | set(close))
        return original(self, close, open_)

    monkeypatch.setattr(Bench, "switch", spy)
    return unions


def test_onboard_chain_pulses_each_cell_at_its_point_and_reads_its_state(table, monkeypatch):
    """40 steps of the on-board chain (two round trips): each step every cell gets exactly one
    weak pulse - at its SET amplitude when it was OFF, at its RESET amplitude when ON, width
    1 us, reaching that cell alone - then one saturating pulse per polarity at +-4 V reaching
    exactly the cells read ON (+) and OFF (-); after each step the states returned are the
    cells' fully switched states in the device (switched fraction 1 or 0). While relays move
    together, no array line is reached by two instrument terminals."""
    cal = calibration_from_trials(table)
    seen = _watch_pulses(monkeypatch)
    unions = _watch_relays(monkeypatch)
    with BenchSession.open(seed=SEED) as session:
        controller = ArrayController(session)
        cells = SwitchingCells(controller, cal.cells)
        live = LiveNoise(cells, cal, k=N_CELLS, max_volts=session.limits.max_program_voltage_v,
                         block_steps=20)
        assert live.onboard and live.source.use.all()
        up, down = live.source.set_pts.volts, live.source.reset_pts.volts
        fraction = session.sim.array.domains.switched_fraction
        before = cells.state.copy()
        del seen[:]
        states = live._states(40)
        assert live.calls == 2
        # the state after the last step is the device's
        assert np.array_equal(fraction(np.arange(N_CELLS)), states[-1].astype(float))
        wiring = session.sim.wiring
    assert len(unions) > 40 * N_CELLS // 2  # routings moved together: most of the chain's
    for union in unions:
        reached: dict[str, set[str]] = {}
        for p in union:
            terminal = wiring.rows.get(p.row)
            line = wiring.columns.get((p.slot, p.column))
            if terminal is not None and line is not None:
                reached.setdefault(line, set()).add(terminal)
        assert all(len(t) == 1 for t in reached.values()), reached
    weak = [s for s in seen if abs(s[2]) < 3.9]
    strong = [s for s in seen if abs(s[2]) >= 3.9]
    assert len(weak) == 40 * N_CELLS
    assert all(s[0].tolist() == [0] and s[1].size == 1 and s[3] == 1e-6 for s in weak)
    prev = np.vstack([before[None, :], states[:-1]])
    got = np.array([s[2] for s in weak]).reshape(40, N_CELLS)  # bench order: pairs by step
    cols = np.array([int(s[1][0]) for s in weak]).reshape(40, N_CELLS)
    for step in range(40):
        want = np.where(prev[step] == 0, up, down)
        order = np.argsort(cols[step])
        assert np.array_equal(cols[step][order], np.arange(N_CELLS))
        np.testing.assert_allclose(got[step][order], want, atol=1e-9)
    # saturation: +4 V on the cells read ON, -4 V on those read OFF, one pulse each per step
    assert all(s[0].tolist() == [0] for s in strong)
    sat_on = [sorted(s[1].tolist()) for s in strong if s[2] > 0]
    sat_off = [sorted(s[1].tolist()) for s in strong if s[2] < 0]
    assert sat_on == [np.flatnonzero(st).tolist() for st in states if st.any()]
    assert sat_off == [np.flatnonzero(st == 0).tolist() for st in states if not st.all()]


def test_onboard_and_host_chains_flip_at_the_device_rate(table):
    """150 steps each way on the same bench seed: SET and RESET flip rates of the on-board
    and the host-driven chain agree with each other and with 0.5 within binomial error
    (1,200 weak pulses each), and the on-board chain takes less instrument time per step."""
    cal = calibration_from_trials(table)
    rates, per_step = {}, {}
    for onboard in (True, False):
        with BenchSession.open(seed=SEED) as session:
            # the host chain saturates at the weak width too: the same pulses either way
            cells = SwitchingCells(ArrayController(session), cal.cells, saturate_width_s=1e-6)
            live = LiveNoise(cells, cal, k=N_CELLS,
                             max_volts=session.limits.max_program_voltage_v, onboard=onboard)
            start = cells.state.copy()
            t0 = session.now_s()
            states = live._states(150)
            per_step[onboard] = (session.now_s() - t0) / 150
        prev = np.vstack([start[None, :], states[:-1]])
        flips = states != prev
        rates[onboard] = [flips[prev == s].mean() for s in (0, 1)]
        counts = [(prev == s).sum() for s in (0, 1)]
        for rate, n in zip(rates[onboard], counts, strict=True):
            assert abs(rate - 0.5) < 4 * np.sqrt(0.25 / n), (onboard, rate, n)
    for a, b in zip(rates[True], rates[False], strict=True):
        assert abs(a - b) < 4 * np.sqrt(0.5 / 600)
    assert per_step[True] < per_step[False]


def test_diffuse_draws_an_image_live_on_the_instrument(table, tmp_path, capsys):
    """``ftjlab diffuse --modes live`` with one denoising step: one image from 784 noise
    values, the chain on the instrument, its steps and instrument time reported; a bench
    that cannot run the chain on board is refused before anything is pulsed."""
    writer = RunWriter.create(tmp_path, "switching-noise", {}, {},
                              {"trials": PROCEDURES["switching-noise"]().streams()["trials"]})
    writer.append("trials", table)
    writer.finish("completed")
    out = tmp_path / "live.json"
    assert main(["diffuse", "--modes", "live", "--calibration", str(writer.path),
                 "--seed", str(SEED), "--sample-steps", "1", "--json", str(out)]) == 0
    (res,) = json.loads(out.read_text())
    m = res["metrics"]
    assert res["noise_values_used"] == 784 == m["noise_values_drawn"]
    assert m["chain"] == "onboard" and m["chain_steps"] == 784 and m["units"] == 1
    assert m["round_trips_of_chain"] == 784 // (512 // N_CELLS) + 1
    assert m["instrument_s"] > 0 and len(m["classes"]) == 1
    assert "784 noise values from 784 chain steps" in capsys.readouterr().out
    assert main(["diffuse", "--modes", "live", "--calibration", str(writer.path),
                 "--sample-steps", "1", "--live-chain", "onboard",
                 "--bench", "data/benches/sim-2450.toml"]) == 2
    assert "on board" in capsys.readouterr().err
