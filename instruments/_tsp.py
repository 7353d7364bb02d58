"""Common parts of Keithley TSP instruments (2636B, 707B): identity, error queue, reset."""

from __future__ import annotations

import logging
from typing import Any

from pymeasure.instruments import Instrument

from ._common import InstrumentError, longer_timeout

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())


def parse_tsp_error(reply: str) -> tuple[int, str, int, int]:
    """Parse ``print(errorqueue.next())``: ``code<TAB>message<TAB>severity<TAB>node``.

    The empty queue answers ``0.00000e+00<TAB>Queue Is Empty<TAB>0.00000e+00<TAB>...``.
    """
    parts = reply.strip("\r\n").split("\t")
    if len(parts) < 2:
        raise InstrumentError(f"malformed error queue entry {reply!r}")
    try:
        code = int(float(parts[0]))
        severity = int(float(parts[2])) if len(parts) > 2 and parts[2].strip() else 0
        node = int(float(parts[3])) if len(parts) > 3 and parts[3].strip() else 0
    except ValueError as exc:
        raise InstrumentError(f"malformed error queue entry {reply!r}") from exc
    return code, parts[1].strip().strip('"'), severity, node


def _count(value: Any) -> int:
    return int(float(value))


class TSPMixin:
    """Identity, error queue and reset of a Keithley TSP instrument.

    Queries are Lua ``print()`` calls; numbers come back in the default TSP format
    (``1.23456e-09``).
    """

    id = Instrument.measurement(
        "*IDN?",
        """Get the identification string, e.g.
        ``Keithley Instruments Inc., Model 2636B, 1234567, 4.0.0`` (str).""",
        cast=str,
        maxsplit=0,
    )

    error_count = Instrument.measurement(
        "print(errorqueue.count)",
        """Get the number of entries in the error queue (int).""",
        get_process=_count,
    )

    @property
    def next_error(self) -> tuple[int, str]:
        """Get the next error queue entry as ``(code, message)``; code 0 means empty."""
        code, message, _severity, _node = parse_tsp_error(self.ask("print(errorqueue.next())"))
        return code, message

    def check_errors(self) -> list[tuple[int, str]]:
        """Read (and so remove) every error queue entry; log and return them."""
        errors = []
        for _ in range(self.error_count):
            code, message = self.next_error
            if code == 0:
                break
            log.error("%s: %d, %s", self.name, code, message)
            errors.append((code, message))
        return errors

    def raise_errors(self) -> None:
        """Raise :class:`InstrumentError` listing the queued errors, if there are any."""
        errors = self.check_errors()
        if errors:
            text = "; ".join(f"{code}: {message}" for code, message in errors)
            raise InstrumentError(f"{self.name} reported: {text}")

    def clear_errors(self) -> None:
        """Clear the error queue."""
        self.write("errorqueue.clear()")

    def reset(self) -> None:
        """Reset the instrument to its defaults (outputs off, relays open)."""
        self.write("reset()")

    def wait_for_completion(self, timeout_s: float | None = None) -> None:
        """Block until overlapped operations have finished (``waitcomplete()``).

        :param timeout_s: raise the VISA timeout to at least this long while waiting.
        """
        with longer_timeout(self, timeout_s):
            reply = self.ask("waitcomplete() print(1)").strip()
        if reply not in ("1", "1.00000e+00"):
            raise InstrumentError(f"unexpected reply {reply!r} to waitcomplete()")
