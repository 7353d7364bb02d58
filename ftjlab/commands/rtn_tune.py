"""``ftjlab rtn-tune``: the latent-sampling tuning report over sampling bias x sampling time.

* ``FILE`` - a run of the ``rtn-tuning`` procedure: its per-point tau_c, tau_e give a model
  prediction of each point's latent quality (KS, lag-1); stored next to that run.
* ``--bench [PATH]`` - a bench (default: the shipped simulated one), through its instruments:
  latents are measured at every grid point from SMU buffer readings (RTN cells screened
  once; ``dim`` x ``cells-per-dim`` cells); stored in a new run file.
"""

from __future__ import annotations

import argparse

import numpy as np

from ftjlab.validate import arg_int

ORDER = 62
DEFAULT_OUT = "runs"


def _floats(text: str, what: str) -> list[float]:
    from ftjlab.errors import BadInput

    try:
        out = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise BadInput(f"{what}: comma-separated numbers, got {text!r}") from None
    if not out or any(not np.isfinite(v) or v <= 0 for v in out):
        raise BadInput(f"{what}: positive finite numbers, got {text!r}")
    return out


def register(sub) -> None:
    p = sub.add_parser("rtn-tune", help="latent tuning report over bias x sampling time",
                       description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", nargs="?", help="run file of the rtn-tuning procedure")
    p.add_argument("--run", metavar="ID", help="run id (default: the file's latest)")
    p.add_argument("--bench", nargs="?", const="", metavar="PATH",
                   help="measure on a simulated bench (default: the shipped one)")
    p.add_argument("--seed", type=arg_int(lo=0, hi=2**63 - 1),
                   help="seed of the simulated bench (default: config's)")
    p.add_argument("--biases", default="0.6,0.7,0.75,0.8,0.85,0.9,1.0",
                   help="sampling biases in V (comma-separated)")
    p.add_argument("--times", default="0.002,0.005,0.01,0.02,0.03,0.04,0.06",
                   help="sampling times (apertures) in s (comma-separated)")
    p.add_argument("--dim", type=arg_int(lo=1, hi=4096), default=4, help="latent dimensions")
    p.add_argument("--cells-per-dim", type=arg_int(lo=1, hi=4096), default=16,
                   help="cells summed per dimension")
    p.add_argument("--samples", type=arg_int(lo=100, hi=10**8), default=10_000,
                   help="latent samples per point")
    p.add_argument("--out", metavar="DIR", default=DEFAULT_OUT,
                   help=f"folder for the run file of --bench (default ./{DEFAULT_OUT})")
    p.add_argument("--name", default="latent_tuning", help="result group name")
    p.add_argument("--no-store", action="store_true", help="print only")
    p.set_defaults(func=run)


def _arrays(rep) -> dict:
    b, t, ks = rep.grid("ks_max")
    _, _, lag = rep.grid("lag1")
    _, _, skew = rep.grid("skew_max")
    return {"bias_v": (b, "V"), "sampling_time_s": (t, "s"), "ks_max": (ks, ""),
            "lag1": (lag, ""), "skew_max": (skew, "")}


def _attrs(rep, extra: dict) -> dict:
    best = rep.best
    out = {"table": rep.table(), "reason": rep.reason, "ks_target": rep.ks_target,
           "lag1_target": rep.lag1_target, **extra}
    if best is not None:
        out.update({"best_bias_v": best.bias_v, "best_sampling_time_s": best.sampling_time_s,
                    "best_interval_s": best.interval_s, "best_ks_max": best.ks_max,
                    "best_lag1": best.lag1, "best_source": best.source})
        if "cells_needed" in best.extra:
            out["cells_per_dim_needed"] = int(best.extra["cells_needed"])
    return out


def run(args: argparse.Namespace) -> int:
    from ftjlab import store, validate
    from ftjlab.errors import BadInput
    from ftjlab.rtn import latent

    if (args.file is None) == (args.bench is None):
        raise BadInput("give exactly one source: FILE (an rtn-tuning run) or --bench [PATH]")
    if args.dim < 1 or args.cells_per_dim < 1 or args.samples < 100:
        raise BadInput("--dim, --cells-per-dim must be >= 1 and --samples >= 100")
    if not args.no_store:  # results only ever go to analysis/<name>
        validate.result_name("--name", args.name)
        if args.bench is not None:
            validate.out_dir("--out", args.out, create=False)
    if args.file is not None:
        info = store.open_run(args.file, args.run)
        if "points" not in info.datasets:
            raise BadInput(f"{args.file}: run {info.run_id!r} has no 'points' stream (not an "
                           "rtn-tuning run)")
        pts = store.read_dataset(args.file, "points", info.run_id)
        if pts.ndim != 2 or pts.shape[1] < 6:
            raise BadInput("points: expected rows of (bias_v, aperture_s, amplitude_rel, "
                           "tau_c_s, tau_e_s, occupancy)")
        points = [
            latent.predicted_quality(float(v), float(ap), float(ap) * 1.2, float(tc),
                                     float(te), args.cells_per_dim)
            for v, ap, _, tc, te, _ in pts[:, :6]
        ]
        rep = latent.tuning_report(points)
        print("(predicted from each point's tau_c, tau_e; interval = 1.2 x aperture as the "
              "rtn-tuning procedure samples)")
        print(rep.table())
        if not args.no_store:
            group = store.add_results(args.file, args.name, _arrays(rep),
                                      _attrs(rep, {"source": "predicted",
                                                   "cells_per_dim": args.cells_per_dim}),
                                      info.run_id)
            print(f"stored in {args.file}:{group}")
        return 0

    from ftjlab.config import load_bench_config

    config = load_bench_config(args.bench or None)
    biases = _floats(args.biases, "--biases")
    times = _floats(args.times, "--times")
    limit = config.limits.get("max_sample_voltage_v")
    if limit is not None and max(biases) > float(limit):
        raise BadInput(f"--biases: {max(biases)} V exceeds the bench limit "
                       f"max_sample_voltage_v = {limit} V")
    seed = args.seed if args.seed is not None else (config.seed or 0)
    rep = latent.simulate_tuning(biases, times, args.dim, args.cells_per_dim, args.samples,
                                 seed=seed, bench=args.bench or None)
    print(rep.table())
    if not args.no_store:
        params = {"biases_v": biases, "sampling_times_s": times, "dim": args.dim,
                  "cells_per_dim": args.cells_per_dim, "samples": args.samples, "seed": seed}
        writer = store.RunWriter.create(args.out, "latent-tuning", params,
                                        config.snapshot() | {"seed": seed}, {})
        writer.finish("completed")
        group = store.add_results(writer.path, args.name, _arrays(rep),
                                  _attrs(rep, {"source": "measured"}))
        print(f"stored in {writer.path}:{group}")
    return 0
