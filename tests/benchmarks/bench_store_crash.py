"""Run files under every kind of stop, in bulk (the lean version is tests/test_crash.py).

Each figure is the fraction of trials whose file failed a check (``ftjlab repair`` where the
process was killed, then a plain ``h5py.File(path, "r")``, every committed block intact, no
``running`` after a stop Python saw), against the target 0. The trials are
tests/crash_rig.py's: SIGKILL at a random moment, a kill between a stream's resize and its
write, an exception / Ctrl-C / SIGKILL inside ``finish``, a live SWMR reader opening the file
the moment it appears, a full tmpfs (the writer's check, and HDF5's own ENOSPC), and bursts of
SIGINT/SIGTERM every 20 ms into ``ftjlab run``.
"""

from __future__ import annotations

import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

from ftjlab.benchmarks import BenchResult

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import crash_rig


def _result(name: str, trials: list, note: str) -> BenchResult:
    bad = [t for t in trials if not t.ok]
    kinds = Counter(t.kind for t in trials)
    detail = "; ".join(f"{t.kind}: {t.detail}" for t in bad[:3])
    return BenchResult(
        name, float(len(bad)), float(len(trials)), "failed trials / trials", 0.0,
        note=f"{note} ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})"
        + (f"; first failures: {detail}" if detail else ""),
    )


def bench_crash_trials(quick: bool) -> BenchResult:
    """Every kind of stop, cycled (9 kinds; 63 trials, 18 quick)."""
    with tempfile.TemporaryDirectory(prefix="ftjlab-crash-") as root:
        trials = crash_rig.run_trials(Path(root), 18 if quick else 63, seed=2026)
    return _result("store.crash_trials", trials, "every file checked after its stop")


def bench_live_reader(quick: bool) -> BenchResult:
    """A live SWMR reader opening each new file as early as it can (50 trials, 10 quick)."""
    rng = random.Random(7)
    trials = []
    with tempfile.TemporaryDirectory(prefix="ftjlab-reader-") as root:
        for i in range(10 if quick else 50):
            folder = Path(root) / f"{i:03d}"
            folder.mkdir()
            trials.append(crash_rig.trial_reader(folder, rng))
    return _result("store.live_reader", trials, "writer must complete; file checked")
