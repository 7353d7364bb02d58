"""Time accounting of a bench session: messages and replies on every connection, instrument
time, wall time, and the real-bench time they project to.

Every message sent to an instrument and every reply read from one is counted at the adapter
(the transport: the pymeasure adapter under the driver and its safety guard), so nothing a
driver, a guard or a procedure does is missed. A *round trip* here is one message or one
reply: on GPIB every transfer pays the bus turnaround, on a LAN every message pays at least
one network latency. The projection of a real bench is

    instrument time + round trips x latency per round trip

(LAN 1 ms, GPIB 5 ms by default), where instrument time is the simulated bench's virtual
clock (what the instruments themselves take: apertures, relay settling, pulses) or, on a real
bench, the measured wall time minus nothing (it already contains the latency).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

#: per-round-trip latencies of the projection (seconds)
LATENCY_S = {"lan": 1e-3, "gpib": 5e-3}


@dataclass
class Traffic:
    """Messages sent and replies read on one connection."""

    messages: int = 0
    replies: int = 0

    @property
    def round_trips(self) -> int:
        return self.messages + self.replies


def count_traffic(adapter: Any, traffic: Traffic) -> None:
    """Count every write and read of ``adapter`` (a pymeasure adapter) into ``traffic``.

    Wraps the adapter's transport methods (``_write``, ``_write_bytes``, ``_read``,
    ``_read_bytes``) on this one adapter object; call it before the adapter is handed to a
    guarded driver.
    """
    for name, kind in (("_write", "messages"), ("_write_bytes", "messages"),
                       ("_read", "replies"), ("_read_bytes", "replies")):
        inner = getattr(adapter, name, None)
        if inner is None:
            continue

        def counted(*args: Any, _inner: Any = inner, _kind: str = kind, **kwargs: Any) -> Any:
            setattr(traffic, _kind, getattr(traffic, _kind) + 1)
            return _inner(*args, **kwargs)

        setattr(adapter, name, counted)


@dataclass
class Accounting:
    """Figures of one stretch of bench work (a run, a benchmark step)."""

    instrument_s: float
    wall_s: float
    messages: int
    replies: int
    simulated: bool
    per_instrument: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def round_trips(self) -> int:
        return self.messages + self.replies

    def projected_s(self, latency_s: float) -> float:
        """Real-bench time at ``latency_s`` per round trip (on a real bench the measured
        wall time already is that)."""
        if not self.simulated:
            return self.wall_s
        return self.instrument_s + self.round_trips * latency_s

    def attrs(self) -> dict[str, float | int]:
        """Flat run attributes (units in the names)."""
        return {
            "instrument_time_s": round(self.instrument_s, 6),
            "wall_time_s": round(self.wall_s, 6),
            "messages": self.messages,
            "replies": self.replies,
            "round_trips": self.round_trips,
            **{f"projected_{bus}_s": round(self.projected_s(lat), 6)
               for bus, lat in LATENCY_S.items()},
            "instrument_time_simulated": int(self.simulated),
        }

    def summary(self) -> str:
        """One line for the CLI."""
        kind = "simulated" if self.simulated else "measured"
        lan, gpib = (self.projected_s(LATENCY_S[b]) for b in ("lan", "gpib"))
        return (f"instrument time {_hms(self.instrument_s)} ({kind}), wall {_hms(self.wall_s)}, "
                f"{self.round_trips} round trips ({self.messages} messages, {self.replies} "
                f"replies); real bench: {_hms(lan)} on LAN (1 ms), {_hms(gpib)} on GPIB (5 ms)")


def _hms(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.3g} s"
    if seconds < 3600:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"


class Meter:
    """Measures a stretch of work on ``session``: ``with Meter(session) as m: ...``; then
    ``m.result`` (an :class:`Accounting`)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.result: Accounting | None = None

    def __enter__(self) -> Meter:
        s = self.session
        self._t0 = s.now_s()
        self._w0 = time.perf_counter()
        self._counts0 = {n: (t.messages, t.replies) for n, t in s.traffic.items()}
        return self

    def stop(self) -> Accounting:
        s = self.session
        wall = time.perf_counter() - self._w0
        simulated = s.virtual_clock
        instrument = (s.now_s() - self._t0) if simulated else wall
        per: dict[str, dict[str, int]] = {}
        for name, t in s.traffic.items():
            m0, r0 = self._counts0.get(name, (0, 0))
            per[name] = {"messages": t.messages - m0, "replies": t.replies - r0}
        self.result = Accounting(
            instrument, wall, sum(p["messages"] for p in per.values()),
            sum(p["replies"] for p in per.values()), simulated, per,
        )
        return self.result

    def __exit__(self, *exc: Any) -> None:
        self.stop()
