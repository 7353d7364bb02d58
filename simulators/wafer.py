"""A round wafer of dies, each an FTJ array with die-to-die and across-wafer variation.

The wafer map (as a probe station sets it up) is a grid of ``columns x rows`` dies of
``die_um`` centred on the wafer; die ``(col, row)`` has its centre at

    x = (col + 0.5 - columns / 2) * die_x,    y = (rows / 2 - row - 0.5) * die_y

(row 0 at the top). A die is *present* if part of it lies on the wafer, *good* if all four
corners lie within ``radius - edge``.

Physics of a die at normalised radius ``rho = r / radius`` (0 centre, 1 edge), from the
base :class:`~ftjlab.simulators.params.ArrayParams` of the bench:

* ``G_on   = G_on0  * (1 + g_on_radial * rho)     * exp(die_sigma * z1)``
* ``traps  = traps0 * (1 + traps_radial * rho)    * exp(die_sigma * z2)``
* ``Va     = Va0    * (1 + coercive_radial * rho) * exp(die_sigma / 2 * z3)``

with ``z`` standard normal per die, drawn from a generator seeded by (seed, col, row).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .params import ArrayParams

__all__ = ["WaferVariation", "die_params", "die_seed"]


@dataclass(frozen=True)
class WaferVariation:
    """Across-wafer gradients (relative change from centre to edge) and die-to-die spread."""

    g_on_radial: float = -0.3
    traps_radial: float = 0.5
    coercive_radial: float = 0.1
    die_sigma: float = 0.03

    def __post_init__(self) -> None:
        for name in ("g_on_radial", "traps_radial", "coercive_radial", "die_sigma"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value)):
                raise ValueError(f"{name}: must be a finite number, got {value!r}")
        for name in ("g_on_radial", "traps_radial", "coercive_radial"):
            if getattr(self, name) <= -1:
                raise ValueError(f"{name}: must be > -1 (a quantity stays positive at the edge)")
        if self.die_sigma < 0:
            raise ValueError(f"die_sigma: must be >= 0, got {self.die_sigma!r}")


def die_params(
    base: ArrayParams, variation: WaferVariation, rho: float, rng: np.random.Generator
) -> ArrayParams:
    """The array parameters of a die at normalised radius ``rho``."""
    z = rng.standard_normal(3)
    s = variation.die_sigma
    g_on = base.conductance.g_on_siemens * (1 + variation.g_on_radial * rho) * math.exp(s * z[0])
    g_on = max(g_on, 1.5 * base.conductance.g_off_siemens)
    traps = base.traps.traps_per_cell * (1 + variation.traps_radial * rho) * math.exp(s * z[1])
    va = (
        base.switching.activation_v_mean
        * (1 + variation.coercive_radial * rho)
        * math.exp(s / 2 * z[2])
    )
    return replace(
        base,
        conductance=replace(base.conductance, g_on_siemens=g_on),
        traps=replace(base.traps, traps_per_cell=traps),
        switching=replace(base.switching, activation_v_mean=va),
    )


def die_seed(bench_seed: int, col: int, row: int) -> list[int]:
    """Seed of a die's generators: independent of the order dies are visited in."""
    return [int(bench_seed) & (2**63 - 1), 0x5EED_D1E, int(col) + 100_000, int(row) + 100_000]
