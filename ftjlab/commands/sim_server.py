"""``ftjlab sim-server``: serve the simulated bench's instruments on loopback TCP ports."""

from __future__ import annotations

import argparse

from ftjlab.validate import arg_int

ORDER = 30


def register(sub) -> None:
    p = sub.add_parser("sim-server", help="serve the simulated bench's instruments over TCP")
    p.add_argument("--bench", metavar="PATH", help="bench config (default: shipped sim.toml)")
    p.add_argument("--seed", type=arg_int(lo=0, hi=2**63 - 1), default=None,
                   help="seed (default: the config's)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1, loopback; any other address is "
                   "announced on stderr; an empty host is refused)")
    p.set_defaults(func=run)


def _check_host(host: str) -> bool:
    """``--host`` must be an explicit address of this machine (one a socket can bind to);
    returns whether it is a loopback address. An empty host (which would bind every
    interface) is refused: serving beyond loopback takes an explicit address."""
    import ipaddress
    import socket

    from ftjlab.errors import BadInput

    if not host.strip():
        raise BadInput("--host: empty (it would bind every interface); use 127.0.0.1 "
                       "(the default) or an explicit address such as 0.0.0.0")
    try:
        infos = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise BadInput(f"--host: {host!r} is not an address of this machine ({exc})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as s:
        try:
            s.bind(address)
        except OSError as exc:
            raise BadInput(f"--host: cannot serve on {host!r}: {exc.strerror}") from None
    return all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def run(args: argparse.Namespace) -> int:
    from ftjlab.config import load_bench_config
    from ftjlab.instruments.safety import Limits, check_limits_for_models
    from ftjlab.simulators.server import run_sim_server

    config = load_bench_config(args.bench)
    Limits.from_dict(config.limits)  # a bad bench: exit 2, not served
    check_limits_for_models(config.limits, {n: i.model for n, i in config.instruments.items()})
    if not _check_host(args.host):
        import sys

        print(f"ftjlab sim-server: serving on {args.host!r}, which is NOT loopback: the "
              "emulated instruments accept commands from the network without authentication",
              file=sys.stderr, flush=True)

    return run_sim_server(bench=args.bench, seed=args.seed, host=args.host)
