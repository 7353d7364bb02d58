"""``ftjlab diffuse``: digits from the shipped DDPM with its sampling noise from stochastic
switching - a recorded noise bank (``switching-noise`` runs), values drawn live through a
bench, or software noise - scored on the same n with the project's classifier (FCD, class
coverage, precision/recall), with how many noise values each image consumed and how often
bank values were reused. Everything is checked before a bench opens or anything is pulsed."""

from __future__ import annotations

import argparse
import json

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
    if "bank" in modes:
        values, bank_info = load_bank(args.bank)
        check_bank_size(values.size, model.noise_per_image() * args.samples, args.max_reuse)
    cal = None
    if "live" in modes:
        from ftjlab.procedures.switching_noise import load_calibration

        cal = load_calibration(args.calibration, "--calibration")
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
        out.append(res)
        if args.grid:
            from ftjlab.vae.images import grid, write_png

            write_png(f"{args.grid}-{mode}.png", grid(res.images[:64]))
    print(_table(out))
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r.summary() for r in out], f, indent=1, default=float)
    return 0


def _live(args, model, cal, evaluator):
    from ftjlab.controller import ArrayController
    from ftjlab.session import BenchSession
    from ftjlab.switching.diffusion import LiveNoise, diffuse
    from ftjlab.switching.engine import SwitchingCells

    with BenchSession.open(args.bench, seed=args.seed) as session:
        controller = ArrayController(session)
        try:
            noise = LiveNoise(SwitchingCells(controller, cal.cells), cal,
                              max_volts=session.limits.max_program_voltage_v)
            t0 = session.now_s()
            res = diffuse(model, args.live_samples, noise, "live", evaluator)
            res.metrics.update(chain_steps=noise.steps, instrument_s=session.now_s() - t0)
            if args.live_samples <= 3:
                probs = evaluator.classifier.features_and_probabilities(res.images)[1]
                res.metrics["classes"] = probs.argmax(axis=1).tolist()
        finally:
            controller.safe_state()
    return res


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
