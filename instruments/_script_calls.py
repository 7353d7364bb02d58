"""Calls of the 2636B's scripts that set a pulse generator over TSP-Net, and their end.

The generator guards hold what such a script sets from the moment its call passes the SMU's
guard (:mod:`ftjlab.instruments._guard_tspnet`); these functions end the hold once the
script is seen to end: its reply read, or the 2600B's ``abort`` answered.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

from ._common import InstrumentError, longer_timeout
from ._guard_tspnet import script_ended, scripts_ended
from .safety import SafetyError

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())


def call_tspnet_script(smu: Any, name: str, call: str) -> str:
    """Send ``call`` (one call of registered script ``name``, which sets a pulse generator
    over TSP-Net and prints one reply line at its end) and return that reply.

    The generator guards hold what the script sets from the moment the call passes the SMU's
    guard; reading the reply shows the script ended and ends the hold. If sending or reading
    fails after the guard passed the call (a reply timeout, an interrupt, a lost connection)
    the script may still be running: it is aborted (:func:`abort_script`) before the error
    is raised; if that fails too, the hold stays and the error carries a note saying so.
    """
    try:
        smu.write(call)  # a refusal by the guard: nothing sent, nothing held
        reply = smu.read()
    except SafetyError:
        raise
    except BaseException as exc:  # sent (maybe in part): the script may be running
        try:
            abort_script(smu)
        except Exception as abort_exc:  # the original error is the one to raise
            log.error("%s: %s() may still be running: %s", getattr(smu, "name", "SMU"), name,
                      abort_exc)
            exc.add_note(f"{name}() may still be running on the SMU ({abort_exc}); the pulse "
                         "generator's guard refuses what it sets until abort_script(smu) "
                         "succeeds")
        raise
    _ended(smu, name)
    return reply


def _ended(smu: Any, name: str) -> None:
    guard = getattr(smu, "safety", None)
    if guard is not None:
        script_ended(guard, name)


_MARKERS = itertools.count(1)


def abort_script(smu: Any, *, timeout_s: float = 15.0, max_lines: int = 8) -> None:
    """Stop a script call that may still run on ``smu`` and see it end.

    Sends the 2600B's ``abort`` (it terminates a running script; outputs stay as they are),
    then ``print`` of a marker, and reads until the marker comes back (replies the script
    left, such as a late result line, are discarded): the SMU runs commands in order, so
    once it answers the marker nothing of a script runs any more, and the generator guards
    end their holds of what its script calls set (:func:`~._guard_tspnet.scripts_ended`).

    :param timeout_s: how long each read may wait (a script stops at the latest at its time
        budget, <= 10 s for ``ftjrowwv``, if the instrument only takes the abort then).
    :raises InstrumentError: if the marker does not come back; the hold stays (the
        generator's guard keeps refusing what the script may set).
    """
    marker = f"ftjabort{next(_MARKERS)}"
    smu.write("abort")
    smu.write(f'print("{marker}")')
    with longer_timeout(smu, timeout_s):
        for _ in range(max_lines):
            if smu.read().strip() == marker:
                guard = getattr(smu, "safety", None)
                if guard is not None:
                    scripts_ended(guard)
                return
    raise InstrumentError(f"{getattr(smu, 'name', 'SMU')}: no answer after abort (the "
                          f"{max_lines} replies read were the script's)")
