"""Calls of the 2636B's registered scripts, and their end.

The guards hold what a script call may change from the moment the call passes the SMU's
guard: a script that sets a pulse generator over TSP-Net makes the generator guards hold
those settings and the routing refuse relay closes (:mod:`ftjlab.instruments._guard_tspnet`);
a script that only switches the matrix makes the routing refuse relay closes. These functions
end the hold once the script is seen to end: its reply read, or the 2600B's ``abort``
answered. A call whose reply times out (or whose sending fails) may still be running on the
SMU, switching relays and printing its reply later: it is aborted, and every byte the SMU sent
before the answer after the abort is read and dropped (binary blocks included), so a late
reply is never taken as the answer to a later query.
"""

from __future__ import annotations

import itertools
import logging
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from ._common import InstrumentError, longer_timeout
from ._guard_tspnet import script_ended, script_holder, scripts_ended
from ._guard_tspnet import script_unended as hold
from .safety import SafetyError

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

T = TypeVar("T")

#: attribute of a driver whose last script call was not seen to end (its abort unanswered)
UNENDED_FLAG = "_ftj_script_unended"


def call_script(smu: Any, name: str, call: str, read: Callable[[], T] | None = None) -> T:
    """Send ``call`` (one message calling registered script ``name``) and return ``read()``
    (default: the one reply line, ``smu.read()``).

    If an earlier call's end was not seen (its abort went unanswered), that is tried again
    first (:func:`abort_script`; raises if the SMU still does not answer). Reading the
    reply shows the script ended and ends the guards' hold. If sending or reading fails after
    the guard passed the call (a reply timeout, an interrupt, a lost connection) the script
    may still be running: it is aborted (:func:`abort_script`) before the error is raised; if
    that fails too, the hold stays and the error carries a note saying so.
    """
    if getattr(smu, UNENDED_FLAG, False):
        abort_script(smu)
    try:
        smu.write(call)  # a refusal by the guard: nothing sent, nothing held
        reply = smu.read() if read is None else read()
    except SafetyError:
        raise
    except BaseException as exc:  # sent (maybe in part): the script may be running
        guard = getattr(smu, "safety", None)
        if guard is not None:
            hold(guard, name)
        try:
            abort_script(smu)
        except Exception as abort_exc:  # the original error is the one to raise
            log.error("%s: %s() may still be running: %s", getattr(smu, "name", "SMU"), name,
                      abort_exc)
            exc.add_note(f"{name}() may still be running on the SMU ({abort_exc}); the guards "
                         "refuse what it may change (relay closes, the pulse generator's "
                         "settings it sets) until abort_script(smu) succeeds")
        raise
    _ended(smu, name)
    return reply


def script_unended(smu: Any) -> bool:
    """Whether a script call on ``smu`` may still be running: its reply not read and its
    abort not answered (its guard still holds what it may change)."""
    if getattr(smu, UNENDED_FLAG, False):
        return True
    guard = getattr(smu, "safety", None)
    routing = getattr(guard, "routing", None)
    if routing is None:
        return False
    suffix = script_holder(guard, "").removeprefix("()")
    return any(holder.endswith(suffix) for holder in routing.running)


def _ended(smu: Any, name: str) -> None:
    guard = getattr(smu, "safety", None)
    if guard is not None:
        script_ended(guard, name)


_MARKERS = itertools.count(1)
#: this process's part of the markers (a marker is looked for among binary bytes)
_NONCE = secrets.token_hex(4)


def abort_script(smu: Any, *, timeout_s: float = 15.0, max_bytes: int = 64 << 20) -> int:
    """Stop a script call that may still run on ``smu`` and see it end.

    Sends the 2600B's ``abort`` (it terminates a running script; outputs stay as they are),
    then ``print`` of a marker, and reads raw bytes until the marker's line comes back: what
    the script left (a late result line, a binary block, which may hold any byte) is
    dropped. The SMU runs commands in order, so once it answers the marker nothing of a
    script runs any more, and the guards end their holds of its calls
    (:func:`~._guard_tspnet.scripts_ended`). ``format.data`` is set back to ASCII (an aborted
    call may have left it binary).

    :param timeout_s: how long each read may wait (a script stops at the latest at its time
        budget, <= 10 s for ``ftjrowwv``, if the instrument only takes the abort then).
    :param max_bytes: the most bytes read before giving up.
    :returns: the number of bytes dropped before the marker.
    :raises InstrumentError: if the marker does not come back; the hold stays (the guards
        keep refusing what the script may change) and the next :func:`call_script` on
        ``smu`` aborts again first.
    """
    marker = f"ftjabort{next(_MARKERS)}_{_NONCE}"
    setattr(smu, UNENDED_FLAG, True)
    smu.write("abort")
    smu.write(f'print("{marker}") format.data = format.ASCII')
    dropped = _read_past(smu, marker.encode("ascii") + b"\n", timeout_s, max_bytes)
    setattr(smu, UNENDED_FLAG, False)
    guard = getattr(smu, "safety", None)
    if guard is not None:
        scripts_ended(guard)
    if dropped:
        log.warning("%s: %d bytes of a script's late reply dropped after the abort",
                    getattr(smu, "name", "SMU"), dropped)
    return dropped


def _read_past(smu: Any, line: bytes, timeout_s: float, max_bytes: int) -> int:
    """Read raw bytes from ``smu`` up to and including ``line``; return how many came before
    it. The line may follow a block the abort cut short (no LF before it); the marker's
    random part keeps it from being found in a script's data."""
    seen = bytearray()
    with longer_timeout(smu, timeout_s):
        while True:
            seen += smu.read_bytes(-1, break_on_termchar=True)
            at = seen.find(line)
            if at >= 0:
                return at
            if len(seen) > max_bytes:
                raise InstrumentError(
                    f"{getattr(smu, 'name', 'SMU')}: no answer after abort ({len(seen)} bytes "
                    "read were the script's)")
