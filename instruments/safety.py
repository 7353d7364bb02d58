"""Safety layer: bench limits, checked before any command leaves the process.

Three parts (DESIGN.md section 6):

* :class:`Limits` holds the bench's limits (max |V| per role, max compliance current, pulse
  width range), loaded strictly from a TOML-parsed dict with :meth:`Limits.from_dict`.
  ``limits.check_voltage("program", 2.5)`` returns the value or raises :class:`LimitViolation`
  naming the limit, the value and the role. Nothing is ever clipped.
* :class:`SafetyGuard` binds limits to one driver instance. Our drivers inherit
  :class:`GuardedInstrument`, whose ``write`` (and ``write_bytes``/``write_binary_values``)
  hands every outgoing message to the guard first, so properties, helper methods and raw
  ``write()`` calls are all checked in one place. The guard understands the instrument's
  command language (rules live next to each driver): it checks every level it finds, refuses
  what it cannot check (``MAX``/``DEF`` arguments, Lua expressions instead of literals, recalled
  setups, channel coupling...), and refuses to switch an output on before the level and the
  compliance of that output have been set through it. A refused message is not sent at all.
* :func:`shutdown_safely` turns every output off and then opens the switch matrices, carrying
  on past an instrument that fails, and logs every failure.

A driver without bound limits behaves like a plain pymeasure driver (instrument ranges are
still strict validators). Bind with ``Keithley2636B(address, limits=limits)`` or
``driver.bind_limits(limits, roles={"a": "read", "b": "sample"})``.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import re
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Protocol

from ftjlab.errors import BadInput

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

ROLES: tuple[str, ...] = ("read", "sample", "program")
"""Voltage roles: low-bias reads (VMM), RTN sampling, program/erase pulses."""


class SafetyError(BadInput):
    """Base class of the errors raised by the safety layer (a ``ValueError``)."""


class LimitViolation(SafetyError):  # noqa: N818 (name fixed by the design)
    """A value exceeds a bench limit. Nothing was sent to the instrument.

    :ivar limit: name of the limit (a :class:`Limits` field), e.g. ``"max_read_voltage_v"``.
    :ivar value: the offending value (SI units).
    :ivar limit_value: the limit's value.
    :ivar role: the voltage role checked, or None for non-voltage limits.
    """

    def __init__(
        self, message: str, *, limit: str, value: float, limit_value: float, role: str | None
    ) -> None:
        super().__init__(message)
        self.limit = limit
        self.value = value
        self.limit_value = limit_value
        self.role = role


class UncheckedCommandError(SafetyError):
    """A command the guard cannot verify against the limits; it was not sent."""


class LimitsConfigError(SafetyError):
    """Invalid limits configuration; the message names the field."""


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Limits:
    """Bench limits. All fields are required, finite and non-negative; units are in the names.

    ``min_pulse_width_s <= max_pulse_width_s``; ``max_compliance_current_a`` and
    ``max_pulse_width_s`` must be positive.
    """

    max_read_voltage_v: float
    max_sample_voltage_v: float
    max_program_voltage_v: float
    max_compliance_current_a: float
    min_pulse_width_s: float
    max_pulse_width_s: float

    _POSITIVE: ClassVar[tuple[str, ...]] = ("max_compliance_current_a", "max_pulse_width_s")
    #: what no supported instrument can do: a limit beyond it is a typo, not a limit
    _ABSURD: ClassVar[dict[str, tuple[float, float]]] = {
        "max_read_voltage_v": (0.0, 210.0),
        "max_sample_voltage_v": (0.0, 210.0),
        "max_program_voltage_v": (0.0, 210.0),
        "max_compliance_current_a": (0.0, 1.5),
        "min_pulse_width_s": (1e-9, 1e6),
        "max_pulse_width_s": (1e-9, 1e6),
    }

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not _is_real(value):
                raise LimitsConfigError(
                    f"limits.{item.name}: expected a number, got {type(value).__name__} {value!r}"
                )
            if not math.isfinite(value):
                raise LimitsConfigError(f"limits.{item.name}: must be finite, got {value!r}")
            if value < 0:
                raise LimitsConfigError(f"limits.{item.name}: must not be negative, got {value!r}")
            if item.name in self._POSITIVE and value == 0:
                raise LimitsConfigError(f"limits.{item.name}: must be positive, got {value!r}")
            low, high = self._ABSURD[item.name]
            if not low <= value <= high and not (value == 0 and low > 0 and "min" in item.name):
                raise LimitsConfigError(
                    f"limits.{item.name}: {value:g} is outside what any supported instrument "
                    f"can do ({low:g} to {high:g})"
                )
            object.__setattr__(self, item.name, float(value))
        if self.min_pulse_width_s > self.max_pulse_width_s:
            raise LimitsConfigError(
                f"limits.min_pulse_width_s ({self.min_pulse_width_s:g} s) is larger than "
                f"limits.max_pulse_width_s ({self.max_pulse_width_s:g} s)"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Limits:
        """Build limits from a TOML-parsed table; unknown or missing keys are errors."""
        if not isinstance(data, Mapping):
            raise LimitsConfigError(f"limits: expected a table, got {type(data).__name__}")
        names = [item.name for item in fields(cls)]
        unknown = sorted(str(key) for key in data if key not in names)
        if unknown:
            raise LimitsConfigError(
                f"limits.{unknown[0]}: unknown key (known: {', '.join(names)})"
            )
        missing = [name for name in names if name not in data]
        if missing:
            raise LimitsConfigError(f"limits.{missing[0]}: missing")
        return cls(**{name: data[name] for name in names})

    def to_dict(self) -> dict[str, float]:
        """The limits as a plain dict (for bench snapshots)."""
        return {item.name: getattr(self, item.name) for item in fields(self)}

    def max_voltage_v(self, role: str) -> float:
        """The max |V| of a role ("read", "sample" or "program")."""
        if role not in ROLES:
            raise ValueError(f"unknown voltage role {role!r} (known: {', '.join(ROLES)})")
        return float(getattr(self, f"max_{role}_voltage_v"))

    def check_voltage(self, role: str, volts: float) -> float:
        """Return ``volts`` if ``|volts|`` is within the role's limit, else raise."""
        limit = self.max_voltage_v(role)
        name = f"max_{role}_voltage_v"
        if not _is_real(volts) or not math.isfinite(volts):
            raise LimitViolation(
                f"{role} voltage {volts!r} is not a finite number (limit {name} = {limit:g} V)",
                limit=name, value=math.nan, limit_value=limit, role=role,
            )
        if abs(volts) > limit:
            raise LimitViolation(
                f"{role} voltage {volts:g} V exceeds the limit {name} = {limit:g} V",
                limit=name, value=float(volts), limit_value=limit, role=role,
            )
        return volts

    def check_compliance(self, amps: float) -> float:
        """Return ``amps`` if ``|amps|`` is within the max compliance current, else raise."""
        name, limit = "max_compliance_current_a", self.max_compliance_current_a
        if not _is_real(amps) or not math.isfinite(amps):
            raise LimitViolation(
                f"current {amps!r} is not a finite number (limit {name} = {limit:g} A)",
                limit=name, value=math.nan, limit_value=limit, role=None,
            )
        if abs(amps) > limit:
            raise LimitViolation(
                f"current {amps:g} A exceeds the limit {name} = {limit:g} A",
                limit=name, value=float(amps), limit_value=limit, role=None,
            )
        return amps

    def check_pulse_width(self, seconds: float) -> float:
        """Return ``seconds`` if it is within the pulse width range, else raise."""
        low, high = self.min_pulse_width_s, self.max_pulse_width_s
        if not _is_real(seconds) or not math.isfinite(seconds):
            raise LimitViolation(
                f"pulse width {seconds!r} is not a finite number",
                limit="min_pulse_width_s", value=math.nan, limit_value=low, role=None,
            )
        if seconds < low:
            raise LimitViolation(
                f"pulse width {seconds:g} s is below the limit min_pulse_width_s = {low:g} s",
                limit="min_pulse_width_s", value=float(seconds), limit_value=low, role=None,
            )
        if seconds > high:
            raise LimitViolation(
                f"pulse width {seconds:g} s exceeds the limit max_pulse_width_s = {high:g} s",
                limit="max_pulse_width_s", value=float(seconds), limit_value=high, role=None,
            )
        return seconds


