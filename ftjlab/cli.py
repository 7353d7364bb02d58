"""The ``ftjlab`` command line (DESIGN.md section 9).

Subcommands live in :mod:`ftjlab.commands`, one module each, discovered here.
Exit codes: 0 success, 1 measurement failed or aborted (data kept), 2 bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import pkgutil
import sys

from ftjlab import __version__, commands, interrupts
from ftjlab.errors import BadInput, MeasurementFailed


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ftjlab",
        description="Lab application for FTJ NOR arrays: instruments, simulated bench, RTN, VMM.",
    )
    parser.add_argument("--version", action="version", version=f"ftjlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = [
        importlib.import_module(f"{commands.__name__}.{info.name}")
        for info in pkgutil.iter_modules(commands.__path__)
        if not info.name.startswith("_")
    ]
    for module in sorted(modules, key=lambda m: (getattr(m, "ORDER", 50), m.__name__)):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # first: SIGTERM, too, ends a command through Python (exit 1, run files settled)
    previous = interrupts.install()
    code = 1
    try:
        code = _main(argv)
    except KeyboardInterrupt:  # before or after a command's own handling
        interrupts.ending()
        _say("ftjlab: interrupted")
        code = 1
    finally:
        if argv is None:  # the process's own command line: it ends with this command
            interrupted = interrupts.interrupted()
            interrupts.ignore()
            if interrupted:
                interrupts.exit_now(code)
        else:
            interrupts.restore(previous)
    return code


def _say(text: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(text, file=sys.stderr)


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a bad option (2, message printed)
        return exc.code if isinstance(exc.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except BadInput as exc:
        interrupts.ending()
        _say(f"ftjlab: error: {exc}")
        return 2
    except MeasurementFailed as exc:
        interrupts.ending()
        _say(f"ftjlab: measurement failed: {exc}")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
