"""Virtual time of a simulated bench: advances with what the instruments do, never sleeps."""

from __future__ import annotations


class VirtualClock:
    """Simulated time in seconds since the bench was created.

    Instruments advance it by the time their actions take (apertures, intervals, pulse
    widths, relay settling). Nothing ever waits in wall time, so a 10 s RTN trace costs
    only the compute to simulate it.
    """

    def __init__(self, start_s: float = 0.0) -> None:
        self._now_s = float(start_s)

    @property
    def now_s(self) -> float:
        """Current simulated time in seconds."""
        return self._now_s

    def advance(self, dt_s: float) -> float:
        """Move time forward by ``dt_s`` seconds (>= 0) and return the new time."""
        if not dt_s >= 0:  # also rejects NaN
            raise ValueError(f"time step must be >= 0 s, got {dt_s!r}")
        self._now_s += float(dt_s)
        return self._now_s

    def __repr__(self) -> str:
        return f"VirtualClock(now_s={self._now_s:.9g})"
