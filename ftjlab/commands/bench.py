"""``ftjlab bench``: the benchmarks of tests/benchmarks as ratios to same-run baselines."""

from __future__ import annotations

import argparse
import os

ORDER = 90


def register(sub) -> None:
    p = sub.add_parser("bench", help="run the benchmarks in tests/benchmarks (ratios)")
    p.add_argument("select", nargs="*", help="only benchmarks whose name contains these")
    p.add_argument("--json", metavar="PATH", help="also write the table as JSON")
    p.add_argument("--quick", action="store_true", help="fewer repetitions")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Subject and baseline both run single-threaded: on a shared 2-core machine, BLAS threads
    # fighting another process make the baseline erratic. Must be set before numpy loads.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from ftjlab import validate
    from ftjlab.benchmarks import discover, run_benchmarks
    from ftjlab.errors import BadInput

    if args.json:
        validate.new_file("--json", args.json, overwrite=True)
    if args.select and not discover(args.select):
        raise BadInput(f"NAME: no benchmark matches {args.select} (ftjlab bench lists them "
                       "as it runs)")

    return run_benchmarks(select=args.select, json_path=args.json, quick=args.quick)