# ------------------------------------------------------------------ registered scripts

ScriptArg = Any
"""A literal argument of a registered script call as the guard parsed it: ``float`` (Lua
number), ``str`` (Lua string), ``bool``, ``None`` (``nil``) or a ``tuple`` of these (a table
constructor ``{...}`` of literals)."""

ScriptCheck = Callable[
    ["SafetyGuard", tuple[ScriptArg, ...]], "Mapping[Hashable, Mapping[str, Any]] | None"
]


@dataclass(frozen=True)
class RegisteredScript:
    """A driver's on-instrument script: its exact upload text and the rule checking its calls.

    :ivar name: the Lua global the upload defines (the function a call names).
    :ivar source: the exact text of the one ``write()`` that uploads it (a one-line
        ``function name(...) ... end`` chunk, or a ``loadandrunscript``/``loadscript`` ...
        ``endscript`` block; every LF-terminated line is one TSP command on the instrument).
    :ivar sha256: hex digest of ``source`` (for logs and run attributes).
    :ivar check_args: ``check_args(guard, args)``: raise a :class:`SafetyError` (e.g. via
        ``guard.check_voltage(channel, volts)``, ``guard.limits.check_compliance(amps)``,
        ``guard.check_route(crosspoints)`` or ``raise guard.refuse(text, why)``) unless every
        argument is acceptable; return ``None`` or the shadow updates the script leaves behind,
        ``{channel: {"levelv": 0.2, "limiti": 1e-4, "func": "voltage", "output": True}}``
        (keys of the SMU shadow; a value ``None`` means "unknown after the call").
    :ivar model: the instrument model whose guard accepts it (e.g. ``"2636B"``).
    """

    name: str
    source: str
    sha256: str
    check_args: ScriptCheck
    model: str


