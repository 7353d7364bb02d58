"""Keithley 707B switching matrix (TSP) emulator.

The ``channel`` object of the 707B/708B reference manual: ``close``, ``open``,
``exclusiveclose``, ``exclusiveslotclose``, ``getclose``, ``createspecifier``,
``connectrule`` (``channel.OFF``/``BREAK_BEFORE_MAKE``/``MAKE_BEFORE_BREAK``), forbidden
lists and named patterns (``channel.pattern.setimage/getimage/delete``). Channel lists are
validated all-or-nothing with :mod:`ftjlab.instruments.channel_specifiers`: if one item is
bad the command switches nothing and the error queue gets a TSP runtime error (-286) naming
the item. ``reset()``/``*RST`` open every relay.

Relays live in the shared :class:`~ftjlab.simulators.bench.Bench`, which decides what each
closed crosspoint connects and advances the virtual clock by the relay settling time.
"""

from __future__ import annotations

from typing import Any

from ftjlab.instruments.channel_specifiers import (
    ChannelSpecifierError,
    Crosspoint,
    MatrixGeometry,
    parse_channel_list,
)

from ftjlab.wiring import MAX_SLOTS

from ..bench import Bench
from ..tsp import TSPEmulator
from ..tsp_objects import ErrorQueue, NumberAttr, TSPAttrObject, TSPError, TSPObject

CODE_INVALID_CHANNEL = -286
#: List items whose crosspoints a 707B emulator remembers (a few hundred are in use).
EXPANDED_ITEMS = 4096


def _channel_error(message: str) -> TSPError:
    return TSPError(CODE_INVALID_CHANNEL, f"TSP Runtime error: {message}")


class Pattern(TSPObject):
    """``channel.pattern``: named channel images usable in channel lists."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._images: dict[str, tuple[Crosspoint, ...]] = {}

    def setimage(self, channel_list: Any, name: Any) -> None:
        """Store the crosspoints of ``channel_list`` under ``name``."""
        if not isinstance(name, str) or not name.isidentifier():
            raise _channel_error(f"invalid pattern name {name!r}")
        self._images[name] = tuple(self._channel._parse(channel_list, allow_slots=False))

    def getimage(self, name: Any) -> str | None:
        """The crosspoints of a pattern, ``;``-separated (nil if unknown)."""
        points = self._images.get(name) if isinstance(name, str) else None
        return ";".join(str(p) for p in points) if points else None

    def delete(self, name: Any) -> None:
        """Forget a pattern."""
        if isinstance(name, str):
            self._images.pop(name, None)


class Channel(TSPAttrObject):
    """``channel``: the 707B switching functions on the bench's crosspoints."""

    OFF, BREAK_BEFORE_MAKE, MAKE_BEFORE_BREAK = 0, 1, 2
    connectrule = NumberAttr(1, choices=(0, 1, 2), integer=True)

    def __init__(self, errors: ErrorQueue, bench: Bench) -> None:
        super().__init__(errors)
        self._bench = bench
        self._geometry = MatrixGeometry(slots=bench.wiring.slots)
        self._forbidden: set[Crosspoint] = set()
        self._expanded: dict[tuple[str, bool], tuple[Crosspoint, ...]] = {}  # by list item
        self.pattern = Pattern(self)

    # -- parsing -------------------------------------------------------------------------
    def _parse(self, channel_list: Any, allow_slots: bool = True) -> list[Crosspoint]:
        if not isinstance(channel_list, str):
            raise _channel_error("channel list must be a string")
        # pattern names are resolved first: they may appear among ordinary items
        items = [s.strip() for s in channel_list.replace(";", ",").split(",")]
        points: set[Crosspoint] = set()
        plain = []
        for item in items:
            if item in self.pattern._images:
                points.update(self.pattern._images[item])
            else:
                plain.append(item)
        if plain:
            self._expand(plain, allow_slots, points)
        return sorted(points)

    def _expand(self, items: list[str], allow_slots: bool, points: set[Crosspoint]) -> None:
        """Add the crosspoints of list items (no pattern names) to ``points``. Valid items are
        remembered one by one: lists are ever-new combinations of a few hundred items
        (crosspoints, ranges, "allslots" for 576 crosspoints). An invalid item is reported as
        the whole list's parse reports it."""
        cache = self._expanded
        for item in items:
            key = (item, allow_slots)
            cached = cache.get(key)
            if cached is None:
                try:
                    cached = self._expand_list(item, allow_slots)
                except ChannelSpecifierError:
                    break  # the message names the list: parsed whole below
                if len(cache) >= EXPANDED_ITEMS:
                    cache.clear()
                cache[key] = cached
            points.update(cached)
        else:
            return
        try:
            points.update(self._expand_list(",".join(items), allow_slots))
        except ChannelSpecifierError as exc:
            raise _channel_error(str(exc)) from None

    def _expand_list(self, text: str, allow_slots: bool) -> tuple[Crosspoint, ...]:
        parsed = parse_channel_list(text, self._geometry, allow_slots=allow_slots)
        return tuple(Crosspoint(p.slot, p.row, p.column) for p in parsed.expand(self._geometry))

    def _closable(self, channel_list: Any) -> list[Crosspoint]:
        points = self._parse(channel_list, allow_slots=False)
        bad = [str(p) for p in points if p in self._forbidden]
        if bad:
            raise _channel_error(f"forbidden channel(s) {';'.join(bad)} cannot be closed")
        return points

    # -- switching -----------------------------------------------------------------------
    def close(self, channel_list: Any) -> None:
        """Close the listed crosspoints, keeping the others ("slotX"/"allslots" refused)."""
        self._bench.close(self._closable(channel_list))

    def open(self, channel_list: Any) -> None:
        """Open the listed crosspoints (``"slotX"``/``"allslots"`` allowed)."""
        self._bench.open(self._parse(channel_list, allow_slots=True))

    def exclusiveclose(self, channel_list: Any) -> None:
        """Close exactly the listed crosspoints and open every other one."""
        self._exclusive(self._closable(channel_list), slots=None)

    def exclusiveslotclose(self, channel_list: Any) -> None:
        """Like exclusiveclose, but only opens others on the slots the list touches."""
        points = self._closable(channel_list)
        self._exclusive(points, slots={p.slot for p in points})

    def _exclusive(self, points: list[Crosspoint], slots: set[int] | None) -> None:
        keep = set(points)
        others = [
            p for p in self._bench.closed() if p not in keep and (slots is None or p.slot in slots)
        ]
        if self.connectrule == Channel.MAKE_BEFORE_BREAK:
            self._bench.close(points)
            self._bench.open(others)
        elif self.connectrule == Channel.OFF:  # no ordering: the relays move together [verify]
            self._bench.switch(points, others)
        else:  # BREAK_BEFORE_MAKE: every opening relay settles before any closes
            self._bench.open(others)
            self._bench.close(points)

    def getclose(self, channel_list: Any = "allslots") -> str | None:
        """Closed crosspoints among the list, ``;``-separated in slot/row/column order."""
        wanted = set(self._parse(channel_list, allow_slots=True))
        closed = [str(p) for p in self._bench.closed() if p in wanted]
        return ";".join(closed) if closed else None

    def createspecifier(self, slot: Any, row: Any, column: Any) -> str:
        """``createspecifier(1, 1, 1) == "1A01"`` (rows as numbers 1-8)."""
        try:
            s, r, c = int(slot), int(row), int(column)
        except (TypeError, ValueError):
            raise _channel_error("createspecifier needs numbers") from None
        if not (1 <= s <= self._geometry.slots and 1 <= r <= 8 and 1 <= c <= 12):
            raise _channel_error(f"no channel at slot {s}, row {r}, column {c}")
        return str(Crosspoint(s, "ABCDEFGH"[r - 1], c))

    def setforbidden(self, channel_list: Any) -> None:
        """Mark crosspoints that must never close."""
        self._forbidden.update(self._parse(channel_list, allow_slots=True))

    def clearforbidden(self, channel_list: Any) -> None:
        """Allow crosspoints again."""
        self._forbidden.difference_update(self._parse(channel_list, allow_slots=True))

    def getforbidden(self, channel_list: Any = "allslots") -> str | None:
        """Forbidden crosspoints among the list (nil if none)."""
        wanted = set(self._parse(channel_list, allow_slots=True))
        points = sorted(self._forbidden & wanted)
        return ";".join(str(p) for p in points) if points else None

    def reset(self, channel_list: Any = "allslots") -> None:
        """Open the listed channels and clear their forbidden marks."""
        points = self._parse(channel_list, allow_slots=True)
        self._forbidden.difference_update(points)
        self._bench.open(points)


