"""Keithley 707B switching matrix (TSP); no pymeasure or QCoDeS driver exists.

Commands follow the 707B/708B Reference Manual (707B-901-01): ``channel.close``,
``channel.open``, ``channel.exclusiveclose``, ``channel.getclose``, ``channel.connectrule``.
Every channel list is validated by :mod:`.channel_specifiers` before anything is sent, and
sent in canonical form (ranges expanded, sorted), so what the driver validated is exactly what
the instrument switches.

.. code-block:: python

    matrix = Keithley707B("TCPIP0::127.0.0.1::5026::SOCKET")
    matrix.connect_rule = "BREAK_BEFORE_MAKE"
    matrix.exclusive_close("1A01:1A05, 1C03")   # returns once the relays have switched
    matrix.closed()              # ['1A01', '1A02', '1A03', '1A04', '1A05', '1C03']
    matrix.open("allslots")
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymeasure.instruments import Instrument
from pymeasure.instruments.validators import strict_discrete_set

from ._common import InstrumentError, TransportErrors, socket_defaults, tune_socket
from ._guard_tsp import MatrixRules
from ._tsp import TSPMixin
from .channel_specifiers import (
    DEFAULT_GEOMETRY,
    ChannelList,
    MatrixGeometry,
    parse_channel_list,
    parse_closed_reply,
)
from .safety import GuardedInstrument

_RULES = {0: "OFF", 1: "BREAK_BEFORE_MAKE", 2: "MAKE_BEFORE_BREAK"}


def _rule_name(value: Any) -> str:
    try:
        return _RULES[int(float(value))]
    except (KeyError, ValueError):
        raise InstrumentError(f"unknown connect rule {value!r}") from None


class Keithley707B(GuardedInstrument, TransportErrors, TSPMixin, Instrument):
    """Keithley 707B switching matrix with up to six 8x12 matrix cards.

    :param geometry: which slots, rows and columns exist (default: six 8x12 cards).
    """

    shutdown_order = 10  # after the sources: never switch relays with an output on

    def __init__(
        self,
        adapter: Any,
        name: str = "Keithley 707B Switching Matrix",
        geometry: MatrixGeometry = DEFAULT_GEOMETRY,
        **kwargs: Any,
    ):
        super().__init__(adapter, name, includeSCPI=False, **socket_defaults(adapter, kwargs))
        tune_socket(self.adapter)
        self.geometry = geometry

    connect_rule = Instrument.control(
        "print(channel.connectrule)", "channel.connectrule = channel.%s",
        """Control the order of relay operations: 'BREAK_BEFORE_MAKE' (1, default and safest),
        'MAKE_BEFORE_BREAK' (2, hot switching) or 'OFF' (0, fastest, no order) (str).""",
        validator=strict_discrete_set, values=tuple(_RULES.values()), get_process=_rule_name,
    )

    def validate(self, specifiers: str | Iterable[str], *, allow_slots: bool = True) -> ChannelList:
        """Validate a channel list (a string or an iterable of items) without sending anything.

        :raises ValueError: naming the first invalid item.
        """
        text = specifiers if isinstance(specifiers, str) else ",".join(specifiers)
        return parse_channel_list(text, self.geometry, allow_slots=allow_slots)

    def close(self, specifiers: str | Iterable[str], wait: bool = True) -> None:
        """Close the crosspoints in ``specifiers`` (others keep their state).

        :param wait: return only once the relays have switched (see :meth:`_switched`).
        """
        channels = self.validate(specifiers)
        self.write(f'channel.close("{channels}")')
        self._switched(wait)

    def open(self, specifiers: str | Iterable[str], wait: bool = True) -> None:
        """Open the crosspoints in ``specifiers``; ``"allslots"`` opens every relay."""
        channels = self.validate(specifiers)
        self.write(f'channel.open("{channels}")')
        self._switched(wait)

    def exclusive_close(self, specifiers: str | Iterable[str], wait: bool = True) -> None:
        """Close exactly ``specifiers`` and open every other crosspoint.

        ``slotN`` and ``allslots`` are refused, as by the instrument.
        """
        channels = self.validate(specifiers, allow_slots=False)
        command = f'channel.exclusiveclose("{channels}")'
        if wait:  # the switch and its completion in one message: one round trip, not two
            self._ask_done(f"{command} waitcomplete() print(1)")
        else:
            self.write(command)

    def _ask_done(self, command: str) -> None:
        reply = self.ask(command).strip()
        if reply not in ("1", "1.00000e+00"):
            raise InstrumentError(f"unexpected reply {reply!r} to {command!r}")

    def open_all(self, wait: bool = True) -> None:
        """Open every relay of every slot."""
        self.write('channel.open("allslots")')
        self._switched(wait)

    def _switched(self, wait: bool) -> None:
        """Wait until the relays have switched and settled (``waitcomplete() print(1)``).

        Each instrument has its own connection and input queue: without this, a reading
        on another instrument could be taken before this matrix has executed the command.
        """
        if wait:
            self.wait_for_completion()

    def closed(self, specifiers: str = "allslots") -> list[str]:
        """Get the closed crosspoints, e.g. ``["1A01", "1B02"]`` (empty if none)."""
        channels = self.validate(specifiers)
        reply = self.ask(f'print(channel.getclose("{channels}"))')
        try:
            return parse_closed_reply(reply, self.geometry)
        except ValueError as exc:
            raise InstrumentError(f"malformed getclose reply {reply!r}") from exc

    def shutdown(self) -> None:
        """Open every relay and wait until they have opened."""
        self.open_all()
        super().shutdown()


Keithley707B.guard_rules = MatrixRules()
