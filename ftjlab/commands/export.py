"""``ftjlab export FILE``: a run's datasets and attributes as CSV files or one NPZ."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ftjlab.errors import BadInput

ORDER = 45


def register(sub) -> None:
    p = sub.add_parser("export", help="export a run as CSV (one file per dataset) or NPZ")
    p.add_argument("file", help="an ftjlab HDF5 run file")
    p.add_argument("--run", metavar="ID", help="run id (default: the file's run)")
    p.add_argument("--format", choices=("csv", "npz"), required=True)
    p.add_argument("--out", metavar="PATH", help="output folder (csv) or file (npz)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import h5py

    from ftjlab.store import open_run

    info = open_run(args.file, args.run)
    meta = {
        "run_id": info.run_id, "procedure": info.procedure, "status": info.status,
        "started": info.started, "finished": info.finished, "error": info.error,
        "parameters": info.parameters, "units": info.units, "bench": info.bench,
        "software_version": info.software_version,
    }
    path = Path(args.file)
    stem = path.with_name(path.name.removesuffix(".h5"))  # run ids contain dots
    with h5py.File(info.path, "r", libver="latest", swmr=True) as f:
        group = f["runs"][info.run_id]
        datasets = {name: group[name] for name in info.datasets}
        if args.format == "npz":
            target = Path(args.out) if args.out else stem.with_name(stem.name + ".npz")
            arrays = {name.replace("/", "__"): ds[()] for name, ds in datasets.items()}
            units = {name: u for name, (_, _, u) in info.datasets.items()}
            np.savez_compressed(target, __attributes__=json.dumps(meta | {"dataset_units": units}),
                                **arrays)
            print(f"wrote {target}")
            return 0
        folder = Path(args.out) if args.out else Path(f"{stem}_csv")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInput(f"cannot create {str(folder)!r}: {exc.strerror}") from exc
        (folder / "attributes.json").write_text(json.dumps(meta, indent=2))
        for name, ds in datasets.items():
            data = ds[()]
            units = info.datasets[name][2]
            path = folder / (name.replace("/", "__") + ".csv")
            columns = ds.attrs.get("columns", "")
            header = f"{name} [{units}]" + (f"\n{columns}" if columns else "")
            if data.ndim == 0:
                np.savetxt(path, np.atleast_1d(data), header=header)
            elif data.dtype.kind in "fiub":
                np.savetxt(path, data.reshape(data.shape[0], -1) if data.ndim > 1 else data,
                           delimiter=",", header=header)
            else:
                path.write_text(f"# {header}\n" + "\n".join(map(str, data.ravel())))
        print(f"wrote {len(datasets)} CSV files and attributes.json to {folder}")
    return 0
