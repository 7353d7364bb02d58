"""``ftjlab campaign run CAMPAIGN.toml`` and ``ftjlab campaign analyze DIR``."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any

from ftjlab import interrupts, validate
from ftjlab.errors import BadInput, MeasurementFailed

ORDER = 25


def register(sub) -> None:
    p = sub.add_parser(
        "campaign",
        help="wafer campaigns: run procedures die by die; analyse the runs",
        description="Wafer campaigns on a probe station (see README, Campaigns).",
    )
    csub = p.add_subparsers(dest="campaign_command", metavar="ACTION")
    r = csub.add_parser(
        "run",
        help="run or resume a campaign",
        description="Step the prober across the campaign's dies and run its procedures on "
        "each: one run file per die and procedure plus an index. Re-running continues at the "
        "first die not completed. Ctrl-C or SIGTERM stops after the current run's next safe "
        "point (the die in progress is measured again next time).",
    )
    r.add_argument("campaign", help="campaign file (TOML)")
    r.add_argument("--bench", metavar="PATH", help="bench config (default: the campaign's)")
    r.add_argument("--seed", type=int, help="seed of a simulated bench")
    r.add_argument(
        "--resource",
        metavar="NAME=RESOURCE",
        action="append",
        default=[],
        help="override an instrument's resource, e.g. a sim-server port",
    )
    r.add_argument("--quiet", action="store_true", help="no progress lines")
    r.set_defaults(func=run)
    a = csub.add_parser(
        "analyze",
        help="analyse every run of a campaign folder on dask.distributed",
        description="RTN fits, map statistics, write-verify yield and randomness figures for "
        "every run file, in parallel (a local cluster, or --scheduler ADDRESS); writes "
        "analysis.parquet and wafer-map PNGs into DIR.",
    )
    a.add_argument("folder", help="campaign output folder (or any folder of run files)")
    a.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a local cluster)",
    )
    a.add_argument("--workers", type=int, default=2, help="local cluster workers (default 2)")
    a.add_argument("--out", metavar="DIR", help="where to write (default: the folder)")
    a.set_defaults(func=analyze)
    st = csub.add_parser(
        "study",
        help="a procedure over many simulated arrays (parameter sets x seeds)",
        description="Device-variation study: every combination of the --vary values, times "
        "every seed, is a simulated array run through PROCEDURE and analysed, on "
        "dask.distributed; one row each in OUT/study.parquet.",
    )
    st.add_argument("procedure", help="procedure name (ftjlab run --list)")
    st.add_argument(
        "--vary",
        metavar="ARRAY.PATH=V1,V2,...",
        action="append",
        default=[],
        help="array parameter values, e.g. traps.traps_per_cell=0.5,1,2",
    )
    st.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 per set (default 10)")
    st.add_argument(
        "--set",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="a procedure parameter (repeatable)",
    )
    st.add_argument("--bench", metavar="PATH", help="simulated bench (default: sim.toml)")
    st.add_argument("--out", metavar="DIR", default="study", help="output folder")
    st.add_argument("--scheduler", metavar="ADDRESS", help="dask scheduler (default: local)")
    st.add_argument("--workers", type=int, default=2, help="local cluster workers")
    st.set_defaults(func=study)
    p.set_defaults(func=lambda args: p.print_help() or 0)


def _hms(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    h, rest = divmod(int(seconds + 0.5), 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


def run(args: argparse.Namespace) -> int:
    from ftjlab.campaign.runner import run_campaign
    from ftjlab.campaign.spec import load_campaign, resolve_bench

    campaign = load_campaign(args.campaign)
    bench = resolve_bench(campaign, args.bench)
    stop = threading.Event()
    t0 = time.monotonic()

    def listener(topic: str, data: Any) -> None:
        if args.quiet or topic != "progress" or not isinstance(data, dict):
            return
        wall = time.monotonic() - t0
        sys.stderr.write(
            f"die {data['die'][0]},{data['die'][1]} done: {data['done']}/{data['total']}  "
            f"instrument time {data['instrument_s_per_die']:.3g} s/die  remaining "
            f"{_hms(data['eta_s'])} (instrument)  wall {wall:.1f} s\n"
        )

    with interrupts.stop_on(stop):  # Ctrl-C / SIGTERM: stop at the next safe point
        outcome = run_campaign(
            campaign,
            bench,
            seed=args.seed,
            resources=validate.pairs("--resource", args.resource),
            stop=stop,
            listener=listener,
        )
    failed = [r for r in outcome.records if r["status"] != "completed"]
    print(f"{outcome.completed}/{outcome.total} dies completed; index: {outcome.out / 'index.csv'}")
    if outcome.stopped:
        raise MeasurementFailed("stopped; run the same command again to continue")
    if failed:
        raise MeasurementFailed(f"{len(failed)} run(s) did not complete (see the index)")
    return 0


def analyze(args: argparse.Namespace) -> int:
    from ftjlab.campaign.analysis import analyze_folder

    summary = analyze_folder(
        args.folder, scheduler=args.scheduler, workers=args.workers, out=args.out
    )
    print(
        f"{summary.runs} runs analysed ({summary.failed} failed) in {summary.wall_s:.1f} s "
        f"on {summary.workers} worker(s): {summary.table}"
    )
    for png in summary.maps:
        print(f"wafer map: {png}")
    return 0


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def study(args: argparse.Namespace) -> int:
    import itertools

    from ftjlab.campaign.study import run_study
    from ftjlab.config import default_bench_path

    if not 1 <= args.seeds <= 100_000:
        raise BadInput(f"--seeds: must be within 1..100000, got {args.seeds}")
    axes = []
    for name, values in validate.pairs("--vary", args.vary).items():
        items = [_value(v.strip()) for v in values.split(",") if v.strip()]
        if not items:
            raise BadInput(f"--vary {name}: no values")
        axes.append([(name, v) for v in items])
    sets = [dict(combo) for combo in itertools.product(*axes)] if axes else [{}]
    summary = run_study(
        args.bench or default_bench_path(),
        args.procedure,
        validate.pairs("--set", args.set),
        sets,
        range(args.seeds),
        args.out,
        scheduler=args.scheduler,
        workers=args.workers,
    )
    print(
        f"{len(summary.rows)} arrays ({summary.failed} failed) in {summary.wall_s:.1f} s: "
        f"{summary.table}"
    )
    return 0
