"""``tspnet`` of a TSP instrument: its own LAN client to other instruments (2600B reference,
TSP-Net), as the emulator sees the bench: addresses resolve to the bench's emulators
(``bench.lan``: instrument names, and ``"host:port"`` of a sim-server's sockets).

``tspnet.connect(host[, port[, init]])`` returns a connection id; ``tspnet.write(id, text)``
sends one message, ``tspnet.read(id)`` returns the next reply (without its terminator),
``tspnet.execute(id, text)`` sends one message, ``tspnet.disconnect(id)`` closes. Every
write and every read costs :data:`LAN_EXCHANGE_S` of virtual time (a LAN hop from the SMU).
"""

from __future__ import annotations

from typing import Any

from ..tsp_objects import TSPObject, runtime_error

#: virtual time of one message or reply between two instruments on the LAN
LAN_EXCHANGE_S = 5e-4


class TSPNet(TSPObject):
    """``tspnet`` on one emulator; ``bench.lan`` lists what it can reach."""

    def __init__(self, bench: Any) -> None:
        self._bench = bench
        self._open: dict[int, Any] = {}
        self._next = 1
        self.timeout = 20.0

    def _target(self, cid: Any) -> Any:
        target = self._open.get(int(cid)) if isinstance(cid, (int, float)) else None
        if target is None:
            raise runtime_error(f"tspnet: no connection {cid!r}")
        return target

    def connect(self, host: Any, port: Any = 5025, init: Any = None) -> int:
        lan = getattr(self._bench, "lan", {})
        target = lan.get(f"{host}:{int(port)}") or lan.get(str(host))
        if target is None:
            raise runtime_error(f"tspnet.connect: no instrument at {host}:{port}")
        cid = self._next
        self._next += 1
        self._open[cid] = target
        self._bench.idle(LAN_EXCHANGE_S)
        return cid

    def write(self, cid: Any, text: Any) -> None:
        target = self._target(cid)
        self._bench.idle(LAN_EXCHANGE_S)
        target.write(str(text).rstrip("\r\n"))

    def execute(self, cid: Any, text: Any) -> None:
        self.write(cid, text)

    def read(self, cid: Any) -> str:
        target = self._target(cid)
        self._bench.idle(LAN_EXCHANGE_S)
        from ..transport import next_reply  # transport imports pymeasure: import late

        reply = next_reply(target)  # only "no reply pending" is caught; emulator bugs surface
        if reply is None:
            raise runtime_error("tspnet.read: no reply pending")
        return reply.decode("latin-1").rstrip("\r\n")

    def readavailable(self, cid: Any) -> int:
        return int(getattr(self._target(cid), "pending_replies", 0))

    def disconnect(self, cid: Any) -> None:
        self._open.pop(int(cid), None)

    def reset(self) -> None:
        self._open.clear()
