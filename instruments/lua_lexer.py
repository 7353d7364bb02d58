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
from typing import Any, NamedTuple

KEYWORDS = frozenset({
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in",
    "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while", "goto",
})  # fmt: skip
#: decimal numerals both dialects read alike (a numeral runs on over [0-9A-Za-z_.] in Lua)
_DECIMAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class LuaRefusal(ValueError):  # noqa: N818 (a refusal the guard reports)
    """The text is not in the accepted language (or could read differently on the instrument)."""


class Tok(NamedTuple):
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


_BAD_CHAR = re.compile(r"[^\t -~]")
_TOKEN = re.compile(
    r"""[ \t]+
    | (?P<comment>--)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<number>(?:[0-9]|\.[0-9])[0-9A-Za-z_.]*(?:(?<=[eE])[+-][0-9A-Za-z_.]*)?)
    | (?P<string>"[^"]*"|'[^']*')
    | (?P<long>\[=*\[)
    | (?P<op>\.\.\.|\.\.|==|~=|<=|>=|[=<>+\-*/^(){}\[\];:,.])""",
    re.VERBOSE,
)


_FAST = re.compile(
    r"""([ \t]+)
    | ([A-Za-z_][A-Za-z0-9_]*)
    | ((?:[0-9]|\.[0-9])[0-9A-Za-z_.]*(?:(?<=[eE])[+-][0-9A-Za-z_.]*)?)
    | ("[^"]*"|'[^']*')
    | (\.\.\.|\.\.|==|~=|<=|>=|[=<>+\-*/^(){}\[\];:,.])""",
    re.VERBOSE,
)
_SLOW_PATH = re.compile(r"--|\[=*\[")


def _tokenize_fast(chunk: str) -> list[Tok] | None:
    """Tokens of a chunk without comments or long brackets (what drivers send), or None if
    some character starts no token (the full tokenizer then names it)."""
    tokens: list[Tok] = []
    append = tokens.append
    covered = 0
    for space, name, number, string, op in _FAST.findall(chunk):
        if space:
            covered += len(space)
        elif name:
            append(Tok("keyword" if name in KEYWORDS else "name", name, covered))
            covered += len(name)
        elif op:
            append(Tok("op", op, covered))
            covered += len(op)
        elif number:
            if _DECIMAL.fullmatch(number) is None:
                raise LuaRefusal(f"numeral {number!r} (plain decimal numerals only)")
            append(Tok("number", float(number), covered))
            covered += len(number)
        else:
            if "\\" in string:
                raise LuaRefusal("escape sequences in strings are not accepted")
            append(Tok("string", string[1:-1], covered))
            covered += len(string)
    return tokens if covered == len(chunk) else None


def tokenize(chunk: str) -> list[Tok]:
    """Tokens of one chunk (one line as the instrument runs it), comments dropped.

    :raises LuaRefusal: on any character or construct outside the accepted subset.
    """
    bad = _BAD_CHAR.search(chunk)
    if bad is not None:
        raise LuaRefusal(
            f"character {bad.group(0)!r} at {bad.start()} (only printable ASCII and tabs)"
        )
    if _SLOW_PATH.search(chunk) is None:
        fast = _tokenize_fast(chunk)
        if fast is not None:
            return fast
    tokens: list[Tok] = []
    append = tokens.append
    i, n = 0, len(chunk)
    while i < n:
        restart = None
        for m in _TOKEN.finditer(chunk, i):
            if m.start() != i:
                break  # a character no token starts with
            kind = m.lastgroup
            i = m.end()
            if kind is None:  # white space
                continue
            if kind == "name":
                word = m.group("name")
                append(Tok("keyword" if word in KEYWORDS else "name", word, m.start()))
            elif kind == "op":
                append(Tok("op", m.group("op"), m.start()))
            elif kind == "number":
                text = m.group("number")
                if _DECIMAL.fullmatch(text) is None:
                    raise LuaRefusal(f"numeral {text!r} (plain decimal numerals only)")
                append(Tok("number", float(text), m.start()))
            elif kind == "string":
                body = m.group("string")[1:-1]
                if "\\" in body:
                    raise LuaRefusal("escape sequences in strings are not accepted")
                append(Tok("string", body, m.start()))
            elif kind == "long":
                restart, body = _skip_long(chunk, m.start(), "string")
                append(Tok("string", body, m.start()))
                break
            else:  # comment
                start = m.start()
                if not chunk.startswith("[", start + 2):
                    return tokens  # a line comment runs to the end of the chunk (one line)
                if _long_bracket_level(chunk, start + 2) is None:
                    raise LuaRefusal("a comment starting with '[' that is not '--[['")
                restart, _ = _skip_long(chunk, start + 2, "comment")
                break
        if restart is not None:
            i = restart
        elif i < n:
            what = "unfinished string" if chunk[i] in "\"'" else f"character {chunk[i]!r}"
            raise LuaRefusal(f"{what} at {i}")
    return tokens


# ------------------------------------------------------------------------------ statements


class Path(NamedTuple):
    """``a.b[2].c`` as its parts (names and integer indices)."""

    parts: tuple[str | int, ...]

    def __str__(self) -> str:
        out = ""
        for part in self.parts:
            out += f"[{part}]" if isinstance(part, int) else (("." if out else "") + part)
        return out


class Call(NamedTuple):
    """A call ``path(args)``."""

    func: Path
    args: tuple[Any, ...]

    def __str__(self) -> str:
        return f"{self.func}(...)"


class Table(NamedTuple):
    """A table constructor of literals ``{1, 2, "x"}``."""

    items: tuple[Any, ...]


class Assign(NamedTuple):
    """``target = value``."""

    target: Path
    value: Any


class CallStmt(NamedTuple):
    """A call as a statement."""

    call: Call


class _Parser:
    def __init__(self, tokens: list[Tok]) -> None:
        self.tokens = tokens
        self.n = len(tokens)
        # an operator token's value, "" for every other token (one lookup per test)
        self.ops = [tok.value if tok.kind == "op" else "" for tok in tokens]
        self.i = 0

    def peek(self, offset: int = 0) -> Tok | None:
        j = self.i + offset
        return self.tokens[j] if j < self.n else None

    def is_op(self, value: str, offset: int = 0) -> bool:
        j = self.i + offset
        return j < self.n and self.ops[j] == value

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
