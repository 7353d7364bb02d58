"""Safety layer: bench limits, checked before any command leaves the process.

Three parts (DESIGN.md section 6):

* :class:`~ftjlab.instruments.limits.Limits` (module :mod:`ftjlab.instruments.limits`) holds
  the bench's limits (max |V| per role, max compliance current, pulse width range), loaded
  strictly from a TOML-parsed dict. ``limits.check_voltage("program", 2.5)`` returns the value
  or raises :class:`LimitViolation` naming the limit, the value and the role. Nothing is ever
  clipped.
* :class:`SafetyGuard` binds limits to one driver instance. Our drivers inherit
  :class:`GuardedInstrument`, whose ``write`` (and ``write_bytes``/``write_binary_values``)
  hands every outgoing message to the guard first, so properties, helper methods and raw
  ``write()`` calls are all checked in one place. The guard understands the instrument's
  command language (rules live next to each driver): it checks every level it finds, refuses
  what it cannot check (``MAX``/``DEF`` arguments, Lua expressions instead of literals, recalled
  setups, channel coupling...), and refuses to switch an output on before the level and the
  compliance of that output have been set through it. A refused message is not sent at all.
  Guards are per instrument; the bench's :class:`~ftjlab.instruments.routing.Routing` links
  them: an SMU script that sets a pulse generator over TSP-Net makes the generator's guard
  :meth:`~SafetyGuard.hold` what it may change (forgotten, and not to be set again through the
  guard) until the script is seen to end (:mod:`ftjlab.instruments._guard_tspnet`); the guard
  then plans how to make what it forgot known again (:meth:`~SafetyGuard.restate`).
* :func:`~ftjlab.instruments.shutdown.shutdown_safely` aborts scripts still running on the TSP
  instruments, turns every output off and then opens the switch matrices, carrying on past an
  instrument that fails, and logs every failure.

A driver without bound limits behaves like a plain pymeasure driver (instrument ranges are
still strict validators). Bind with ``Keithley2636B(address, limits=limits)`` or
``driver.bind_limits(limits, roles={"a": "read", "b": "sample"})``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar, Protocol

# Limits, the errors and shutdown_safely live in their own modules; re-exported here because
# code outside the instruments folder imports them from ftjlab.instruments.safety.
from .limits import (
    ROLES,
    KnownStateNeededError,
    Limits,
    LimitsConfigError,
    LimitViolation,
    SafetyError,
    UncheckedCommandError,
    check_limits_for_models,
)
from .routing import RoutingError
from .shutdown import shutdown_safely

__all__ = [
    "ROLES",
    "GuardRules",
    "GuardedInstrument",
    "KnownStateNeededError",
    "LimitViolation",
    "Limits",
    "LimitsConfigError",
    "SafetyError",
    "SafetyGuard",
    "UncheckedCommandError",
    "check_limits_for_models",
    "raw_adapter",
    "shutdown_safely",
]


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

    __slots__ = ("_held", "_limits", "_name", "_roles", "_routes", "_routing", "_rules",
                 "_sealed", "_state")

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
        #: holder -> ({channel: shadow keys} it may still be changing, what ends it)
        self._held: dict[str, tuple[dict[Hashable, frozenset[str]], str]] = {}
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
    def rules(self) -> GuardRules:
        """The instrument's command rules (read only)."""
        return self._rules

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
        routing.register_guard(name, self)
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
        routes: list[frozenset[str]] = []
        self._routes = routes  # check_route appends to it
        if self._held:
            try:
                self._rules.check(self, message, state)
            except UncheckedCommandError as exc:  # say why the settings are unknown
                raise type(exc)(f"{exc}; {self._held_note()}") from None
            self._keep_held(message, state)
        else:
            self._rules.check(self, message, state)
        # what the message does to other guards first: if that raises, the message is not
        # sent, so this guard's shadow must stay as it was (the others only forget)
        for commit in state.pop("_commit", ()):
            commit()
        self._state = state
        if routes and self._routing is not None:
            # a script's switching: what it may leave closed counts as closed (a superset)
            closed = self._routing.closed or frozenset()
            self._routing.closed = closed.union(*routes)
            routes.clear()

    def forget(self, settings: Mapping[Hashable, Iterable[str]] | None = None) -> None:
        """Something other than this guard changed the instrument's settings (e.g. an SMU
        script sending commands to it over TSP-Net): those shadow entries become unknown, so
        what depends on them is refused until they are set again through the guard.

        :param settings: channel -> shadow keys that may have changed; None: everything
            (the state of an instrument just bound, before any reset).
        :raises KeyError: for a channel or key the shadow does not have.
        """
        if settings is None:
            self._state = self._rules.initial_state()
            return
        state = _copy_state(self._state)
        for channel, keys in settings.items():
            shadow = state[channel]
            for key in keys:
                if key not in shadow:
                    raise KeyError(f"channel {channel!r} has no setting {key!r}")
                shadow[key] = None
        self._state = state

    def hold(self, holder: str, settings: Mapping[Hashable, Iterable[str]] | None = None,
             remedy: str = "") -> None:
        """Something outside this guard (``holder``, e.g. ``"smu:ftjrowwv()"``, a script an SMU
        runs that sends commands to this instrument) may go on changing these settings until
        it is known to have ended: they are forgotten (as :meth:`forget`) and stay unknown
        until :meth:`release` of ``holder``. Meanwhile a message that would make one of them
        known again is refused (it could be overwritten behind the guard); switching an
        output off always passes (the output then stays unknown).

        :param settings: channel -> shadow keys; None: every key of every channel.
        :param remedy: what ends the hold, for the refusals' message.
        :raises KeyError: for a channel or key the shadow does not have.
        """
        if settings is None:
            settings = {channel: tuple(shadow) for channel, shadow in self._state.items()
                        if isinstance(shadow, dict)}
        self.forget(settings)
        held = dict(self._held.get(holder, ({}, ""))[0])
        for channel, keys in settings.items():
            held[channel] = held.get(channel, frozenset()) | frozenset(keys)
        self._held = {**self._held, holder: (held, remedy)}

    def release(self, holder: str) -> None:
        """``holder`` is known to have ended (its reply was read, or it was aborted and the
        instrument answered after that): the settings it held may be set again (they stay
        unknown until they are)."""
        if holder in self._held:
            self._held = {name: keys for name, keys in self._held.items() if name != holder}

    @property
    def holders(self) -> tuple[str, ...]:
        """Who may still be changing this instrument's settings behind the guard."""
        return tuple(self._held)

    def _held_note(self) -> str:
        return "; ".join(
            f"{holder} may still be changing "
            + ", ".join(f"{'/'.join(sorted(keys))} of channel {channel!r}"
                        for channel, keys in settings.items())
            + (f" behind the guard ({remedy})" if remedy else " behind the guard")
            for holder, (settings, remedy) in self._held.items())

    def _keep_held(self, message: str, state: dict[Hashable, Any]) -> None:
        for holder, (settings, remedy) in self._held.items():
            for channel, keys in settings.items():
                shadow = state[channel]
                for key in keys:
                    value = shadow[key]
                    if value is None:
                        continue
                    if key == "output" and value is False:  # off always passes
                        shadow[key] = None
                        continue
                    raise self.refuse(
                        message, f"{holder} may still be changing {key!r} of channel "
                        f"{channel!r} behind the guard; it can be set once that has ended"
                        + (f" ({remedy})" if remedy else ""))

    def restate(self, channel: Hashable, read: Callable[[str], Any]) -> list[tuple[str, Any]]:
        """What to send through this guard to make the settings of ``channel`` it does not
        know (forgotten after an outside program changed them) known again, as
        ``[(driver property, value), ...]`` in order; ``read(property)`` queries the
        instrument's present value. Delegates to the rules' ``restate``.

        :raises UncheckedCommandError: if the rules cannot restate them (e.g. both levels
            of a generator output unknown: the instrument needs a known state first).
        """
        restate = getattr(self._rules, "restate", None)
        if restate is None:
            raise UncheckedCommandError(
                f"{type(self._rules).__name__} cannot restate settings it does not know")
        return restate(self, channel, self.state()[channel], read)

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
