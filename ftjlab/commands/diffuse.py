"""``ftjlab diffuse``: digits from the shipped DDPM with its sampling noise from stochastic
switching - a recorded noise bank (``switching-noise`` runs), values drawn live through a
bench, or software noise - scored on the same n with the project's classifier (FCD, class
coverage, precision/recall), with how many noise values each image consumed and how often
bank values were reused. Everything is checked before a bench opens or anything is pulsed."""

from __future__ import annotations

import argparse
import json

import numpy as np

from ftjlab.validate import arg_float, arg_int

ORDER = 62
MODES = ("software", "bank", "live")


def register(sub) -> None:
    p = sub.add_parser("diffuse", help="DDPM digits with switching noise (bank, live, software)")
    p.add_argument("--modes", default="software,bank",
                   help="comma-separated: software, bank, live (default: software,bank)")
    p.add_argument("-n", "--samples", type=arg_int(lo=1, hi=10**6), default=2000,
                   help="images per mode (default 2000)")
    p.add_argument("--bank", metavar="RUNFILES",
                   help="switching-noise run files whose noise streams form the bank")
    p.add_argument("--max-reuse", type=arg_float(lo=1), default=10_000.0,
                   help="most uses of one bank value (default 10000); a smaller bank is refused")
    p.add_argument("--standardise-bank", action="store_true",
                   help="shift and scale the bank to its own mean 0 and variance 1 (a reused "
                   "bank otherwise repeats its chance mean offset on every step)")
    p.add_argument("--calibration", metavar="RUNFILE",
                   help="switching-noise run with calibration trials (mode live)")
    p.add_argument("--live-samples", type=arg_int(lo=1, hi=100), default=1,
                   help="images drawn live through the bench (default 1)")
    p.add_argument("--live-chain", default="auto", choices=("auto", "onboard", "host"),
                   help="live chain run by the read SMU itself, several steps per round trip "
                   "(onboard), or step by step from the host (default: onboard where the "
                   "bench allows it)")
    p.add_argument("--live-cells", metavar="N",
                   type=arg_int(lo=1, hi=4096), default=None,
                   help="use only the first N calibrated cells live (default: all)")
    p.add_argument("--sample-steps", type=arg_int(lo=1, hi=1000), default=None,
                   help="denoising steps per image for every mode (default: the model's); "
                   "each image consumes 784 noise values per step")
    p.add_argument("--guidance", metavar="W", type=arg_float(lo=0, hi=20), default=None,
                   help="guidance weight of the model's guide network (default: the model's; "
                   "0 samples the network alone, one pass per step); guidance needs no noise")
    p.add_argument("--bench", metavar="PATH", help="bench config for live (default: simulated)")
    p.add_argument("--seed", type=arg_int(lo=0, hi=2**63 - 1), default=2026,
                   help="seed of the software noise, the bank order and the simulated bench")
    p.add_argument("--model", help="DDPM weight file (default: the shipped ddpm_mnist.npz)")
    p.add_argument("--grid", metavar="PREFIX", help="write PREFIX-<mode>.png image grids")
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ftjlab import validate
    from ftjlab.errors import BadInput
    from ftjlab.switching.ddpm import BankNoise, load_ddpm, software_noise
    from ftjlab.switching.diffusion import check_bank_size, diffuse, load_bank

    modes = validate.choices("--modes", args.modes, MODES)
    if "bank" in modes and not args.bank:
        raise BadInput("--bank: mode bank needs switching-noise run files")
    if "live" in modes and not args.calibration:
        raise BadInput("--calibration: mode live needs a switching-noise run with trials")
    model = load_ddpm(args.model)
    if args.sample_steps is not None:
        if args.sample_steps > model.train_betas.size:
            raise BadInput(f"--sample-steps: at most the model's {model.train_betas.size} "
                           f"training steps, got {args.sample_steps}")
        model.sample_steps = args.sample_steps
    if args.guidance is not None:
        if args.guidance and model.guide is None and not model.net.classes:
            raise BadInput("--guidance: the model has no guide network and is unconditional")
        model.guidance = args.guidance
    if "bank" in modes:
        values, bank_info = load_bank(args.bank)
        check_bank_size(values.size, model.noise_per_image() * args.samples, args.max_reuse)
    cal = None
    if "live" in modes:
        from ftjlab.procedures.switching_noise import load_calibration

        cal = load_calibration(args.calibration, "--calibration")
        if args.live_cells is not None and args.live_cells > len(cal.cells):
            raise BadInput(f"--live-cells: the calibration has {len(cal.cells)} cells, "
                           f"got {args.live_cells}")
    from ftjlab.vae.metrics import Evaluator

    evaluator = Evaluator()
    out = []
    for mode in modes:
        if mode == "software":
            res = diffuse(model, args.samples, software_noise(args.seed), mode, evaluator)
        elif mode == "bank":
            noise = BankNoise(values, seed=args.seed, standardise=args.standardise_bank)
            res = diffuse(model, args.samples, noise, mode, evaluator, bank=noise)
            res.metrics["bank"] = {**bank_info, "mean": noise.bank_mean, "std": noise.bank_std,
                                   "standardised": args.standardise_bank}
        else:
            res = _live(args, model, cal, evaluator)
        _classes(res, model, evaluator)
        out.append(res)
        if args.grid:
            from ftjlab.vae.images import grid, write_png

            write_png(f"{args.grid}-{mode}.png", grid(res.images[:64]))
    print(_table(out))
    for r in out:
        m = r.metrics
        if r.mode == "live":
            print(f"live: {m['noise_values_drawn']} noise values from {m['chain_steps']} chain "
                  f"steps of {m['units']} units ({m['chain']} chain, "
                  f"{m['round_trips_of_chain']} round trips); instrument "
                  f"{m['instrument_s']:.1f} s ({m['noise_values_per_instrument_s']:.1f} "
                  f"values/s), wall {m['wall_s']:.1f} s")
        if "labels_agree" in m:
            print(f"{r.mode}: classifier agrees with the requested class in "
                  f"{100 * m['labels_agree']:.0f} % of the images")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r.summary() for r in out], f, indent=1, default=float)
    return 0