_SCRIPTS: dict[tuple[str, str], RegisteredScript] = {}
_SCRIPT_SOURCES: dict[tuple[str, str], RegisteredScript] = {}
_LUA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def register_script(
    name: str, source: str, check_args: ScriptCheck, *, model: str = "2636B"
) -> RegisteredScript:
    """Register an on-instrument script of a driver, so its guard accepts it (and nothing else).

    The guard then accepts a message whose text is exactly ``source`` (the upload), and a
    statement ``name(arg, ...)`` whose arguments are all literals (numbers, strings,
    ``true``/``false``/``nil``, or ``{...}`` tables of those) and pass ``check_args``. A call
    with any other argument (a variable, an expression, a call) is refused, as is every other
    use of ``name``. Registering the same name again with the same source and rule is a no-op;
    with a different source or rule it is an error (a registered script cannot be replaced).

    :returns: the registration (``.sha256`` identifies the source).
    """
    if not isinstance(name, str) or _LUA_NAME.fullmatch(name) is None:
        raise ValueError(f"script name must be a Lua identifier, got {name!r}")
    if not isinstance(source, str) or not source.strip():
        raise ValueError(f"script {name!r}: empty source")
    if not callable(check_args):
        raise TypeError(f"script {name!r}: check_args must be callable")
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()
    entry = RegisteredScript(name, source, digest, check_args, model)
    old = _SCRIPTS.get((model, name))
    if old is not None:
        if old.source == source and old.check_args is check_args:
            return old
        raise ValueError(f"script {name!r} of the {model} is already registered differently")
    _SCRIPTS[(model, name)] = entry
    _SCRIPT_SOURCES[(model, source)] = entry
    return entry


def registered_script(model: str, name: str) -> RegisteredScript | None:
    """The script ``name`` registered for ``model``, or None."""
    return _SCRIPTS.get((model, name))


def script_for_source(model: str, source: str) -> RegisteredScript | None:
    """The registered script whose upload text is exactly ``source``, or None."""
    return _SCRIPT_SOURCES.get((model, source))


#: the instruments' own maxima (into a high-impedance load for the generators)
INSTRUMENT_MAXIMA: dict[str, dict[str, float]] = {
    "2636B": {"volts": 200.0, "amps": 1.5},
    "2450": {"volts": 210.0, "amps": 1.05},
    "81160A": {"volts": 10.0, "min_width_s": 1.5e-9, "max_width_s": 1e6},
    "33500B": {"volts": 10.0, "min_width_s": 16e-9, "max_width_s": 1e6},
}
_SMUS = ("2636B", "2450")
_PULSERS = ("81160A", "33500B")


