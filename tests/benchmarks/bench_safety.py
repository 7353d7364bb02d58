"""Safety benchmarks: what the guard costs, and how fast the dead-man switch makes a bench
safe after ``kill -9``.

* the wall time of a conductance map and of write-verify on the in-process simulated bench
  with the guard checking every message, against the same run minus the time the checks
  took (measured inside the run: a separate unguarded run differs by more than the guard
  costs on a shared machine, about 10 % between two identical runs);
* the kill study: ``ftjlab run`` of conductance-map, write-verify and rtn-acquisition
  against a sim-server, SIGKILLed once the bench is energised, 20 trials each: the worst time
  until every output is off and every relay open, against the 2 s budget.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ftjlab.benchmarks import BenchResult

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "instruments"))


def _session():
    from ftjlab.controller import ArrayController
    from ftjlab.session import BenchSession

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = BenchSession.open(seed=11)
    return session, ArrayController(session)


@contextlib.contextmanager
def _guard_timed(spent: list[float]) -> Iterator[None]:
    """Accumulate the time every guard check takes into ``spent[0]``."""
    from ftjlab.instruments.safety import SafetyGuard

    check = SafetyGuard.check

    def timed(self, message: str) -> None:
        t0 = time.perf_counter()
        try:
            check(self, message)
        finally:
            spent[0] += time.perf_counter() - t0

    SafetyGuard.check = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        SafetyGuard.check = check  # type: ignore[method-assign]


def _overhead(name: str, run, repeats: int, note: str) -> BenchResult:
    """Wall time of ``run`` against the same run without the time its guard checks took
    (measured inside the run, so machine load hits both alike); the best of ``repeats``."""
    best = None
    for _ in range(repeats):
        spent = [0.0]
        with _guard_timed(spent):
            t0 = time.perf_counter()
            run()
            wall = time.perf_counter() - t0
        if best is None or wall / (wall - spent[0]) < best[0] / (best[0] - best[1]):
            best = (wall, spent[0])
    wall, spent = best
    return BenchResult(name, wall, wall - spent, "s wall (baseline: minus the guard's time)",
                       1.10, note=f"{note}; guard {spent * 1e3:.1f} ms of {wall:.3f} s")


def bench_guard_overhead(quick: bool) -> list[BenchResult]:
    """What the guard adds to the wall time of a conductance map and of write-verify on the
    in-process simulated bench (every message checked; ratio in one run)."""
    session, ctrl = _session()
    try:
        repeats = 3 if quick else 5
        ctrl.read_map(volts=0.2, nplc=0.01, rows=range(2))  # uploads, first configuration
        results = [_overhead(
            "safety.guard_overhead_map", lambda: ctrl.read_map(volts=0.2, nplc=0.01),
            repeats, f"{ctrl.rows}x{ctrl.cols} conductance map",
        )]
        lo, hi = ctrl.conductance_range(0.2, 0.1)
        cells = 4 if quick else 12
        rng = np.random.default_rng(4)

        def write_verify() -> None:
            targets = np.full((ctrl.rows, ctrl.cols), np.nan)
            picks = rng.choice(ctrl.rows * ctrl.cols, cells, replace=False)
            targets.flat[picks] = lo + (hi - lo) * rng.uniform(0.2, 0.8, cells)
            ctrl.write_verify(targets, g_range_s=(lo, hi), max_pulses=20)

        results.append(_overhead("safety.guard_overhead_write_verify", write_verify, repeats,
                                 f"write-verify of {cells} cells"))
    finally:
        session.close()
    return results


def bench_deadman_kill_study(quick: bool) -> list[BenchResult]:
    """SIGKILL of ftjlab run mid-run against a sim-server: time until the bench is safe."""
    from deadman_rig import CASES, kill_mid_run
    from ftjlab.simulators.server import SimServer

    from ftjlab.config import load_bench_config

    trials = 3 if quick else 20
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = SimServer(load_bench_config(None), seed=7).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for procedure in CASES:
                times = []
                for _ in range(trials):
                    result = kill_mid_run(server, procedure, tmp)
                    times.append(result.safe_after_s)
                safe = sum(t <= 2.0 for t in times)
                results.append(BenchResult(
                    f"safety.deadman_{procedure}", max(times), 2.0, "s from SIGKILL to safe",
                    1.0,
                    note=f"{safe}/{trials} safe within 2 s; median {statistics.median(times):.3f}"
                    f" s, max {max(times):.3f} s",
                ))
    finally:
        server.stop()
    return results
