"""Record the switching noise bank shipped in ``data/models/switching_noise_bank.npz``.

Three steps, the middle one the ordinary procedure a user runs:

    python scripts/record_switching_bank.py calibrate --rows 2 --cells 32 --out runs/bank
    ftjlab run switching-noise --seed 2026 --out runs/bank --set calibration=<file> ...
    python scripts/record_switching_bank.py pack runs/bank/<run>.h5

``calibrate`` writes a calibration run file (the ``trials`` stream of a switching-noise run)
for the cells of ``--rows`` word lines: flip counts with the design of the instrument
calibration (row-parallel sweep, then two local rounds per cell around p = 1/2), drawn from
the simulated device's domains of the same bench and seed (as the switching benchmarks do:
through the instruments, a calibration to +-0.02 costs ~1e5 trials per cell and polarity).
It prints the ``ftjlab run`` command of the chain. ``pack`` turns the run's noise stream into
the bank: uint8 Hamming weights of every unit and step, k, the settings and the provenance,
plus the statistics of :func:`ftjlab.switching.noise.noise_quality`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "switching"))

BANK = ROOT / "data" / "models" / "switching_noise_bank.npz"


def calibrate(args: argparse.Namespace) -> None:
    from ftjlab.procedures import PROCEDURES
    from switching_physics import Cells

    from ftjlab.session import BenchSession
    from ftjlab.store import RunWriter

    with BenchSession.open(seed=args.seed) as session:
        domains, cols = session.sim.array.domains, session.sim.array.cols
    tables = []
    for r in range(args.row, args.row + args.rows):
        cells = Cells(args.cells, seed=args.draw_seed + r, domains=domains,
                      index=r * cols + np.arange(args.cells))
        t = cells.calibration_table(+1, local_repeats=args.local_repeats)
        t[:, 0] = r
        mirrored = t.copy()
        mirrored[:, 2] = -1  # the default device has no imprint: RESET mirrors SET
        tables += [t, mirrored]
    spec = PROCEDURES["switching-noise"]().streams()["trials"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    writer = RunWriter.create(out, "switching-noise", {"source": "device draws"}, {},
                              {"trials": spec})
    writer.append("trials", np.concatenate(tables))
    writer.finish("completed")
    print(writer.path)
    print(f"ftjlab run switching-noise --seed {args.seed} --out {out} --quiet "
          f"--set calibration={writer.path} --set row={args.row} --set rows={args.rows} "
          f"--set cells={args.cells} --set steps={args.steps} --set check_every=500 "
          f"--set p_tolerance=0.03")


def pack(args: argparse.Namespace) -> None:
    from ftjlab.store import open_run, read_dataset
    from ftjlab.switching.noise import noise_quality

    info = open_run(args.run)
    params = info.parameters
    k = int(params["k"])
    noise = read_dataset(args.run, "noise", info.run_id)
    units = np.flatnonzero(np.all(np.isfinite(noise), axis=0))
    values = noise[:, units]
    hamming = np.rint(values * np.sqrt(k / 4.0) + k / 2.0).astype(np.uint8)
    assert np.allclose((hamming - k / 2.0) / np.sqrt(k / 4.0), values)
    q = noise_quality(values, k, float(params["p"]))
    settings = read_dataset(args.run, "settings", info.run_id)
    chain_s = float(settings[-1, 3] - settings[0, 3]) if len(settings) > 1 else 0.0
    meta = {
        "k": k, "p": float(params["p"]), "steps": int(values.shape[0]),
        "units": int(values.shape[1]), "values": int(values.size),
        "run_file": Path(args.run).name, "run_id": info.run_id,
        "parameters": params, "bench": info.bench if hasattr(info, "bench") else None,
        "instrument_s": chain_s, "quality": q.as_dict(), "command": args.command,
    }
    out = Path(args.bank)
    np.savez_compressed(out, hamming=hamming, k=np.int64(k),
                        meta=np.array(json.dumps(meta, default=str)))
    print(out, f"{values.size} values")
    print(q.table())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("calibrate", help="write the calibration run file")
    c.add_argument("--seed", type=int, default=2026, help="bench seed")
    c.add_argument("--draw-seed", type=int, default=11, help="seed of the device draws")
    c.add_argument("--row", type=int, default=0)
    c.add_argument("--rows", type=int, default=2)
    c.add_argument("--cells", type=int, default=32)
    c.add_argument("--steps", type=int, default=12_500)
    c.add_argument("--local-repeats", type=int, default=1300)
    c.add_argument("--out", default="runs/bank")
    c.set_defaults(func=calibrate)
    p = sub.add_parser("pack", help="run file -> bank")
    p.add_argument("run")
    p.add_argument("--bank", default=str(BANK))
    p.add_argument("--command", default="", help="the ftjlab run command, for the record")
    p.set_defaults(func=pack)
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