def _live(args, model, cal, evaluator):
    import time

    from ftjlab.controller import ArrayController
    from ftjlab.session import BenchSession
    from ftjlab.switching.diffusion import LiveNoise, diffuse
    from ftjlab.switching.engine import SwitchingCells

    onboard = {"auto": None, "onboard": True, "host": False}[args.live_chain]
    with BenchSession.open(args.bench, seed=args.seed) as session:
        controller = ArrayController(session)
        try:
            # saturation at the weak pulses' width, as the on-board chain (no generator
            # reconfiguration between weak and saturating pulses of the host chain)
            cells = SwitchingCells(controller, cal.cells[: args.live_cells],
                                   saturate_width_s=1e-6)
            noise = LiveNoise(cells, cal, max_volts=session.limits.max_program_voltage_v,
                              onboard=onboard)
            t0, w0 = session.now_s(), time.perf_counter()
            res = diffuse(model, args.live_samples, noise, "live", evaluator)
            inst = session.now_s() - t0
            res.metrics.update(
                chain="onboard" if noise.onboard else "host", chain_steps=noise.steps,
                round_trips_of_chain=noise.calls, cells_in_use=noise.units * noise.k,
                units=noise.units, instrument_s=inst, wall_s=time.perf_counter() - w0,
                noise_values_drawn=noise.steps * noise.units,
                noise_values_per_instrument_s=noise.steps * noise.units / inst,
                triggers_per_value=cells.triggers / max(1, noise.steps * noise.units),
                sample_steps=model.steps)
        finally:
            controller.safe_state()
    return res


def _classes(res, model, evaluator) -> None:
    """The classifier's class of every image (up to 100 images), and for a conditional model
    the fraction that agrees with the requested labels."""
    n = len(res.images)
    labels = model.labels(n)
    if n > 100 and labels is None:
        return
    probs = evaluator.classifier.features_and_probabilities(res.images)[1]
    got = probs.argmax(axis=1)
    if n <= 100:
        res.metrics["classes"] = got.tolist()
        res.metrics["classes_seen"] = int(np.unique(got).size)
    if labels is not None:
        res.metrics["labels_agree"] = float(np.mean(got == labels))


def _table(results) -> str:
    lines = [f"{'mode':9s}{'n':>6s}{'FCD':>9s}{'classes':>8s}{'prec':>7s}{'recall':>7s}"
             f"{'noise/img':>11s}{'bank':>10s}{'reuse':>9s}{'s':>8s}"]
    for r in results:
        m = r.metrics
        lines.append(
            f"{r.mode:9s}{len(r.images):6d}{m.get('fcd', float('nan')):9.2f}"
            f"{m.get('classes_present', 0):8d}{m.get('precision', float('nan')):7.3f}"
            f"{m.get('recall', float('nan')):7.3f}{r.noise_values_per_image:11d}"
            f"{r.bank_size or 0:10d}{r.bank_reuse or 0:9.1f}{r.seconds:8.1f}")
    return "\n".join(lines)
