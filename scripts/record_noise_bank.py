"""Record the switching noise bank (``data/models/switching_noise_bank.npz``) through a bench.

Two steps. First one ``switching-noise`` run per chip, every pulse through the instruments:
the run's own calibration (row-parallel trials of both polarities, per-cell laws), the
closed-loop refinement of every cell's p at its operating point (``--refine-half-width``,
default 0.01: the calibration fit alone knows p to a few hundredths), then the flip chain with
the balanced readout. ``commands`` prints them:

    python scripts/record_noise_bank.py commands --seeds 2026 2027 2028 2029 --out runs/bank
    ftjlab run switching-noise --seed 2026 --out runs/bank/s2026 --quiet --set row=0 ...

Runs recorded side by side need different bench seeds: a simulated bench draws every
random number from its seed, so two runs of one seed and the same commands flip their cells
with the same uniforms (units of the two runs then correlate). Each seed is its own chip. On
a real bench the runs are different arrays (or word lines).

Then ``pack`` turns the runs' noise streams (units side by side, the common number of steps)
into the bank: uint8 Hamming weights (as counted by the runs' readout) of every unit and
step, k, the settings and the provenance (each run's parameters, results, the flip rates it
achieved per polarity, its calibration's instrument and wall time), plus the statistics of
:func:`ftjlab.switching.noise.noise_quality` and the stationary theory of the achieved rates
(:func:`ftjlab.switching.noise.chain_theory`):

    python scripts/record_noise_bank.py pack runs/bank/s*/*.h5 [--bank FILE]

``--from-bits balanced`` rebuilds the units from the runs' ``bits`` streams (the in-use cells,
consecutive groups of k) with the balanced readout, for runs recorded before the procedure
had it (their noise streams count ON as 1 in every cell).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BANK = ROOT / "data" / "models" / "switching_noise_bank.npz"

#: run results kept in the bank's record
RESULTS = ("cells_in_use", "steps_done", "noise_values_per_instrument_s", "pulses_per_bit",
           "triggers_per_bit", "window_left", "drift_events", "instrument_time_s", "messages",
           "wall_time_s", "calibration_instrument_s", "calibration_wall_s", "calibration_trials",
           "chain_instrument_s", "excluded", "refine_instrument_s", "refine_wall_s",
           "refine_stages", "refine_excluded", "units_dropped", "drift_absorbed")


def command(seed: int, out: str, args: argparse.Namespace) -> str:
    """The ``ftjlab run`` command of one chip's run."""
    return (f"ftjlab run switching-noise --seed {seed} --out {out}/s{seed} --quiet "
            f"--set row={args.row} --set rows={args.rows} --set cells={args.cells} "
            f"--set steps={args.steps} --set check_every={args.check_every} "
            f"--set p_tolerance={args.p_tolerance} --set local_repeats={args.local_repeats} "
            f"--set refine_half_width={args.refine_half_width}")


def commands(args: argparse.Namespace) -> None:
    for seed in args.seeds:
        print(command(seed, args.out, args))


def _plain(value):
    value = value.decode() if isinstance(value, bytes) else value
    return value.item() if isinstance(value, np.generic) else value


