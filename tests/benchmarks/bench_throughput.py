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

import numpy as np
from ftjlab.data import benches

from ftjlab.benchmarks import BenchResult
from ftjlab.controller import ArrayController
from ftjlab.session import BenchSession
from ftjlab.traffic import Meter

BENCH_4CH = f"{benches.__path__[0]}/sim-4ch.toml"
N_LEVELS = 9


def _load() -> float:
    return os.getloadavg()[0]


def _cores() -> int:
    return os.cpu_count() or 1


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
    return [
        BenchResult("throughput.run_start_to_finish", min(walls), 1.5,
                    "s wall, `ftjlab run rtn-acquisition --set readings=10` (baseline = 1.5 s "
                    "budget)", 1.0, note=f"best of {runs}; load average {_load():.1f} on "
                    f"{_cores()} cores"),
        BenchResult("throughput.run_start_to_finish_cpu", min(cpus), 1.5,
                    "s CPU of the same process (baseline = 1.5 s budget): its wall time on "
                    "an otherwise idle machine", 1.0, note=f"best of {runs}"),
    ]


def _program_loads(bench: str | None, n_sample: int):
    """Program ``n_sample`` loads of the shipped decoder, evenly spread over its loads,
    through the instruments (write-verify and the measured map, each load starting from the
    map before it, as program_all_loads does); the meter of the whole job and the cells
    done."""
    from ftjlab.vae.bench import decoder_mapping, program_load_on_bench

    session = BenchSession.open(bench, seed=11)
    try:
        c = ArrayController(session)
        _, mapping = decoder_mapping(c, N_LEVELS)
        loads = [int(k) for k in np.linspace(0, mapping.n_loads - 1, n_sample + 2)[1:-1]]
        cells = 0
        pulses = []
        cpu0 = time.process_time()
        last = None
        with Meter(session) as meter:
            for load in loads:
                report, _ = program_load_on_bench(c, mapping, load, 0.02, 0.2, start_s=last)
                last = report.measured_s
                finite = np.isfinite(report.targets_s)
                cells += int(finite.sum())
                pulses.append(report.pulses[finite])
        total = sum(int(np.isfinite(mapping.load_targets(k)).sum())
                    for k in range(mapping.n_loads))
        cpu = time.process_time() - cpu0
        return (meter.result, cells, total, mapping.n_loads,
                float(np.concatenate(pulses).mean()), cpu)
    finally:
        session.close()


def bench_decoder_programming(quick: bool) -> list[BenchResult]:
    """Every load of the shipped decoder through the instruments on the default in-process
    simulated bench, extrapolated from the loads programmed here (per cell: wall time,
    instrument time, round trips), and the instrument time on the 4-channel bench."""
    sample = 1 if quick else 4
    acc, cells, total, n_loads, pulses, cpu = _program_loads(None, sample)
    scale = total / cells
    wall, inst = acc.wall_s * scale, acc.instrument_s * scale
    rt_cell = acc.round_trips / cells
    acc4, cells4, _, _, _, _ = _program_loads(BENCH_4CH, 1 if quick else 2)
    inst4 = acc4.instrument_s * total / cells4
    note = (f"{total} cells in {n_loads} loads, extrapolated from {cells} cells "
            f"({sample} loads), {pulses:.1f} pulses/cell")
    return [
        BenchResult("throughput.decoder_program_wall", wall, 300.0,
                    "s wall, every load in-process (baseline = 5 min budget)", 1.0,
                    note=f"{note}; load average {_load():.1f} on {_cores()} cores"),
        BenchResult("throughput.decoder_program_cpu", cpu * scale, 300.0,
                    "s CPU of this process, every load (baseline = 5 min budget): the wall "
                    "time of an otherwise idle machine", 1.0, note=note),
        BenchResult("throughput.decoder_program_instrument_time", inst, 3600.0,
                    "s simulated instrument time (baseline = 1 h budget)", 1.0, note=note),
        BenchResult("throughput.decoder_program_instrument_time_4ch", inst4, inst,
                    "s simulated instrument time, 4 SMU channels (baseline = default bench)",
                    1.0, note=f"extrapolated from {cells4} cells"),
        BenchResult("throughput.decoder_round_trips_per_cell", rt_cell, 0.1,
                    "messages + replies per cell (baseline = budget 0.1)", 1.0,
                    note=f"{acc.messages / cells:.2f} messages, {acc.replies / cells:.2f} "
                    "replies per cell"),
        BenchResult("throughput.decoder_latency_share", acc.round_trips * 1e-3,
                    0.2 * acc.instrument_s,
                    "s of 1 ms round trips (baseline = 20 % of the instrument time)", 1.0,
                    note=f"projected real bench: {acc.projected_s(1e-3) * scale / 3600:.2f} h "
                    f"LAN, {acc.projected_s(5e-3) * scale / 3600:.2f} h GPIB"),
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
    return [
        BenchResult("throughput.vmm_wall", wall, 0.010,
                    "s wall per 8-bit VMM, in-process (baseline = 10 ms budget)", 1.0,
                    note=f"median of {repeats}; load average {_load():.1f} on {_cores()} "
                    "cores"),
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
