"""IEEE 488.2 message framing and SCPI lexical level, shared by the drivers' safety guards and
the SCPI emulators (``ftjlab.simulators.scpi`` imports this module), so both read a message
exactly the same way.

Framing (IEEE 488.2 section 7): a program message ends with LF (NL; a CR before it is white
space); program message units are separated by ``;`` outside strings (``'...'``/``"..."``
with doubled quotes), blocks (``#0`` indefinite to the end of the message, ``#<n><len>``
definite) and ``( )`` expressions; white space is every ASCII control character and space
(0x00-0x20 apart from LF). A header runs to the first white space; parameters are separated
by commas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: IEEE-488.2 white space: every ASCII control character and space (LF ends a message first).
WS = "".join(chr(i) for i in range(33))
_WS = WS

#: ``*IDN?``, ``:*CLS`` ...
COMMON_RE = re.compile(r":?\*([A-Za-z]+)(\?)?")
#: ``[:]WORD[:WORD...][?]`` (group 1: leading colon, 2: the words, 3: query mark)
HEADER_RE = re.compile(r"(:)?([A-Za-z][A-Za-z0-9_]*(?::[A-Za-z][A-Za-z0-9_]*)*)(\?)?")
#: one header word: mnemonic and numeric suffix
WORD_RE = re.compile(r"([A-Za-z][A-Za-z0-9_]*?)(\d*)")
#: SI multipliers of unit suffixes (``MA`` is mega, ``M`` milli; ``MHZ``/``MOHM`` are mega)
MULTIPLIERS = {
    "EX": 1e18, "PE": 1e15, "T": 1e12, "G": 1e9, "MA": 1e6, "K": 1e3,
    "M": 1e-3, "U": 1e-6, "N": 1e-9, "P": 1e-12, "F": 1e-15, "A": 1e-18,
}  # fmt: skip


class ScpiError(Exception):
    """An instrument error: ``code`` goes to the error queue, ``detail`` is appended to the text.

    Raise it from a handler to reject a command; the dispatcher logs it and carries on with the
    next program unit.
    """

    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(f"{code} {detail}".strip())
        self.code = int(code)
        self.detail = detail


def split_outside(text: str, sep: str) -> list[str]:
    """Split ``text`` at ``sep`` where it is not inside a string, block or ``( )`` expression.

    An unterminated string, and an indefinite ``#0`` block, extend to the end of the text.
    """
    if "'" not in text and '"' not in text and "#" not in text and "(" not in text:
        return text.split(sep)  # nothing that could hide a separator
    parts: list[str] = []
    start = 0
    depth = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in "'\"":
            j = i + 1
            while True:
                k = text.find(c, j)
                if k < 0:
                    i = n
                    break
                if k + 1 < n and text[k + 1] == c:
                    j = k + 2
                    continue
                i = k + 1
                break
            continue
        if c == "#" and i + 1 < n:
            d = text[i + 1]
            if d == "0":
                i = n
                continue
            if d in "123456789":
                digits = text[i + 2 : i + 2 + int(d)]
                if len(digits) == int(d) and digits.isdigit():
                    i = i + 2 + int(d) + int(digits)
                    continue
        if c == "(":
            depth += 1
        elif c == ")" and depth:
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


@dataclass(frozen=True)
class Token:
    """One parameter as received.

    ``kind`` is ``number`` (``value`` float, ``suffix`` the unit text, upper case), ``chars``
    (``value`` upper-case mnemonic), ``string`` (``value`` the unquoted text), ``block``
    (``value`` bytes) or ``expr`` (``value`` the text inside the parentheses).
    """

    kind: str
    text: str
    value: Any
    suffix: str = ""


NUMBER_RE = re.compile(
    r"([+-]?(?:\d+\.?\d*|\.\d+))(?:[ \t]*([eE])[ \t]*([+-]?\d+))?[ \t]*([A-Za-z][A-Za-z0-9]*)?"
)
CHARS_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
NONDECIMAL = {"H": (16, "0123456789ABCDEF"), "Q": (8, "01234567"), "B": (2, "01")}


def parse_token(text: str) -> Token:
    head = text.lstrip(_WS)
    if head[:1] == "#" and head[1:2] in tuple("123456789"):
        # a definite block is as long as it says: its last data bytes may be white space
        nd = int(head[1])
        digits = head[2 : 2 + nd]
        if len(digits) == nd and digits.isdigit():
            end = 2 + nd + int(digits)
            if len(head) >= end and not head[end:].strip(_WS):
                return Token("block", head[:end], head[2 + nd : end].encode("latin-1", "replace"))
        raise ScpiError(-161)
    t = head.rstrip(_WS)
    if not t:
        raise ScpiError(-102, "empty parameter")
    c = t[0]
    if c in "'\"":
        out: list[str] = []
        i = 1
        while True:
            k = t.find(c, i)
            if k < 0:
                raise ScpiError(-151, "unterminated string")
            out.append(t[i:k])
            if k + 1 < len(t) and t[k + 1] == c:
                out.append(c)
                i = k + 2
                continue
            if t[k + 1 :].strip(_WS):
                raise ScpiError(-102, "text after string")
            return Token("string", t, "".join(out))
    if c == "#":
        if len(t) >= 2 and t[1].upper() in NONDECIMAL:
            base, digits = NONDECIMAL[t[1].upper()]
            body = t[2:].upper()
            if not body or any(ch not in digits for ch in body):
                raise ScpiError(-102, "bad non-decimal number")
            return Token("number", t, float(int(body, base)))
        if len(t) >= 2 and t[1] == "0":
            return Token("block", t, t[2:].encode("latin-1", "replace"))
        if len(t) >= 2 and t[1] in "123456789":
            nd = int(t[1])
            digits = t[2 : 2 + nd]
            if len(digits) == nd and digits.isdigit() and len(t) == 2 + nd + int(digits):
                return Token("block", t, t[2 + nd :].encode("latin-1", "replace"))
        raise ScpiError(-161)
    if c == "(":
        if not t.endswith(")"):
            raise ScpiError(-102, "unterminated expression")
        return Token("expr", t, t[1:-1])
    m = NUMBER_RE.fullmatch(t)
    if m:
        mant, e, exp, suffix = m.groups()
        try:
            value = float(mant + ("e" + exp if e else ""))
        except (ValueError, OverflowError) as exc:  # pragma: no cover - regex guarantees form
            raise ScpiError(-120) from exc
        return Token("number", t, value, (suffix or "").upper())
    if CHARS_RE.fullmatch(t):
        if len(t) > 12:
            raise ScpiError(-141, "character data too long")
        return Token("chars", t, t.upper())
    raise ScpiError(-102)


def tokenize_parameters(text: str) -> list[Token]:
    """Parse the parameter part of a program unit (text after the header) into tokens."""
    if not text.strip(_WS):
        return []
    return [parse_token(p) for p in split_outside(text, ",")]


def program_messages(text: str) -> list[str]:
    """The program messages of ``text`` as the instrument frames them: one per LF (the
    terminator removed; a CR before it stays, as white space), except that an LF inside
    block data does not end a message (a definite block's bytes are counted; an indefinite
    ``#0`` block runs to the final terminator, NL^END), nor one inside a string."""
    return split_outside(text, "\n") if "#" in text else text.split("\n")


def split_header(unit: str) -> tuple[str, str]:
    """A program message unit (white space stripped) as ``(header, parameter text)``: the
    header runs to the first white-space character."""
    i = 0
    n = len(unit)
    while i < n and unit[i] not in WS:
        i += 1
    return unit[:i], unit[i:]
