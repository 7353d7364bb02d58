"""The Limits dataclass: strict loading and the three checks."""

import math

import pytest
from ftjlab.instruments import Limits, LimitsConfigError, LimitViolation

from ftjlab.errors import BadInput


def test_from_dict_keeps_values(limits, limits_table):
    assert limits.max_read_voltage_v == 0.3
    assert limits.max_sample_voltage_v == 1.2
    assert limits.max_program_voltage_v == 4.5
    assert limits.max_compliance_current_a == 1e-3
    assert (limits.min_pulse_width_s, limits.max_pulse_width_s) == (1e-8, 1e-2)
    assert limits.to_dict() == limits_table
    assert Limits.from_dict(limits.to_dict()) == limits


def test_integers_from_toml_are_accepted(limits_table):
    data = {**limits_table, "max_program_voltage_v": 4}
    assert Limits.from_dict(data).max_program_voltage_v == 4.0


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"max_read_voltage_v": "0.3"}, "max_read_voltage_v", "expected a number, got str"),
        ({"max_sample_voltage_v": True}, "max_sample_voltage_v", "got bool"),
        ({"max_program_voltage_v": None}, "max_program_voltage_v", "got NoneType"),
        ({"max_read_voltage_v": math.nan}, "max_read_voltage_v", "finite"),
        ({"max_pulse_width_s": math.inf}, "max_pulse_width_s", "finite"),
        ({"max_read_voltage_v": -0.1}, "max_read_voltage_v", "negative"),
        ({"min_pulse_width_s": -1e-9}, "min_pulse_width_s", "negative"),
        ({"max_compliance_current_a": 0}, "max_compliance_current_a", "positive"),
        ({"min_pulse_width_s": 1.0}, "min_pulse_width_s", "larger than"),
        ({"max_voltage_v": 1.0}, "max_voltage_v", "unknown key"),
    ],
)
def test_strict_loading_names_the_field(limits_table, change, field, message):
    with pytest.raises(LimitsConfigError) as info:
        Limits.from_dict({**limits_table, **change})
    assert f"limits.{field}" in str(info.value)
    assert message in str(info.value)
    assert isinstance(info.value, BadInput)  # the CLI maps it to exit code 2


def test_missing_key_is_named(limits_table):
    data = limits_table
    del data["max_sample_voltage_v"]
    with pytest.raises(LimitsConfigError, match=r"limits\.max_sample_voltage_v: missing"):
        Limits.from_dict(data)


def test_not_a_table():
    with pytest.raises(LimitsConfigError, match="expected a table"):
        Limits.from_dict([1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("role", "ok", "too_high", "limit"),
    [("read", 0.3, 0.31, 0.3), ("sample", -1.2, -1.25, 1.2), ("program", 4.5, 4.6, 4.5)],
)
def test_check_voltage_per_role(limits, role, ok, too_high, limit):
    assert limits.check_voltage(role, ok) == ok
    with pytest.raises(LimitViolation) as info:
        limits.check_voltage(role, too_high)
    error = info.value
    assert isinstance(error, ValueError)
    assert (error.limit, error.value, error.limit_value, error.role) == (
        f"max_{role}_voltage_v", too_high, limit, role
    )
    assert f"max_{role}_voltage_v" in str(error) and f"{too_high:g} V" in str(error)
    assert role in str(error)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "1"])
def test_check_voltage_rejects_non_finite(limits, value):
    with pytest.raises(LimitViolation, match="not a finite number"):
        limits.check_voltage("program", value)


def test_unknown_role(limits):
    with pytest.raises(ValueError, match="unknown voltage role 'erase'"):
        limits.check_voltage("erase", 0.1)


def test_check_compliance(limits):
    assert limits.check_compliance(-1e-3) == -1e-3
    with pytest.raises(LimitViolation) as info:
        limits.check_compliance(2e-3)
    assert info.value.limit == "max_compliance_current_a"
    assert info.value.value == 2e-3
    assert info.value.role is None


def test_check_pulse_width(limits):
    assert limits.check_pulse_width(1e-8) == 1e-8
    assert limits.check_pulse_width(1e-2) == 1e-2
    with pytest.raises(LimitViolation, match=r"min_pulse_width_s = 1e-08 s") as low:
        limits.check_pulse_width(5e-9)
    assert low.value.limit == "min_pulse_width_s"
    with pytest.raises(LimitViolation, match=r"max_pulse_width_s = 0\.01 s") as high:
        limits.check_pulse_width(0.02)
    assert high.value.limit == "max_pulse_width_s"


def test_limits_are_immutable(limits):
    with pytest.raises(AttributeError):
        limits.max_read_voltage_v = 10.0  # type: ignore[misc]