def check_limits_for_models(limits: Mapping[str, Any], models: Mapping[str, str]) -> None:
    """Refuse bench limits beyond what the bench's own instruments can do.

    :param limits: the ``[limits]`` table.
    :param models: instrument name -> model.
    :raises LimitsConfigError: naming the field, the value and the instrument.
    """

    def fail(field_name: str, value: float, name: str, what: str, maximum: float) -> None:
        raise LimitsConfigError(
            f"limits.{field_name}: {value:g} is beyond what {name} ({models[name]}) can "
            f"{what} ({maximum:g})"
        )

    for name, model in models.items():
        spec = INSTRUMENT_MAXIMA.get(model)
        if spec is None:
            continue
        voltages = ("max_read_voltage_v", "max_sample_voltage_v", "max_program_voltage_v")
        for key in voltages if model in _SMUS else ("max_program_voltage_v",):
            value = limits.get(key)
            if _is_real(value) and value > spec["volts"]:
                fail(key, value, name, "source", spec["volts"])
        amps = limits.get("max_compliance_current_a")
        if model in _SMUS and _is_real(amps) and amps > spec["amps"]:
            fail("max_compliance_current_a", amps, name, "source", spec["amps"])
        if model in _PULSERS:  # (a min width below the model's is not a hazard: it clips up)
            high = limits.get("max_pulse_width_s")
            if _is_real(high) and high > spec["max_width_s"]:
                fail("max_pulse_width_s", high, name, "output as a width", spec["max_width_s"])


class GuardRules(Protocol):
    """How one instrument's command language is checked (implemented next to each driver)."""

    default_roles: Mapping[Hashable, str]

    def initial_state(self) -> dict[Hashable, Any]:
        """Shadow state of a freshly bound instrument (levels unknown)."""
        ...

    def check(self, guard: SafetyGuard, message: str, state: dict[Hashable, Any]) -> None:
        """Check one outgoing message, updating ``state``; raise a :class:`SafetyError`."""
        ...

    def applied_voltages(self, state: dict[Hashable, Any], channel: Hashable) -> list[float]:
        """Voltages known to be programmed on ``channel`` (checked again on a role change)."""
        ...


def _copy_state(state: dict[Hashable, Any]) -> dict[Hashable, Any]:
    """A copy of a shadow state: a dict of per-channel dicts of scalars (and frozensets)."""
    return {key: (dict(value) if isinstance(value, dict) else value)
            for key, value in state.items()}


