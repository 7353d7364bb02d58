"""``ftjlab repair FILE``: make a run file left by a killed process readable by plain HDF5
tools (writer flags cleared, torn last blocks dropped, status ``interrupted``)."""

from __future__ import annotations

import argparse

ORDER = 42


def register(sub) -> None:
    p = sub.add_parser(
        "repair", help="make a run file of a killed process readable by plain HDF5 tools",
        description="Clear the HDF5 writer flags a killed process left (as h5clear -s does), "
        "drop a torn last block of every stream, mark a run still 'running' as 'interrupted'. "
        "Works on a copy and replaces the file only when the copy is complete.",
    )
    p.add_argument("file", nargs="+", help="run file(s) (HDF5)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ftjlab.repair import repair_file

    for path in args.file:
        print(repair_file(path).text())
    return 0
