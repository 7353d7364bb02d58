"""Channel specifiers of the Keithley 707B/708B switching matrix (pure functions, no I/O).

A crosspoint is named by its slot digit, row letter and two-digit column: ``1A01`` is slot 1,
row A, column 1 (707B-901-01, "Matrix card channel specifiers" and "Channel list parameter").
A channel list joins items with ``,`` or ``;``; an item is

* a crosspoint, e.g. ``3C12``;
* a range ``start:end`` (lowest first, same slot); it covers the rectangle of rows and columns
  between its corners, so ``1A01:1A05`` is five crosspoints of row A and ``1A01:1B02`` is four;
* ``slotN`` (every crosspoint of slot N) or ``allslots``.

Validation is all-or-nothing, like the instrument's: if any item is invalid,
:func:`parse_channel_list` raises :class:`ChannelSpecifierError` (a ``ValueError``) naming the
bad item, and nothing is returned. The parser never raises anything else for a string input,
so it is safe to call on untrusted text. Row letters and keywords are accepted in either case
and normalised (rows upper case, keywords lower case).

This module has no dependencies beyond the standard library; the emulators reuse it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "DEFAULT_GEOMETRY",
    "ChannelList",
    "ChannelSpecifierError",
    "Crosspoint",
    "MatrixGeometry",
    "format_channel_list",
    "parse_channel_list",
    "parse_closed_reply",
    "parse_crosspoint",
]

_SEPARATORS = re.compile(r"[,;]")
_CHANNEL = re.compile(r"([0-9])([A-Za-z])([0-9]+)")
_SLOT = re.compile(r"slot([0-9]+)", re.IGNORECASE)


class ChannelSpecifierError(ValueError):
    """An invalid channel specifier; ``item`` is the offending item of the list."""

    def __init__(self, message: str, item: str = "") -> None:
        super().__init__(message)
        self.item = item


@dataclass(frozen=True)
class MatrixGeometry:
    """Which names exist: slots 1..``slots``, rows ``rows``, columns 1..``columns``."""

    slots: int = 6
    rows: str = "ABCDEFGH"
    columns: int = 12

    def __post_init__(self) -> None:
        if not 1 <= self.slots <= 9:
            raise ValueError(f"slots must be 1..9 (one digit), got {self.slots}")
        if not self.rows or not self.rows.isalpha() or not self.rows.isupper():
            raise ValueError(f"rows must be upper-case letters, got {self.rows!r}")
        if not 1 <= self.columns <= 99:
            raise ValueError(f"columns must be 1..99 (two digits), got {self.columns}")

    def slot_crosspoints(self, slot: int) -> tuple[Crosspoint, ...]:
        """Every crosspoint of one slot, sorted."""
        return tuple(
            Crosspoint(slot, row, column)
            for row in self.rows
            for column in range(1, self.columns + 1)
        )


DEFAULT_GEOMETRY = MatrixGeometry()
"""A 707B with six 8x12 matrix cards (rows A-H, columns 01-12)."""


class Crosspoint(NamedTuple):
    """One relay of a matrix card: slot, row letter, column; ``str(Crosspoint(1, "A", 1)) ==
    "1A01"``. A named tuple, so it orders by (slot, row, column) and sorts fast."""

    slot: int
    row: str
    column: int

    def __str__(self) -> str:
        return f"{self.slot}{self.row}{self.column:02d}"


@dataclass(frozen=True)
class ChannelList:
    """A validated channel list.

    ``crosspoints`` holds the explicitly named crosspoints (ranges expanded), sorted and unique;
    ``slots`` the slots named as ``slotN``; ``all_slots`` whether ``allslots`` was named.
    ``str()`` gives the canonical text sent to the instrument (ranges expanded).
    """

    crosspoints: tuple[Crosspoint, ...] = ()
    slots: tuple[int, ...] = ()
    all_slots: bool = False

    @property
    def is_explicit(self) -> bool:
        """True if the list names crosspoints only (no ``slotN`` or ``allslots``)."""
        return not self.slots and not self.all_slots

    def expand(self, geometry: MatrixGeometry = DEFAULT_GEOMETRY) -> tuple[Crosspoint, ...]:
        """Every crosspoint the list covers, whole slots included, sorted and unique."""
        slots = range(1, geometry.slots + 1) if self.all_slots else self.slots
        points = set(self.crosspoints)
        for slot in slots:
            points.update(geometry.slot_crosspoints(slot))
        return tuple(sorted(points))

    def __str__(self) -> str:
        if self.all_slots:
            return "allslots"
        names = [f"slot{slot}" for slot in self.slots]
        names += [str(point) for point in self.crosspoints]
        return ",".join(names)


def _short(text: str, limit: int = 80) -> str:
    return repr(text) if len(text) <= limit else repr(text[: limit - 3] + "...")


def _fail(text: str, item: str, reason: str) -> ChannelSpecifierError:
    return ChannelSpecifierError(
        f"invalid channel specifier {_short(item)} in {_short(text)}: {reason}", item
    )


def _parse_channel(text: str, item: str, name: str, geometry: MatrixGeometry) -> Crosspoint:
    match = _CHANNEL.fullmatch(name)
    if match is None:
        raise _fail(
            text,
            item,
            "not a channel name (slot digit, row letter, two-digit column, e.g. 1A01), "
            "a range such as 1A01:1A05, 'slotN' or 'allslots'",
        )
    slot_text, row_text, column_text = match.groups()
    slot = int(slot_text)
    row = row_text.upper()
    if not 1 <= slot <= geometry.slots:
        raise _fail(text, item, f"slot {slot} is not in 1-{geometry.slots}")
    if row not in geometry.rows:
        raise _fail(text, item, f"row {row!r} is not one of {geometry.rows[0]}-{geometry.rows[-1]}")
    if len(column_text) != 2:
        raise _fail(text, item, f"column {column_text!r} must have exactly two digits")
    column = int(column_text)
    if not 1 <= column <= geometry.columns:
        raise _fail(text, item, f"column {column_text} is not in 01-{geometry.columns:02d}")
    return Crosspoint(slot, row, column)


def _parse_range(
    text: str, item: str, geometry: MatrixGeometry
) -> tuple[Crosspoint, ...]:
    parts = item.split(":")
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        raise _fail(text, item, "a range needs exactly one ':' between two channel names")
    start = _parse_channel(text, item, parts[0].strip(), geometry)
    end = _parse_channel(text, item, parts[1].strip(), geometry)
    if start.slot != end.slot:
        raise _fail(text, item, "a range must stay within one slot")
    first_row, last_row = geometry.rows.index(start.row), geometry.rows.index(end.row)
    if first_row > last_row or start.column > end.column:
        raise _fail(text, item, f"range start {start} is after its end {end} (lowest first)")
    return tuple(
        Crosspoint(start.slot, row, column)
        for row in geometry.rows[first_row : last_row + 1]
        for column in range(start.column, end.column + 1)
    )


def parse_channel_list(
    text: str,
    geometry: MatrixGeometry = DEFAULT_GEOMETRY,
    *,
    allow_slots: bool = True,
) -> ChannelList:
    """Validate and expand a channel list such as ``"1A01:1A05, 1C03"``.

    :param text: the channel list (items joined by ``,`` or ``;``).
    :param geometry: which slots, rows and columns exist.
    :param allow_slots: whether ``slotN`` and ``allslots`` are accepted (the 707B refuses them
        in ``channel.exclusiveclose``).
    :raises ChannelSpecifierError: (a ``ValueError``) naming the first invalid item.
    :raises TypeError: if ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"a channel list must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ChannelSpecifierError("empty channel list", "")
    points: set[Crosspoint] = set()
    slots: set[int] = set()
    all_slots = False
    for raw in _SEPARATORS.split(text):
        item = raw.strip()
        if not item:
            raise _fail(text, raw, "empty item (separator at the start or end, or doubled)")
        lowered = item.lower()
        slot_match = _SLOT.fullmatch(item)
        if lowered == "allslots" or slot_match is not None:
            if not allow_slots:
                raise _fail(text, item, "'slotN' and 'allslots' are not allowed here")
            if slot_match is None:
                all_slots = True
                continue
            slot = int(slot_match.group(1))
            if not 1 <= slot <= geometry.slots:
                raise _fail(text, item, f"slot {slot} is not in 1-{geometry.slots}")
            slots.add(slot)
        elif ":" in item:
            points.update(_parse_range(text, item, geometry))
        else:
            points.add(_parse_channel(text, item, item, geometry))
    return ChannelList(tuple(sorted(points)), tuple(sorted(slots)), all_slots)


