"""Live switching noise drawn through the in-process simulated bench: the chain run on the
instrument (``ftjchain`` on the read SMU, ``LiveNoise``'s default where the bench allows it)
against the same chain driven from the host, one command per pulse and read.

Both chains run on their own bench of the same seed and the same calibrated cells, drawn in
turns (one on-board draw, one host draw, repeated), so a load change of the shared machine
hits both. Reported per bench: noise values per second of instrument time (the bench's
virtual clock, independent of the machine's load) and per second of wall time; the ratio is
on-board / host. The calibration trials come from the simulated device (fast to draw, as in
``bench_switching``); every chain step runs through the instruments.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

from ftjlab.benchmarks import BenchResult

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "switching"))
from switching_physics import Cells, with_mirror

SEED = 2026
FOUR_CHANNELS = str(Path(__file__).resolve().parents[2] / "data" / "benches" / "sim-4ch.toml")
#: (name, bench config, cells): the default bench (one read channel) and the bench with three
#: read channels, whose on-board chain reads them all at once
BENCHES = (("default", None, 16), ("sim4ch", FOUR_CHANNELS, 64))
#: values per draw: one on-board round trip at LiveNoise's default block (~512 cell-steps)
DRAW = 64


_CACHE: dict = {}


def _calibration(bench: str | None, n_cells: int):
    """Calibration of the first ``n_cells`` cells of the ``bench`` array in row-major order
    (word line 0 first), trials drawn from the simulated device at ``SEED``. Cached per
    device: both benches hold the same 32 x 32 array at this seed, so the 16 cells of the
    default bench are the first 16 of sim-4ch's 64 and get the same laws."""
    from ftjlab.session import BenchSession
    from ftjlab.switching.engine import calibration_from_trials

    with BenchSession.open(bench, seed=SEED) as session:
        domains, cols = session.sim.array.domains, session.sim.array.cols
    key = (domains.va.tobytes(), domains.area.tobytes(), cols)
    hit = _CACHE.get("cal")
    if hit is not None and hit[0] == key and len(hit[1].cells) >= n_cells:
        return hit[1], n_cells
    n_cal = max(n for _, _, n in BENCHES)
    cells = Cells(n_cal, seed=3, domains=domains, index=np.arange(n_cal))
    table = cells.calibration_table(+1, local_repeats=1300)
    flat = table[:, 1].astype(int)
    table[:, 0], table[:, 1] = flat // cols, flat % cols
    cal = calibration_from_trials(with_mirror(table))
    _CACHE["cal"] = (key, cal)
    return cal, n_cells


class _Chain:
    """One bench with a :class:`LiveNoise` of the calibrated cells, on board or from the
    host; :meth:`draw` times one draw on the bench clock, the wall clock and the CPU clock."""

    def __init__(self, bench: str | None, cal, n_cells: int, onboard: bool) -> None:
        from ftjlab.controller import ArrayController
        from ftjlab.session import BenchSession
        from ftjlab.switching.diffusion import LiveNoise
        from ftjlab.switching.engine import SwitchingCells

        self.session = BenchSession.open(bench, seed=SEED)
        self.controller = ArrayController(self.session)
        # saturation at the weak pulses' width, as the on-board chain (and ftjlab diffuse)
        cells = SwitchingCells(self.controller, cal.cells[:n_cells], saturate_width_s=1e-6)
        self.noise = LiveNoise(cells, cal, max_volts=self.session.limits.max_program_voltage_v,
                               onboard=onboard)
        self.inst, self.wall, self.cpu = [], [], []
        self.parts: list[np.ndarray] = []

    def draw(self, n: int, keep: bool = True) -> None:
        i0, w0, c0 = self.session.now_s(), time.perf_counter(), time.process_time()
        x = self.noise((n,))
        if keep:
            self.inst.append(self.session.now_s() - i0)
            self.wall.append(time.perf_counter() - w0)
            self.cpu.append(time.process_time() - c0)
            self.parts.append(x)

    def close(self) -> None:
        try:
            self.controller.safe_state()
        finally:
            self.session.close()


def live_noise_study(bench: str | None, n_cells: int, repeats: int,
                     draw: int = DRAW) -> dict:
    """Interleaved draws of ``draw`` values, on board and from the host, after one untimed
    draw each (the script upload and first routing); rates and noise moments per chain."""
    cal, n = _calibration(bench, n_cells)
    chains: dict[str, _Chain] = {}
    try:
        for name, onboard in (("onboard", True), ("host", False)):
            chains[name] = _Chain(bench, cal, n, onboard)
        if not chains["onboard"].noise.onboard or chains["host"].noise.onboard:
            raise AssertionError("live noise: the chains did not run where asked")
        for c in chains.values():
            c.draw(draw, keep=False)
        calls0 = chains["onboard"].noise.calls
        pair_wall = []
        for _ in range(repeats):
            for c in chains.values():
                c.draw(draw)
            pair_wall.append(chains["onboard"].wall[-1] / chains["host"].wall[-1])
        out = {"pair_wall_ratio": statistics.median(pair_wall)}
        for name, c in chains.items():
            x = np.concatenate(c.parts)
            k = c.noise
            out[name] = {
                "values": x.size, "inst_rate": x.size / sum(c.inst),
                "wall_rate": x.size / sum(c.wall), "cpu_rate": x.size / sum(c.cpu),
                "cells_in_use": k.units * k.k, "units": k.units,
                "round_trips": k.calls - calls0 if name == "onboard" else 0,
                "mean": float(x.mean()), "var": float(x.var()),
            }
        return out
    finally:
        for c in chains.values():
            c.close()


def bench_onboard_vs_host(quick: bool) -> list[BenchResult]:
    """Live noise values per instrument second and per wall second, on-board chain / host
    chain, on the default bench (16 cells) and on sim-4ch.toml (64 cells, three read channels);
    quick: 3 interleaved draws of 64 values per chain and bench, full: 12."""
    repeats = 3 if quick else 12
    out = []
    for name, bench, n_cells in BENCHES:
        r = live_noise_study(bench, n_cells, repeats)
        on, host = r["onboard"], r["host"]
        note = (f"{on['cells_in_use']} cells in use ({on['units']} units of 8), "
                f"{on['values']} values per chain in {repeats} interleaved draws, seed {SEED}")
        out += [
            BenchResult(f"live_noise.values_per_instrument_s_{name}", on["inst_rate"],
                        host["inst_rate"], "values/s (onboard/host)", 1.3,
                        higher_is_better=True,
                        note=note + f"; on-board {on['round_trips']} round trips timed",
                        extra={"onboard": on, "host": host}),
            BenchResult(f"live_noise.values_per_wall_s_{name}", on["wall_rate"],
                        host["wall_rate"], "values/s (onboard/host)", 1.0,
                        higher_is_better=True,
                        note=note + f"; per CPU s {on['cpu_rate']:.0f} vs "
                        f"{host['cpu_rate']:.0f}; median per-pair wall ratio "
                        f"{1 / r['pair_wall_ratio']:.2f}, in-process",
                        extra={"pair_speedup": 1 / r["pair_wall_ratio"]}),
        ]
    return out
