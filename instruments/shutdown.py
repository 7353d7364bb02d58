"""Safe shutdown of a bench: running scripts aborted, then outputs off, then the switch
matrices open."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())


def shutdown_safely(
    *instruments: Any, logger: logging.Logger | None = None
) -> list[tuple[Any, BaseException]]:
    """Abort running scripts, turn every output off, then open the switch matrices; never
    stop at a failure.

    First every instrument that runs scripts (``abort_scripts()``: the 2636B SMUs) is
    told to terminate a script it may still be running and to answer after that: a script
    left running (its call timed out, or interrupted) would otherwise go on switching relays
    or sourcing after the outputs went off and the matrices opened.

    Then each instrument's ``shutdown()`` is called once, in increasing ``shutdown_order`` (sources
    first, matrices last, so relays are not switched with a source on); ``None`` entries are
    skipped. Before the next group (the matrices) is switched, every instrument of the group
    before is asked to confirm that it has executed its commands (``wait_for_completion()``,
    where it has one): instruments have separate connections and input queues, so without
    this a matrix could open its relays before a source has switched off. An instrument whose
    connection was lost is reconnected once (``reconnect()``) and shut down again.

    An exception from one instrument is logged and the others are still shut down. A
    ``KeyboardInterrupt`` during shutdown is re-raised after all instruments were handled.

    :returns: the ``(instrument, exception)`` pairs that failed (empty if all succeeded).
    """
    logger = logger or log
    present = [instrument for instrument in instruments if instrument is not None]
    ordered = sorted(present, key=lambda instrument: getattr(instrument, "shutdown_order", 0))
    failures: list[tuple[Any, BaseException]] = []
    interrupted: KeyboardInterrupt | None = None
    group: list[Any] = []

    def attempt(instrument: Any, action: str, call: Any) -> bool:
        nonlocal interrupted
        name = getattr(instrument, "name", type(instrument).__name__)
        try:
            call()
            return True
        except KeyboardInterrupt as exc:
            logger.error("%s of %s interrupted; continuing with the others", action, name)
            failures.append((instrument, exc))
            interrupted = exc
        except Exception as exc:
            logger.error("%s of %s failed: %s: %s", action, name, type(exc).__name__, exc)
            failures.append((instrument, exc))
        return False

    def confirm(done: list[Any]) -> None:
        for instrument in done:
            wait = getattr(instrument, "wait_for_completion", None)
            if callable(wait):
                attempt(instrument, "shutdown confirmation", wait)

    for instrument in ordered:
        if callable(getattr(instrument, "abort_scripts", None)):
            attempt(instrument, "script abort",
                    lambda instrument=instrument: _with_reconnect(instrument, "abort_scripts"))
    for instrument in ordered:
        order = getattr(instrument, "shutdown_order", 0)
        if group and order > getattr(group[-1], "shutdown_order", 0):
            confirm(group)
            group = []
        if attempt(instrument, "shutdown",
                   lambda instrument=instrument: _with_reconnect(instrument, "shutdown")):
            group.append(instrument)
    if interrupted is not None:
        raise interrupted
    return failures


def _with_reconnect(instrument: Any, method: str) -> None:
    """``instrument.<method>()``; on a lost connection, reconnect once and try again."""
    try:
        getattr(instrument, method)()
    except Exception as exc:
        reconnect = getattr(instrument, "reconnect", None)
        if not (getattr(instrument, "connection_lost", False) and callable(reconnect)):
            raise
        name = getattr(instrument, "name", type(instrument).__name__)
        log.warning("%s: %s; reconnecting for its %s", name, exc, method)
        reconnect()
        getattr(instrument, method)()
