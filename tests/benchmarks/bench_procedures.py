"""Procedure and store benchmarks (issue: procedures), each against a same-run baseline."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import h5py
import numpy as np

from ftjlab.benchmarks import BenchResult
from ftjlab.store import RunWriter, StreamSpec

BLOCK = 100_000

_READER = """
import sys, time, h5py
path, run = sys.argv[1], sys.argv[2]
end = time.monotonic() + 60
while time.monotonic() < end:
    try:
        f = h5py.File(path, "r", libver="latest", swmr=True)
        break
    except OSError:
        time.sleep(0.01)
ds = f["runs"][run]["current"]
print("attached", flush=True)
while time.monotonic() < end:
    ds.refresh()
    n = ds.shape[0]
    if n and ds[n - 1] < 0:   # the writer's last block ends with a negative sentinel
        break
    time.sleep(0.033)  # a live view refreshes at ~30 frames/s
print(ds.shape[0], flush=True)
"""


def bench_hdf5_streaming(quick: bool) -> list[BenchResult]:
    """Append float32 RTN blocks (1e5 readings each) to a run with a SWMR reader following in
    another process, against the same blocks written by plain h5py (same chunks, same
    compression) in the same run."""
    n_blocks = 20 if quick else 60
    rng = np.random.default_rng(0)
    blocks = [(1e-8 + 1e-10 * rng.standard_normal(BLOCK)).astype(np.float32)
              for _ in range(4)]
    with tempfile.TemporaryDirectory() as tmp:
        times_store, times_plain = [], []
        for rep in range(3 if quick else 5):  # interleaved; the best of each counts
            run = RunWriter.create(Path(tmp) / f"s{rep}", "rtn-acquisition", {}, {},
                                   {"current": StreamSpec(np.float32, "A",
                                                          chunk_records=BLOCK)})
            reader = subprocess.Popen([sys.executable, "-c", _READER, str(run.path), run.run_id],
                                      stdout=subprocess.PIPE, text=True)
            assert reader.stdout.readline().strip() == "attached"
            t0 = time.perf_counter()
            for k in range(n_blocks):
                block = blocks[k % 4]
                if k == n_blocks - 1:
                    block = block.copy()
                    block[-1] = -1.0
                run.append("current", block)
            times_store.append(time.perf_counter() - t0)
            run.finish()
            seen = int(reader.stdout.readline())
            reader.wait(timeout=30)
            assert seen == n_blocks * BLOCK, seen
            # the baseline: plain h5py, same layout, no SWMR, no reader
            path = Path(tmp) / f"plain{rep}.h5"
            with h5py.File(path, "w") as f:
                ds = f.create_dataset("current", shape=(0,), maxshape=(None,), dtype=np.float32,
                                      chunks=(BLOCK,), compression="gzip",
                                      compression_opts=1, shuffle=True)
                t0 = time.perf_counter()
                for k in range(n_blocks):
                    n0 = ds.shape[0]
                    ds.resize(n0 + BLOCK, axis=0)
                    ds[n0:] = blocks[k % 4]
                    f.flush()
                times_plain.append(time.perf_counter() - t0)
    readings = n_blocks * BLOCK
    rate = readings / min(times_store)
    rate_plain = readings / min(times_plain)
    return [
        BenchResult("procedures.hdf5_stream_rate", rate, 1e6, "readings/s (baseline = 1e6/s)",
                    1.0, higher_is_better=True, note="SWMR reader attached"),
        BenchResult("procedures.hdf5_stream_vs_plain_h5py", rate, rate_plain, "readings/s",
                    0.8, higher_is_better=True, note="same blocks, chunks and compression"),
    ]


def _tcp_session(server):
    from ftjlab.session import BenchSession

    return BenchSession.open(resources=dict(server.resources), timeout_ms=10_000)


def _server():
    from ftjlab.simulators.server import SimServer

    from ftjlab.config import load_bench_config

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return SimServer(load_bench_config(), seed=3).start()


def bench_rtn_acquisition_overhead(quick: bool) -> BenchResult:
    """Wall time of a 1e5-reading RTN acquisition through the sim server (pyvisa-py, binary
    buffer reads, HDF5 streaming) against the instrument time it simulates (1e5 x 200 us)."""
    from ftjlab.procedures import PROCEDURES, build

    from ftjlab.runner import run_procedure

    server = _server()
    try:
        session = _tcp_session(server)
        try:
            walls, sims = [], []
            with tempfile.TemporaryDirectory() as tmp:
                for _ in range(2 if quick else 3):
                    procedure = build(PROCEDURES["rtn-acquisition"], {"readings": "100000"})
                    t0 = time.perf_counter()
                    outcome = run_procedure(procedure, session, tmp)
                    walls.append(time.perf_counter() - t0)
                    sims.append(100_000 * 2e-4)
                    assert outcome.status == "completed", outcome.error
        finally:
            session.close()
    finally:
        server.stop()
    return BenchResult("procedures.rtn_acquisition_overhead", min(walls), sims[0],
                       "s wall per s of instrument time", 0.05,
                       note="1e5 readings at 200 us through the sim server")


def bench_map_round_trips(quick: bool) -> BenchResult:
    """Round trips per cell of a 32 x 32 conductance map through the sim server: every message
    and every reply, counted at the adapters (ftjlab.traffic)."""
    from ftjlab.controller import ArrayController
    from ftjlab.traffic import Meter

    server = _server()
    try:
        session = _tcp_session(server)
        try:
            controller = ArrayController(session)
            controller.read_map(0.2, 0.1, rows=[0])  # settle connections and state
            with Meter(session) as meter:
                controller.read_map(0.2, 0.1)
        finally:
            session.close()
    finally:
        server.stop()
    a = meter.result
    per_cell = a.round_trips / 1024
    return BenchResult("procedures.map_round_trips_per_cell", per_cell, 1.0,
                       "messages + replies per cell (baseline = budget)", 1.0,
                       note=f"{a.messages / 1024:.3f} messages and {a.replies / 1024:.3f} "
                       f"replies per cell; {a.wall_s:.2f} s for 1024 cells over TCP")
