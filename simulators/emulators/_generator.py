"""What the pulse-generator emulators share: the bench interface they use, load scaling."""

from __future__ import annotations

from typing import Protocol


class BenchLike(Protocol):
    """The part of the shared ``Bench`` a pulse generator uses."""

    def source(self, terminal: str, volts: float, output_on: bool) -> None: ...

    def pulse(
        self,
        terminal: str,
        high_v: float,
        low_v: float,
        width_s: float,
        period_s: float,
        count: int,
    ) -> None: ...

    def idle(self, dt_s: float) -> None: ...


def load_factor(load_ohm: float) -> float:
    """Voltage at the load relative to the 50-ohm value: ``2R/(R+50)`` (2 for high-Z/INF)."""
    if load_ohm >= 1e30:
        return 2.0
    return 2.0 * load_ohm / (load_ohm + 50.0)
