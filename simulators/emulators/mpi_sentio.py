"""MPI probe station running SENTIO: the native remote command set, on a simulated wafer.

Answers what SENTIO answers (one line per command, ``<code>,<command id>,<message>``, the
status flags above the 10 error-code bits; ``*RCS`` and ``*LOCAL`` unanswered), so the
vendor's own ``sentio-prober-control`` package drives it unchanged. Served:

* wafer map: ``map:create``, ``map:set_grid_params``, ``map:set_index_size``,
  ``map:get_diameter``, ``map:get_index_size``, ``map:get_grid_params``,
  ``map:get_num_cols/rows``, ``map:get_num_dies``, ``map:path:select_dies``,
  ``map:die:select/unselect``, ``map:path:get_die``;
* stepping: ``map:step_die``, ``map:step_first_die``, ``map:step_next_die``,
  ``map:step_previous_die``, ``map:die:get_current_index``, ``map:die:get_current_subsite``,
  ``map:subsite:add/get_num/reset`` (end of route as status flag 1, stepping past it: 11);
* chuck: ``move_chuck_contact``, ``move_chuck_separation``, ``get_chuck_z``,
  ``get_chuck_xy``; stepping in contact is refused (error 38, as SENTIO's
  "stepping with wrong z position"), and so is a die beyond the stage travel (8);
* status: ``status:get_version``, ``status:get_machine_status``, ``status:get_machine_id``.

Unknown commands answer error 3 (no command handler). Contact puts the current die's array
under the probes (:meth:`Bench.select_array` swaps what every other emulator sees);
separated, the instruments reach open probes (instrument noise only).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import replace

import numpy as np

from ftjlab.campaign.wafermap import WaferMap

from ..bench import Bench
from ..params import ArrayParams
from ..transport import NoReplyPending
from ..wafer import WaferVariation, die_params, die_seed

VERSION = "Version: 26.2.0 (ftjlab emulator)"
NO_ERROR, EXECUTION, NO_HANDLER, BAD_PARAM, N_PARAMS, OUT_OF_BOUNDS = 0, 2, 3, 6, 7, 8
END_OF_ROUTE_ERROR, INVALID_OPERATION, WRONG_Z = 11, 12, 38
CONTACT_UM, SEPARATION_GAP_UM = 10_000.0, 300.0
STEP_S, Z_MOVE_S = 0.3, 0.2  # virtual time of an xy step and of a z move


class _RefusedError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class SentioProbeStation:
    """Emulated MPI probe station with a round wafer of FTJ arrays on the chuck.

    :param bench: the shared simulated bench (its array is swapped per die).
    :param max_travel_um: stage travel, |x| and |y| of a die centre from the wafer centre.
    :param g_on_radial, traps_radial, coercive_radial, die_sigma: see
        :class:`~ftjlab.simulators.wafer.WaferVariation`.
    """

    def __init__(
        self,
        bench: Bench,
        max_travel_um: float = 100_000.0,
        g_on_radial: float = -0.3,
        traps_radial: float = 0.5,
        coercive_radial: float = 0.1,
        die_sigma: float = 0.03,
    ) -> None:
        self.bench = bench
        self.max_travel_um = float(max_travel_um)
        self.variation = WaferVariation(g_on_radial, traps_radial, coercive_radial, die_sigma)
        self._base = bench.array.params
        self._replies: deque[bytes] = deque()
        self.steps = 0  # xy moves done (tests count them)
        self.reset()

    # ------------------------------------------------------------------ protocol
    def reset(self) -> None:
        """Power-on: no map, chuck separated at the centre."""
        self._replies.clear()
        self.map: WaferMap | None = None
        self._selection = "n"
        self._extra: set[tuple[int, int]] = set()
        self._removed: set[tuple[int, int]] = set()
        self.die: tuple[int, int] | None = None
        self.subsite = 0
        self.subsites: list[tuple[str, float, float]] = [("0", 0.0, 0.0)]
        self.in_contact = False
        self.contacts = 0
        self._probes_on(None)

    def write(self, message: str) -> None:
        text = message.strip()
        if not text:
            return
        name, _, rest = text.partition(" ")
        name = name.lower()
        if name in ("*rcs", "*local"):
            return  # SENTIO does not answer these
        args = [a.strip() for a in rest.split(",")] if rest.strip() else []
        handler = getattr(
            self, "_cmd_" + name.replace(":", "__").replace("*", "star_").replace("?", "_q"), None
        )
        with self.bench.lock:
            try:
                if handler is None:
                    raise _RefusedError(NO_HANDLER, f"unknown command {name!r}")
                message_out, status = handler(args)
                code = NO_ERROR
            except _RefusedError as exc:
                code, status, message_out = exc.code, 0, str(exc)
            except (ValueError, IndexError) as exc:
                code, status, message_out = BAD_PARAM, 0, f"invalid parameter: {exc}"
        self._replies.append(f"{code | (status << 10)},0,{message_out}\n".encode())

    def read(self) -> bytes:
        if not self._replies:
            raise NoReplyPending("no reply pending")
        return self._replies.popleft()

    # ------------------------------------------------------------------ helpers
    def _need_map(self) -> WaferMap:
        if self.map is None:
            raise _RefusedError(INVALID_OPERATION, "no wafer map")
        return self.map

    def _route(self) -> list[tuple[int, int]]:
        wafer = self._need_map()
        dies = set(wafer.dies(self._selection)) | self._extra
        dies -= self._removed
        return [d for d in wafer.dies("a") if d in dies]

    def _check_travel(self, wafer: WaferMap) -> None:
        reach = max(wafer.columns * wafer.die_um[0], wafer.rows * wafer.die_um[1]) / 2
        if reach > self.max_travel_um:
            raise _RefusedError(
                OUT_OF_BOUNDS,
                f"map reaches {reach:g} um, stage travel is {self.max_travel_um:g} um",
            )

    def _go(self, die: tuple[int, int], subsite: int | None) -> tuple[str, int]:
        wafer = self._need_map()
        if self.in_contact:
            raise _RefusedError(WRONG_Z, "stepping with the chuck in contact")
        if wafer.category(*die) == "off":
            raise _RefusedError(OUT_OF_BOUNDS, f"die {die} is not on the wafer")
        x, y = wafer.centre_um(*die)
        if max(abs(x), abs(y)) > self.max_travel_um:
            raise _RefusedError(OUT_OF_BOUNDS, f"die {die} is beyond the stage travel")
        if subsite is not None:
            if not 0 <= subsite < len(self.subsites):
                raise _RefusedError(OUT_OF_BOUNDS, f"no subsite {subsite}")
            self.subsite = subsite
        self.die = die
        self.steps += 1
        self.bench.idle(STEP_S)
        col, row = die
        route = self._route()
        status = 1 if route and die == route[-1] else 0
        return f"{col},{row},{self.subsite}", status

    def _seq(self) -> int:
        route = self._route() if self.map is not None else []
        return route.index(self.die) if self.die in route else -1

    # ------------------------------------------------------------------ status
    def _cmd_status__get_version(self, args: list[str]) -> tuple[str, int]:
        return VERSION, 0

    def _cmd_status__get_machine_id(self, args: list[str]) -> tuple[str, int]:
        return "ftjlab-sim-prober", 0

    def _cmd_status__get_machine_status(self, args: list[str]) -> tuple[str, int]:
        return "Ready", 0

    def _cmd_star_idn_q(self, args: list[str]) -> tuple[str, int]:
        return "MPI Corporation,SENTIO emulator,ftjlab,26.2.0", 0

    # ------------------------------------------------------------------ wafer map
    def _cmd_map__create(self, args: list[str]) -> tuple[str, int]:
        _count(args, 1)
        diameter_mm = _positive(args[0])
        die = self.map.die_um if self.map is not None else (5000.0, 5000.0)
        wafer = WaferMap(diameter_mm * 1000.0, die)
        self._check_travel(wafer)
        self.map, self._selection, self.die = wafer, "n", None
        self._extra, self._removed = set(), set()
        return "OK", 0

    def _cmd_map__set_grid_params(self, args: list[str]) -> tuple[str, int]:
        _count(args, 5)
        wafer = self._need_map()
        ix, iy = _positive(args[0]), _positive(args[1])
        edge = float(args[4])
        if edge < 0 or not math.isfinite(edge):
            raise _RefusedError(OUT_OF_BOUNDS, "edge exclusion must be >= 0")
        new = WaferMap(wafer.diameter_um, (ix, iy), edge)
        self._check_travel(new)
        self.map, self.die = new, None
        return "OK", 0

    def _cmd_map__set_index_size(self, args: list[str]) -> tuple[str, int]:
        _count(args, 2)
        wafer = self._need_map()
        new = WaferMap(wafer.diameter_um, (_positive(args[0]), _positive(args[1])), wafer.edge_um)
        self._check_travel(new)
        self.map, self.die = new, None
        return "OK", 0

    def _cmd_map__get_diameter(self, args: list[str]) -> tuple[str, int]:
        return f"{self._need_map().diameter_um / 1000:g}", 0

    def _cmd_map__get_index_size(self, args: list[str]) -> tuple[str, int]:
        w = self._need_map()
        return f"{w.die_um[0]:g},{w.die_um[1]:g}", 0

    def _cmd_map__get_grid_params(self, args: list[str]) -> tuple[str, int]:
        w = self._need_map()
        return (
            f"{w.die_um[0]:g},{w.die_um[1]:g},{w.die_um[0] / 2:g},{w.die_um[1] / 2:g},{w.edge_um:g}"
        ), 0

    def _cmd_map__get_num_cols(self, args: list[str]) -> tuple[str, int]:
        return str(self._need_map().columns), 0

    def _cmd_map__get_num_rows(self, args: list[str]) -> tuple[str, int]:
        return str(self._need_map().rows), 0

    def _cmd_map__get_num_dies(self, args: list[str]) -> tuple[str, int]:
        _count(args, 1)
        wafer = self._need_map()
        what = args[0].lower()
        if what == "present":
            return str(len(wafer.dies("a"))), 0
        if what == "selected":
            return str(len(self._route())), 0
        if what == "total":
            return str(wafer.columns * wafer.rows), 0
        raise _RefusedError(BAD_PARAM, f"unknown die number selector {args[0]!r}")

    def _cmd_map__path__select_dies(self, args: list[str]) -> tuple[str, int]:
        _count(args, 1)
        self._need_map()
        if args[0].lower() not in ("a", "g", "u", "e", "n"):
            raise _RefusedError(BAD_PARAM, f"unknown selection {args[0]!r}")
        self._selection, self._extra, self._removed = args[0].lower(), set(), set()
        return "OK", 0

    def _select(self, args: list[str], on: bool) -> tuple[str, int]:
        _count(args, 2)
        die = (int(args[0]), int(args[1]))
        if self._need_map().category(*die) == "off":
            raise _RefusedError(OUT_OF_BOUNDS, f"die {die} is not on the wafer")
        (self._extra if on else self._removed).add(die)
        (self._removed if on else self._extra).discard(die)
        return "OK", 0

    def _cmd_map__die__select(self, args: list[str]) -> tuple[str, int]:
        return self._select(args, True)

    def _cmd_map__die__unselect(self, args: list[str]) -> tuple[str, int]:
        return self._select(args, False)

    def _cmd_map__path__get_die(self, args: list[str]) -> tuple[str, int]:
        _count(args, 1)
        route, seq = self._route(), int(args[0])
        if not 0 <= seq < len(route):
            raise _RefusedError(OUT_OF_BOUNDS, f"no die {seq} in the route ({len(route)} dies)")
        return f"{route[seq][0]},{route[seq][1]}", 0

    # ------------------------------------------------------------------ stepping
    def _cmd_map__step_die(self, args: list[str]) -> tuple[str, int]:
        if len(args) not in (2, 3):
            raise _RefusedError(N_PARAMS, "map:step_die takes col, row[, site]")
        return self._go((int(args[0]), int(args[1])), int(args[2]) if len(args) == 3 else 0)

    def _cmd_map__step_first_die(self, args: list[str]) -> tuple[str, int]:
        route = self._route()
        if not route:
            raise _RefusedError(END_OF_ROUTE_ERROR, "no die selected")
        return self._go(route[0], int(args[0]) if args else None)

    def _cmd_map__step_next_die(self, args: list[str]) -> tuple[str, int]:
        route, seq = self._route(), self._seq()
        if seq + 1 >= len(route):
            raise _RefusedError(END_OF_ROUTE_ERROR, "end of route")
        return self._go(route[seq + 1], int(args[0]) if args else None)

    def _cmd_map__step_previous_die(self, args: list[str]) -> tuple[str, int]:
        route, seq = self._route(), self._seq()
        if seq <= 0:
            raise _RefusedError(END_OF_ROUTE_ERROR, "start of route")
        return self._go(route[seq - 1], None)

    def _cmd_map__die__get_current_index(self, args: list[str]) -> tuple[str, int]:
        if self.die is None:
            raise _RefusedError(INVALID_OPERATION, "not on a die")
        return f"{self._seq()},{self.die[0]},{self.die[1]}", 0

    def _cmd_map__die__get_current_subsite(self, args: list[str]) -> tuple[str, int]:
        return str(self.subsite), 0

    def _cmd_map__subsite__add(self, args: list[str]) -> tuple[str, int]:
        if len(args) not in (3, 4):
            raise _RefusedError(N_PARAMS, "map:subsite:add takes id, x, y[, orient]")
        self.subsites.append((args[0], float(args[1]), float(args[2])))
        return str(len(self.subsites) - 1), 0

    def _cmd_map__subsite__get_num(self, args: list[str]) -> tuple[str, int]:
        return str(len(self.subsites)), 0

    def _cmd_map__subsite__reset(self, args: list[str]) -> tuple[str, int]:
        self.subsites, self.subsite = [("0", 0.0, 0.0)], 0
        return "OK", 0

    # ------------------------------------------------------------------ chuck
    def _probes_on(self, die: tuple[int, int] | None) -> None:
        """The array the other instruments reach: the die's in contact, else open probes
        (an array of ~1e-16 S cells without traps: instrument noise only)."""
        if die is None:
            self.bench.select_array("open probes", lambda: _open_probes(self._base), [0])
            return
        col, row = die
        rho = self._need_map().rho(col, row)
        seed = die_seed(self.bench.seed, col, row)
        self.bench.select_array(
            die, lambda: die_params(self._base, self.variation, rho, _generator(seed)), seed
        )

    def _cmd_move_chuck_contact(self, args: list[str]) -> tuple[str, int]:
        if self.die is None:
            raise _RefusedError(INVALID_OPERATION, "contact before stepping to a die")
        self._probes_on(self.die)
        self.in_contact = True
        self.contacts += 1
        self.bench.idle(Z_MOVE_S)  # z move
        return f"{CONTACT_UM:g}", 0

    def _cmd_move_chuck_separation(self, args: list[str]) -> tuple[str, int]:
        if self.in_contact:
            self.bench.idle(Z_MOVE_S)
        self.in_contact = False
        self._probes_on(None)
        return f"{CONTACT_UM - SEPARATION_GAP_UM:g}", 0

    def _cmd_get_chuck_z(self, args: list[str]) -> tuple[str, int]:
        return f"{CONTACT_UM if self.in_contact else CONTACT_UM - SEPARATION_GAP_UM:g}", 0

    def _cmd_get_chuck_xy(self, args: list[str]) -> tuple[str, int]:
        if self.map is None or self.die is None:
            return "0,0", 0
        x, y = self.map.centre_um(*self.die)
        return f"{x:g},{y:g}", 0


def _open_probes(base: ArrayParams) -> ArrayParams:
    return replace(
        base,
        conductance=replace(
            base.conductance,
            g_on_siemens=1e-15,
            g_off_siemens=1e-16,
            d2d_sigma_log=0.0,
            stuck_on_fraction=0.0,
            stuck_off_fraction=0.0,
        ),
        traps=replace(base.traps, traps_per_cell=0.0),
    )


def _generator(seed: list[int]) -> np.random.Generator:
    return np.random.default_rng([*seed, 1])


def _count(args: list[str], n: int) -> None:
    if len(args) != n:
        raise _RefusedError(N_PARAMS, f"expected {n} parameter(s), got {len(args)}")


def _positive(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise _RefusedError(OUT_OF_BOUNDS, f"{text!r} must be a positive number")
    return value