class SafetyGuard:
    """Limits bound to one instrument: checks every message before it is sent.

    The guard keeps a shadow of what it let through (levels, compliance, pulse width), so it
    can refuse to switch an output on whose level or compliance it has not checked. Checking
    a message is all-or-nothing: the shadow only changes if the whole message passes.
    The limits, rules and routing cannot be replaced once bound.

    :param limits: the bench limits.
    :param rules: the instrument's command rules.
    :param roles: voltage role per channel id (defaults from the rules).
    """

    __slots__ = ("_limits", "_name", "_roles", "_routes", "_routing", "_rules", "_sealed",
                 "_state")

    def __init__(
        self,
        limits: Limits,
        rules: GuardRules,
        roles: Mapping[Hashable, str] | None = None,
    ) -> None:
        if not isinstance(limits, Limits):
            raise TypeError(f"limits must be a Limits instance, got {type(limits).__name__}")
        self._limits = limits
        self._rules = rules
        self._roles: dict[Hashable, str] = dict(rules.default_roles)
        self._state = rules.initial_state()
        self._routing: Any = None
        self._name: str | None = None
        self._routes: list[frozenset[str]] = []
        for channel, role in (roles or {}).items():
            self._validate(channel, role)
            self._roles[channel] = role
        self._sealed = True

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_sealed", False) and name in ("_limits", "_rules", "_routing",
                                                        "_name", "_sealed"):
            raise AttributeError(f"the guard's {name.lstrip('_')} cannot be replaced")
        object.__setattr__(self, name, value)

    @property
    def limits(self) -> Limits:
        """The bound limits (read only)."""
        return self._limits

    @property
    def channels(self) -> tuple[Hashable, ...]:
        """Channel ids of the instrument."""
        return tuple(self._roles)

    @property
    def routing(self) -> Any:
        """The bench's :class:`~ftjlab.instruments.routing.Routing`, or None (standalone)."""
        return self._routing

    @property
    def name(self) -> str | None:
        """The instrument's name on the bench (terminals are ``"<name>.<channel>"``)."""
        return self._name

    def attach_routing(self, routing: Any, name: str) -> None:
        """Join a bench's routing as instrument ``name`` (once; cannot be undone)."""
        if self._routing is not None:
            raise AttributeError("the guard already has its routing")
        object.__setattr__(self, "_routing", routing)
        object.__setattr__(self, "_name", name)
        for channel in self._roles:
            routing.register_channel(f"{name}.{channel}",
                                     lambda channel=channel: self._roles[channel])

    def _validate(self, channel: Hashable, role: str) -> None:
        if channel not in self._roles:
            raise ValueError(f"unknown channel {channel!r} (known: {list(self._roles)})")
        if role not in ROLES:
            raise ValueError(f"unknown voltage role {role!r} (known: {', '.join(ROLES)})")

    def role(self, channel: Hashable) -> str:
        """The voltage role of a channel."""
        try:
            return self._roles[channel]
        except KeyError:
            raise UncheckedCommandError(
                f"unknown channel {channel!r} (known: {list(self._roles)})"
            ) from None

    def set_role(self, channel: Hashable, role: str) -> None:
        """Change the voltage role of a channel.

        :raises LimitViolation: if a level already programmed on the channel exceeds the new
            role's limit (set the level first, then change the role).
        :raises UncheckedCommandError: if the channel's present routing forbids the role
            (e.g. a DC source routed to a bit line cannot take the program role).
        """
        self._validate(channel, role)
        for volts in self._rules.applied_voltages(self._state, channel):
            self._limits.check_voltage(role, volts)
        if self._routing is not None:
            from .routing import RoutingError

            try:
                self._routing.check_role(f"{self._name}.{channel}", role)
            except RoutingError as exc:
                raise UncheckedCommandError(
                    f"role {role!r} for channel {channel!r} refused: {exc}"
                ) from None
        self._roles[channel] = role

    @contextmanager
    def using_role(self, channel: Hashable, role: str) -> Iterator[None]:
        """Temporarily change a channel's role; the old role comes back on exit, checked like
        any role change (a level legal only in the temporary role raises there)."""
        previous = self.role(channel)
        self.set_role(channel, role)
        try:
            yield
        finally:
            self.set_role(channel, previous)

    def check_voltage(self, channel: Hashable, volts: float) -> None:
        """Check a voltage for a channel against its role's limit."""
        self._limits.check_voltage(self.role(channel), volts)

    def check_route(self, crosspoints: str, operation: str = "exclusiveclose") -> None:
        """Check a matrix operation a script will do; once the message passes, its
        crosspoints count as (maybe) closed for later checks such as role changes."""
        if self._routing is None:
            return
        from .routing import RoutingError

        try:
            result = self._routing.after(operation, crosspoints, self._routing.closed)
        except RoutingError as exc:
            raise UncheckedCommandError(f"routing {crosspoints!r}: {exc}") from None
        if result is not None:  # once the message passes, these may be closed
            self._routes.append(result)

    def refuse(self, command: str, reason: str) -> UncheckedCommandError:
        """Build the error for a command that cannot be checked (callers raise it)."""
        text = command if len(command) <= 120 else command[:117] + "..."
        return UncheckedCommandError(f"refused {text!r}: {reason}")

    def check(self, message: str) -> None:
        """Check an outgoing message; raise a :class:`SafetyError` if it must not be sent."""
        state = _copy_state(self._state)
        self._routes = []
        self._rules.check(self, message, state)
        commits = state.pop("_commit", ())
        self._state = state
        for commit in commits:
            commit()
        if self._routes and self._routing is not None:
            # a script's switching: what it may leave closed counts as closed (a superset)
            closed = self._routing.closed or frozenset()
            self._routing.closed = closed.union(*self._routes)
            self._routes = []

    def state(self) -> dict[Hashable, Any]:
        """A copy of the shadow state (for diagnostics and tests)."""
        return copy.deepcopy(self._state)


