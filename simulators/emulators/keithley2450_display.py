"""Keithley 2450 emulator: how values are printed (numbers, flags, front-panel FORMatted text)."""

from __future__ import annotations

import math

#: What an overflowed or unavailable reading reads.
OVERFLOW = 9.9e37


def _g(value: float) -> str:
    return f"{value:.12G}"


#: Digits the front panel shows of a reading / of the source value (see :func:`_display`).
MEASURE_DISPLAY_DIGITS = 6
SOURCE_DISPLAY_DIGITS = 7
_PREFIXES = ((1e-12, "p"), (1e-9, "n"), (1e-6, "u"), (1e-3, "m"), (1.0, ""), (1e3, "k"), (1e6, "M"))
_SYMBOLS = {"Amp DC": "A", "Volt DC": "V", "Ohm": "Ohm"}


def _display(value: float, range_: float, unit: str, digits: int) -> str:
    """A value as the front panel shows it on ``range_``: FORMatted / SOURFORMatted.

    The manual (6-109) only says "as it appears on the front panel". A real 2450 (firmware
    1.6.7c, QCoDeS 2450 example notebook) prints ``-016.084 nA`` for -1.608374e-08 A on the
    100 nA range and ``+00.00507 mV`` for a 5.07 uV source value on the 20 mV range: the range's
    engineering unit, as many integer digits as the range has (zero-padded), ``digits`` digits
    in all (6 for readings, 7 for the source value) and a space before the unit. The micro
    prefix is sent as ``u`` and ohms as ``Ohm`` (the display's glyphs are not ASCII, and
    pyvisa decodes ASCII by default); an overflowed reading prints ``Overflow``.
    """
    if not math.isfinite(value) or abs(value) >= OVERFLOW:
        return "Overflow"
    rng = abs(range_) or abs(value) or 1.0
    scale, prefix = _PREFIXES[0]
    for s, p in _PREFIXES:
        if rng >= s * (1 - 1e-9):
            scale, prefix = s, p
    whole = max(1, len(str(round(rng / scale))))
    decimals = max(digits - whole, 0)
    text = f"{abs(value) / scale:0{whole + (decimals > 0) + decimals}.{decimals}f}"
    return f"{'-' if value < 0 else '+'}{text} {prefix}{_SYMBOLS.get(unit, unit)}"


def _b(value: bool) -> str:
    return "1" if value else "0"


def _frac9(t: float) -> str:
    frac = t - math.floor(t)
    return f"{min(round(frac * 1e9), 999_999_999):09d}"
