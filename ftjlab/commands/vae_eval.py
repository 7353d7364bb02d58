"""``ftjlab vae-eval``: compare generation modes (software, measured-map, in-array) on the same
number of samples, through the instruments of a bench (default: the shipped simulated one):
RTN latents through the SMU buffers, decoders from measured maps or bench VMMs."""

from __future__ import annotations

import argparse
import json

from ftjlab.validate import arg_float, arg_int

ORDER = 60


def register(sub) -> None:
    p = sub.add_parser(
        "vae-eval", help="compare VAE generation modes (FCD, coverage, precision/recall)"
    )
    p.add_argument(
        "--modes",
        default="software,measured-map",
        help="comma-separated: software, measured-map, in-array (default: software,measured-map)",
    )
    p.add_argument("-n", "--samples", type=arg_int(lo=10, hi=10**6), default=1000,
                   help="images per mode")
    p.add_argument("--seed", type=arg_int(lo=0, hi=2**63 - 1), default=2026,
                   help="seed of the array and the latents")
    p.add_argument("--bench", metavar="PATH", help="bench config (default: the simulated bench)")
    p.add_argument("--maps", default="", metavar="FILES",
                   help="vae-program run files with every decoder load's measured map "
                   "(comma-separated; default: program every load through the bench first)")
    p.add_argument("--interval", type=arg_float(lo=0, lo_open=True), default=2e-3,
                   help="RTN sampling interval in s (default 2e-3)")
    p.add_argument("--cells-per-latent", type=arg_int(lo=1, hi=16), default=4,
                   help="RTN cells summed per latent dimension (default 4)")
    p.add_argument("--in-array-layers", default="auto",
                   help="decoder layers run as bench VMMs in in-array mode (comma-separated; "
                   "auto: those that fit one load)")
    p.add_argument("--bias", type=arg_float(lo=0, lo_open=True), default=0.8,
                   help="RTN sampling bias in V (within the simulated bench's sample limit)")
    p.add_argument("--model", help="VAE weight file (default: the shipped MNIST VAE)")
    p.add_argument("--grid", metavar="PREFIX", help="write PREFIX-<mode>.png image grids")
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ftjlab import validate
    from ftjlab.config import load_bench_config
    from ftjlab.errors import BadInput
    from ftjlab.vae.evaluation import compare_modes, format_table
    from ftjlab.vae.generate import MODES
    from ftjlab.vae.model import load_vae

    modes = validate.choices("--modes", args.modes, MODES)
    validate.bias_within("--bias", args.bias, load_bench_config(args.bench).limits, "sample")
    layers = None
    if args.in_array_layers.strip().lower() != "auto":
        try:
            layers = [int(v) for v in args.in_array_layers.split(",") if v.strip()]
        except ValueError:
            raise BadInput(f"--in-array-layers: 'auto' or layer numbers, got "
                           f"{args.in_array_layers!r}") from None
    if args.model:
        validate.existing_file("--model", args.model)
    if args.json:
        validate.new_file("--json", args.json)
    if args.grid:
        for mode in modes:
            validate.new_file("--grid", f"{args.grid}-{mode}.png")
    results = compare_modes(
        modes,
        args.samples,
        seed=args.seed,
        bench=args.bench,
        maps_from=args.maps,
        bias_v=args.bias,
        interval_s=args.interval,
        cells_per_latent=args.cells_per_latent,
        in_array_layers=layers,
        model=load_vae(args.model) if args.model else None,
    )
    print(format_table(results))
    if args.grid:
        from ftjlab.vae.images import grid, write_png

        for r in results:
            path = write_png(f"{args.grid}-{r.mode}.png", grid(r.images, cols=8))
            print(f"wrote {path}")
    if args.json:
        from pathlib import Path

        payload = [
            {
                "mode": r.mode,
                **r.metrics.as_dict(),
                "fcd_ratio": r.fcd_ratio,
                "instrument_s_per_image": r.instrument_s_per_image,
                "wall_s": r.wall_s,
            }
            for r in results
        ]
        Path(args.json).write_text(json.dumps(payload, indent=2))
    return 0