class _GuardedAdapter:
    """What a guarded driver's ``adapter`` attribute is: every write goes through the guard.

    The real adapter is kept out of reach of the public attributes; reads, timeouts, closing
    and reconnecting are passed on.
    """

    __slots__ = ("__adapter", "__guard")

    def __init__(self, adapter: Any, guard: SafetyGuard) -> None:
        object.__setattr__(self, "_GuardedAdapter__adapter", adapter)
        object.__setattr__(self, "_GuardedAdapter__guard", guard)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a guarded adapter cannot be changed")

    def write(self, command: str, **kwargs: Any) -> None:
        self.__guard.check(command)
        self.__adapter.write(command, **kwargs)

    def write_bytes(self, content: bytes, **kwargs: Any) -> None:
        self.__guard.check(bytes(content).decode("latin-1"))
        self.__adapter.write_bytes(content, **kwargs)

    def write_binary_values(self, command: str, values: Any, *args: Any, **kwargs: Any) -> None:
        self.__guard.check(command)
        self.__adapter.write_binary_values(command, values, *args, **kwargs)

    def read(self, *args: Any, **kwargs: Any) -> Any:
        return self.__adapter.read(*args, **kwargs)

    def read_bytes(self, *args: Any, **kwargs: Any) -> Any:
        return self.__adapter.read_bytes(*args, **kwargs)

    def read_binary_values(self, *args: Any, **kwargs: Any) -> Any:
        return self.__adapter.read_binary_values(*args, **kwargs)

    def flush_read_buffer(self) -> None:
        self.__adapter.flush_read_buffer()

    def close(self) -> None:
        self.__adapter.close()

    def reconnect(self) -> None:
        reconnect = getattr(self.__adapter, "reconnect", None)
        if reconnect is None:
            raise AttributeError("reconnect")
        reconnect()

    @property
    def connection(self) -> Any:
        return _ConnectionView(self.__adapter)

    @property
    def log(self) -> Any:
        return self.__adapter.log

    def __repr__(self) -> str:
        return f"<guarded {type(self.__adapter).__name__}>"


class _ConnectionView:
    """The parts of an adapter's connection drivers use: timeout, terminations, close."""

    __slots__ = ("__adapter",)

    def __init__(self, adapter: Any) -> None:
        object.__setattr__(self, "_ConnectionView__adapter", adapter)

    def __getattr__(self, name: str) -> Any:
        if name in ("timeout", "read_termination", "write_termination", "closed", "encoding"):
            return getattr(self.__adapter.connection, name)
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "timeout":
            self.__adapter.connection.timeout = value
            return
        raise AttributeError(f"{name} cannot be set through a guarded adapter")

    def close(self) -> None:
        self.__adapter.connection.close()


def raw_adapter(adapter: Any) -> Any:
    """The adapter behind a guarded one (for the transport helpers of this package only)."""
    if isinstance(adapter, _GuardedAdapter):
        return object.__getattribute__(adapter, "_GuardedAdapter__adapter")
    return adapter


