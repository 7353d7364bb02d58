"""The die grid of a round wafer map, as a probe station sets it up.

The map is a grid of ``columns x rows`` dies of ``die_um`` centred on the wafer; die
``(col, row)`` has its centre at

    x = (col + 0.5 - columns / 2) * die_x,    y = (rows / 2 - row - 0.5) * die_y

(row 0 at the top). A die is *present* if part of it lies on the wafer, *good* if all four
corners lie within ``radius - edge``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WaferMap:
    """The die grid of a round wafer map."""

    diameter_um: float
    die_um: tuple[float, float]
    edge_um: float = 0.0

    @property
    def radius_um(self) -> float:
        return self.diameter_um / 2

    @property
    def columns(self) -> int:
        return max(1, math.ceil(self.diameter_um / self.die_um[0]))

    @property
    def rows(self) -> int:
        return max(1, math.ceil(self.diameter_um / self.die_um[1]))

    def centre_um(self, col: int, row: int) -> tuple[float, float]:
        """Die centre relative to the wafer centre (um)."""
        return (
            (col + 0.5 - self.columns / 2) * self.die_um[0],
            (self.rows / 2 - row - 0.5) * self.die_um[1],
        )

    def _corner_distances(self, col: int, row: int) -> np.ndarray:
        x, y = self.centre_um(col, row)
        hx, hy = self.die_um[0] / 2, self.die_um[1] / 2
        return np.hypot(
            np.array([x - hx, x + hx, x - hx, x + hx]), np.array([y - hy, y - hy, y + hy, y + hy])
        )

    def category(self, col: int, row: int) -> str:
        """``"good"``, ``"ugly"`` (a corner in the edge zone), ``"edge"`` (partly off the
        wafer) or ``"off"`` (not on the wafer, or outside the grid)."""
        if not (0 <= col < self.columns and 0 <= row < self.rows):
            return "off"
        corners = self._corner_distances(col, row)
        if corners.max() <= self.radius_um - self.edge_um:
            return "good"
        if corners.max() <= self.radius_um:
            return "ugly"
        x, y = self.centre_um(col, row)
        hx, hy = self.die_um[0] / 2, self.die_um[1] / 2
        nearest = math.hypot(max(abs(x) - hx, 0.0), max(abs(y) - hy, 0.0))
        return "edge" if nearest < self.radius_um else "off"

    def dies(self, selection: str = "a") -> list[tuple[int, int]]:
        """Dies in route order (rows top to bottom, columns left to right) for a selection:
        ``g`` good, ``u`` good + ugly, ``e``/``a`` every die on the wafer, ``n`` none."""
        wanted = {
            "g": ("good",),
            "u": ("good", "ugly"),
            "e": ("good", "ugly", "edge"),
            "a": ("good", "ugly", "edge"),
            "n": (),
        }[selection]
        return [
            (c, r)
            for r in range(self.rows)
            for c in range(self.columns)
            if self.category(c, r) in wanted
        ]

    def rho(self, col: int, row: int) -> float:
        """Normalised radius of a die centre (0 at the centre, 1 at the wafer edge)."""
        return math.hypot(*self.centre_um(col, row)) / self.radius_um
