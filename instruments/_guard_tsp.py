"""Guard rules of the TSP instruments: the 2636B SMU and the 707B matrix (default-deny).

A message is framed as the instrument frames it: every LF-terminated line is one chunk (a CR
before the LF dropped). A chunk is a common command (``*RST``, ``*IDN?``...) or statements
of the small language of :mod:`.lua_lexer`, each checked against a table of what the
instrument's attributes and functions do. A message whose whole text is the upload of a
script registered with :func:`~ftjlab.instruments.script_registry.register_script` is accepted as
such, and calls of that script are checked by its rule. Everything else is refused.

The line ``abort`` (the 2600B's command that stops a running script) passes.

Within a chunk, statements after a call that may fail at run time (which would abort the rest
of the chunk) are taken as "may or may not have run": only what holds either way stays known.

A registered script whose source uses ``tspnet`` sends commands to a pulse generator behind
that generator's guard: its call is accepted only as :mod:`._guard_tspnet` describes (every
generator of the bench guarded; their guards forget what the script may change).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Hashable
from typing import Any, ClassVar

from ._guard_tspnet import generators_changed
from ._guards import smu_after_reset, smu_func, smu_output_on, smu_set, smu_unknown, smu_voltages
from .limits import SafetyError
from .lua_lexer import Assign, Call, CallStmt, LuaRefusal, Path, Table, parse_chunk
from .routing import RoutingError
from .safety import SafetyGuard
from .script_registry import registered_script, script_for_source

_COMMON = re.compile(r"^\*([A-Za-z]+\??)\s*(.*)$")
_HARMLESS_COMMON = frozenset(
    {"IDN?", "CLS", "OPC?", "ESR?", "STB?", "OPC", "WAI", "TRG", "ESE", "SRE"}
)
#: instrument functions that only read, wait or report (no arguments checked beyond literals)
_QUERIES = frozenset(
    {
        "errorqueue.next",
        "channel.getclose",
        "tostring",
        "tonumber",
        "smu.measure.i",
        "smu.measure.v",
        "smu.measure.iv",
        "smu.measure.r",
        "smu.measure.p",
        "os.time",
    }
)
_HARMLESS_CALLS = frozenset(
    {
        "waitcomplete",
        "opc",
        "delay",
        "errorqueue.clear",
        "timer.reset",
        "smu.abort",
        "smu.nvbuffer1.clear",
        "smu.nvbuffer2.clear",
        "print",
        "printbuffer",
        "printnumber",
    }
)
_MEASURE_CALLS = frozenset(
    {
        "smu.measure.i",
        "smu.measure.v",
        "smu.measure.iv",
        "smu.measure.r",
        "smu.measure.p",
        "smu.measure.overlappedi",
        "smu.measure.overlappedv",
        "smu.measure.overlappediv",
        "smu.measure.overlappedr",
        "smu.measure.overlappedp",
    }
)
_BUFFERS = frozenset({"smu.nvbuffer1", "smu.nvbuffer2"})
_SWEEPS = {
    "listv": "voltage",
    "linearv": "voltage",
    "logv": "voltage",
    "listi": "current",
    "lineari": "current",
    "logi": "current",
}
_CONSTANTS = {
    "output": {"OUTPUT_OFF": 0, "OUTPUT_ON": 1, "OUTPUT_HIGH_Z": 2},
    "func": {"OUTPUT_DCAMPS": 0, "OUTPUT_DCVOLTS": 1},
}
#: harmless numeric settings (path with the channel as "smu")
_HARMLESS_SETTINGS = frozenset(
    {
        "smu.source.offmode",
        "smu.source.highc",
        "smu.source.sink",
        "smu.source.settling",
        "smu.source.delay",
        "smu.source.lowrangev",
        "smu.source.lowrangei",
        "smu.source.limitp",
        "smu.measure.nplc",
        "smu.measure.count",
        "smu.measure.interval",
        "smu.measure.rangei",
        "smu.measure.rangev",
        "smu.measure.autorangei",
        "smu.measure.autorangev",
        "smu.measure.autozero",
        "smu.measure.delay",
        "smu.measure.lowrangei",
        "smu.measure.lowrangev",
        "smu.measure.filter.count",
        "smu.measure.filter.enable",
        "smu.measure.filter.type",
        "smu.trigger.count",
        "smu.trigger.arm.count",
        "smu.trigger.source.action",
        "smu.trigger.measure.action",
        "smu.trigger.endpulse.action",
        "smu.trigger.endsweep.action",
        "format.data",
        "format.byteorder",
        "format.asciiprecision",
        *(
            f"smu.nvbuffer{n}.{attr}"
            for n in (1, 2)
            for attr in (
                "appendmode",
                "collecttimestamps",
                "collectsourcevalues",
                "fillmode",
                "timestampresolution",
                "cachemode",
            )
        ),
    }
)
#: values the instrument accepts for these (so a checked assignment really takes effect)
_ACCEPTED = {
    "limiti": (1e-9, 1.5),
    "limitv": (0.02, 200.0),
    "offlimiti": (1e-9, 1.5),
    "levelv": (-200.0, 200.0),
    "leveli": (-1.5, 1.5),
}
_SWITCHING = ("close", "open", "exclusiveclose")


@functools.lru_cache(maxsize=1024)
def _parse(line: str) -> tuple[Assign | CallStmt, ...]:
    """Parsed statements of a chunk (drivers send the same lines again and again; the
    statements are immutable, so a parse can be reused)."""
    return tuple(parse_chunk(line))


#: registered script source -> whether it uses ``tspnet`` (keyed by the text itself: a
#: source is looked up by its cached hash and, for the registry's own string, by identity)
_TSPNET: dict[str, bool] = {}


def _uses_tspnet(script: Any) -> bool:
    """Whether a registered script's source uses ``tspnet`` (searched once per source)."""
    source = script.source
    uses = _TSPNET.get(source)
    if uses is None:
        uses = _TSPNET[source] = "tspnet" in source
    return uses


