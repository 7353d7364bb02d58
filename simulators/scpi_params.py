"""SCPI emulator core: typed parameters (numbers with units, booleans, choices, strings, blocks)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ftjlab.instruments.ieee488 import MULTIPLIERS as _MULTIPLIERS
from ftjlab.instruments.ieee488 import WS as _WS
from ftjlab.instruments.ieee488 import ScpiError, Token

# --------------------------------------------------------------------------------------------
# Lexical level: splitting and parameter tokens
# --------------------------------------------------------------------------------------------


def _mnemonic_forms(word: str) -> tuple[str, str]:
    """Short and long upper-case forms: ``'VOLTage'`` -> (``'VOLT'``, ``'VOLTAGE'``),
    ``'INTernal2'`` -> (``'INT2'``, ``'INTERNAL2'``), ``'PK2Pk'`` -> (``'PK2P'``, ``'PK2PK'``)."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", word):
        raise ValueError(f"bad mnemonic {word!r}")
    short = "".join(ch for ch in word if ch.isupper() or ch.isdigit() or ch == "_")
    return (short or word).upper(), word.upper()


# --------------------------------------------------------------------------------------------
# Parameter types
# --------------------------------------------------------------------------------------------

Warn = Callable[[int, str], None]



@dataclass
class Param:
    """Base of parameter types. ``optional`` parameters may be omitted (they must come last)."""

    optional: bool = field(default=False, kw_only=True)

    def convert(self, token: Token, warn: Warn) -> Any:
        """Convert one token to a Python value or raise :class:`ScpiError`."""
        raise NotImplementedError


@dataclass
class Number(Param):
    """A decimal numeric parameter.

    ``low``/``high``: instrument range (``None`` = unbounded), also what ``MIN``/``MAX`` mean;
    ``default``: what ``DEF`` means; ``units``: allowed unit suffixes (e.g. ``("V",)``; a
    multiplier prefix like ``M``/``U``/``N`` is accepted in front; ``MHZ``/``MOHM`` are mega);
    ``specials``: extra character data, e.g. ``{"INF": 9.9e37}``; ``integer``: round to int.

    ``out_of_range`` selects what happens outside ``[low, high]``: ``"reject"`` raises -222 and
    leaves the setting unchanged (Keithley), ``"clip"`` silently clips (B2900), ``"clip_log"``
    clips *and* logs -222 (Keysight 33xxx / 81160A), ``"none"`` leaves range checks to the
    handler (``low``/``high`` then only define ``MIN``/``MAX``).
    """

    low: float | None = None
    high: float | None = None
    default: float | None = None
    units: tuple[str, ...] = ()
    specials: Mapping[str, float] = field(default_factory=dict)
    integer: bool = False
    out_of_range: str = "reject"

    def bound(self, which: str) -> float:
        """Value of ``MIN``/``MAX``/``DEF`` (upper-case short or long form)."""
        w = which.upper()
        if w in ("MIN", "MINIMUM") and self.low is not None:
            return self.low
        if w in ("MAX", "MAXIMUM") and self.high is not None:
            return self.high
        if w in ("DEF", "DEFAULT") and self.default is not None:
            return self.default
        if w in self.specials:
            return self.specials[w]
        raise ScpiError(-141, which)

    def _scale(self, token: Token) -> float:
        value = float(token.value)
        if not token.suffix:
            return value
        if not self.units:
            raise ScpiError(-138)
        s = token.suffix
        for unit in self.units:
            u = unit.upper()
            if s == u:
                return value
            if s.endswith(u):
                prefix = s[: -len(u)]
                if prefix == "M" and u in ("HZ", "OHM"):
                    return value * 1e6
                if prefix in _MULTIPLIERS:
                    return value * _MULTIPLIERS[prefix]
        raise ScpiError(-131, token.suffix)

    def convert(self, token: Token, warn: Warn) -> float | int:
        if token.kind == "chars":
            if token.value in self.specials:
                return self.specials[token.value]  # e.g. INF: exempt from the range
            value = self.bound(token.value)
        elif token.kind == "number":
            value = self._scale(token)
        else:
            raise ScpiError(-104)
        if math.isnan(value):
            raise ScpiError(-222)
        lo, hi = self.low, self.high
        if self.out_of_range == "none":
            pass  # the handler applies (state-dependent) limits itself
        elif (lo is not None and value < lo) or (hi is not None and value > hi):
            if self.out_of_range == "reject":
                raise ScpiError(-222)
            below = lo is not None and value < lo
            clipped = lo if below else hi
            if self.out_of_range == "clip_log":
                warn(-222, f"value clipped to {'lower' if below else 'upper'} limit")
            value = float(clipped)  # type: ignore[arg-type]
        if not math.isfinite(value):
            raise ScpiError(-222)
        if self.integer:
            return round(value)
        return value


