"""Bench limits and the safety layer's errors.

:class:`Limits` holds the bench's limits (max |V| per role, max compliance current, pulse
width range), loaded strictly from a TOML-parsed dict with :meth:`Limits.from_dict`.
``limits.check_voltage("program", 2.5)`` returns the value or raises :class:`LimitViolation`
naming the limit, the value and the role. Nothing is ever clipped.
:func:`check_limits_for_models` refuses limits beyond what the bench's instruments can do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from ftjlab.errors import BadInput

from .models import MODELS

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


class KnownStateNeededError(UncheckedCommandError):
    """The guard knows too little of an instrument to check settings one by one (e.g. both
    levels of a generator output); the message names how to bring it to a known state."""


class LimitsConfigError(SafetyError):
    """Invalid limits configuration; the message names the field."""


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_magnitude(
    value: Any, what: str, unit: str, name: str, limit: float, role: str | None
) -> Any:
    """Return ``value`` if it is a finite real number with ``|value| <= limit``, else raise a
    :class:`LimitViolation` naming the limit ``name``."""
    if not _is_real(value) or not math.isfinite(value):
        raise LimitViolation(
            f"{what} {value!r} is not a finite number (limit {name} = {limit:g} {unit})",
            limit=name, value=math.nan, limit_value=limit, role=role,
        )
    if abs(value) > limit:
        raise LimitViolation(
            f"{what} {value:g} {unit} exceeds the limit {name} = {limit:g} {unit}",
            limit=name, value=float(value), limit_value=limit, role=role,
        )
    return value


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
        return _check_magnitude(volts, f"{role} voltage", "V", f"max_{role}_voltage_v",
                                self.max_voltage_v(role), role)

    def check_compliance(self, amps: float) -> float:
        """Return ``amps`` if ``|amps|`` is within the max compliance current, else raise."""
        return _check_magnitude(amps, "current", "A", "max_compliance_current_a",
                                self.max_compliance_current_a, None)

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


#: the instruments' own maxima (into a high-impedance load for the generators)
INSTRUMENT_MAXIMA: dict[str, dict[str, float]] = {
    "2636B": {"volts": 200.0, "amps": 1.5},
    "2450": {"volts": 210.0, "amps": 1.05},
    "81160A": {"volts": 10.0, "min_width_s": 1.5e-9, "max_width_s": 1e6},
    "33500B": {"volts": 10.0, "min_width_s": 16e-9, "max_width_s": 1e6},
}
_SMUS = frozenset(m for m, spec in MODELS.items() if spec.kind == "smu")
_PULSERS = frozenset(m for m, spec in MODELS.items() if spec.kind == "pulser")


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