def pack(args: argparse.Namespace) -> None:
    from ftjlab.errors import BadInput
    from ftjlab.store import open_file, open_run, read_dataset
    from ftjlab.switching.noise import chain_theory, noise_quality, unit_values

    blocks, runs, k, p = [], [], None, None
    achieved_all = {"set": [0, 0], "reset": [0, 0]}
    for path in args.runs:
        info = open_run(path)
        params = info.parameters
        if info.procedure != "switching-noise" or params.get("schedule") != "constant":
            raise BadInput(f"{path}: not a switching-noise run of the constant schedule")
        if k is None:
            k, p = int(params["k"]), float(params["p"])
        if (int(params["k"]), float(params["p"])) != (k, p):
            raise BadInput(f"{path}: k/p differ from the first run")
        noise = read_dataset(path, "noise", info.run_id)
        units = np.flatnonzero(np.all(np.isfinite(noise), axis=0))
        settings = read_dataset(path, "settings", info.run_id)
        with open_file(path) as f:
            attrs = f["runs"][info.run_id].attrs
            results = {key: _plain(attrs[key]) for key in RESULTS if key in attrs}
        bits = read_dataset(path, "bits", info.run_id).astype(bool)
        bits = bits[:, read_dataset(path, "in_use", info.run_id).astype(bool)]
        if args.from_bits:
            noise = unit_values(bits, k, balanced=args.from_bits == "balanced")
            units = np.arange(noise.shape[1])
            params = {**params, "readout": f"{args.from_bits} (rebuilt from the bits stream)"}
        blocks.append(noise[:, units])
        before = np.vstack([np.zeros((1, bits.shape[1]), bool), bits[:-1]])
        achieved = {}
        for name, state in (("set", False), ("reset", True)):
            moved = bits[before == state] != state
            achieved[name] = float(moved.mean())
            achieved_all[name][0] += int(moved.size)
            achieved_all[name][1] += int(moved.sum())
        trials = read_dataset(path, "trials", info.run_id)
        calibration_run = None
        source = str(params.get("calibration", "fresh"))
        if source != "fresh" and Path(source).exists():  # the run that measured the trials
            cal = open_run(source)
            with open_file(source) as f:
                a = f["runs"][cal.run_id].attrs
                calibration_run = {
                    "file": Path(source).name, "run_id": cal.run_id,
                    "procedure": cal.procedure, "status": cal.status,
                    "calibration": str(cal.parameters.get("calibration")),
                    "parameters": cal.parameters,
                    "bench_seed": cal.bench.get("seed"),
                    **{key: _plain(a[key]) for key in ("calibration_trials",
                                                       "calibration_wall_s",
                                                       "instrument_time_s", "wall_time_s",
                                                       "messages", "error") if key in a}}
        runs.append({
            "file": Path(path).name, "run_id": info.run_id, "status": info.status,
            "parameters": params, "steps": int(noise.shape[0]), "units": int(units.size),
            "chain_instrument_s": float(settings[-1, 3] - settings[0, 3]),
            "calibration_trial_rows": int(trials.shape[0]),
            "calibration_cell_trials": int(trials[:, 5].sum()),
            "results": results, "p_achieved": achieved, "calibration_run": calibration_run,
            "bench": {key: info.bench.get(key) for key in ("description", "seed", "source")},
            "software_version": info.software_version,
        })
    steps = min(b.shape[0] for b in blocks)
    values = np.concatenate([b[:steps] for b in blocks], axis=1)  # (steps, units)
    hamming = np.rint(values * np.sqrt(k / 4.0) + k / 2.0).astype(np.uint8)
    if not np.allclose((hamming - k / 2.0) / np.sqrt(k / 4.0), values):
        raise BadInput("noise streams do not hold standardised Hamming weights")
    q = noise_quality(values, k, p)
    p_set = achieved_all["set"][1] / achieved_all["set"][0]
    p_reset = achieved_all["reset"][1] / achieved_all["reset"][0]
    readouts = {str(r["parameters"].get("readout", "direct")).split()[0] for r in runs}
    theory = {name: chain_theory(k, p_set, p_reset, balanced=(name == "balanced")).__dict__
              for name in ("balanced", "direct")}
    meta = {"k": k, "p": p, "steps": int(steps), "units": int(values.shape[1]),
            "values": int(values.size), "readout": sorted(readouts), "runs": runs,
            "quality": q.as_dict(), "mean_standard_error": float(values.std() /
                                                                 np.sqrt(values.size)),
            "p_achieved": {"set": p_set, "reset": p_reset}, "chain_theory": theory,
            "command": args.command}
    out = Path(args.bank)
    np.savez_compressed(out, hamming=hamming, k=np.int64(k),
                        meta=np.array(json.dumps(meta, default=str)))
    print(out, f"{values.size} values ({steps} steps x {values.shape[1]} units)")
    print(q.table())
    print(f"achieved p_set {p_set:.4f}, p_reset {p_reset:.4f}; theory mean "
          f"balanced {theory['balanced']['mean']:+.4f}, direct {theory['direct']['mean']:+.4f}; "
          f"standard error of the mean {meta['mean_standard_error']:.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("commands", help="print the ftjlab run command of every chip")
    c.add_argument("--seeds", type=int, nargs="+", default=[2026, 2027, 2028, 2029])
    c.add_argument("--out", default="runs/bank")
    c.add_argument("--row", type=int, default=0)
    c.add_argument("--rows", type=int, default=2)
    c.add_argument("--cells", type=int, default=32)
    c.add_argument("--steps", type=int, default=4000)
    c.add_argument("--check-every", type=int, default=250)
    c.add_argument("--p-tolerance", type=float, default=0.02)
    c.add_argument("--local-repeats", type=int, default=200)
    c.add_argument("--refine-half-width", type=float, default=0.01,
                   help="refine each cell's p at its operating point to this 95 %% "
                   "half-width before the chain (0: calibration fit only)")
    c.set_defaults(func=commands)
    p = sub.add_parser("pack", help="run files -> bank (units side by side)")
    p.add_argument("runs", nargs="+")
    p.add_argument("--bank", default=str(BANK))
    p.add_argument("--command", default="", help="the ftjlab run commands, for the record")
    p.add_argument("--from-bits", choices=["balanced", "direct"], default=None,
                   help="rebuild the units from the bits streams with this readout")
    p.set_defaults(func=pack)
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
