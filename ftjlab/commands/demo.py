"""``ftjlab demo``: the headless end-to-end job (VAE generation), every step through the
instruments of a bench (default: the shipped simulated one)."""

from __future__ import annotations

import argparse

from ftjlab.validate import arg_int

ORDER = 10


def register(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="headless end-to-end job through the instruments: program the VAE decoder, tune "
        "RTN sampling, generate, evaluate (one HDF5 file + PNG grids)",
    )
    p.add_argument("--out", default="demo-out", help="output folder (default ./demo-out)")
    p.add_argument("--seed", type=arg_int(lo=0, hi=2**63 - 1), default=2026,
                   help="random seed of the simulated bench")
    p.add_argument(
        "--samples",
        type=arg_int(lo=1, hi=10**6),
        default=8000,
        help="images generated at the tuned point (>= 20; default 8000)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a smaller tuning grid (2x2, 200 images per point)",
    )
    p.add_argument("--bench", metavar="PATH", help="bench config (default: the simulated bench)")
    p.add_argument("--maps", default="", metavar="FILES",
                   help="vae-program run files with every decoder load's map (skips programming)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ftjlab import validate
    from ftjlab.demo import run_demo
    from ftjlab.errors import BadInput

    if args.samples < 20:
        raise BadInput(f"--samples: need at least 20, got {args.samples}")
    validate.out_dir("--out", args.out, create=False)
    run_demo(out=args.out, seed=args.seed, samples=args.samples, quick=args.quick,
             bench=args.bench, maps_from=args.maps)
    return 0
