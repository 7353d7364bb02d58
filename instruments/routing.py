"""Which instrument terminal may reach which array line, in which voltage role.

A :class:`Routing` holds a bench's matrix wiring (matrix row letter -> instrument terminal
``"<instrument>.<channel>"``, ``(slot, column)`` -> array line ``"WL3"``/``"BL5"``) and the
crosspoints the guards let close. The 707B guard (and the TSP-Link switching of a 2636B's
guard) hands it every set of crosspoints a command would leave closed; SMU guards ask it before
a channel changes its voltage role. The rules:

* a pulse-generator terminal may reach bit lines only (program pulses);
* an SMU channel in the ``program`` role (DC, e.g. the word-line gate) reaches word lines only:
  a DC program-level source never reaches a bit line;
* an SMU channel in the ``read`` or ``sample`` role reaches bit lines only;
* an array line is reached by at most one terminal (no two instruments on one line);
* crosspoints whose row or column is not wired connect nothing and may close.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from .channel_specifiers import (
    DEFAULT_GEOMETRY,
    ChannelSpecifierError,
    Crosspoint,
    MatrixGeometry,
    parse_channel_list,
)
from .models import MODELS

#: the models by kind, from the one table of models (:mod:`ftjlab.instruments.models`)
PULSER_MODELS = frozenset(m for m, spec in MODELS.items() if spec.kind == "pulser")
SMU_MODELS = frozenset(m for m, spec in MODELS.items() if spec.kind == "smu")


class RoutingError(ValueError):
    """A connection the routing rules forbid (raised through the guards as a refusal)."""


class Routing:
    """The routing rules of one bench (see the module docstring).

    :param rows: matrix row letter -> terminal (``"smu.a"``).
    :param columns: ``(slot, column)`` -> array line (``"BL5"``).
    :param models: instrument name -> model.
    :param geometry: the matrix's slots, rows and columns.
    """

    def __init__(
        self,
        rows: Mapping[str, str],
        columns: Mapping[tuple[int, int], str],
        models: Mapping[str, str],
        geometry: MatrixGeometry = DEFAULT_GEOMETRY,
    ) -> None:
        # read only: the checks keep what they derive from the wiring (_wired, _legal)
        self.rows: Mapping[str, str] = MappingProxyType(dict(rows))
        self.columns: Mapping[tuple[int, int], str] = MappingProxyType(
            {(int(slot), int(col)): str(line) for (slot, col), line in columns.items()})
        self.models: Mapping[str, str] = MappingProxyType(dict(models))
        self.geometry = geometry
        self.closed: frozenset[str] | None = None  # None: not known (nothing checked yet)
        #: script calls that may still be switching the matrix (their end not seen yet)
        self._running: frozenset[str] = frozenset()
        self._remedies: dict[str, str] = {}
        self._roles: dict[str, Callable[[], str]] = {}
        self._guards: dict[str, Any] = {}
        self._expanded: dict[str, frozenset[str]] = {}
        self._items: dict[str, frozenset[str]] = {}
        self._wired: dict[str, tuple[str | None, str | None, str | None]] = {}
        #: closed sets found legal, with the roles they were checked under (the wiring is
        #: fixed once built; a role change gives another key)
        self._legal: set[tuple[frozenset[str], tuple[str | None, ...], Any]] = set()

    # ------------------------------------------------------------------ wiring
    def register_channel(self, terminal: str, role_of: Callable[[], str]) -> None:
        """Tell the routing how to read an SMU terminal's present voltage role."""
        self._roles[terminal] = role_of

    @property
    def guards(self) -> Mapping[str, Any]:
        """Instrument name -> its guard (read only; each joins once through
        ``SafetyGuard.attach_routing``)."""
        return MappingProxyType(self._guards)

    def register_guard(self, name: str, guard: Any) -> None:
        """Record the guard of instrument ``name`` (once): the guards of one bench learn about
        each other through it, e.g. an SMU script that sends commands to a pulse generator
        over TSP-Net makes the generator's guard forget the settings it may have changed."""
        if name in self._guards:
            raise ValueError(f"instrument {name!r} already has a guard on this bench")
        self._guards[name] = guard

    def pulse_generators(self) -> set[str]:
        """Names of the bench's pulse generators: the instruments of a pulse-generator model,
        and any whose guard has a generator's rules (``rules.pulse_generator``) whatever its
        model. The one list of them."""
        return {name for name, model in self.models.items() if model in PULSER_MODELS} | {
            name for name, guard in self._guards.items()
            if getattr(guard.rules, "pulse_generator", False)}

    def pulse_generator_guards(self) -> list[tuple[str, Any]]:
        """(name, guard) of the :meth:`pulse_generators` whose guards joined the routing: what
        an SMU script over TSP-Net may change is forgotten by, and checked against, these."""
        names = self.pulse_generators()
        return [(name, guard) for name, guard in self._guards.items() if name in names]

    def unguarded_pulse_generators(self) -> list[str]:
        """Names of the bench's pulse generators that have no guard on the routing."""
        return [name for name, model in self.models.items()
                if model in PULSER_MODELS and name not in self._guards]

    def terminal_of(self, crosspoint: Crosspoint) -> tuple[str | None, str | None]:
        """(terminal, line) a crosspoint connects (None where unwired)."""
        return self.rows.get(crosspoint.row), self.columns.get((crosspoint.slot, crosspoint.column))

    def expand(self, channels: str) -> frozenset[str]:
        """The crosspoints of a channel list (``allslots``/``slotN`` expanded)."""
        known = self._expanded.get(channels)
        if known is not None:
            return known
        pieces = channels.split(",") if ";" not in channels else []
        if len(pieces) > 1 and all(p.strip() for p in pieces):
            # a list is the union of its items: expand item by item (each cached), so a new
            # combination of known lines (a VMM bit plane, a row's bit lines) costs no parse
            try:
                items = frozenset().union(*(self._expand_item(p.strip()) for p in pieces))
            except RoutingError:
                pass  # parse the whole list below, for the message that names it
            else:
                if len(self._expanded) < 4096:
                    self._expanded[channels] = items
                return items
        items = self._parse(channels)
        if len(self._expanded) < 4096:
            self._expanded[channels] = items
        return items

    def _expand_item(self, item: str) -> frozenset[str]:
        known = self._items.get(item)
        if known is None:
            known = self._parse(item)
            if len(self._items) < 65536:
                self._items[item] = known
        return known

    def _parse(self, channels: str) -> frozenset[str]:
        """Parse and expand a channel list (uncached); RoutingError names the list."""
        try:
            parsed = parse_channel_list(channels, self.geometry)
        except ChannelSpecifierError as exc:
            raise RoutingError(f"invalid channel list {channels!r}: {exc}") from None
        return frozenset(str(cp) for cp in parsed.expand(self.geometry))

    # ------------------------------------------------------------------ rules
    def _role(self, terminal: str, roles: Mapping[str, str] | None = None) -> str | None:
        if roles is not None and terminal in roles:
            return roles[terminal]
        getter = self._roles.get(terminal)
        return getter() if getter is not None else None

    def check(self, closed: Iterable[str], roles: Mapping[str, str] | None = None) -> None:
        """Raise :class:`RoutingError` unless the crosspoint set ``closed`` obeys the rules
        (``roles`` overrides terminals' present roles, e.g. for a pending role change)."""
        key = None
        if isinstance(closed, frozenset):
            key = (closed, tuple(self._role(t, roles) for t in self._roles),
                   frozenset(roles.items()) if roles else None)
            if key in self._legal:
                return
        reached: dict[str, str] = {}
        roles_now: dict[str, str | None] = {}
        for name in closed:
            wired = self._wired.get(name)
            if wired is None:
                terminal, line = self.terminal_of(_crosspoint(name))
                model = self.models.get(terminal.partition(".")[0]) if terminal else None
                wired = self._wired[name] = (terminal, line, model)
            terminal, line, model = wired
            if terminal is None or line is None:
                continue
            kind = line[:2]
            if model in PULSER_MODELS:
                if kind != "BL":
                    raise RoutingError(
                        f"{name}: pulse generator {terminal} may reach bit lines only, not {line}"
                    )
            elif model in SMU_MODELS:
                if terminal not in roles_now:
                    roles_now[terminal] = self._role(terminal, roles)
                role = roles_now[terminal]
                if role is None:
                    raise RoutingError(f"{name}: the voltage role of {terminal} is not known")
                if role == "program" and kind != "WL":
                    raise RoutingError(
                        f"{name}: {terminal} in the program role (DC) may reach "
                        f"word lines only, not {line}"
                    )
                if role != "program" and kind != "BL":
                    raise RoutingError(
                        f"{name}: {terminal} in the {role} role may reach bit "
                        f"lines only, not {line}"
                    )
            else:
                raise RoutingError(f"{name}: terminal {terminal} ({model}) may not reach {line}")
            other = reached.setdefault(line, terminal)
            if other != terminal:
                first, second = sorted((other, terminal))
                raise RoutingError(f"{name}: {line} would be reached by {first} and {second}")
        if key is not None and len(self._legal) < 4096:
            self._legal.add(key)

    def script_running(self, holder: str, remedy: str = "") -> None:
        """A script call (``holder``) may be switching the matrix until :meth:`script_ended`:
        meanwhile nothing else may close relays (its moves and theirs could overlap), and an
        open does not make its routes count as open (it may close them again). ``remedy``:
        what ends it, for the refusals' message."""
        self._running = self._running | {holder}
        self._remedies = {**self._remedies, holder: remedy}

    def script_ended(self, holder: str) -> None:
        """The script call ``holder`` is known to have ended."""
        self._running = self._running - {holder}
        self._remedies = {h: r for h, r in self._remedies.items() if h != holder}

    @property
    def running(self) -> frozenset[str]:
        """Script calls that may still be switching the matrix."""
        return self._running

    def after(
        self, operation: str, channels: str, closed: frozenset[str] | None
    ) -> frozenset[str] | None:
        """The closed set after ``operation`` (``close``, ``open``, ``exclusiveclose``) of
        ``channels`` from ``closed``, checked against the rules; None if it stays unknown
        (opening from an unknown state). Closing from an unknown state is refused, and so is
        closing while a script call may still be switching (:meth:`script_running`)."""
        if self._running:
            if operation == "open":
                self.expand(channels)  # a valid list, or refused
                return closed  # the script may close its routes again: they stay counted
            remedies = "; ".join(r for r in self._remedies.values() if r)
            raise RoutingError(
                f"{', '.join(sorted(self._running))} may still be switching the matrix (its end "
                "was not seen); relays may be closed once it has ended"
                + (f" ({remedies})" if remedies else ""))
        items = self.expand(channels)
        if operation == "exclusiveclose":
            result: frozenset[str] | None = items
        elif operation == "open":
            if closed is None:
                everything = self.expand("allslots")
                return frozenset() if items == everything else None
            result = closed - items
        elif operation == "close":
            if closed is None:
                raise RoutingError("the matrix state is not known; open every relay first")
            result = closed | items
        else:
            raise RoutingError(f"unknown switching operation {operation!r}")
        self.check(result)
        return result

    def check_role(self, terminal: str, role: str) -> None:
        """Raise unless ``terminal`` may take voltage role ``role`` with the present routing."""
        if self.closed is None:
            return  # nothing closed through a checked path: the next close is checked
        self.check(self.closed, roles={terminal: role})

    def snapshot(self) -> dict[str, Any]:
        """The closed set (for diagnostics)."""
        return {"closed": sorted(self.closed) if self.closed is not None else None}


def _crosspoint(name: str) -> Crosspoint:
    return Crosspoint(int(name[0]), name[1], int(name[2:]))
