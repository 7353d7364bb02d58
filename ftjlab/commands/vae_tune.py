"""``ftjlab vae-tune``: FCD and latent KS over a grid of RTN sampling bias x sampling interval,
through the instruments of a bench (default: the shipped simulated one): RTN latents through
the SMU buffers, the decoder from measured maps (``--maps``: vae-program run files; without
them every load is programmed and measured first). Stored as one HDF5 run, plotted as a PNG
heatmap."""

from __future__ import annotations

import argparse

from ftjlab.validate import arg_floats, arg_int

ORDER = 61


_floats = arg_floats(lo=0, lo_open=True, max_items=100)  # positive, finite


def register(sub) -> None:
    p = sub.add_parser(
        "vae-tune",
        help="RTN sampling tuning study: FCD and latent KS over bias x sampling interval",
    )
    p.add_argument(
        "--biases",
        type=_floats,
        default=[0.4, 0.6, 0.8, 1.0, 1.2],
        help="RTN sampling biases in V, comma-separated (default 0.4,...,1.2)",
    )
    p.add_argument(
        "--intervals",
        type=_floats,
        default=[1e-4, 5e-4, 2e-3, 1e-2],
        help="sampling intervals in s, comma-separated (default 1e-4,5e-4,2e-3,1e-2)",
    )
    p.add_argument("-n", "--samples", type=arg_int(lo=10, hi=10**6), default=1000,
                   help="images per grid point")
    p.add_argument("--seed", type=arg_int(lo=0, hi=2**63 - 1), default=2026,
                   help="seed of the array and the latents")
    p.add_argument("--out", default="runs", help="output folder (HDF5 run + PNG)")
    p.add_argument("--bench", metavar="PATH", help="bench config (default: the simulated bench)")
    p.add_argument("--maps", default="", metavar="FILES",
                   help="vae-program run files holding every decoder load's measured map "
                   "(comma-separated; default: program every load now)")
    p.add_argument("--cells-per-latent", type=arg_int(lo=1, hi=16), default=4,
                   help="RTN cells summed per latent dimension (default 4)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ftjlab import validate
    from ftjlab.config import load_bench_config
    from ftjlab.vae.tuning import run_tuning_study

    limits = load_bench_config(args.bench).limits
    for bias in args.biases:
        validate.bias_within("--biases", bias, limits, "sample")
    validate.out_dir("--out", args.out, create=False)

    grid, path, png = run_tuning_study(
        args.out,
        args.biases,
        args.intervals,
        args.samples,
        args.seed,
        echo=lambda line: print(line, flush=True),
        bench=args.bench,
        maps_from=args.maps,
        cells_per_latent=args.cells_per_latent,
    )
    print(grid.table())
    bias, interval = grid.best
    print(f"tuned point (lowest FCD with latent |lag-1| <= {grid.max_lag1:g}): {bias:.2f} V, "
          f"{interval:.2g} s")
    print(f"file: {path}\nPNG:  {png}")
    return 0