def parse_crosspoint(text: str, geometry: MatrixGeometry = DEFAULT_GEOMETRY) -> Crosspoint:
    """Validate one crosspoint name such as ``"1A01"``."""
    if not isinstance(text, str):
        raise TypeError(f"a channel name must be a string, got {type(text).__name__}")
    return _parse_channel(text, text, text.strip(), geometry)


def format_channel_list(crosspoints: Iterable[Crosspoint | str]) -> str:
    """Join crosspoints (objects or names) into canonical text: sorted, unique, comma-separated.

    Names are validated against the default geometry.
    """
    points = {
        point if isinstance(point, Crosspoint) else parse_crosspoint(point)
        for point in crosspoints
    }
    return ",".join(str(point) for point in sorted(points))


def parse_closed_reply(text: str, geometry: MatrixGeometry = DEFAULT_GEOMETRY) -> list[str]:
    """Parse the reply of ``print(channel.getclose(...))``: ``"1A01;1B02"`` or ``"nil"``.

    :returns: the closed crosspoints as sorted names, e.g. ``["1A01", "1B02"]``.
    :raises ChannelSpecifierError: if the reply is not a channel list.
    """
    reply = text.strip()
    if reply in ("", "nil"):
        return []
    channels = parse_channel_list(reply, geometry, allow_slots=False)
    return [str(point) for point in channels.crosspoints]