@dataclass
class Boolean(Param):
    """``ON``/``OFF`` or a number (rounded; non-zero is ON)."""

    def convert(self, token: Token, warn: Warn) -> bool:
        if token.kind == "chars":
            if token.value == "ON":
                return True
            if token.value == "OFF":
                return False
            raise ScpiError(-141, token.text)
        if token.kind == "number" and not token.suffix:
            if not math.isfinite(token.value):
                raise ScpiError(-222)
            return round(token.value) != 0
        raise ScpiError(-104)


class Choice(Param):
    """Character data out of a fixed set, given in SCPI form (``"IMMediate"``, ``"INTernal2"``).

    Converts to the short upper-case form (``"IMM"``). With ``strings=True`` the choice may also
    arrive quoted (Keithley: ``:SENS:FUNC "CURR"``); ``aliases`` maps extra spellings (upper
    case) to a short form, e.g. ``{"CURR:DC": "CURR"}``.
    """

    def __init__(
        self,
        *options: str,
        optional: bool = False,
        strings: bool = False,
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(optional=optional)
        self.options = options
        self.strings = strings
        self._lookup: dict[str, str] = {}
        for opt in options:
            short, long = _mnemonic_forms(opt)
            self._lookup[short] = short
            self._lookup[long] = short
        for k, v in (aliases or {}).items():
            self._lookup[k.upper()] = v

    def convert(self, token: Token, warn: Warn) -> str:
        if token.kind == "chars" or (self.strings and token.kind == "string"):
            key = str(token.value).strip().upper()
            if key in self._lookup:
                return self._lookup[key]
            raise ScpiError(-224 if token.kind == "string" else -141, token.text)
        raise ScpiError(-104)

    def __repr__(self) -> str:
        return f"Choice{self.options!r}"


@dataclass
class String(Param):
    """A quoted string; with ``chars_ok`` unquoted character data is accepted as its raw text."""

    chars_ok: bool = True

    def convert(self, token: Token, warn: Warn) -> str:
        if token.kind == "string":
            return str(token.value)
        if token.kind == "chars" and self.chars_ok:
            return token.text.strip(_WS)
        raise ScpiError(-104)


@dataclass
class Block(Param):
    """Arbitrary block data (definite ``#<n><len>`` or indefinite ``#0``) as bytes."""

    def convert(self, token: Token, warn: Warn) -> bytes:
        if token.kind == "block":
            return bytes(token.value)
        raise ScpiError(-104)


@dataclass
class Any_(Param):  # noqa: N801 - "Any" is taken by typing
    """Any token, unconverted (the handler interprets it)."""

    def convert(self, token: Token, warn: Warn) -> Token:
        return token


class _Repeat(Param):
    """Wraps the last parameter so it may repeat (``READ,REL,SOUR`` lists)."""

    def __init__(self, inner: Param, max_count: int = 1 << 30) -> None:
        super().__init__(optional=True)
        self.inner = inner
        self.max_count = max_count

    def convert(self, token: Token, warn: Warn) -> Any:
        return self.inner.convert(token, warn)


def repeat(inner: Param) -> Param:
    """Let the last parameter of a list repeat any number of times (each optional)."""
    return _Repeat(inner)
