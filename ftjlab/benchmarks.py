"""``ftjlab bench``: run the benchmarks of ``tests/benchmarks`` and print a table of ratios.

Every benchmark measures its subject and a baseline in the same run, interleaved, and reports
their ratio against a target, because the machine is shared and absolute times are noise.
A benchmark module is any ``tests/benchmarks/bench_*.py``; each public function named
``bench_*`` takes ``quick: bool`` and returns a :class:`BenchResult` (or a list of them).
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ftjlab.errors import BadInput


@dataclass
class BenchResult:
    """One benchmark figure: ``ratio = value / baseline`` compared with ``target``.

    ``higher_is_better`` flips the comparison (e.g. speed-ups, rates).
    """

    name: str
    value: float
    baseline: float
    unit: str
    target: float | None  # None: reported for information, no target
    higher_is_better: bool = False
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")

    @property
    def passed(self) -> bool:
        if self.target is None:
            return True
        return self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target


def interleaved_ratio(
    subject: Callable[[], object], baseline: Callable[[], object], repeats: int = 7
) -> tuple[float, float, float]:
    """Time ``subject`` and ``baseline`` alternately; return (median subject s, median baseline
    s, median of the per-pair ratios). Pairs cancel slow drifts of a shared machine."""
    subject()
    baseline()
    ts, tb, ratios = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subject()
        t1 = time.perf_counter()
        baseline()
        t2 = time.perf_counter()
        ts.append(t1 - t0)
        tb.append(t2 - t1)
        ratios.append((t1 - t0) / (t2 - t1))
    return statistics.median(ts), statistics.median(tb), statistics.median(ratios)


#: CPU seconds per wall second below which a measurement counts as taken on a busy machine
CONTENDED = 0.7


def core_share(cpu_s: float, wall_s: float) -> tuple[float, bool]:
    """The share of a core a measurement got (``cpu_s / wall_s``) and whether that is below
    :data:`CONTENDED`: then other processes held the cores and its wall time is mostly waiting
    for the scheduler, not the work measured."""
    share = cpu_s / wall_s
    return share, share < CONTENDED


def benchmark_dir() -> Path:
    """Folder of the benchmark modules: $FTJLAB_BENCH_DIR or the source tree's tests/benchmarks."""
    env = os.environ.get("FTJLAB_BENCH_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[1] / "tests" / "benchmarks")
    for path in candidates:
        if path.is_dir():
            return path
    raise BadInput(
        "benchmarks not found: run from a source checkout or set FTJLAB_BENCH_DIR "
        f"(looked in {', '.join(str(c) for c in candidates)})"
    )


def discover(select: list[str] | None = None) -> list[tuple[str, Callable[[bool], object]]]:
    found = []
    for path in sorted(benchmark_dir().glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(f"ftjlab_bench_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        for name in sorted(vars(module)):
            func = getattr(module, name)
            if name.startswith("bench_") and callable(func):
                full = f"{path.stem.removeprefix('bench_')}.{name.removeprefix('bench_')}"
                if not select or any(s in full for s in select):
                    found.append((full, func))
    return found


def _format(results: list[BenchResult]) -> str:
    head = f"{'benchmark':<44} {'value':>12} {'baseline':>12} {'ratio':>8} {'target':>9}  ok"
    lines = [head, "-" * len(head)]
    for r in results:
        op = ">=" if r.higher_is_better else "<="
        target = "info" if r.target is None else f"{op}{r.target:<7.3g}"
        ok = "-" if r.target is None else ("yes" if r.passed else "NO")
        lines.append(
            f"{r.name:<44} {r.value:>12.4g} {r.baseline:>12.4g} {r.ratio:>8.3g} "
            f"{target:<9}  {ok:<3}"
            + (f"   {r.unit}; {r.note}" if r.note else f"   {r.unit}")
        )
    return "\n".join(lines)


def run_benchmarks(
    select: list[str] | None = None, json_path: str | None = None, quick: bool = False
) -> int:
    """Run, print the table, optionally write JSON. Exit code 0 if every target is met.

    A benchmark that cannot run here (``BadInput``, e.g. an optional extra not installed) is
    listed under the table with its reason; one that fails (any other exception) is listed as
    an error with its exception and makes the exit code 1. Either way the others still run and
    the rows already measured are kept."""
    results: list[BenchResult] = []
    skipped: list[str] = []
    errors: list[str] = []
    for name, func in discover(select):
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            out = func(quick)
        except BadInput as exc:
            skipped.append(f"{name}: {exc}")
            continue
        except Exception as exc:  # one broken benchmark must not lose the others' rows
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
            print(f"error in {name}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            continue
        results.extend(out if isinstance(out, list) else [out])
    print(_format(results))
    for line in skipped:
        print(f"not run: {line}")
    for line in errors:
        print(f"error: {line}")
    if json_path:
        payload = [asdict(r) | {"ratio": r.ratio, "passed": r.passed} for r in results]
        Path(json_path).write_text(json.dumps(payload, indent=2))
    return 0 if all(r.passed for r in results) and not errors else 1
