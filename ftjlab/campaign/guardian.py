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
    parser.add_argument("--lock", help="the campaign folder's lock: held while making safe")
    args = parser.parse_args(argv)
    message = sys.stdin.buffer.read()  # returns at EOF: the runner closed it or died
    if message.endswith(b"done"):
        return 0
    import fcntl

    from ftjlab.session import BenchSession

    lock = open(args.lock, "a+") if args.lock else None  # noqa: SIM115 - held to the end
    if lock is not None:  # the runner's lock went with it: keep the next runner out
        fcntl.flock(lock, fcntl.LOCK_EX)
    resources = dict(item.split("=", 1) for item in args.resource)
    BenchSession.open(args.bench, resources=resources).close()  # shuts the bench down
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