def _either(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Shadow of a channel when statements may or may not have run: only what holds either
    way stays known (for checked levels, the larger magnitude)."""
    merged: dict[str, Any] = {}
    for key, was in old.items():
        now = new.get(key)
        if was == now:
            merged[key] = was
        elif (
            key in ("levelv", "leveli", "limitv", "limiti")
            and isinstance(was, float)
            and isinstance(now, float)
        ):
            merged[key] = max(was, now, key=abs)
        else:
            merged[key] = None
    return merged


def _generic(path: Path) -> tuple[str, Hashable | None]:
    """``smua.source.levelv`` -> (``"smu.source.levelv"``, ``"a"``); other paths unchanged."""
    return _generic_parts(path.parts)


@functools.lru_cache(maxsize=1024)
def _generic_parts(parts: tuple[str | int, ...]) -> tuple[str, Hashable | None]:
    # parts are the parser's names (str) and indices (int): equal keys are equal paths
    if parts and parts[0] in ("smua", "smub"):
        rest = ".".join(str(p) for p in parts[1:])
        return ("smu." + rest if rest else "smu"), str(parts[0])[-1]
    if len(parts) >= 2 and parts[0] == "node" and isinstance(parts[1], int):
        return "node." + ".".join(str(p) for p in parts[2:]), parts[1]
    return str(Path(parts)), None


def _constant(value: Any, attr: str) -> float | None:
    if isinstance(value, float):
        return value
    if isinstance(value, Path) and len(value.parts) == 2 and value.parts[0] in ("smua", "smub"):
        return _CONSTANTS.get(attr, {}).get(str(value.parts[1]))
    return None


class TSPRules:
    """Framing, common commands, registered scripts and the statement loop of TSP guards."""

    model: ClassVar[str] = ""
    default_roles: ClassVar[dict[Hashable, str]] = {}
    #: a reset of this instrument opens the matrix relays (the 707B itself; not a 2636B
    #: that switches a 707B over TSP-Link)
    resets_matrix: ClassVar[bool] = False

    def initial_state(self) -> dict[Hashable, Any]:
        return {"functions": frozenset()}

    def applied_voltages(self, state: dict[Hashable, Any], channel: Hashable) -> list[float]:
        return smu_voltages(state[channel])

    def check(self, guard: SafetyGuard, message: str, state: dict[Hashable, Any]) -> None:
        script = script_for_source(self.model, message)
        if script is not None:
            state["functions"] = state["functions"] | {script.name}
            return
        routing = guard.routing
        state["_closed"] = routing.closed if routing is not None else None
        state["_switched"] = False
        for line in message.split("\n"):
            self._line(guard, line.removesuffix("\r"), state)
        closed, switched = state.pop("_closed"), state.pop("_switched")
        if switched and routing is not None:
            state.setdefault("_commit", []).append(lambda: setattr(routing, "closed", closed))

    def _line(self, guard: SafetyGuard, line: str, state: dict[Hashable, Any]) -> None:
        stripped = line.strip(" \t")
        if not stripped:
            return
        if stripped == "abort":
            # the 2600B's abort: stops a script still running (after a reply timeout); it
            # changes no setting (outputs stay as they are), what the script did is accounted
            return
        if stripped.startswith("*") and all(" " <= c <= "~" for c in stripped):
            common = _COMMON.match(stripped)
            name = common.group(1).upper() if common else ""
            if name == "RST":
                self.reset(state, None)
                if self.resets_matrix:
                    self._all_open(guard, state)
                return
            if name in _HARMLESS_COMMON:
                return
            raise guard.refuse(line, f"common command {stripped[:12]!r} is not accepted")
        try:
            statements = _parse(line)
        except LuaRefusal as exc:
            raise guard.refuse(line, str(exc)) from None
        may_fail = False
        for statement in statements:
            # after a call that may fail, what this statement changes may or may not happen
            before = {ch: dict(state[ch]) for ch in self.default_roles} if may_fail else None
            fails = self._statement(guard, line, statement, state)
            if before is not None:
                for channel, old in before.items():
                    if state[channel] != old:
                        state[channel] = _either(old, state[channel])
            may_fail = may_fail or fails

    def _statement(self, guard: SafetyGuard, line: str, statement: Any, state: dict) -> bool:
        """Check one statement, update the state; True if it may fail at run time."""
        if isinstance(statement, Assign):
            self.assign(guard, line, statement, state)
            return False
        call = statement.call
        name = str(call.func)
        script = registered_script(self.model, name) if len(call.func.parts) == 1 else None
        if script is not None:
            if name not in state["functions"]:
                raise guard.refuse(line, f"{name}() was not uploaded with limits bound")
            args = tuple(self._literal(guard, line, arg) for arg in call.args)
            try:
                updates = script.check_args(guard, args)
            except SafetyError:
                raise
            except Exception as exc:  # a rule that cannot decide refuses
                raise guard.refuse(line, f"{name}(): {type(exc).__name__}: {exc}") from None
            for channel, values in (updates or {}).items():
                if channel not in state:
                    raise guard.refuse(line, f"{name}(): unknown channel {channel!r}")
                state[channel].update(values)
            if _uses_tspnet(script):
                generators_changed(guard, line, name, self.model, state)
            return True
        return self.call(guard, line, call, state)

    def _literal(self, guard: SafetyGuard, line: str, value: Any) -> Any:
        if isinstance(value, Table):
            return value.items
        if value is None or isinstance(value, (bool, float, str)):
            return value
        raise guard.refuse(line, f"script arguments must be literals, not {value}")

    def _args_are_reads(self, guard: SafetyGuard, line: str, args: tuple[Any, ...]) -> None:
        """print/printbuffer arguments: literals, attribute reads and query functions."""
        for arg in args:
            if isinstance(arg, Call):
                generic, _ = _generic(arg.func)
                if generic not in _QUERIES and not generic.endswith(".getclose"):
                    raise guard.refuse(line, f"{arg.func}() is not a query the guard accepts")
                for inner in arg.args:
                    if isinstance(inner, (Call, Table)):
                        raise guard.refuse(line, "nested calls in a query")
            elif isinstance(arg, Table):
                raise guard.refuse(line, "tables are not printed")

    def switch(
        self, guard: SafetyGuard, line: str, operation: str, args: tuple[Any, ...], state: dict
    ) -> None:
        """A matrix operation (``channel.close("...")`` on the 707B or over TSP-Link)."""
        if len(args) != 1 or not isinstance(args[0], str):
            raise guard.refuse(line, f"channel.{operation} takes one literal channel list")
        if guard.routing is None:
            return
        try:
            state["_closed"] = guard.routing.after(operation, args[0], state["_closed"])
        except RoutingError as exc:
            raise guard.refuse(line, str(exc)) from None
        state["_switched"] = True

    @staticmethod
    def _all_open(guard: SafetyGuard, state: dict) -> None:
        """A reset of the matrix opens every relay; while a script call may still be
        switching, its routes stay counted as closed (it may close them again)."""
        routing = guard.routing
        if routing is not None and routing.running:
            return
        state["_closed"], state["_switched"] = frozenset(), True

    # hooks
    def reset(self, state: dict, channel: Hashable | None) -> None:
        """Apply a reset (of one channel, or the whole instrument) to the state."""

    def assign(self, guard: SafetyGuard, line: str, statement: Assign, state: dict) -> None:
        raise guard.refuse(line, f"assignment to {statement.target} is not accepted")

    def call(self, guard: SafetyGuard, line: str, call: Call, state: dict) -> bool:
        generic, _ = _generic(call.func)
        if generic in ("print", "printnumber"):
            self._args_are_reads(guard, line, call.args)
            return False
        if generic in ("waitcomplete", "opc", "errorqueue.clear", "timer.reset", "delay"):
            if any(not isinstance(arg, float) for arg in call.args):
                raise guard.refuse(line, f"{call.func}() takes literal numbers only")
            return False
        if generic == "reset" and not call.args:
            self.reset(state, None)
            if self.resets_matrix:
                self._all_open(guard, state)
            return False
        raise guard.refuse(line, f"{call.func}() is not a function the guard accepts")


class TSPSourceRules(TSPRules):
    """Guard rules for the 2636B's TSP messages.

    Assignments to ``smuX.source.levelv/limitv`` (and ``trigger.source.limitv``) are checked
    against the channel role's max |V|, ``leveli/limiti/offlimiti`` (and
    ``trigger.source.limiti``) against the max compliance; only values the instrument accepts
    as sent pass (so a checked value really replaces the old one). A source-function change
    with the output on (or maybe on) needs the new function's level and limit checked (the
    default ``limitv`` is 20 V). Output on needs the function, level and limit checked.
    Sweeps (``listv``, ``linearv``...) must be literal and are checked, and
    ``trigger.initiate()`` needs a checked sweep and the compliance of its function.
    TSP-Link use of another node is switching only (``node[N].channel.close/open/
    exclusiveclose``), checked against the bench's routing. Measurement, buffer and format
    settings and calls pass; anything else is refused.
    """

    model = "2636B"
    default_roles: ClassVar[dict[Hashable, str]] = {"a": "read", "b": "read"}

    def initial_state(self) -> dict[Hashable, Any]:
        state = super().initial_state()
        for channel in self.default_roles:
            state[channel] = {**smu_unknown(), "sweep": None, "rangev": None, "rangei": None}
        return state

    def reset(self, state: dict, channel: Hashable | None) -> None:
        for ch in self.default_roles if channel is None else (channel,):
            state[ch] = {**smu_after_reset(), "sweep": None, "rangev": "auto", "rangei": "auto"}

    def assign(self, guard: SafetyGuard, line: str, statement: Assign, state: dict) -> None:
        generic, channel = _generic(statement.target)
        value = statement.value
        if generic in _HARMLESS_SETTINGS:
            if not isinstance(value, (float, Path)) or (
                isinstance(value, Path) and not _is_constant(value)
            ):
                raise guard.refuse(line, f"{statement.target} needs a literal or a constant")
            return
        if channel is None or not generic.startswith("smu."):
            raise guard.refuse(line, f"assignment to {statement.target} is not accepted")
        shadow = state[channel]
        attr = generic.rsplit(".", 1)[-1]
        number = _constant(value, attr)
        if number is None or not math.isfinite(number):
            raise guard.refuse(line, f"{statement.target} must be assigned a numeric literal")
        if generic in (
            "smu.source.levelv",
            "smu.source.leveli",
            "smu.source.limitv",
            "smu.source.limiti",
            "smu.source.offlimiti",
        ):
            low, high = _ACCEPTED[attr]
            level = attr.startswith("level")
            if not (abs(number) <= high if level else low <= number <= high):
                raise guard.refuse(
                    line,
                    f"{attr} = {number:g} is outside what the instrument "
                    "accepts (it would keep the old value)",
                )
            if attr == "offlimiti":
                guard.limits.check_compliance(number)
                return
            old = shadow[attr]
            smu_set(guard, channel, shadow, attr, number)
            fixed = shadow["range" + attr[-1]]
            if level and isinstance(fixed, float) and abs(number) > fixed:
                # a fixed source range below the level: the instrument may refuse it
                shadow[attr] = None if old is None else max(old, number, key=abs)
        elif generic in ("smu.trigger.source.limitv", "smu.trigger.source.limiti"):
            if attr == "limitv":
                guard.check_voltage(channel, number)
            else:
                guard.limits.check_compliance(number)
        elif generic == "smu.source.output":
            if number == 1:
                smu_output_on(guard, channel, shadow, line)
            elif number in (0, 2):
                shadow["output"] = False
            else:
                raise guard.refuse(line, f"unknown output state {number:g}")
        elif generic == "smu.source.func":
            if number not in (0, 1):
                raise guard.refuse(line, f"unknown source function {number:g}")
            smu_func(guard, channel, shadow, "voltage" if number == 1 else "current", line)
        elif generic in ("smu.source.rangev", "smu.source.rangei"):
            shadow["range" + attr[-1]] = abs(number)  # the range chosen holds the value
        elif generic in ("smu.source.autorangev", "smu.source.autorangei"):
            if number not in (0, 1):
                raise guard.refuse(line, f"{attr} must be 0 or 1")
            key = "range" + attr[-1]
            shadow[key] = (
                "auto" if number == 1 else (shadow[key] if shadow[key] != "auto" else None)
            )
        else:
            raise guard.refuse(line, f"assignment to {statement.target} is not accepted")

    def call(self, guard: SafetyGuard, line: str, call: Call, state: dict) -> bool:
        generic, channel = _generic(call.func)
        if generic == "printbuffer":
            if len(call.args) < 3 or not all(isinstance(a, float) for a in call.args[:2]):
                raise guard.refuse(line, "printbuffer(first, last, buffer...) with literals")
            for arg in call.args[2:]:
                if not isinstance(arg, Path) or _generic(arg)[0] not in (
                    f"{b}.{what}"
                    for b in _BUFFERS
                    for what in ("readings", "timestamps", "sourcevalues", "statuses")
                ):
                    raise guard.refuse(line, "printbuffer prints buffer fields only")
            return True
        if generic in ("smu.abort", "smu.nvbuffer1.clear", "smu.nvbuffer2.clear"):
            if call.args:
                raise guard.refuse(line, f"{call.func}() takes no arguments")
            if generic == "smu.abort":
                state[channel]["sweep"] = None
            return False
        if generic == "smu.reset" and not call.args:
            self.reset(state, channel)
            return False
        if generic in _MEASURE_CALLS:
            for arg in call.args:
                if not isinstance(arg, Path) or _generic(arg)[0] not in _BUFFERS:
                    raise guard.refuse(line, f"{call.func}() takes reading buffers only")
            return False
        if generic.startswith("smu.trigger.source.") and generic.rsplit(".", 1)[-1] in _SWEEPS:
            self._sweep(guard, line, call, channel, state)
            return False
        if generic == "smu.trigger.initiate" and not call.args:
            shadow = state[channel]
            func = shadow["sweep"]
            if func is None:
                raise guard.refuse(
                    line, "trigger model started before its sweep was set with limits bound"
                )
            limit = "limiti" if func == "voltage" else "limitv"
            if shadow[limit] is None:
                raise guard.refuse(line, f"a {func} sweep before {limit} was set")
            shadow["output"] = True  # taken as on: its sweep may source with the output
            shadow["func"] = None  # and in the sweep's function: unknown afterwards
            return True
        if generic.startswith("node.channel.") and generic.count(".") == 2:
            operation = generic.rsplit(".", 1)[-1]
            if operation in _SWITCHING:
                self.switch(guard, line, operation, call.args, state)
                return True
        if generic.startswith("node."):
            raise guard.refuse(
                line, "only switching (node[N].channel...) may run on a TSP-Link node"
            )
        return super().call(guard, line, call, state)

    def _sweep(
        self, guard: SafetyGuard, line: str, call: Call, channel: Hashable, state: dict
    ) -> None:
        function = str(call.func.parts[-1])
        if function.startswith("list"):
            if len(call.args) != 1 or not isinstance(call.args[0], Table):
                raise guard.refuse(line, "sweep lists must be literal tables of numbers")
            values = call.args[0].items
        else:
            count = 3 if function.startswith("linear") else 4
            if len(call.args) != count:
                raise guard.refuse(line, f"{function} takes {count} literal numbers")
            values = call.args[:2]
        if not values or not all(isinstance(v, float) and math.isfinite(v) for v in values):
            raise guard.refuse(line, "sweep values must be literal numbers")
        for value in values:
            if _SWEEPS[function] == "voltage":
                guard.check_voltage(channel, value)
            else:
                guard.limits.check_compliance(value)
        state[channel]["sweep"] = _SWEEPS[function]


def _is_constant(path: Path) -> bool:
    """``smua.AUTOZERO_OFF``, ``format.REAL32``, ``channel.BREAK_BEFORE_MAKE``..."""
    parts = path.parts
    return (
        len(parts) == 2
        and parts[0] in ("smua", "smub", "format", "channel")
        and isinstance(parts[1], str)
        and parts[1].isupper()
    )


class MatrixRules(TSPRules):
    """Guard rules for the 707B: switching is checked against the bench's routing
    (:class:`~ftjlab.instruments.routing.Routing`); ``channel.connectrule`` may be set to a
    constant; queries, waits and resets pass; anything else is refused."""

    model = "707B"
    default_roles: ClassVar[dict[Hashable, str]] = {}
    resets_matrix = True

    def assign(self, guard: SafetyGuard, line: str, statement: Assign, state: dict) -> None:
        target = str(statement.target)
        value = statement.value
        if target in ("channel.connectrule", "format.data", "format.asciiprecision") and (
            isinstance(value, float) or (isinstance(value, Path) and _is_constant(value))
        ):
            return
        raise guard.refuse(line, f"assignment to {target} is not accepted")

    def call(self, guard: SafetyGuard, line: str, call: Call, state: dict) -> bool:
        generic = str(call.func)
        if generic.startswith("channel.") and generic.count(".") == 1:
            operation = generic.split(".")[1]
            if operation in _SWITCHING:
                self.switch(guard, line, operation, call.args, state)
                return True
        return super().call(guard, line, call, state)