class GuardedInstrument:
    """Mixin for our drivers: with limits bound, every outgoing message is checked first.

    Put it first in the bases (``class Driver(GuardedInstrument, ..., Instrument)``) and set
    ``guard_rules``. ``limits=`` and ``roles=`` keyword arguments of the constructor bind
    limits at construction. Once bound, the driver's ``adapter`` is a guarded view (its
    writes are checked too), and neither the guard nor the adapter can be replaced.
    """

    guard_rules: ClassVar[GuardRules | None] = None
    shutdown_order: ClassVar[int] = 0
    """:func:`shutdown_safely` shuts instruments down in increasing order (matrices last)."""

    _safety: SafetyGuard | None = None

    def __init__(
        self,
        *args: Any,
        limits: Limits | None = None,
        roles: Mapping[Hashable, str] | None = None,
        **kwargs: Any,
    ) -> None:
        guard = None
        if limits is not None:  # validate before the connection is opened
            guard = self._make_guard(limits, roles)
        elif roles is not None:
            raise ValueError("roles given without limits")
        super().__init__(*args, **kwargs)
        if guard is not None:
            self._install(guard)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("_safety", "adapter") and self.__dict__.get("_safety") is not None:
            raise AttributeError(f"{name} of a guarded instrument cannot be replaced")
        super().__setattr__(name, value)

    def _install(self, guard: SafetyGuard) -> None:
        adapter = self.__dict__.get("adapter")
        self.__dict__["adapter"] = _GuardedAdapter(adapter, guard)
        self.__dict__["_safety"] = guard

    @property
    def safety(self) -> SafetyGuard | None:
        """The bound :class:`SafetyGuard`, or None if no limits are bound."""
        return self._safety

    def bind_limits(
        self, limits: Limits, roles: Mapping[Hashable, str] | None = None
    ) -> SafetyGuard:
        """Bind bench limits: from now on every message is checked before it is sent.

        Limits bind once: a bound instrument refuses a second binding (open a new
        connection to start over).
        """
        if self._safety is not None:
            raise SafetyError(f"{getattr(self, 'name', type(self).__name__)} already has "
                              "bound limits; they cannot be replaced")
        guard = self._make_guard(limits, roles)
        self._install(guard)
        return guard

    @classmethod
    def _make_guard(
        cls, limits: Limits, roles: Mapping[Hashable, str] | None
    ) -> SafetyGuard:
        if cls.guard_rules is None:
            raise TypeError(f"{cls.__name__} has no outputs to guard")
        return SafetyGuard(limits, cls.guard_rules, roles)


def shutdown_safely(
    *instruments: Any, logger: logging.Logger | None = None
) -> list[tuple[Any, BaseException]]:
    """Turn every output off, then open the switch matrices; never stop at a failure.

    Each instrument's ``shutdown()`` is called once, in increasing ``shutdown_order`` (sources
    first, matrices last, so relays are not switched with a source on); ``None`` entries are
    skipped. Before the next group (the matrices) is switched, every instrument of the group
    before is asked to confirm that it has executed its commands (``wait_for_completion()``,
    where it has one): instruments have separate connections and input queues, so without
    this a matrix could open its relays before a source has switched off. An instrument whose
    connection was lost is reconnected once (``reconnect()``) and shut down again.

    An exception from one instrument is logged and the others are still shut down. A
    ``KeyboardInterrupt`` during shutdown is re-raised after all instruments were handled.

    :returns: the ``(instrument, exception)`` pairs that failed (empty if all succeeded).
    """
    logger = logger or log
    present = [instrument for instrument in instruments if instrument is not None]
    ordered = sorted(present, key=lambda instrument: getattr(instrument, "shutdown_order", 0))
    failures: list[tuple[Any, BaseException]] = []
    interrupted: KeyboardInterrupt | None = None
    group: list[Any] = []

    def attempt(instrument: Any, action: str, call: Any) -> bool:
        nonlocal interrupted
        name = getattr(instrument, "name", type(instrument).__name__)
        try:
            call()
            return True
        except KeyboardInterrupt as exc:
            logger.error("%s of %s interrupted; continuing with the others", action, name)
            failures.append((instrument, exc))
            interrupted = exc
        except Exception as exc:
            logger.error("%s of %s failed: %s: %s", action, name, type(exc).__name__, exc)
            failures.append((instrument, exc))
        return False

    def confirm(done: list[Any]) -> None:
        for instrument in done:
            wait = getattr(instrument, "wait_for_completion", None)
            if callable(wait):
                attempt(instrument, "shutdown confirmation", wait)

    for instrument in ordered:
        order = getattr(instrument, "shutdown_order", 0)
        if group and order > getattr(group[-1], "shutdown_order", 0):
            confirm(group)
            group = []
        if attempt(instrument, "shutdown", lambda instrument=instrument: _shut_down(instrument)):
            group.append(instrument)
    if interrupted is not None:
        raise interrupted
    return failures


def _shut_down(instrument: Any) -> None:
    """``instrument.shutdown()``; on a lost connection, reconnect once and try again."""
    try:
        instrument.shutdown()
    except Exception as exc:
        reconnect = getattr(instrument, "reconnect", None)
        if not (getattr(instrument, "connection_lost", False) and callable(reconnect)):
            raise
        name = getattr(instrument, "name", type(instrument).__name__)
        log.warning("%s: %s; reconnecting to shut it down", name, exc)
        reconnect()
        instrument.shutdown()
