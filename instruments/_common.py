"""Helpers shared by the drivers: reply parsing, binary blocks, errors, timeouts."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())


class InstrumentError(RuntimeError):
    """The instrument reported an error, or its reply was malformed."""


def strict_real_range(value: Any, values: tuple[float, float]) -> float:
    """Validator: a real number (not bool, not NaN) within ``[min(values), max(values)]``.

    Like pymeasure's ``strict_range`` but refuses ``True``/``False``, strings and NaN with a
    clear message; never clips.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"Value {value!r} is not a real number")
    low, high = min(values), max(values)
    if math.isnan(value) or not low <= value <= high:
        raise ValueError(f"Value of {value:g} is not in range [{low:g},{high:g}]")
    return float(value) if isinstance(value, (float, np.floating)) else int(value)


def strict_int_range(value: Any, values: tuple[int, int]) -> int:
    """Validator: an integer (not bool, not a float with a fraction) within the range."""
    if isinstance(value, bool):
        raise TypeError(f"Value {value!r} is not an integer")
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or value != int(value):
            raise ValueError(f"Value {value!r} is not an integer")
    elif not isinstance(value, (int, np.integer)):
        raise TypeError(f"Value {value!r} is not an integer")
    number = int(value)
    low, high = min(values), max(values)
    if not low <= number <= high:
        raise ValueError(f"Value of {number} is not in range [{low},{high}]")
    return number


def parse_ascii_floats(text: str) -> np.ndarray:
    """Parse ``"1.2e-09, 3.4e-09"`` (comma separated, optional spaces) into float64."""
    body = text.strip()
    if not body:
        return np.empty(0, dtype=np.float64)
    try:
        return np.asarray(body.split(","), dtype=np.float64)
    except ValueError as exc:
        raise InstrumentError(f"malformed numeric reply {body[:80]!r}") from exc


def parse_indefinite_block(raw: bytes, n_values: int, dtype: str | np.dtype) -> np.ndarray:
    """Decode an IEEE 488.2 indefinite block: ``#0`` + ``n_values`` binary numbers + LF.

    :param dtype: numpy dtype with explicit byte order, e.g. ``"<f4"`` or ``"<f8"``.
    :returns: the values as float64.
    :raises InstrumentError: if the header, length or terminator is wrong.
    """
    size = np.dtype(dtype).itemsize
    expected = 2 + n_values * size + 1
    if raw[:2] != b"#0":
        raise InstrumentError(f"binary reply does not start with '#0': {raw[:8]!r}")
    if len(raw) != expected:
        raise InstrumentError(
            f"binary reply has {len(raw)} bytes, expected {expected} for {n_values} values"
        )
    if raw[-1:] != b"\n":
        raise InstrumentError(f"binary reply does not end with LF: {raw[-4:]!r}")
    return np.frombuffer(raw[2:-1], dtype=dtype).astype(np.float64)


def read_indefinite_block(instrument: Any, n_values: int, dtype: str) -> np.ndarray:
    """Read a ``#0`` block of ``n_values`` numbers by byte count (the data may contain LF)."""
    size = np.dtype(dtype).itemsize
    raw = instrument.read_bytes(2 + n_values * size + 1)
    return parse_indefinite_block(raw, n_values, dtype)


@contextmanager
def longer_timeout(instrument: Any, seconds: float | None) -> Iterator[None]:
    """Temporarily raise the VISA timeout of ``instrument`` to at least ``seconds``.

    Does nothing if ``seconds`` is None or the adapter has no pyvisa-like ``timeout``
    (milliseconds) on its connection.
    """
    connection = getattr(getattr(instrument, "adapter", None), "connection", None)
    old = getattr(connection, "timeout", None)
    if seconds is None or not isinstance(old, (int, float)):
        yield
        return
    connection.timeout = max(old, seconds * 1000.0)
    try:
        yield
    finally:
        connection.timeout = old


def on_off(value: Any) -> bool:
    """Parse ``1``/``0``/``ON``/``OFF`` replies into a bool."""
    text = str(value).strip().strip('"').upper()
    if text in ("1", "1.0", "ON", "TRUE"):
        return True
    if text in ("0", "0.0", "OFF", "FALSE"):
        return False
    raise InstrumentError(f"expected an on/off reply, got {value!r}")


def choice_reply(*choices: str) -> Any:
    """A ``get_process`` mapping a reply (short or long form, any case) to one of ``choices``.

    ``choice_reply("NORM", "INV")("INVerted") == "INV"``; longest matching prefix wins.
    """
    ordered = sorted(choices, key=len, reverse=True)

    def process(value: Any) -> str:
        text = str(value).strip().strip("\"'").upper()
        for choice in ordered:
            if text.startswith(choice.upper()):
                return choice
        raise InstrumentError(f"unexpected reply {value!r} (expected one of {list(choices)})")

    return process
