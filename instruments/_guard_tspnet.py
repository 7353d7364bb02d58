"""What an SMU script sending commands to a pulse generator over TSP-Net does to that
generator's guard (see :mod:`ftjlab.instruments._guard_tsp`).

Guards are per instrument; the bench's :class:`~ftjlab.instruments.routing.Routing` links
them. A registered script whose source uses ``tspnet`` is accepted only on a bench whose every
pulse generator has a guard on that routing; once its call passes, each of those guards
forgets the settings the script may change: what :func:`declare_generator_effects` declared
for it (checked against the script's source by the tests), or everything.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ._guards import PulseGeneratorRules
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


def generators_changed(
    guard: SafetyGuard, line: str, name: str, model: str, state: dict[Hashable, Any]
) -> None:
    """A script call that talks to a pulse generator over TSP-Net: refuse it unless every
    generator of the bench has a guard that can learn of it; once the message passes,
    those guards forget what the script may change."""
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
    # the generators by model, and any guard with a generator's rules whatever its model
    targets = dict(routing.pulse_generator_guards())
    targets.update((gname, target) for gname, target in routing.guards.items()
                   if isinstance(target.rules, PulseGeneratorRules))
    if not targets:
        raise guard.refuse(
            line, f"{name}() sends commands over TSP-Net, and no pulse generator of the bench "
            "has a guard to learn what it changes")
    effects = generator_effects(name, model)
    changes: list[tuple[SafetyGuard, dict[Hashable, frozenset[str]] | None]] = []
    for gname, target in targets.items():
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

    def commit() -> None:
        for target, settings in changes:
            target.forget(settings)

    state.setdefault("_commit", []).append(commit)
