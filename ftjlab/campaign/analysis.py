"""Analysis of many run files on ``dask.distributed``: ``ftjlab campaign analyze DIR``.

Every run file of a folder (a campaign's ``dies/*/*.h5``, or any folder of runs) becomes one
row of a table, computed by :func:`analyze_run` on a dask worker. Each task reads its files
block by block (memory per worker stays bounded whatever the trace length):

* ``conductance-map``: map statistics (median, 5 % / 95 % quantiles from a fine log-spaced
  histogram, exact mean and standard deviation, cell count);
* ``rtn-acquisition``: the RTN fit of :func:`ftjlab.rtn.analysis.analyze` (trap count by BIC,
  tau_c, tau_e, amplitude, occupancy of the largest trap) and randomness figures of the
  thresholded readings (ones fraction, SP 800-22 frequency and runs p-values, SP 800-90B
  Markov min-entropy per bit), all accumulated block by block;
* ``write-verify``: yield (cells within tolerance) and mean pulses per cell.

A run that cannot be analysed gets ``analysis_status = "failed"`` and its error; the others
go on. Results: ``analysis.parquet`` (one row per run, readable by pandas/pyarrow) and one
wafer-map PNG per figure when the runs come from a campaign (die folders ``cNN_rMM``).
"""

from __future__ import annotations

import json
import math
import re
import resource
import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ftjlab.errors import BadInput

_DIE = re.compile(r"^c(\d+)_r(\d+)$")
#: log10(G / S) histogram that locates the map quantiles (two passes, exact)
_LOG_LO, _LOG_HI, _LOG_BINS = -14.0, -2.0, 24_000
BLOCK = 1 << 16
MAP_FIGURES = ("g_median_s", "rtn_tau_c_s", "rtn_amplitude_a", "wv_yield", "rng_min_entropy")


# ----------------------------------------------------------------------------- one run


def _bins(g: np.ndarray) -> np.ndarray:
    idx = ((np.log10(g) - _LOG_LO) / (_LOG_HI - _LOG_LO) * _LOG_BINS).astype(np.int64)
    return np.clip(idx, 0, _LOG_BINS - 1)


