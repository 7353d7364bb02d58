"""No property of our drivers clips silently, and our own properties all validate."""

import inspect

import pytest
from ftjlab.instruments import (
    Keithley707B,
    Keithley2450,
    Keithley2636B,
    Keysight33500B,
    Keysight81160A,
    PulseChannel33500B,
    PulseChannel81160A,
    ReadingBuffer,
    SMUChannel,
)
from pymeasure.instruments.validators import truncated_range

CLASSES = [
    Keithley2636B, SMUChannel, Keithley2450, ReadingBuffer, Keysight81160A, PulseChannel81160A,
    Keysight33500B, PulseChannel33500B, Keithley707B,
]
# settable properties declared in our own classes, at least
MIN_OWN_SETTABLE = {SMUChannel: 20, Keithley2450: 25, PulseChannel81160A: 15,
                    PulseChannel33500B: 18, ReadingBuffer: 2, Keithley707B: 1}


def _validator(prop):
    """The validator of a settable pymeasure property (None for measurements and others)."""
    fset = prop.fset
    if fset is None or fset.__name__ != "fset" or not fset.__defaults__:
        return None
    set_command, validator = fset.__defaults__[:2]  # (set_command, validator, values, ...)
    return None if set_command is None else validator


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_no_truncated_range_anywhere(cls):
    clipping = [
        name for name, prop in inspect.getmembers(cls, lambda m: isinstance(m, property))
        if _validator(prop) is truncated_range
    ]
    assert clipping == []


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_own_settable_properties_have_a_validator(cls):
    own = {name: prop for name, prop in vars(cls).items() if isinstance(prop, property)}
    validators = {name: _validator(prop) for name, prop in own.items()}
    settable = {name: v for name, v in validators.items() if v is not None}
    assert [name for name, v in settable.items() if v.__name__ == "<lambda>"] == []
    assert len(settable) >= MIN_OWN_SETTABLE.get(cls, 0)


def test_pymeasure_2450_would_have_accepted_500_volts():
    from pymeasure.instruments.keithley import Keithley2450 as Upstream

    assert _validator(Upstream.source_voltage).__name__ == "<lambda>"
    assert _validator(Keithley2450.source_voltage).__name__ == "strict_real_range"
