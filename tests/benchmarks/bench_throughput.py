"""Throughput of the instrument path (``ftjlab bench throughput.``): programming the shipped VAE
decoder through the instruments, bit-serial VMM through the bench, RTN of several cells at
once. Instrument time is the simulated bench's virtual clock; round trips are every message
and reply counted at the adapters (:mod:`ftjlab.traffic`). Budgets are the baselines, so a
ratio <= 1 meets the target.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np
from ftjlab.data import benches

from ftjlab.benchmarks import BenchResult, core_share
from ftjlab.controller import ArrayController
from ftjlab.session import BenchSession
from ftjlab.traffic import Meter

BENCH_4CH = f"{benches.__path__[0]}/sim-4ch.toml"
N_LEVELS = 9


def _load() -> float:
    return os.getloadavg()[0]


def _cores() -> int:
    return os.cpu_count() or 1


def _wall_target(cpu_s: float, wall_s: float) -> tuple[float | None, str]:
    """The wall rows' target (1.0: within budget) and a note. On a busy machine (see
    :func:`~ftjlab.benchmarks.core_share`: the job's wall time is mostly waiting for the
    scheduler) reported without a target (its CPU row holds it to the budget)."""
    busy, contended = core_share(cpu_s, wall_s)
    if not contended:
        return 1.0, ""
    return None, f"; not judged: {busy:.2f} of a core (machine busy), see the CPU row"


def bench_run_startup(quick: bool) -> list[BenchResult]:
    """``ftjlab run rtn-acquisition --set readings=10`` start to finish, as a user runs it
    (a new process): wall and CPU time (best of a few runs)."""
    runs = 2 if quick else 4
    walls, cpus = [], []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "ftjlab.cli", "run", "rtn-acquisition", "--set",
                 "readings=10", "--out", out],
                check=True, capture_output=True, cwd=out,
            )
            walls.append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    target, how = _wall_target(min(cpus), min(walls))
    return [
        BenchResult("throughput.run_start_to_finish", min(walls), 1.5,
                    "s wall, `ftjlab run rtn-acquisition --set readings=10` (baseline = 1.5 s "
                    "budget)", target, note=f"best of {runs}; load average {_load():.1f} on "
                    f"{_cores()} cores{how}"),
        BenchResult("throughput.run_start_to_finish_cpu", min(cpus), 1.5,
                    "s CPU of the same process (baseline = 1.5 s budget): its wall time on "
                    "an otherwise idle machine", 1.0, note=f"best of {runs}"),
    ]


@dataclass
class _Job:
    """Figures of programming the whole decoder from sampled loads: the first load once (it
    also sets the session up and has no map to start from), the others' per-cell figures
    for every other load."""

    instrument_s: float
    wall_s: float
    cpu_s: float
    messages: float
    replies: float
    cells: int  # programmed here
    total: int  # of the whole decoder
    n_loads: int
    pulses: float

    @property
    def round_trips(self) -> float:
        return self.messages + self.replies

    def projected_s(self, latency_s: float) -> float:
        return self.instrument_s + self.round_trips * latency_s


def _program_loads(bench: str | None, n_sample: int) -> _Job:
    """Program ``n_sample`` >= 2 loads of the shipped decoder, evenly spread over its loads,
    through the instruments (write-verify and the measured map, each load starting from the
    map before it, as program_all_loads does), and scale to every load."""
    from ftjlab.vae.bench import decoder_mapping, program_load_on_bench

    session = BenchSession.open(bench, seed=11)
    try:
        c = ArrayController(session)
        _, mapping = decoder_mapping(c, N_LEVELS)
        loads = [int(k) for k in np.linspace(0, mapping.n_loads - 1, n_sample + 2)[1:-1]]
        parts = []  # (accounting, cpu, cells) of the first load and of the others
        pulses = []
        last = None
        for group in (loads[:1], loads[1:]):
            cells = 0
            cpu0 = time.process_time()
            with Meter(session) as meter:
                for load in group:
                    report, _ = program_load_on_bench(c, mapping, load, 0.02, 0.2,
                                                      start_s=last)
                    last = report.measured_s
                    finite = np.isfinite(report.targets_s)
                    cells += int(finite.sum())
                    pulses.append(report.pulses[finite])
            parts.append((meter.result, time.process_time() - cpu0, cells))
        total = sum(int(np.isfinite(mapping.load_targets(k)).sum())
                    for k in range(mapping.n_loads))
    finally:
        session.close()
    (first, cpu1, n1), (rest, cpu2, n2) = parts
    k = (total - n1) / n2  # the other loads' figures per cell, for every other cell

    def whole(a: float, b: float) -> float:
        return a + b * k

    return _Job(whole(first.instrument_s, rest.instrument_s), whole(first.wall_s, rest.wall_s),
                whole(cpu1, cpu2), whole(first.messages, rest.messages),
                whole(first.replies, rest.replies), n1 + n2, total, mapping.n_loads,
                float(np.concatenate(pulses).mean()))


def bench_decoder_programming(quick: bool) -> list[BenchResult]:
    """Every load of the shipped decoder through the instruments on the default in-process
    simulated bench, scaled from the loads programmed here (the first load once, per cell of
    the others: wall time, instrument time, round trips), and the instrument time on the
    4-channel bench."""
    sample = 2 if quick else 4
    job = _program_loads(None, sample)
    job4 = _program_loads(BENCH_4CH, 2)
    note = (f"{job.total} cells in {job.n_loads} loads, scaled from {job.cells} cells "
            f"({sample} loads: the first once, the others per cell), {job.pulses:.1f} "
            "pulses/cell")
    target, how = _wall_target(job.cpu_s, job.wall_s)
    return [
        BenchResult("throughput.decoder_program_wall", job.wall_s, 300.0,
                    "s wall, every load in-process (baseline = 5 min budget)", target,
                    note=f"{note}; load average {_load():.1f} on {_cores()} cores{how}"),
        BenchResult("throughput.decoder_program_cpu", job.cpu_s, 300.0,
                    "s CPU of this process, every load (baseline = 5 min budget): the wall "
                    "time of an otherwise idle machine", 1.0, note=note),
        BenchResult("throughput.decoder_program_instrument_time", job.instrument_s, 3600.0,
                    "s simulated instrument time (baseline = 1 h budget)", 1.0, note=note),
        BenchResult("throughput.decoder_program_instrument_time_4ch", job4.instrument_s,
                    job.instrument_s,
                    "s simulated instrument time, 4 SMU channels (baseline = default bench)",
                    1.0, note=f"scaled from {job4.cells} cells (2 loads)"),
        BenchResult("throughput.decoder_round_trips_per_cell", job.round_trips / job.total,
                    0.1, "messages + replies per cell (baseline = budget 0.1)", 1.0,
                    note=f"{job.messages / job.total:.3f} messages, "
                    f"{job.replies / job.total:.3f} replies per cell"),
        BenchResult("throughput.decoder_latency_share", job.round_trips * 1e-3,
                    0.2 * job.instrument_s,
                    "s of 1 ms round trips (baseline = 20 % of the instrument time)", 1.0,
                    note=f"projected real bench: {job.projected_s(1e-3) / 3600:.2f} h LAN, "
                    f"{job.projected_s(5e-3) / 3600:.2f} h GPIB"),
    ]


def _vmm_figures(bench: str | None, repeats: int) -> tuple[float, float, float]:
    session = BenchSession.open(bench, seed=3)
    try:
        c = ArrayController(session)
        rng = np.random.default_rng(0)
        xs = [rng.integers(0, 256, c.rows) for _ in range(repeats)]
        c.vmm(xs[0], 8)  # scripts uploaded, bias and gate set
        walls, cpus = [], []
        with Meter(session) as meter:
            for x in xs:
                t0, c0 = time.perf_counter(), time.process_time()
                c.vmm(x, 8)
                walls.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
        a = meter.result
        return (float(np.median(walls)), a.instrument_s / repeats, a.round_trips / repeats,
                float(np.median(cpus)))
    finally:
        session.close()


def bench_vmm(quick: bool) -> list[BenchResult]:
    """8-bit VMM on the 32 x 32 array through the bench: wall time in-process, round trips,
    instrument time on one and on three read channels."""
    repeats = 10 if quick else 40
    wall, inst, rt, cpu = _vmm_figures(None, repeats)
    _, inst4, rt4, _ = _vmm_figures(BENCH_4CH, max(4, repeats // 4))
    target, how = _wall_target(cpu, wall)
    return [
        BenchResult("throughput.vmm_wall", wall, 0.010,
                    "s wall per 8-bit VMM, in-process (baseline = 10 ms budget)", target,
                    note=f"median of {repeats}; load average {_load():.1f} on {_cores()} "
                    f"cores{how}"),
        BenchResult("throughput.vmm_cpu", cpu, 0.010,
                    "s CPU per 8-bit VMM (baseline = 10 ms budget): the wall time of an "
                    "otherwise idle machine", 1.0, note=f"median of {repeats}"),
        BenchResult("throughput.vmm_round_trips", rt, 2.0,
                    "messages + replies per VMM (baseline = budget 2)", 1.0,
                    note=f"4-channel bench: {rt4:g}"),
        BenchResult("throughput.vmm_instrument_time_4ch", inst4, inst,
                    "s instrument time per VMM, 3 read channels (baseline = 1 channel)", None,
                    note=f"1 channel: {inst * 1e3:.0f} ms (256 routed readings)"),
    ]


def bench_rtn_multichannel(quick: bool) -> list[BenchResult]:
    """RTN of N cells at once on the 4-channel bench (N = its read channels once the gate is
    driven) against the same readings cell by cell."""
    n = 20_000 if quick else 100_000
    session = BenchSession.open(BENCH_4CH, seed=4)
    try:
        c = ArrayController(session)
        cols = list(range(c.parallel_reads))
        with Meter(session) as m:
            for _ in c.acquire_rtn_cells(2, cols, 0.8, 2e-4, 0.006, n, 50_000):
                pass
        together = m.result
        with Meter(session) as m:
            for col in cols:
                for _ in c.acquire_rtn(2, col, 0.8, 2e-4, 0.006, n, 50_000):
                    pass
        single = m.result
    finally:
        session.close()
    k = len(cols)
    return [
        BenchResult("throughput.rtn_cells_at_once", together.instrument_s,
                    1.2 / k * single.instrument_s,
                    f"s instrument time, {k} cells at once (baseline = 1.2/{k} x cell by cell)",
                    1.0, note=f"{n} readings per cell, 200 us apart"),
        BenchResult("throughput.rtn_cells_overhead", together.round_trips * 1e-3,
                    0.05 * together.instrument_s,
                    "s of 1 ms round trips (baseline = 5 % of the instrument time)", 1.0,
                    note=f"{together.round_trips} round trips; in-process wall "
                    f"{together.wall_s:.2f} s for {together.instrument_s:.1f} s simulated"),
    ]
