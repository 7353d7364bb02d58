"""``ftjlab rtn-analyze FILE``: fit the RTN of a recorded trace and store the results next to
the run (``/runs/<id>/analysis/<name>``)."""

from __future__ import annotations

import argparse

from ftjlab.validate import arg_float, arg_int

ORDER = 60


def register(sub) -> None:
    p = sub.add_parser(
        "rtn-analyze",
        help="RTN analysis of a recorded trace (traps, time constants, spectrum), stored in HDF5",
        description="Level detection (factorial HMM, trap count by BIC), tau_c / tau_e / dI "
        "with 95 %% intervals, occupancy, Welch spectrum with Lorentzian fit, autocorrelation "
        "and time-lag plot of one cell's trace; streams the file block by block.",
    )
    p.add_argument("file", help="run file (HDF5) written by the RTN acquisition")
    p.add_argument("--run", metavar="ID", help="run id (default: the file's latest run)")
    p.add_argument("--dataset", default="current", help="trace stream (default: current)")
    p.add_argument("--cell", type=arg_int(lo=0), default=0, help="column of a multi-cell stream")
    p.add_argument("--interval-s", type=arg_float(lo=0, lo_open=True),
                   help="sampling interval (default: the run's)")
    p.add_argument("--traps", default="auto", help="number of traps, or 'auto' (BIC)")
    p.add_argument("--max-traps", type=arg_int(), default=2,
                   help="largest trap count for 'auto'")
    p.add_argument("--name", default="rtn", help="result group name (default: rtn)")
    p.add_argument("--no-store", action="store_true", help="print only")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ftjlab import validate
    from ftjlab.errors import BadInput
    from ftjlab.rtn.analysis import analyze, store
    from ftjlab.rtn.source import Trace

    traps: int | str = args.traps
    if traps != "auto":
        try:
            traps = int(traps)
        except ValueError:
            raise BadInput(f"--traps: 'auto' or an integer, got {args.traps!r}") from None
    if not 1 <= args.max_traps <= 4:
        raise BadInput(f"--max-traps: must be within 1..4, got {args.max_traps}")
    if isinstance(traps, int) and not 1 <= traps <= 4:
        raise BadInput(f"--traps: must be within 1..4 or 'auto', got {traps}")
    if not args.no_store:  # before any analysis: results only go to analysis/<name>
        validate.result_name("--name", args.name)
    trace = Trace.from_run(args.file, args.run, args.dataset, args.cell, args.interval_s)
    report = analyze(trace, traps=traps, max_traps=args.max_traps)
    print(report.summary())
    if not args.no_store:
        group = store(report, args.file, trace.meta["run_id"], args.name)
        print(f"stored in {args.file}:{group}")
    return 0