#: The emulated cards (in the mainframe's MAX_SLOTS slots) are 7174A 8x12 low-current matrices.
CARD_IDN = "7174A,8x12 Low Current Matrix,1.00,{serial}"


class Slot(TSPObject):
    """``slot[X]``: the card in slot X; ``idn`` describes it.

    ``slot[X].idn`` is "model,description,firmware revision,serial number" of the card, and
    "Empty Slot" for a slot without one (707B/708B reference, ``slot[X].idn``; Keithley's own
    switch-system examples split it at commas, take field 4 as the serial and test for
    "Empty Slot"). The description and revision strings of a real 7174A are not in our sources:
    the emulator answers ``7174A,8x12 Low Current Matrix,1.00,<serial>``.
    """

    def __init__(self, number: int, present: bool) -> None:
        self.idn = CARD_IDN.format(serial=f"{4460100 + number}") if present else "Empty Slot"


class Slots(TSPObject):
    """``slot``: ``slot[1]`` .. ``slot[6]`` (nil beyond the mainframe's slots)."""

    def __init__(self, cards: int) -> None:
        self._slots = [Slot(n, n <= cards) for n in range(1, MAX_SLOTS + 1)]

    def _lua_index(self, index: int) -> Any:
        if isinstance(index, int | float) and 1 <= index <= MAX_SLOTS:
            return self._slots[int(index) - 1]
        return super()._lua_index(index)


class Keithley707B(TSPEmulator):
    """The 707B: ``channel`` and the TSP runtime, switching the bench's crosspoints.

    Parameters
    ----------
    bench: the simulated bench (its wiring gives the number of cards).
    name: the instrument name in the bench config.
    max_script_s: wall-time limit of one command (runaway guard).
    """

    model = "707B"
    serialno = "4460001"
    firmware = "1.8.0"

    def __init__(self, bench: Bench, name: str = "matrix", max_script_s: float = 10.0) -> None:
        self.bench, self.name = bench, name
        super().__init__(bench.clock, max_script_s=max_script_s, seed=bench.seed + 1)

    def _install(self, g: Any) -> None:
        self.channel = Channel(self.errorqueue, self.bench)
        super()._install(g)
        g.channel = self.channel
        g.slot = Slots(self.bench.wiring.slots)

    def _reset_instrument(self) -> None:
        super()._reset_instrument()
        self.channel.connectrule = Channel.BREAK_BEFORE_MAKE
        self.channel._forbidden.clear()
        self.bench.open_all()
