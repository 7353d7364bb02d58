"""``ftjlab sim-server``: serve the simulated bench's instruments on loopback TCP ports."""

from __future__ import annotations

import argparse

ORDER = 30


def register(sub) -> None:
    p = sub.add_parser("sim-server", help="serve the simulated bench's instruments over TCP")
    p.add_argument("--bench", metavar="PATH", help="bench config (default: shipped sim.toml)")
    p.add_argument("--seed", type=int, default=None, help="seed (default: the config's)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ftjlab.simulators.server import run_sim_server

    return run_sim_server(bench=args.bench, seed=args.seed, host=args.host)
