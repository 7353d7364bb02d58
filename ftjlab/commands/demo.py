"""``ftjlab demo``: the headless end-to-end job on the simulated bench."""

from __future__ import annotations

import argparse

ORDER = 10


def register(sub) -> None:
    p = sub.add_parser("demo", help="headless end-to-end job on the simulated bench")
    p.add_argument("--seed", type=int, default=2026, help="random seed of the simulated bench")
    p.add_argument("--size", type=int, default=32, help="array rows = columns (8..1024)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ftjlab.demo import run_demo

    run_demo(seed=args.seed, size=args.size)
    return 0
