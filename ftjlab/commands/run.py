"""``ftjlab run PROCEDURE``: run a measurement on a bench and record it to HDF5."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any

from ftjlab import interrupts, validate
from ftjlab.errors import BadInput, MeasurementFailed

ORDER = 20
DEFAULT_OUT = "runs"


def register(sub) -> None:
    p = sub.add_parser(
        "run", help="run a procedure on the bench and record it (HDF5)",
        description="Run a measurement procedure. Ctrl-C or SIGTERM stops it at the next safe "
        "point: the bench is left safe, the run is marked aborted and its data kept.",
    )
    p.add_argument("procedure", nargs="?", help="procedure name (see --list)")
    p.add_argument("--list", action="store_true", help="list procedures and their parameters")
    p.add_argument("--bench", metavar="PATH", help="bench config (default: the simulated bench)")
    p.add_argument("--out", metavar="DIR", default=DEFAULT_OUT,
                   help=f"folder for the run file (default: ./{DEFAULT_OUT})")
    p.add_argument("--set", metavar="NAME=VALUE", action="append", default=[],
                   help="set a parameter (repeatable)")
    p.add_argument("--seed", type=int, help="seed of a simulated bench (default: the config's)")
    p.add_argument("--resource", metavar="NAME=RESOURCE", action="append", default=[],
                   help="override an instrument's resource, e.g. a sim-server port (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def list_procedures() -> str:
    from ftjlab.procedures import PROCEDURES, describe_parameter, parameter_table

    lines = []
    for name, cls in PROCEDURES.items():
        lines.append(f"{name}: {cls.summary}")
        for pname, parameter in sorted(parameter_table(cls).items()):
            lines.append(f"    {describe_parameter(pname, parameter)}")
    return "\n".join(lines)


class _Progress:
    """A one-line progress bar with the remaining time, on stderr."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.t0 = time.monotonic()
        self.last = 0.0

    def __call__(self, topic: str, data: Any) -> None:
        if self.quiet or topic != "progress":
            return
        now = time.monotonic()
        if now - self.last < 0.2 and data < 100:
            return
        self.last = now
        elapsed = now - self.t0
        left = elapsed * (100 - data) / data if data > 0 else float("nan")
        bar = "#" * int(data / 4)
        sys.stderr.write(f"\r[{bar:<25}] {data:5.1f} %  elapsed {elapsed:6.1f} s  "
                         f"remaining {left:6.1f} s ")
        sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    if args.list:
        print(list_procedures())
        return 0
    from ftjlab.config import load_bench_config
    from ftjlab.instruments.safety import Limits
    from ftjlab.procedures import PROCEDURES, build
    from ftjlab.runner import run_procedure
    from ftjlab.session import BenchSession

    if not args.procedure:
        raise BadInput("which procedure? (ftjlab run --list)")
    cls = PROCEDURES.get(args.procedure)
    if cls is None:
        raise BadInput(f"unknown procedure {args.procedure!r} (known: {', '.join(PROCEDURES)})")
    procedure = build(cls, validate.pairs("--set", args.set))
    seed = validate.seed("--seed", args.seed)
    resources = validate.pairs("--resource", args.resource)
    config = load_bench_config(args.bench)
    limits = Limits.from_dict(config.limits)
    procedure.check_limits(limits)  # voltages and pulse widths, before any instrument opens
    out = validate.out_dir("--out", args.out, create=False)
    session = BenchSession.open(config, seed=seed, resources=resources)
    stop = threading.Event()
    try:
        with interrupts.stop_on(stop):  # Ctrl-C / SIGTERM: stop at the next safe point
            estimate = procedure.estimate_s()
            if not args.quiet:
                sys.stderr.write(f"{cls.name}: estimated instrument time {estimate:.3g} s\n")
            outcome = run_procedure(procedure, session, out, _Progress(args.quiet), stop)
    finally:
        with interrupts.shielded():
            session.close()
    if not args.quiet:
        sys.stderr.write("\n")
    print(f"run {outcome.run_id}: {outcome.status} -> {outcome.path}")
    if outcome.accounting is not None:
        print(f"  time: {outcome.accounting.summary()}")
    for name, value in outcome.results.items():
        if not hasattr(value, "shape"):
            text = str(value)
            print(f"  {name}: {text if len(text) < 200 else text[:200] + '...'}")
    if outcome.status != "completed":
        raise MeasurementFailed(f"{outcome.status}: {outcome.error} (data kept in "
                                f"{outcome.path})")
    return 0
