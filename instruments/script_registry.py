"""Registry of the drivers' on-instrument scripts the guards accept (and nothing else).

A driver registers each script it uploads with :func:`register_script`; the TSP guard then
accepts exactly that upload text and literal-argument calls passing the script's rule.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .safety import SafetyGuard

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
