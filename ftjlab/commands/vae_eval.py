"""``ftjlab vae-eval``: compare generation modes (software, measured-map, in-array) on the same
number of samples, on the simulated array."""

from __future__ import annotations

import argparse
import json

from ftjlab.validate import arg_float, arg_int

ORDER = 60


def _shape(text: str) -> tuple[int, int]:
    from ftjlab.errors import BadInput
    from ftjlab.validate import array_cells

    try:
        rows, cols = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected ROWSxCOLS, got {text!r}") from exc
    try:
        return array_cells("array", rows, cols)
    except BadInput as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
    p.add_argument(
        "--array",
        type=_shape,
        default=None,
        metavar="ROWSxCOLS",
        help="simulated array size (default: the smallest holding the decoder in one load; "
        "e.g. 32x32 reprograms the array tile by tile)",
    )
    p.add_argument("--bias", type=arg_float(lo=0, lo_open=True), default=0.8,
                   help="RTN sampling bias in V (within the simulated bench's sample limit)")
    p.add_argument("--bits", type=arg_int(lo=1, hi=16), default=8,
                   help="input (DAC) bits of the VMMs")
    p.add_argument("--model", help="VAE weight file (default: the shipped MNIST VAE)")
    p.add_argument(
        "--model-verify",
        action="store_true",
        help="verify steps of programming from the read-noise model (faster; the final maps "
        "are still measured by bit-line reads)",
    )
    p.add_argument("--grid", metavar="PREFIX", help="write PREFIX-<mode>.png image grids")
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ftjlab import validate
    from ftjlab.config import load_bench_config
    from ftjlab.errors import BadInput
    from ftjlab.vae.generate import MODES
    from ftjlab.vae.model import load_vae
    from ftjlab.vae.pipeline import compare_modes, format_table

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes:
        raise BadInput(f"--modes: choose from {', '.join(MODES)}; got {args.modes!r}")
    for mode in modes:
        validate.choice("--modes", mode, MODES)
    if args.array is not None and min(args.array) < 1:
        raise BadInput(f"--array: rows and columns must be >= 1, got {args.array}")
    validate.bias_within("--bias", args.bias, load_bench_config(None).limits, "sample")
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
        model=load_vae(args.model) if args.model else None,
        array_shape=args.array,
        bias_v=args.bias,
        bits=args.bits,
        verify_reads=not args.model_verify,
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