def _map_stats(ds: Any, n: int) -> dict[str, Any]:
    """Exact statistics of a map read block by block: a log-spaced histogram finds the bins
    of the wanted order statistics, a second pass collects only the values in them (numpy's
    linear-interpolation quantiles)."""
    rows = max(1, BLOCK // max(1, int(np.prod(ds.shape[1:]))))

    def blocks() -> Iterable[np.ndarray]:
        for lo in range(0, n, rows):
            g = np.asarray(ds[lo : min(lo + rows, n)], dtype=np.float64).ravel()
            yield g[np.isfinite(g) & (g > 0)]

    hist = np.zeros(_LOG_BINS, dtype=np.int64)
    total = s1 = s2 = 0.0
    for g in blocks():
        total += g.size
        s1 += float(g.sum())
        s2 += float(np.square(g).sum())
        hist += np.bincount(_bins(g), minlength=_LOG_BINS)
    if total == 0:
        raise BadInput("the map holds no positive finite conductance")
    count = int(total)
    before = np.concatenate([[0], np.cumsum(hist)])  # values in bins below bin i
    quantiles = {"g_median_s": 0.5, "g_p05_s": 0.05, "g_p95_s": 0.95}
    ranks = {}
    for name, q in quantiles.items():
        h = (count - 1) * q
        lo = math.floor(h)
        ranks[name] = (lo, min(lo + 1, count - 1), h - lo)
    wanted = {
        int(np.searchsorted(before, r, side="right") - 1)
        for lo, hi, _ in ranks.values()
        for r in (lo, hi)
    }
    picked: dict[int, list[np.ndarray]] = {b: [] for b in wanted}
    for g in blocks():
        b = _bins(g)
        for w in wanted:
            picked[w].append(g[b == w])
    values = {w: np.sort(np.concatenate(v)) for w, v in picked.items()}

    def order_stat(rank: int) -> float:
        w = int(np.searchsorted(before, rank, side="right") - 1)
        return float(values[w][rank - before[w]])

    mean = s1 / total
    out = {
        name: order_stat(lo) + frac * (order_stat(hi) - order_stat(lo))
        for name, (lo, hi, frac) in ranks.items()
    }
    return {
        **out,
        "g_mean_s": mean,
        "g_std_s": math.sqrt(max(0.0, s2 / total - mean * mean)),
        "cells": count,
    }


def _randomness(trace: Any, threshold: float) -> dict[str, Any]:
    """Bits = reading > threshold, accumulated block by block: ones, runs, pair counts."""
    from ftjlab.rtn.entropy import markov_p_max

    n = ones = transitions = 0
    pairs = np.zeros(4, dtype=np.int64)
    last: int | None = None
    for block in trace.blocks(BLOCK):
        bits = (np.asarray(block) > threshold).astype(np.int64)
        if bits.size == 0:
            continue
        if last is not None:
            pairs[2 * last + bits[0]] += 1
            transitions += int(last != bits[0])
        pairs += np.bincount(2 * bits[:-1] + bits[1:], minlength=4)
        transitions += int(np.count_nonzero(bits[1:] != bits[:-1]))
        n += bits.size
        ones += int(bits.sum())
        last = int(bits[-1])
    pi = ones / n
    frequency_p = math.erfc(abs(2 * ones - n) / math.sqrt(n) / math.sqrt(2))
    if abs(pi - 0.5) >= 2.0 / math.sqrt(n):
        runs_p = 0.0
    else:
        v = 1 + transitions
        runs_p = math.erfc(
            abs(v - 2.0 * n * pi * (1 - pi)) / (2.0 * math.sqrt(2.0 * n) * pi * (1 - pi))
        )
    n0, n1 = pairs[0] + pairs[1], pairs[2] + pairs[3]
    p00, p01 = (pairs[0] / n0, pairs[1] / n0) if n0 else (0.0, 0.0)
    p10, p11 = (pairs[2] / n1, pairs[3] / n1) if n1 else (0.0, 0.0)
    p_max = markov_p_max(1 - pi, p00, p01, p10, p11)
    h = min(-math.log2(p_max) / 128, 1.0) if p_max > 0 else 1.0
    return {
        "rng_bits": n,
        "rng_ones": pi,
        "rng_frequency_p": frequency_p,
        "rng_runs_p": runs_p,
        "rng_min_entropy": h,
    }


def _rtn(path: Path, run_id: str) -> dict[str, Any]:
    from ftjlab.rtn.analysis import analyze
    from ftjlab.rtn.source import Trace

    trace = Trace.from_run(path, run_id)
    report = analyze(
        trace, traps="auto", max_traps=2, spectrum_segment=None, acf_lags=0, tlp_bins=0
    )
    out: dict[str, Any] = {
        "rtn_n": report.n,
        "rtn_traps": report.n_traps,
        "rtn_base_a": float(report.base_a),
        "rtn_noise_a": float(report.noise_sigma_a),
    }
    threshold = float(report.stats.mean)
    if report.traps:
        big = max(report.traps, key=lambda t: abs(t.amplitude_a))
        out.update(
            rtn_tau_c_s=big.tau_c_s,
            rtn_tau_e_s=big.tau_e_s,
            rtn_amplitude_a=abs(big.amplitude_a),
            rtn_occupancy=big.occupancy,
        )
        levels = np.sort(np.asarray(report.levels_a, dtype=np.float64))
        threshold = float((levels[0] + levels[-1]) / 2)
    out.update(_randomness(trace, threshold))
    return out


def die_of(path: Path) -> tuple[int, int] | None:
    """The die of a run file in a campaign die folder (``.../cNN_rMM/file.h5``)."""
    m = _DIE.match(path.parent.name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def analyze_run(path: str | Path) -> list[dict[str, Any]]:
    """One row per run of the file: identity, status, figures; failures recorded, not raised."""
    from ftjlab import store

    path = Path(path)
    die = die_of(path)
    base = {"file": str(path), "col": die[0] if die else -1, "row": die[1] if die else -1}
    try:
        runs = store.list_runs(path)
    except Exception as exc:  # an unreadable file is one failed row
        return [
            {
                **base,
                "run_id": "",
                "procedure": "",
                "status": "",
                "analysis_status": "failed",
                "error": f"{type(exc).__name__}: {exc}",
            }
        ]
    rows = []
    for info in runs:
        row = {
            **base,
            "run_id": info.run_id,
            "procedure": info.procedure,
            "status": info.status,
            "analysis_status": "ok",
            "error": "",
        }
        try:
            if info.procedure == "conductance-map":
                with store.open_file(path) as f:
                    g = f["runs"][info.run_id]
                    name = "conductance" if "conductance" in g else "rows"
                    ds = g[name]
                    row.update(_map_stats(ds, store.committed_length(ds)))
            elif info.procedure == "rtn-acquisition":
                row.update(_rtn(path, info.run_id))
            elif info.procedure == "write-verify":
                with store.open_file(path) as f:
                    g = f["runs"][info.run_id]
                    cells = int(np.prod(g["targets"].shape)) if "targets" in g else 0
                    failed = int(g.attrs.get("failed_cells", 0))
                    row["wv_yield"] = 1 - failed / cells if cells else math.nan
                    row["wv_mean_pulses"] = float(g.attrs.get("mean_pulses_per_cell", math.nan))
            else:
                row["analysis_status"] = "skipped"
        except Exception as exc:
            row.update(analysis_status="failed", error=f"{type(exc).__name__}: {exc}")
        rows.append(row)
    return rows


def analyze_batch(paths: Sequence[str]) -> tuple[list[dict[str, Any]], float, float]:
    """Rows of several files (one dask task), the worker's peak RSS so far (MiB) and the CPU
    seconds the batch took."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage.ru_utime + usage.ru_stime
    rows: list[dict[str, Any]] = []
    for p in paths:
        try:
            rows.extend(analyze_run(p))
        except Exception as exc:  # never lose the batch to one file
            rows.append(
                {
                    "file": str(p),
                    "analysis_status": "failed",
                    "error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}",
                }
            )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return rows, usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime - cpu0


# ----------------------------------------------------------------------------- the table


_TEXT = ("file", "run_id", "procedure", "status", "analysis_status", "error")


def to_table(rows: Iterable[dict[str, Any]]) -> Any:
    """A pyarrow table: text columns as strings, everything else float64 (NaN if absent)."""
    import pyarrow as pa

    rows = list(rows)
    names = sorted({k for r in rows for k in r})
    columns = {}
    for name in names:
        if name in _TEXT:
            columns[name] = pa.array([str(r.get(name, "")) for r in rows], pa.string())
        elif name in ("col", "row"):
            columns[name] = pa.array([int(r.get(name, -1)) for r in rows], pa.int32())
        elif all(isinstance(r.get(name), int | float | type(None)) for r in rows):
            columns[name] = pa.array(
                [float(r[name]) if r.get(name) is not None else math.nan for r in rows],
                pa.float64(),
            )
        else:  # e.g. a text parameter of a study
            columns[name] = pa.array([str(r.get(name, "")) for r in rows], pa.string())
    return pa.table(columns)


def wafer_maps(
    table: Any, folder: Path, out: Path, figures: Sequence[str] = MAP_FIGURES
) -> list[Path]:
    """One PNG per figure: dies coloured by the figure (median over a die's runs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle

    data = table.to_pydict()
    cols, rows = np.array(data.get("col", [])), np.array(data.get("row", []))
    if cols.size == 0 or (cols < 0).all():
        return []
    info = _campaign_wafer(folder)
    written = []
    for figure in figures:
        if figure not in data:
            continue
        values = np.array(data[figure], dtype=np.float64)
        per_die: dict[tuple[int, int], list[float]] = {}
        for c, r, v in zip(cols, rows, values, strict=True):
            if c >= 0 and np.isfinite(v):
                per_die.setdefault((int(c), int(r)), []).append(v)
        if not per_die:
            continue
        ncols = info.columns if info else max(c for c, _ in per_die) + 1
        nrows = info.rows if info else max(r for _, r in per_die) + 1
        grid = np.full((nrows, ncols), np.nan)
        for (c, r), v in per_die.items():
            grid[r, c] = float(np.median(v))
        fig, ax = plt.subplots(figsize=(5.2, 4.4), dpi=100)
        image = ax.imshow(
            grid, cmap="viridis", origin="upper", extent=(-0.5, ncols - 0.5, nrows - 0.5, -0.5)
        )
        if info is not None:
            ax.add_patch(
                Circle(
                    ((ncols - 1) / 2, (nrows - 1) / 2),
                    info.radius_um / info.die_um[0],
                    fill=False,
                    color="0.4",
                )
            )
        fig.colorbar(image, ax=ax, label=figure)
        ax.set_title(f"{figure}: {len(per_die)} dies")
        ax.set_xlabel("column")
        ax.set_ylabel("row")
        path = out / f"wafer_{figure}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written


def _campaign_wafer(folder: Path) -> Any:
    from .wafermap import WaferMap

    marker = folder / "campaign.json"
    if not marker.exists():
        return None
    w = json.loads(marker.read_text(encoding="utf-8"))["fingerprint"]["wafer"]
    return WaferMap(w["diameter_um"], tuple(w["die_um"]), w["edge_um"])


# ----------------------------------------------------------------------------- on dask


@dataclass
class AnalysisSummary:
    """What ``campaign analyze`` did."""

    runs: int
    failed: int
    wall_s: float
    workers: int
    peak_worker_mib: float
    table: Path
    maps: list[Path] = field(default_factory=list)


def run_files(folder: Path) -> list[Path]:
    """The run files of a folder: a campaign's ``dies/*/*.h5``, else every ``*.h5`` below."""
    dies = folder / "dies"
    files = sorted(dies.glob("*/*.h5")) if dies.is_dir() else sorted(folder.rglob("*.h5"))
    return [f for f in files if not f.parent.name.endswith(".partial")]


def client_for(scheduler: str | None, workers: int, processes: bool = True) -> tuple[Any, Any]:
    """A dask client on ``scheduler``, or on a new local cluster of ``workers`` single-thread
    processes; returns (client, cluster or None)."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="10s"), None
        except (OSError, TimeoutError) as exc:
            raise BadInput(f"--scheduler: cannot reach {scheduler!r} ({exc})") from None
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=processes,
        dashboard_address=None,
        memory_limit=0,
    )
    return Client(cluster), cluster


def analyze_files(
    files: Sequence[Path], client: Any, batch: int = 0
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Rows of every file, computed on ``client``'s workers, and figures of the work:
    ``peak_worker_mib`` (largest worker RSS) and ``worker_cpu_s`` (CPU time of all tasks)."""
    from dask.distributed import as_completed

    n_workers = max(1, len(client.scheduler_info().get("workers", {})) or 1)
    batch = batch or max(1, min(50, len(files) // (8 * n_workers) or 1))
    batches = [[str(f) for f in files[i : i + batch]] for i in range(0, len(files), batch)]
    futures = client.map(analyze_batch, batches, pure=False)
    rows: list[dict[str, Any]] = []
    stats = {"peak_worker_mib": 0.0, "worker_cpu_s": 0.0}
    for future in as_completed(futures):
        part, mib, cpu_s = future.result()
        rows.extend(part)
        stats["peak_worker_mib"] = max(stats["peak_worker_mib"], mib)
        stats["worker_cpu_s"] += cpu_s
    rows.sort(key=lambda r: (r.get("file", ""), r.get("run_id", "")))
    return rows, stats


def analyze_folder(
    folder: str | Path,
    scheduler: str | None = None,
    workers: int = 2,
    out: str | Path | None = None,
    processes: bool = True,
) -> AnalysisSummary:
    """Analyse every run file of ``folder``; write ``analysis.parquet`` and wafer maps."""
    import pyarrow.parquet as pq

    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(f"DIR: {str(folder)!r} is not a folder")
    files = run_files(folder)
    if not files:
        raise BadInput(f"DIR: no run files (*.h5) in {str(folder)!r}")
    if workers < 1:
        raise BadInput(f"--workers: must be >= 1, got {workers}")
    target = Path(out) if out else folder
    target.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    client, cluster = client_for(scheduler, workers, processes)
    try:
        n_workers = len(client.scheduler_info().get("workers", {}))
        rows, stats = analyze_files(files, client)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    table = to_table(rows)
    path = target / "analysis.parquet"
    pq.write_table(table, path)
    maps = wafer_maps(table, folder, target)
    failed = sum(1 for r in rows if r.get("analysis_status") == "failed")
    return AnalysisSummary(
        len(rows), failed, time.perf_counter() - t0, n_workers, stats["peak_worker_mib"], path, maps
    )
