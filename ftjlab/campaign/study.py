"""Device-variation studies: one procedure over N simulated arrays (parameter sets x seeds),
on the same dask engine as ``campaign analyze``: ``ftjlab campaign study``.

Each task builds a simulated bench from the bench file with the set's ``[array]`` overrides
(dotted ArrayParams paths, e.g. ``traps.traps_per_cell = 2``) and its seed, runs the
procedure through the instruments into ``out/set<i>_seed<s>/``, and analyses the run file
like ``campaign analyze`` does. The rows (set, seed, overrides, figures) go to
``study.parquet``; a task that fails is one row with its error.
"""

from __future__ import annotations

import copy
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftjlab.errors import BadInput


@dataclass
class StudySummary:
    """What a study did."""

    rows: list[dict[str, Any]]
    table: Path
    wall_s: float
    failed: int


def _with_overrides(raw: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(dict(raw))
    array = data.setdefault("array", {})
    for dotted, value in overrides.items():
        node = array
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return data


def check_study(
    bench: str | Path,
    procedure: str,
    settings: Mapping[str, str],
    parameter_sets: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """Everything that can be checked without running: the procedure and its parameters,
    every parameter set as a bench config (BadInput naming the field). Returns the raw
    bench TOML."""
    from ftjlab.config import parse_bench_config
    from ftjlab.instruments import Limits
    from ftjlab.procedures import PROCEDURES, build

    if procedure not in PROCEDURES:
        raise BadInput(
            f"--procedure: unknown procedure {procedure!r} (known: {', '.join(PROCEDURES)})"
        )
    proc = build(PROCEDURES[procedure], dict(settings))
    path = Path(bench)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"--bench: no such bench config file {str(path)!r}") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"--bench: cannot read {str(path)!r} ({exc})") from None
    probers = [
        n
        for n, i in dict(raw.get("instruments", {})).items()
        if isinstance(i, dict) and i.get("model") == "SENTIO"
    ]
    if probers:
        raise BadInput(
            f"--bench: {str(path)!r} has a probe station ({probers[0]}): a study "
            "measures one simulated array per task; use a bench without one"
        )
    for i, overrides in enumerate(parameter_sets):
        config = parse_bench_config(_with_overrides(raw, overrides), f"--vary set {i}")
        proc.check_limits(Limits.from_dict(config.limits))
    return raw


def run_member(
    raw: Mapping[str, Any],
    source: str,
    procedure: str,
    settings: Mapping[str, str],
    overrides: Mapping[str, Any],
    seed: int,
    out: str,
) -> list[dict[str, Any]]:
    """One simulated array through the procedure, then its analysis (a dask task)."""
    from ftjlab.config import parse_bench_config
    from ftjlab.procedures import PROCEDURES, build
    from ftjlab.runner import run_procedure
    from ftjlab.session import BenchSession

    from .analysis import analyze_run

    label = {"seed": seed, **{f"set.{k}": v for k, v in overrides.items()}}
    try:
        config = parse_bench_config(_with_overrides(raw, overrides), source)
        proc = build(PROCEDURES[procedure], dict(settings))
        with BenchSession.open(config, seed=seed) as session:
            outcome = run_procedure(proc, session, out)
        rows = analyze_run(outcome.path)
    except Exception as exc:  # one member failing is one row, not the study
        return [{**label, "analysis_status": "failed", "error": f"{type(exc).__name__}: {exc}"}]
    return [{**label, **row} for row in rows]


def run_study(
    bench: str | Path,
    procedure: str,
    settings: Mapping[str, str],
    parameter_sets: Sequence[Mapping[str, Any]],
    seeds: Sequence[int],
    out: str | Path,
    scheduler: str | None = None,
    workers: int = 2,
    processes: bool = True,
) -> StudySummary:
    """Every (parameter set, seed) through ``procedure``; rows to ``out/study.parquet``."""
    import pyarrow.parquet as pq
    from dask.distributed import as_completed

    from .analysis import client_for, to_table

    raw = check_study(bench, procedure, settings, parameter_sets)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    client, cluster = client_for(scheduler, workers, processes)
    try:
        futures = [
            client.submit(
                run_member,
                raw,
                str(bench),
                procedure,
                dict(settings),
                dict(ov),
                int(seed),
                str(out / f"set{i}_seed{seed}"),
                pure=False,
            )
            for i, ov in enumerate(parameter_sets)
            for seed in seeds
        ]
        rows = [row for future in as_completed(futures) for row in future.result()]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    rows.sort(
        key=lambda r: (
            *(str(r.get(k, "")) for k in sorted(r) if k.startswith("set.")),
            r.get("seed", 0),
        )
    )
    table = out / "study.parquet"
    pq.write_table(to_table(rows), table)
    failed = sum(1 for r in rows if r.get("analysis_status") == "failed")
    return StudySummary(rows, table, time.perf_counter() - t0, failed)
