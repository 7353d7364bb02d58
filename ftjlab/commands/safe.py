"""``ftjlab safe``: make a bench safe now: every output off, then every matrix relay open."""

from __future__ import annotations

import argparse
import sys

ORDER = 25


def register(sub) -> None:
    p = sub.add_parser(
        "safe",
        help="make a bench safe now: outputs off, matrix open (probe separated)",
        description="Connects to every instrument of the bench that lives outside this "
        "process (real instruments, or --resource overrides such as sim-server ports), "
        "switches every output off, then opens every matrix relay. Exit 0 if every "
        "instrument confirmed, 1 if one failed (each failure is printed).",
    )
    p.add_argument("--bench", metavar="PATH", help="bench config (default: shipped sim.toml)")
    p.add_argument(
        "--resource",
        metavar="NAME=RESOURCE",
        action="append",
        default=[],
        help="an instrument's resource, e.g. a sim-server port (repeatable)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ftjlab import validate
    from ftjlab.config import load_bench_config
    from ftjlab.errors import BadInput
    from ftjlab.instruments import deadman

    config = load_bench_config(args.bench)
    resources = validate.pairs("--resource", args.resource)
    unknown = sorted(set(resources) - set(config.instruments))
    if unknown:
        raise BadInput(
            f"--resource: {unknown[0]!r} is not an instrument of the bench "
            f"(known: {', '.join(config.instruments)})"
        )
    targets = deadman.targets_of(config, resources)
    if not targets:
        print(
            f"{config.source}: every instrument is simulated in-process; the emulated "
            "instruments exist only inside the process that runs them, so there is nothing "
            "to make safe (point --resource at a sim-server to reach one)"
        )
        return 0
    try:
        opened = deadman.connect(targets)
    except Exception as exc:
        print(f"ftjlab safe: cannot connect: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    failures = deadman.make_safe(instrument for _, instrument in opened)
    failed = {id(instrument) for instrument, _ in failures}
    for target, instrument in opened:
        state = "FAILED" if id(instrument) in failed else "safe"
        print(f"{target.name} ({target.model} at {target.resource}): {state}")
    for instrument, exc in failures:
        print(
            f"  {getattr(instrument, 'name', instrument)}: {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
    deadman.close_all(instrument for _, instrument in opened)
    return 1 if failures else 0
