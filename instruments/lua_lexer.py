"""A Lua tokenizer and a parser for the small statement language the TSP guards accept.

TSP instruments run every LF-terminated line as its own Lua chunk (Lua 5.0 on the
instruments; the emulators run Lua 5.1). The two dialects read some text differently:
level-``n`` long brackets (``[==[ ... ]==]``, 5.1 only: in 5.0 ``--[==[`` is a line comment),
nested ``[[`` in long strings (5.0 nests, 5.1 stops or fails), ``%``, ``#``, hexadecimal
numerals. So the tokenizer reads Lua 5.1 exactly and refuses every construct where the two
could differ, and everything that is not printable ASCII (a control character is a syntax
error in Lua; the wire turns non-ASCII into ``?``).

:func:`tokenize` returns the tokens of one chunk (comments dropped); :func:`parse_chunk`
parses them into :class:`Assign` and :class:`CallStmt` statements of this grammar::

    chunk   := { stat [';'] }
    stat    := path '=' expr                    (one target, one value)
             | call
    path    := Name { '.' Name | '[' Number ']' }
    call    := path '(' [ expr { ',' expr } ] ')'
    expr    := Number | '-' Number | String | 'true' | 'false' | 'nil' | path | call
             | '{' [ literal { (',' | ';') literal } [','|';'] ] '}'

Anything else (``local``, ``function``, control flow, operators, method calls with ``:``,
multiple assignment, string-call sugar ``f"x"``...) raises :class:`LuaRefusal` naming the
construct. The guards then check the statements against the instrument's rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

KEYWORDS = frozenset({
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in",
    "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while", "goto",
})  # fmt: skip
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: decimal numerals both dialects read alike; a numeral runs on over [0-9A-Za-z_.] in Lua
_NUMERAL_RUN = re.compile(r"[0-9.][0-9A-Za-z_.]*(?:(?<=[eE])[+-][0-9A-Za-z_.]*)?")
_DECIMAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPACE = " \t"
_OPERATORS = ("==", "~=", "<=", ">=", "...", "..", "=", "<", ">", "+", "-", "*", "/", "^",
              "(", ")", "{", "}", "[", "]", ";", ":", ",", ".")  # fmt: skip


class LuaRefusal(ValueError):  # noqa: N818 (a refusal the guard reports)
    """The text is not in the accepted language (or could read differently on the instrument)."""


@dataclass(frozen=True)
class Tok:
    """A token: ``kind`` is ``name``, ``keyword``, ``number``, ``string`` or ``op``."""

    kind: str
    value: Any
    pos: int


def _long_bracket_level(text: str, pos: int) -> int | None:
    """Level of a long bracket opening at ``pos`` (``[`` ``=``* ``[``), else None."""
    if pos >= len(text) or text[pos] != "[":
        return None
    j = pos + 1
    while j < len(text) and text[j] == "=":
        j += 1
    if j < len(text) and text[j] == "[":
        return j - pos - 1
    return None


def _skip_long(text: str, pos: int, what: str) -> tuple[int, str]:
    """Skip a level-0 long bracket at ``pos``; returns (end, content). Levels above 0 and a
    nested ``[[`` are refused: Lua 5.0 and 5.1 read them differently."""
    level = _long_bracket_level(text, pos)
    if level != 0:
        raise LuaRefusal(f"long {what} of level {level} (Lua 5.0 and 5.1 read it differently)")
    end = text.find("]]", pos + 2)
    if end < 0:
        raise LuaRefusal(f"unfinished long {what}")
    content = text[pos + 2 : end]
    if "[[" in content:
        raise LuaRefusal(f"'[[' inside a long {what} (Lua 5.0 nests it, 5.1 does not)")
    return end + 2, content


def tokenize(chunk: str) -> list[Tok]:
    """Tokens of one chunk (one line as the instrument runs it), comments dropped.

    :raises LuaRefusal: on any character or construct outside the accepted subset.
    """
    for index, char in enumerate(chunk):
        if not (" " <= char <= "~" or char == "\t"):
            raise LuaRefusal(f"character {char!r} at {index} (only printable ASCII and tabs)")
    tokens: list[Tok] = []
    i, n = 0, len(chunk)
    while i < n:
        c = chunk[i]
        if c in _SPACE:
            i += 1
            continue
        if chunk.startswith("--", i):
            if chunk.startswith("[", i + 2):
                level = _long_bracket_level(chunk, i + 2)
                if level is not None:
                    i, _ = _skip_long(chunk, i + 2, "comment")
                    continue
                raise LuaRefusal("a comment starting with '[' that is not '--[['")
            return tokens  # a line comment runs to the end of the chunk (one line)
        if c == "_" or c.isalpha():
            m = _NAME.match(chunk, i)
            assert m is not None
            word = m.group(0)
            tokens.append(Tok("keyword" if word in KEYWORDS else "name", word, i))
            i = m.end()
            continue
        if c.isdigit() or (c == "." and i + 1 < n and chunk[i + 1].isdigit()):
            m = _NUMERAL_RUN.match(chunk, i)
            assert m is not None
            text = m.group(0)
            if _DECIMAL.fullmatch(text) is None:
                raise LuaRefusal(f"numeral {text!r} (plain decimal numerals only)")
            tokens.append(Tok("number", float(text), i))
            i = m.end()
            continue
        if c in "\"'":
            end = chunk.find(c, i + 1)
            if end < 0:
                raise LuaRefusal("unfinished string")
            body = chunk[i + 1 : end]
            if "\\" in body:
                raise LuaRefusal("escape sequences in strings are not accepted")
            tokens.append(Tok("string", body, i))
            i = end + 1
            continue
        if c == "[" and _long_bracket_level(chunk, i) is not None:
            i, body = _skip_long(chunk, i, "string")
            tokens.append(Tok("string", body, i))
            continue
        for op in _OPERATORS:
            if chunk.startswith(op, i):
                tokens.append(Tok("op", op, i))
                i += len(op)
                break
        else:
            raise LuaRefusal(f"character {c!r} at {i}")
    return tokens


# ------------------------------------------------------------------------------ statements


@dataclass(frozen=True)
class Path:
    """``a.b[2].c`` as its parts (names and integer indices)."""

    parts: tuple[str | int, ...]

    def __str__(self) -> str:
        out = ""
        for part in self.parts:
            out += f"[{part}]" if isinstance(part, int) else (("." if out else "") + part)
        return out


@dataclass(frozen=True)
class Call:
    """A call ``path(args)``."""

    func: Path
    args: tuple[Any, ...]

    def __str__(self) -> str:
        return f"{self.func}(...)"


@dataclass(frozen=True)
class Table:
    """A table constructor of literals ``{1, 2, "x"}``."""

    items: tuple[Any, ...]


@dataclass(frozen=True)
class Assign:
    """``target = value``."""

    target: Path
    value: Any


@dataclass(frozen=True)
class CallStmt:
    """A call as a statement."""

    call: Call


class _Parser:
    def __init__(self, tokens: list[Tok]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self, offset: int = 0) -> Tok | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def is_op(self, value: str, offset: int = 0) -> bool:
        tok = self.peek(offset)
        return tok is not None and tok.kind == "op" and tok.value == value

    def expect_op(self, value: str) -> None:
        if not self.is_op(value):
            tok = self.peek()
            raise LuaRefusal(f"expected {value!r}, found {_show(tok)}")
        self.i += 1

    def chunk(self) -> list[Assign | CallStmt]:
        stats: list[Assign | CallStmt] = []
        while self.peek() is not None:
            stats.append(self.statement())
            if self.is_op(";"):  # one optional ';' after a statement (Lua 5.0 and 5.1)
                self.i += 1
        return stats

    def statement(self) -> Assign | CallStmt:
        tok = self.peek()
        if tok is None or tok.kind != "name":
            raise LuaRefusal(f"statement starting with {_show(tok)} is not accepted")
        path = self.path()
        if self.is_op("="):
            self.i += 1
            value = self.expr()
            if self.is_op(","):
                raise LuaRefusal("multiple values in an assignment")
            return Assign(path, value)
        if self.is_op("("):
            return CallStmt(self.call(path))
        if self.is_op(","):
            raise LuaRefusal("multiple assignment")
        raise LuaRefusal(f"{path} followed by {_show(self.peek())} is not a statement")

    def path(self) -> Path:
        tok = self.peek()
        assert tok is not None and tok.kind == "name"
        parts: list[str | int] = [tok.value]
        self.i += 1
        while True:
            if self.is_op("."):
                name = self.peek(1)
                if name is None or name.kind != "name":
                    raise LuaRefusal(f"'.' followed by {_show(name)}")
                parts.append(name.value)
                self.i += 2
            elif self.is_op("["):
                index = self.peek(1)
                if index is None or index.kind != "number" or index.value != int(index.value):
                    raise LuaRefusal("only integer literals may index ('[n]')")
                parts.append(int(index.value))
                self.i += 2
                self.expect_op("]")
            elif self.is_op(":"):
                raise LuaRefusal("method calls with ':' are not accepted")
            else:
                return Path(tuple(parts))

    def call(self, func: Path) -> Call:
        self.expect_op("(")
        args: list[Any] = []
        if not self.is_op(")"):
            args.append(self.expr())
            while self.is_op(","):
                self.i += 1
                args.append(self.expr())
        self.expect_op(")")
        if self.is_op("(") or self.is_op("."):
            raise LuaRefusal(f"the result of {func}(...) used as a function or table")
        return Call(func, tuple(args))

    def literal(self) -> Any:
        tok = self.peek()
        if tok is None:
            raise LuaRefusal("expression missing at the end")
        if tok.kind == "number":
            self.i += 1
            return tok.value
        if tok.kind == "op" and tok.value == "-":
            number = self.peek(1)
            if number is None or number.kind != "number":
                raise LuaRefusal("'-' may only negate a numeric literal")
            self.i += 2
            return -number.value
        if tok.kind == "string":
            self.i += 1
            return tok.value
        if tok.kind == "keyword" and tok.value in ("true", "false", "nil"):
            self.i += 1
            return {"true": True, "false": False, "nil": None}[tok.value]
        raise LuaRefusal(f"{_show(tok)} is not a literal")

    def expr(self) -> Any:
        tok = self.peek()
        if tok is not None and tok.kind == "name":
            path = self.path()
            value: Any = self.call(path) if self.is_op("(") else path
        elif self.is_op("{"):
            self.i += 1
            items: list[Any] = []
            while not self.is_op("}"):
                items.append(self.literal())
                if self.is_op(",") or self.is_op(";"):
                    self.i += 1
                elif not self.is_op("}"):
                    raise LuaRefusal("table constructors may hold literals only")
            self.i += 1
            value = Table(tuple(items))
        else:
            value = self.literal()
        after = self.peek()
        if after is not None and (
            (after.kind == "op" and after.value not in (",", ")", ";"))
            or after.kind in ("number", "string")
        ):
            raise LuaRefusal(f"an expression ({_show(after)}) where a single value must stand")
        if after is not None and after.kind == "keyword" and after.value in ("and", "or"):
            raise LuaRefusal(f"an expression ({after.value!r}) where a single value must stand")
        return value


def _show(tok: Tok | None) -> str:
    return "the end" if tok is None else repr(tok.value)


def parse_chunk(chunk: str) -> list[Assign | CallStmt]:
    """The statements of one chunk (see the module docstring for the grammar).

    :raises LuaRefusal: naming what is not accepted.
    """
    return _Parser(tokenize(chunk)).chunk()
