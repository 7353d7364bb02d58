"""``ftjlab vae-tune``: FCD and latent KS over a grid of RTN sampling bias x sampling interval
on the simulated device (stored as one HDF5 run, plotted as a PNG heatmap)."""

from __future__ import annotations

import argparse

ORDER = 61


def _floats(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from exc
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


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
        default=[2e-5, 1e-4, 5e-4, 2e-3],
        help="sampling intervals in s, comma-separated (default 2e-5,1e-4,5e-4,2e-3)",
    )
    p.add_argument("-n", "--samples", type=int, default=1000, help="images per grid point")
    p.add_argument("--seed", type=int, default=2026, help="seed of the array and the latents")
    p.add_argument("--out", default="runs", help="output folder (HDF5 run + PNG)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ftjlab.vae.tuning import run_tuning_study

    grid, path, png = run_tuning_study(
        args.out,
        args.biases,
        args.intervals,
        args.samples,
        args.seed,
        echo=lambda line: print(line, flush=True),
    )
    print(grid.table())
    bias, interval = grid.best
    print(f"lowest FCD at {bias:.2f} V, {interval:.2g} s")
    print(f"file: {path}\nPNG:  {png}")
    return 0
