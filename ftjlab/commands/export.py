"""``ftjlab export FILE``: a run's datasets and attributes as CSV files or one NPZ."""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path

import numpy as np

from ftjlab import validate
from ftjlab.errors import BadInput

ORDER = 45


def register(sub) -> None:
    p = sub.add_parser("export", help="export a run as CSV (one file per dataset) or NPZ")
    p.add_argument("file", help="an ftjlab HDF5 run file")
    p.add_argument("--run", metavar="ID", help="run id (default: the file's run)")
    p.add_argument("--format", choices=("csv", "npz"), required=True)
    p.add_argument("--out", metavar="PATH", help="output folder (csv) or file (npz); never "
                   "overwrites a file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ftjlab.store import committed_length, open_file, open_run, read_slice

    info = open_run(args.file, args.run)
    meta = {
        "run_id": info.run_id, "procedure": info.procedure, "status": info.status,
        "started": info.started, "finished": info.finished, "error": info.error,
        "parameters": info.parameters, "units": info.units, "bench": info.bench,
        "software_version": info.software_version,
    }
    path = Path(args.file)
    stem = path.with_name(path.name.removesuffix(".h5"))  # run ids contain dots
    names = {name: name.replace("/", "__") for name in info.datasets}
    if args.format == "npz":
        target = validate.new_file("--out", args.out or stem.with_name(stem.name + ".npz"))
        if target.suffix != ".npz":  # numpy would append it: check the file it writes
            target = validate.new_file("--out", target.with_name(target.name + ".npz"))
        written = [target]
    else:
        folder = validate.out_dir("--out", args.out or f"{stem}_csv", create=False)
        written = [folder / "attributes.json", *(folder / f"{n}.csv" for n in names.values())]
        clash = [str(p) for p in written if p.exists()]
        if clash:
            raise BadInput(f"--out: {clash[0]!r} already exists (export never overwrites)")
    created_folder = args.format == "csv" and not folder.exists()
    try:
        with open_file(info.path) as f:
            group = f["runs"][info.run_id]

            def data(name: str) -> np.ndarray:
                ds = group[name]
                return read_slice(ds, 0, committed_length(ds)) if ds.shape else read_slice(ds)

            if args.format == "npz":
                arrays = {names[name]: data(name) for name in info.datasets}
                units = {name: u for name, (_, _, u) in info.datasets.items()}
                np.savez_compressed(
                    target, __attributes__=json.dumps(meta | {"dataset_units": units}), **arrays
                )
                print(f"wrote {target}")
                return 0
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "attributes.json").write_text(json.dumps(meta, indent=2))
            for name in info.datasets:
                values = data(name)
                units = info.datasets[name][2]
                out = folder / f"{names[name]}.csv"
                columns = group[name].attrs.get("columns", "")
                header = f"{name} [{units}]" + (f"\n{columns}" if columns else "")
                if values.ndim == 0:
                    np.savetxt(out, np.atleast_1d(values), header=header)
                elif values.dtype.kind in "fiub":
                    np.savetxt(out, values.reshape(values.shape[0], -1) if values.ndim > 1
                               else values, delimiter=",", header=header)
                else:
                    out.write_text(f"# {header}\n" + "\n".join(map(str, values.ravel())))
    except BaseException as exc:  # a full disk, unreadable data: remove what was written
        if not isinstance(exc, OSError | BadInput):
            _remove(written, folder if created_folder else None)
            raise
        _remove(written, folder if created_folder else None)
        if isinstance(exc, BadInput):
            raise
        raise BadInput(f"--out: writing the export failed: {exc}") from exc
    print(f"wrote {len(info.datasets)} CSV files and attributes.json to {folder}")
    return 0


def _remove(paths: list[Path], folder: Path | None) -> None:
    """Remove what an export that failed half-way wrote (none of it existed before)."""
    for p in paths:
        with contextlib.suppress(OSError):
            p.unlink()
    if folder is not None:
        with contextlib.suppress(OSError):
            folder.rmdir()
