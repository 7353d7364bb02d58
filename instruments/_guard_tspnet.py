"""What an SMU script sending commands to a pulse generator over TSP-Net does to that
generator's guard (see :mod:`ftjlab.instruments._guard_tsp`).

Guards are per instrument; the bench's :class:`~ftjlab.instruments.routing.Routing` links
them. A registered script whose source uses ``tspnet`` is accepted only on a bench whose every
pulse generator has a guard on that routing (:meth:`Routing.pulse_generator_guards`, the one
list of them); once its call passes, each of those guards holds the settings the script may
change (:meth:`SafetyGuard.hold`: forgotten, and refused to be set again), and the routing
refuses to close relays (:meth:`Routing.script_running`: the script switches the matrix too),
until the call is known to have ended (:func:`script_ended`). The settings are what
:func:`declare_generator_effects` declared for the script (checked against its source by the
tests), or everything. A call of any other registered script holds the routing the same way
once its end is found unseen (:func:`script_unended`). A call that times out may still be running
on the SMU; the driver aborts it and waits for the SMU to answer after the abort before it
ends the hold (:mod:`ftjlab.instruments._script_calls`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .safety import SafetyGuard


@dataclass(frozen=True)
class GeneratorEffects:
    """What a registered script may change on a pulse generator over TSP-Net.

    :ivar settings: output channel -> shadow keys of
        :class:`~ftjlab.instruments._guards.PulseGeneratorRules` it may change.
    :ivar load_ohm: the load setting it sends (every generator of the bench must take it as
        sent), or None.
    """

    settings: Mapping[int, frozenset[str]]
    load_ohm: float | None = None


_GENERATOR_EFFECTS: dict[tuple[str, str], GeneratorEffects] = {}


def declare_generator_effects(
    name: str, settings: Mapping[int, Iterable[str]], *, load_ohm: float | None = None,
    model: str = "2636B",
) -> GeneratorEffects:
    """Declare what registered script ``name`` may change on a pulse generator over TSP-Net
    (narrower than the default: everything). Declared once; a second, different declaration
    is an error."""
    effects = GeneratorEffects(
        MappingProxyType({int(ch): frozenset(keys) for ch, keys in settings.items()}),
        None if load_ohm is None else float(load_ohm))  # read only: the forget relies on it
    old = _GENERATOR_EFFECTS.setdefault((model, name), effects)
    if old != effects:
        raise ValueError(f"generator effects of {name!r} are already declared differently")
    return effects


def generator_effects(name: str, model: str = "2636B") -> GeneratorEffects | None:
    """The declared generator effects of a script (None: not declared, i.e. everything)."""
    return _GENERATOR_EFFECTS.get((model, name))


def script_holder(guard: SafetyGuard, name: str) -> str:
    """How a generator's guard names a script call of the SMU guarded by ``guard``."""
    return f"{name}() on {guard.name}"


#: what ends a hold, named in the generator guards' refusals
_REMEDY = ("its reply read, or the script aborted: keithley2636b_scripts.abort_script(smu), "
           "which sends the 2636B's abort and waits for the SMU to answer after it")


def generators_changed(
    guard: SafetyGuard, line: str, name: str, model: str, state: dict[Hashable, Any]
) -> None:
    """A script call that talks to a pulse generator over TSP-Net: refuse it unless every
    generator of the bench has a guard that can learn of it, and no earlier such call may
    still be running; once the message passes, those guards forget what the script may
    change and keep it unknown until :func:`script_ended` (the script may run on after a
    reply timeout)."""
    routing = guard.routing
    if routing is None:
        raise guard.refuse(
            line, f"{name}() sends commands to a pulse generator over TSP-Net; accepted "
            "only on a bench (routing attached) whose generators' guards learn of it")
    unguarded = routing.unguarded_pulse_generators()
    if unguarded:
        raise guard.refuse(
            line, f"{name}() sends commands over TSP-Net, and pulse generator(s) "
            f"{', '.join(unguarded)} of the bench have no guard to learn what it changes")
    targets = routing.pulse_generator_guards()
    if not targets:
        raise guard.refuse(
            line, f"{name}() sends commands over TSP-Net, and no pulse generator of the bench "
            "has a guard to learn what it changes")
    if any(getattr(commit, "tspnet", False) for commit in state.get("_commit", ())):
        raise guard.refuse(line, f"{name}(): one script call over TSP-Net per message (the "
                           "end of each is seen by its own reply)")
    for gname, target in targets:
        if target.holders:
            raise guard.refuse(
                line, f"{', '.join(target.holders)} may still be running (its end was not "
                f"seen) and setting pulse generator {gname}; end it first ({_REMEDY})")
    effects = generator_effects(name, model)
    changes: list[tuple[SafetyGuard, dict[Hashable, frozenset[str]] | None]] = []
    for gname, target in targets:
        if effects is None:
            changes.append((target, None))
            continue
        takes_load = getattr(target.rules, "takes_load", None)
        if effects.load_ohm is not None and not (takes_load and takes_load(effects.load_ohm)):
            raise guard.refuse(
                line, f"{name}() sets the load of pulse generator {gname} to "
                f"{effects.load_ohm:g} ohm, which {routing.models.get(gname)} does not take "
                "as sent (its levels would not be the volts at the cell)")
        changes.append((target, {ch: keys for ch, keys in effects.settings.items()
                                 if ch in target.channels}))
    holder = script_holder(guard, name)

    def commit() -> None:
        for target, settings in changes:
            target.hold(holder, settings, _REMEDY)
        routing.script_running(holder, _REMEDY)  # its relay moves too

    commit.tspnet = True  # type: ignore[attr-defined]
    state.setdefault("_commit", []).append(commit)


def script_unended(guard: SafetyGuard, name: str) -> None:
    """A call of script ``name`` that the SMU guarded by ``guard`` ran passed its guard, and
    its end was not seen (its reply timed out, its sending failed): it may still be switching
    the matrix, so the routing refuses relay closes (:meth:`Routing.script_running`) until
    its end is seen (:func:`script_ended`, :func:`scripts_ended`). (A script that sets a
    pulse generator over TSP-Net is held from the moment its call passes, see
    :func:`generators_changed`.)"""
    routing = guard.routing
    if routing is not None:
        routing.script_running(script_holder(guard, name), _REMEDY)


def script_ended(guard: SafetyGuard, name: str) -> None:
    """The call of script ``name`` that the SMU guarded by ``guard`` ran is known to have
    ended (its reply was read, or it was aborted and the SMU answered after that): the bench's
    generator guards may learn the settings it held again (they stay unknown until set)."""
    routing = guard.routing
    if routing is None:
        return
    holder = script_holder(guard, name)
    for _, target in routing.pulse_generator_guards():
        target.release(holder)
    routing.script_ended(holder)


def scripts_ended(guard: SafetyGuard) -> None:
    """Nothing runs on the SMU guarded by ``guard`` any more (it answered after an
    ``abort``): every hold of its script calls ends."""
    routing = guard.routing
    if routing is None:
        return
    suffix = script_holder(guard, "").removeprefix("()")
    for _, target in routing.pulse_generator_guards():
        for holder in target.holders:
            if holder.endswith(suffix):
                target.release(holder)
    for holder in routing.running:
        if holder.endswith(suffix):
            routing.script_ended(holder)
