"""The ``ftjlab`` command line (DESIGN.md section 9).

Exit codes: 0 success, 1 measurement failed or aborted (data kept), 2 bad input.
"""

from __future__ import annotations

import argparse
import sys

from ftjlab import __version__
from ftjlab.errors import BadInput, MeasurementFailed


def _cmd_demo(args: argparse.Namespace) -> int:
    from ftjlab.demo import run_demo

    run_demo(seed=args.seed, size=args.size)
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    import os

    # Subject and baseline both run single-threaded: on a shared 2-core machine, BLAS threads
    # fighting another process make the baseline erratic. Must be set before numpy loads.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from ftjlab.benchmarks import run_benchmarks

    return run_benchmarks(select=args.select, json_path=args.json, quick=args.quick)


def _cmd_sim_server(args: argparse.Namespace) -> int:
    from ftjlab.simulators.server import run_sim_server

    return run_sim_server(bench=args.bench, seed=args.seed, host=args.host)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ftjlab",
        description="Lab application for FTJ NOR arrays: instruments, simulated bench, RTN, VMM.",
    )
    parser.add_argument("--version", action="version", version=f"ftjlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="headless end-to-end job on the simulated bench")
    demo.add_argument("--seed", type=int, default=2026, help="random seed of the simulated bench")
    demo.add_argument("--size", type=int, default=32, help="array rows = columns (8..1024)")
    demo.set_defaults(func=_cmd_demo)

    bench = sub.add_parser("bench", help="run the benchmarks in tests/benchmarks (ratios)")
    bench.add_argument("select", nargs="*", help="only benchmarks whose name contains these")
    bench.add_argument("--json", metavar="PATH", help="also write the table as JSON")
    bench.add_argument("--quick", action="store_true", help="fewer repetitions")
    bench.set_defaults(func=_cmd_bench)

    sim = sub.add_parser("sim-server", help="serve the simulated bench's instruments over TCP")
    sim.add_argument("--bench", metavar="PATH", help="bench config (default: shipped sim.toml)")
    sim.add_argument("--seed", type=int, default=None, help="seed (default: the config's)")
    sim.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback)")
    sim.set_defaults(func=_cmd_sim_server)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except BadInput as exc:
        print(f"ftjlab: error: {exc}", file=sys.stderr)
        return 2
    except MeasurementFailed as exc:
        print(f"ftjlab: measurement failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ftjlab: interrupted", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
