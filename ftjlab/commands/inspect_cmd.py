"""``ftjlab inspect FILE``: list the runs of an HDF5 file, their attributes and datasets."""

from __future__ import annotations

import argparse
import json

ORDER = 40


def register(sub) -> None:
    p = sub.add_parser("inspect", help="list runs, attributes and dataset shapes of a file")
    p.add_argument("file", help="an ftjlab HDF5 run file")
    p.add_argument("--bench", action="store_true", help="also print the bench snapshot")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ftjlab.store import list_runs

    for info in list_runs(args.file):
        print(f"run {info.run_id}")
        print(f"  procedure {info.procedure}, status {info.status}, "
              f"software {info.software_version}")
        print(f"  started {info.started}, finished {info.finished or '-'}")
        if info.error:
            print(f"  error: {info.error}")
        print("  parameters:")
        for name, value in sorted(info.parameters.items()):
            unit = info.units.get(name, "")
            print(f"    {name} = {value}{' ' + unit if unit else ''}")
        print("  datasets:")
        for name, (shape, dtype, units) in sorted(info.datasets.items()):
            print(f"    {name}: {dtype} {shape}{' [' + units + ']' if units else ''}")
        if args.bench:
            print("  bench: " + json.dumps(info.bench, indent=2).replace("\n", "\n  "))
    return 0
