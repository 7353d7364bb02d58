"""Guardian of a campaign's bench: ``python -m ftjlab.campaign.guardian BENCH [--resource ...]``.

Started by the campaign runner with a pipe on its stdin, in its own session (a Ctrl-C on
the terminal does not reach it). It waits for the pipe to close. If the runner wrote
``done`` first, the bench was already left safe and it exits. Otherwise the runner
disappeared (SIGKILL, crash): it connects to the bench itself and shuts it down (outputs
off, probe separated, matrix open).
"""

from __future__ import annotations

import argparse
import signal
import sys


def main(argv: list[str] | None = None) -> int:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)  # only the pipe tells us what to do
    parser = argparse.ArgumentParser(prog="ftjlab-campaign-guardian")
    parser.add_argument("bench")
    parser.add_argument("--resource", action="append", default=[])
    args = parser.parse_args(argv)
    message = sys.stdin.buffer.read()  # returns at EOF: the runner closed it or died
    if message.endswith(b"done"):
        return 0
    from ftjlab.session import BenchSession

    resources = dict(item.split("=", 1) for item in args.resource)
    session = BenchSession.open(args.bench, resources=resources)
    failures = session.shutdown()
    session.close()
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
