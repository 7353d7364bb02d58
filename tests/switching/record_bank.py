"""Record the switching noise bank shipped in ``data/models/switching_noise_bank.npz``.

Three steps, the middle one the ordinary procedure a user runs:

    python tests/switching/record_bank.py calibrate --seed S --draw-seed D --out runs/S
    ftjlab run switching-noise --seed S --out runs/S --set calibration=<file> ...
    python tests/switching/record_bank.py pack runs/*/<run>.h5

It lives with the tests because ``calibrate`` reads the simulated device (its domains) and
uses the tests' switching physics: a simulation study's shortcut that a real bench does not
have (there, ``ftjlab run switching-probability`` gives the calibration run).

Runs recorded side by side need different bench seeds: a simulated bench draws every
random number from its seed, so two runs of one seed and the same commands flip their cells
with the same uniforms (units of the two runs then correlate). Each seed is its own chip.

``calibrate`` writes a calibration run file (the ``trials`` stream of a switching-noise run)
for the cells of ``--rows`` word lines: flip counts with the design of the instrument
calibration (row-parallel sweep, then two local rounds per cell around p = 1/2), drawn from
the simulated device's domains of the same bench and seed (as the switching benchmarks do:
through the instruments, a calibration to +-0.02 costs ~1e5 trials per cell and polarity).
It prints the ``ftjlab run`` command of the chain. ``pack`` turns the runs' noise streams
(units side by side, the common number of steps) into the bank: uint8 Hamming weights of
every unit and step, k, the settings and the provenance, plus the statistics of
:func:`ftjlab.switching.noise.noise_quality`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

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
          f"--set cells={args.cells} --set steps={args.steps} --set check_every=250 "
          f"--set p_tolerance=0.03")


#: run results kept in the bank's record
RESULTS = ("cells_in_use", "steps_done", "noise_values_per_instrument_s", "pulses_per_bit",
           "triggers_per_bit", "window_left", "drift_events", "instrument_time_s", "messages",
           "wall_s")


def _plain(value):
    value = value.decode() if isinstance(value, bytes) else value
    return value.item() if isinstance(value, np.generic) else value


def pack(args: argparse.Namespace) -> None:
    from ftjlab.store import open_file, open_run, read_dataset
    from ftjlab.switching.noise import noise_quality

    blocks, runs, k, p = [], [], None, None
    for path in args.runs:
        info = open_run(path)
        params = info.parameters
        if k is None:
            k, p = int(params["k"]), float(params["p"])
        if (int(params["k"]), float(params["p"])) != (k, p):
            raise SystemExit(f"{path}: k/p differ from the first run")
        noise = read_dataset(path, "noise", info.run_id)
        units = np.flatnonzero(np.all(np.isfinite(noise), axis=0))
        settings = read_dataset(path, "settings", info.run_id)
        with open_file(path) as f:
            attrs = f["runs"][info.run_id].attrs
            results = {key: _plain(attrs[key]) for key in RESULTS if key in attrs}
        blocks.append(noise[:, units])
        bits = read_dataset(path, "bits", info.run_id).astype(bool)
        if "in_use" in info.datasets:  # a result: there once the run has ended
            bits = bits[:, read_dataset(path, "in_use", info.run_id).astype(bool)]
        before, after = bits[:-1], bits[1:]
        achieved = {name: float((after[before == state] != state).mean())
                    for name, state in (("set", False), ("reset", True))}
        runs.append({
            "file": Path(path).name, "run_id": info.run_id, "status": info.status,
            "parameters": params, "steps": int(noise.shape[0]), "units": int(units.size),
            "chain_instrument_s": float(settings[-1, 3] - settings[0, 3]),
            "results": results, "p_achieved": achieved,
            "bench": {key: info.bench.get(key) for key in ("description", "seed", "source")},
            "software_version": info.software_version,
        })
    steps = min(b.shape[0] for b in blocks)
    values = np.concatenate([b[:steps] for b in blocks], axis=1)  # (steps, units)
    hamming = np.rint(values * np.sqrt(k / 4.0) + k / 2.0).astype(np.uint8)
    assert np.allclose((hamming - k / 2.0) / np.sqrt(k / 4.0), values)
    q = noise_quality(values, k, p)
    meta = {"k": k, "p": p, "steps": int(steps), "units": int(values.shape[1]),
            "values": int(values.size), "runs": runs, "quality": q.as_dict(),
            "command": args.command}
    out = Path(args.bank)
    np.savez_compressed(out, hamming=hamming, k=np.int64(k),
                        meta=np.array(json.dumps(meta, default=str)))
    print(out, f"{values.size} values ({steps} steps x {values.shape[1]} units)")
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
    c.add_argument("--steps", type=int, default=4000)
    c.add_argument("--local-repeats", type=int, default=1300)
    c.add_argument("--out", default="runs/bank")
    c.set_defaults(func=calibrate)
    p = sub.add_parser("pack", help="run files -> bank (units side by side)")
    p.add_argument("runs", nargs="+")
    p.add_argument("--bank", default=str(BANK))
    p.add_argument("--command", default="", help="the ftjlab run command, for the record")
    p.set_defaults(func=pack)
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
