"""How a switch matrix connects instrument terminals to the lines of an array.

The 707B's matrix ROWS (letters A-H) are wired to instrument terminals (``"smu.a"`` = 2636B
channel a HI, ``"pg.1"`` = pulse generator channel 1, ...); its COLUMNS (slot 1-6, column
01-12) are wired to array lines (``"WL5"``, ``"BL12"``); a closed crosspoint ``1A05`` connects
the terminal on row A to the line on slot 1 column 05. The bench file's ``[wiring]`` table is
parsed into a :class:`Wiring`; the controller, the safety layer and the simulated bench all
read the same one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# The matrix relay type is the channel-specifier parser's; the wiring names it too.
from ftjlab.instruments.channel_specifiers import Crosspoint as Crosspoint

#: Default word-line threshold: a gate at or above this voltage turns the access transistor on.
WL_ON_THRESHOLD_V = 1.0
ROW_LETTERS = "ABCDEFGH"
COLUMNS_PER_CARD = 12
MAX_SLOTS = 6

_LINE = re.compile(r"^(WL|BL)(\d+)$")


def terminal_name(instrument: str, channel: str | int) -> str:
    """The bench name of an instrument terminal, e.g. ``terminal_name("smu", "a") == "smu.a"``."""
    return f"{instrument}.{channel}"


@dataclass(frozen=True)
class Line:
    """An array line: a word line (``"WL"``) or a bit line (``"BL"``) with its index."""

    kind: str
    index: int

    @classmethod
    def parse(cls, name: str) -> Line:
        """Parse ``"WL5"`` / ``"BL12"``; raises ValueError otherwise."""
        m = _LINE.match(name.strip().upper())
        if not m:
            raise ValueError(f"not an array line name (WL<n> or BL<n>): {name!r}")
        return cls(m.group(1), int(m.group(2)))

    def __str__(self) -> str:
        return f"{self.kind}{self.index}"


@dataclass
class Wiring:
    """How the matrix connects instrument terminals (rows) to array lines (columns).

    ``rows`` maps row letters to terminal names; ``columns`` maps (slot, column) to line names.
    Rows and columns that are not listed are not connected to anything.
    """

    rows: Mapping[str, str] = field(default_factory=dict)
    columns: Mapping[tuple[int, int], str] = field(default_factory=dict)
    slots: int = MAX_SLOTS

    def validate(self, array_rows: int, array_cols: int) -> None:
        """Raise ValueError if a row, column or line is outside the matrix or the array."""
        if not 1 <= self.slots <= MAX_SLOTS:
            raise ValueError(f"slots must be 1..{MAX_SLOTS}, got {self.slots}")
        for row in self.rows:
            if row not in ROW_LETTERS:
                raise ValueError(f"matrix row must be one of A-H, got {row!r}")
        seen: dict[Line, tuple[int, int]] = {}
        for (slot, col), name in self.columns.items():
            if not (1 <= slot <= self.slots and 1 <= col <= COLUMNS_PER_CARD):
                raise ValueError(f"matrix column {slot}/{col:02d} outside {self.slots} cards x 12")
            line = Line.parse(name)
            size = array_rows if line.kind == "WL" else array_cols
            if line.index >= size:
                raise ValueError(f"{line} outside the array ({line.kind} 0..{size - 1})")
            if line in seen:
                raise ValueError(f"{line} wired to two matrix columns: {seen[line]}, {(slot, col)}")
            seen[line] = (slot, col)

    @classmethod
    def default(cls, array_rows: int, array_cols: int, rows: Mapping[str, str]) -> Wiring:
        """Word lines on the first columns (slot 1 upwards), then bit lines on the next card."""
        columns: dict[tuple[int, int], str] = {}
        k = 0
        for i in range(array_rows):
            columns[(k // COLUMNS_PER_CARD + 1, k % COLUMNS_PER_CARD + 1)] = f"WL{i}"
            k += 1
        k = -(-k // COLUMNS_PER_CARD) * COLUMNS_PER_CARD  # bit lines start on a fresh card
        for j in range(array_cols):
            columns[(k // COLUMNS_PER_CARD + 1, k % COLUMNS_PER_CARD + 1)] = f"BL{j}"
            k += 1
        slots = -(-k // COLUMNS_PER_CARD)
        if slots > MAX_SLOTS:
            raise ValueError(f"{array_rows} WLs + {array_cols} BLs need {slots} cards (max 6)")
        return cls(rows=dict(rows), columns=columns, slots=MAX_SLOTS)
