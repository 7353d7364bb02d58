"""MPI probe station under SENTIO, native remote command set over TCP/IP (or any VISA link).

Every command is one line; SENTIO answers every command except ``*RCS`` and ``*LOCAL`` with
one line ``<code>,<command id>,<message>``: the lower 10 bits of ``code`` are the error code
(0 = success), the bits above are status flags (1 = end of route, 2 = last subsite). This is
the format the vendor's ``sentio-prober-control`` package parses (``Response.parse_resp``).

.. code-block:: python

    prober = SentioProber("TCPIP0::127.0.0.1::35555::SOCKET", travel=ProberTravel(75_000))
    prober.create_round_map(150, die_um=(5000, 5000))   # 150 mm wafer, 5 mm dies
    prober.select_all_dies()
    prober.step_die(3, 4)          # separates first, then steps
    prober.contact()
    prober.current_die            # (sequence index, column, row)
    prober.separate()

Safety, checked before any command leaves the process (:class:`ProberRules`): the chuck is
never moved in x/y while the guard does not know it is separated (every step is preceded by
a separation in the driver, and the guard refuses a step that is not); a map whose extent
exceeds the bench's travel limit is refused, and so is a step to a die outside the map that
the guard saw being set up; any command the guard does not understand is refused.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from pymeasure.instruments import Instrument

from ._common import InstrumentError, TransportErrors, socket_defaults, tune_socket
from .limits import Limits, UncheckedCommandError
from .safety import GuardedInstrument, SafetyGuard

#: status flags above the 10 error-code bits
END_OF_ROUTE = 1
LAST_SUBSITE = 2
SENTIO_PORT = 35555


class ProberError(InstrumentError):
    """SENTIO answered a command with an error code.

    :ivar code: the SENTIO error code (e.g. 8 argument out of bounds, 11 end of route).
    """

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SentioReply:
    """One parsed SENTIO reply line."""

    code: int
    status: int
    command_id: int
    message: str

    @classmethod
    def parse(cls, line: str) -> SentioReply:
        """Parse ``"<code>,<id>,<message>"`` (InstrumentError if malformed)."""
        parts = line.strip().split(",", 2)
        try:
            raw, cmd_id = int(parts[0]), int(parts[1])
        except (ValueError, IndexError):
            raise InstrumentError(f"malformed SENTIO reply {line[:80]!r}") from None
        return cls(raw & 1023, raw >> 10, cmd_id, parts[2].strip() if len(parts) > 2 else "")

    @property
    def end_of_route(self) -> bool:
        return bool(self.status & END_OF_ROUTE)


@dataclass(frozen=True)
class ProberTravel:
    """Travel limits of the chuck: the largest |x| and |y| (micrometres from the wafer
    centre) a die centre may have. A map whose dies would lie beyond it is refused."""

    max_travel_um: float = 100_000.0

    def __post_init__(self) -> None:
        if not (
            isinstance(self.max_travel_um, int | float)
            and math.isfinite(self.max_travel_um)
            and self.max_travel_um > 0
        ):
            raise ValueError(f"max_travel_um must be a positive number, got {self.max_travel_um!r}")


# ----------------------------------------------------------------------------- guard rules


def split_command(message: str) -> tuple[str, list[str]]:
    """``"map:step_die 3, 4, 0"`` -> ``("map:step_die", ["3", "4", "0"])``."""
    text = message.strip()
    name, _, rest = text.partition(" ")
    args = [a.strip() for a in rest.split(",")] if rest.strip() else []
    return name.lower(), args


def _number(guard: SafetyGuard, message: str, text: str, integer: bool = False) -> float:
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise guard.refuse(
            message, f"argument {text!r} is not a plain {'integer' if integer else 'number'}"
        ) from None
    if not math.isfinite(value):
        raise guard.refuse(message, f"argument {text!r} is not finite")
    return value


#: queries and settings that never move anything
_READ_ONLY = frozenset(
    {
        "*rcs",
        "*idn?",
        "status:get_version",
        "status:get_machine_status",
        "status:get_machine_id",
        "map:get_diameter",
        "map:get_num_dies",
        "map:get_num_cols",
        "map:get_num_rows",
        "map:get_index_size",
        "map:get_grid_params",
        "map:die:get_current_index",
        "map:die:get_current_subsite",
        "map:path:get_die",
        "map:subsite:get_num",
        "get_chuck_z",
        "get_chuck_xy",
        "get_chuck_site_status",
        "map:die:get_status",
    }
)
#: map set-up commands (no motion; refused while in contact: they change which die is where)
_MAP_SETUP = frozenset(
    {
        "map:create",
        "map:create_rect",
        "map:set_grid_params",
        "map:set_index_size",
        "map:path:select_dies",
        "map:die:select",
        "map:die:unselect",
    }
)
_STEPS = frozenset(
    {"map:step_die", "map:step_first_die", "map:step_next_die", "map:step_previous_die"}
)


class ProberRules:
    """Default-deny guard of the SENTIO remote command set.

    Shadow state: ``z`` ("separated", "contact" or None = unknown), the map geometry the guard
    saw being set up (diameter, die size, columns and rows) and whether it fits the travel
    limit. A step needs ``z == "separated"`` and a map set up through the guard; a step to an
    explicit die needs it inside that map. ``move_chuck_separation`` is always allowed (it
    moves away from the wafer).
    """

    def __init__(self, travel: ProberTravel | None = None) -> None:
        self.default_roles: dict[Hashable, str] = {}
        self.travel = travel or ProberTravel()

    def initial_state(self) -> dict[Hashable, Any]:
        return {"z": None, "diameter_um": None, "die_um": None, "grid": None}

    def applied_voltages(self, state: dict[Hashable, Any], channel: Hashable) -> list[float]:
        return []

    def check(self, guard: SafetyGuard, message: str, state: dict[Hashable, Any]) -> None:
        if "\n" in message.strip() or ";" in message:
            raise guard.refuse(message, "one SENTIO command per message")
        name, args = split_command(message)
        if name in _READ_ONLY:
            return
        if name == "move_chuck_separation":
            if args:
                raise guard.refuse(message, "move_chuck_separation takes no arguments")
            state["z"] = "separated"
            return
        if name == "move_chuck_contact":
            if args:
                raise guard.refuse(message, "move_chuck_contact takes no arguments")
            if state["grid"] is None:
                raise guard.refuse(
                    message, "contact before a wafer map was set up through the guard"
                )
            state["z"] = "contact"
            return
        if name in _MAP_SETUP:
            if state["z"] != "separated":
                raise guard.refuse(
                    message,
                    "map set-up while the chuck is not known to be "
                    "separated (send move_chuck_separation first)",
                )
            self._map_setup(guard, message, name, args, state)
            return
        if name in _STEPS:
            if state["z"] != "separated":
                raise guard.refuse(
                    message,
                    "step while the chuck is not known to be separated (no move in contact)",
                )
            grid = state["grid"]
            if grid is None:
                raise guard.refuse(
                    message,
                    "step before a wafer map was set up through the "
                    "guard (its travel cannot be checked)",
                )
            if name == "map:step_die":
                if len(args) not in (2, 3):
                    raise guard.refuse(message, "map:step_die takes col, row[, site]")
                col, row = (int(_number(guard, message, a, integer=True)) for a in args[:2])
                if not (0 <= col < grid[0] and 0 <= row < grid[1]):
                    raise guard.refuse(
                        message,
                        f"die ({col}, {row}) is outside the wafer map "
                        f"({grid[0]} columns x {grid[1]} rows)",
                    )
            elif len(args) > 1:
                raise guard.refuse(message, f"{name} takes at most a subsite")
            for a in args[2:] if name == "map:step_die" else args:
                if _number(guard, message, a, integer=True) < 0:
                    raise guard.refuse(message, "subsite indices are >= 0")
            return
        raise guard.refuse(message, "not a SENTIO command the guard understands")

    def _map_setup(
        self,
        guard: SafetyGuard,
        message: str,
        name: str,
        args: list[str],
        state: dict[Hashable, Any],
    ) -> None:
        numbers = (
            [_number(guard, message, a) for a in args]
            if name not in ("map:path:select_dies",)
            else []
        )
        if name == "map:create":
            if len(numbers) != 1 or numbers[0] <= 0:
                raise guard.refuse(message, "map:create takes one positive diameter (mm)")
            state["diameter_um"] = numbers[0] * 1000.0
        elif name == "map:create_rect":
            raise guard.refuse(message, "rectangular maps are not supported by this bench")
        elif name == "map:set_grid_params":
            if len(numbers) != 5 or numbers[0] <= 0 or numbers[1] <= 0 or numbers[4] < 0:
                raise guard.refuse(
                    message, "map:set_grid_params takes ix, iy > 0, offx, offy, edge >= 0"
                )
            state["die_um"] = (numbers[0], numbers[1])
        elif name == "map:set_index_size":
            if len(numbers) != 2 or min(numbers) <= 0:
                raise guard.refuse(message, "map:set_index_size takes x, y > 0 (um)")
            state["die_um"] = (numbers[0], numbers[1])
        elif name == "map:path:select_dies":
            if len(args) != 1 or args[0].lower() not in ("a", "g", "u", "e", "n"):
                raise guard.refuse(message, "map:path:select_dies takes a, g, u, e or n")
        elif name in ("map:die:select", "map:die:unselect") and (
            len(numbers) != 2 or any(n != int(n) for n in numbers)
        ):
            raise guard.refuse(message, f"{name} takes an integer column and row")
        if state["diameter_um"] is not None and state["die_um"] is not None:
            grid = map_grid(state["diameter_um"], state["die_um"])
            reach = max(grid[0] * state["die_um"][0], grid[1] * state["die_um"][1]) / 2
            if reach > self.travel.max_travel_um:
                raise guard.refuse(
                    message,
                    f"the wafer map reaches {reach:g} um from the "
                    f"centre, beyond max_travel_um = "
                    f"{self.travel.max_travel_um:g}",
                )
            state["grid"] = grid


def map_grid(diameter_um: float, die_um: tuple[float, float]) -> tuple[int, int]:
    """Columns and rows of the die grid that covers a round wafer (the wafer centred on it)."""
    return (max(1, math.ceil(diameter_um / die_um[0])), max(1, math.ceil(diameter_um / die_um[1])))


# ----------------------------------------------------------------------------- the driver


def _die_index(values: list[str]) -> tuple[int, int, int]:
    return int(values[0]), int(values[1]), int(values[2])


class SentioProber(GuardedInstrument, TransportErrors, Instrument):
    """An MPI probe station running SENTIO (native remote command set).

    :param travel: the chuck's travel limits (checked by the guard with ``limits`` bound).
    """

    shutdown_order = 5  # after the sources are off, before the matrix opens
    guard_rules = ProberRules()

    def __init__(
        self,
        adapter: Any,
        name: str = "MPI SENTIO probe station",
        travel: ProberTravel | None = None,
        **kwargs: Any,
    ) -> None:
        self._travel = travel or ProberTravel()
        self.end_of_route = False
        super().__init__(adapter, name, includeSCPI=False, **socket_defaults(adapter, kwargs))
        tune_socket(self.adapter)
        self.write("*RCS 1")  # native SENTIO command set; SENTIO does not answer it

    @property
    def travel(self) -> ProberTravel:
        """The chuck's travel limits."""
        return self._travel

    def _make_guard(self, limits: Limits, roles: Any) -> SafetyGuard:  # type: ignore[override]
        return SafetyGuard(limits, ProberRules(self._travel), roles)

    # -- replies ---------------------------------------------------------------------
    def command(self, command: str) -> SentioReply:
        """Send one command and return its reply; :class:`ProberError` on an error code."""
        self.write(command)
        reply = SentioReply.parse(self.read())
        self.end_of_route = reply.end_of_route
        if reply.code:
            raise ProberError(
                f"SENTIO refused {command!r}: error {reply.code}: {reply.message}", reply.code
            )
        return reply

    def values(
        self,
        command: str,
        separator: str = ",",
        cast: Any = float,
        preprocess_reply: Any = None,
        maxsplit: int = -1,
        **kwargs: Any,
    ) -> list[Any]:
        """The message of ``command``'s reply split at ``separator`` and cast (the error
        code is checked first); used by the declarative properties."""
        message = self.command(command).message
        return [cast(v.strip()) for v in message.split(separator, maxsplit)] if message else []

    def check_set_errors(self) -> list:
        """Read the reply of a setting and raise on an error code."""
        reply = SentioReply.parse(self.read())
        if reply.code:
            raise ProberError(f"SENTIO error {reply.code}: {reply.message}", reply.code)
        return []

    @property
    def id(self) -> str:
        """``MPI SENTIO,<machine id>,<version>`` (SENTIO has no ``*IDN?`` in its native set)."""
        return f"MPI SENTIO,{self.machine_id},{self.version}"

    # -- declarative part ------------------------------------------------------------
    version = Instrument.measurement(
        "status:get_version",
        """Get SENTIO's version text (str).""",
        cast=str,
        get_process_list=lambda v: ",".join(v),
    )
    machine_id = Instrument.measurement(
        "status:get_machine_id", """Get the machine id (str).""", cast=str
    )
    diameter_mm = Instrument.measurement(
        "map:get_diameter", """Get the wafer map diameter in millimetres (float)."""
    )
    index_size_um = Instrument.measurement(
        "map:get_index_size", """Get the die size (x, y) in micrometres.""", get_process_list=tuple
    )
    map_columns = Instrument.measurement(
        "map:get_num_cols",
        """Get the number of columns of the wafer map (int).""",
        cast=int,
    )
    map_rows = Instrument.measurement(
        "map:get_num_rows",
        """Get the number of rows of the wafer map (int).""",
        cast=int,
    )
    selected_dies = Instrument.measurement(
        "map:get_num_dies Selected",
        """Get the number of dies selected for test (int).""",
        cast=int,
    )
    present_dies = Instrument.measurement(
        "map:get_num_dies Present",
        """Get the number of dies on the wafer (int).""",
        cast=int,
    )
    current_die = Instrument.measurement(
        "map:die:get_current_index",
        """Get the current die as (route index, column, row).""",
        cast=int,
        get_process_list=_die_index,
    )
    current_subsite = Instrument.measurement(
        "map:die:get_current_subsite",
        """Get the current subsite index (int).""",
        cast=int,
    )
    chuck_z_um = Instrument.measurement(
        "get_chuck_z Z", """Get the chuck height above its zero in micrometres (float)."""
    )

    # -- map set-up --------------------------------------------------------------------
    def create_round_map(
        self, diameter_mm: float, die_um: tuple[float, float], edge_um: float = 0.0
    ) -> None:
        """A round wafer map of ``diameter_mm`` with dies of ``die_um`` (x, y); separates
        first. The guard refuses a map that reaches beyond the travel limit."""
        self.separate()
        self.command(f"map:create {diameter_mm:g}")
        ix, iy = die_um
        self.command(f"map:set_grid_params {ix:g}, {iy:g}, {ix / 2:g}, {iy / 2:g}, {edge_um:g}")

    def select_all_dies(self) -> None:
        """Select every die on the wafer for test (the route)."""
        self.command("map:path:select_dies a")

    def die_at(self, sequence: int) -> tuple[int, int]:
        """Column and row of the die at ``sequence`` in the route."""
        values = self.values(f"map:path:get_die {int(sequence)}", cast=int)
        return values[0], values[1]

    # -- motion (the guard refuses a step unless separated) ---------------------------
    def separate(self) -> float:
        """Move the chuck to separation height; returns the height (um)."""
        return float(self.command("move_chuck_separation").message)

    def contact(self) -> float:
        """Move the chuck to contact height; returns the height (um)."""
        return float(self.command("move_chuck_contact").message)

    def step_die(self, column: int, row: int, subsite: int = 0) -> tuple[int, int, int]:
        """Separate, then step to die (column, row) and ``subsite``; returns where it is."""
        self.separate()
        values = self.values(f"map:step_die {int(column)}, {int(row)}, {int(subsite)}", cast=int)
        return values[0], values[1], values[2]

    def step_first_die(self) -> tuple[int, int, int]:
        """Separate, then step to the first die of the route."""
        self.separate()
        values = self.values("map:step_first_die", cast=int)
        return values[0], values[1], values[2]

    def step_next_die(self) -> tuple[int, int, int]:
        """Separate, then step to the next die of the route (ProberError 11 past the end)."""
        self.separate()
        values = self.values("map:step_next_die", cast=int)
        return values[0], values[1], values[2]

    @property
    def in_contact(self) -> bool | None:
        """What the guard knows: True in contact, False separated, None unknown/unguarded."""
        guard = self.safety
        z = guard.state()["z"] if guard is not None else None
        return None if z is None else z == "contact"

    def shutdown(self) -> None:
        """Separate the probe (the chuck moves away from the wafer)."""
        self.separate()
        super().shutdown()


__all__ = [
    "END_OF_ROUTE",
    "ProberError",
    "ProberRules",
    "ProberTravel",
    "SentioProber",
    "SentioReply",
    "UncheckedCommandError",
    "map_grid",
]
