"""SCPI parser, declarative command tree and IEEE-488.2 core for the simulated instruments.

An emulator subclasses :class:`ScpiInstrument`, declares its commands on a :class:`CommandTree`
with SCPI-style patterns and typed parameters, and gets for free:

* message parsing: ``;``-joined program units, optional leading ``:``, short/long mnemonics in
  any case, numeric suffixes (``OUTPut1``, ``PULS:WIDT2``), the SCPI rule that a header without a
  leading ``:`` after a ``;`` is relative to the previous header's path, queries (``?``) with or
  without parameters;
* parameters: decimal numbers with exponents and unit suffixes with SI multipliers (``10 ms``,
  ``5MV``), ``MIN``/``MAX``/``DEF``, non-decimal ``#H``/``#Q``/``#B`` numbers, booleans
  (``ON``/``OFF``/numbers), character data in short or long form, ``'`` or ``"`` strings with
  doubled-quote escapes, definite/indefinite blocks and ``( ... )`` expressions as raw tokens;
* the IEEE-488.2 common commands ``*IDN? *RST *CLS *OPC *OPC? *WAI *TRG *ESR? *ESE *SRE *STB?
  *TST? *OPT?`` with the standard event status register and status byte;
* an error queue with the standard codes, FIFO, ``-350,"Queue overflow"`` as last entry when full;
  ``*CLS`` clears it, ``*RST`` does not;
* robustness: no input raises. Parse errors become ``-1xx`` entries, errors a handler raises as
  :class:`ScpiError` become their code, and any other exception inside a handler becomes
  ``-200,"Execution error"`` and is also recorded in :attr:`ScpiInstrument.internal_faults` (so
  tests can tell emulator bugs from legitimate instrument errors).

Emulators do not know their transport: :meth:`ScpiInstrument.write` takes one message without its
LF terminator and :meth:`ScpiInstrument.read` returns the next reply including its LF, or raises
:class:`NoReply` (a real instrument would let the controller time out).

Instrument message exchange follows IEEE-488.2: all responses to the queries of one message are
joined with ``;`` into one reply; sending a new message while a reply is unread discards that reply
and logs ``-410,"Query INTERRUPTED"`` (switch off with ``interrupt_unread_replies=False``).
"""

from __future__ import annotations

import contextlib
import math
import re
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ftjlab.instruments.ieee488 import (
    COMMON_RE as _COMMON_RE,
)
from ftjlab.instruments.ieee488 import (
    HEADER_RE as _HEADER_RE,
)
from ftjlab.instruments.ieee488 import (
    MULTIPLIERS as _MULTIPLIERS,
)
from ftjlab.instruments.ieee488 import (
    WORD_RE as _WORD_RE,
)
from ftjlab.instruments.ieee488 import (
    WS as _WS,
)
from ftjlab.instruments.ieee488 import (
    ScpiError,
    Token,
    program_messages,
    split_outside,
    tokenize_parameters,
)

__all__ = [
    "STANDARD_MESSAGES",
    "Any_",
    "Block",
    "Boolean",
    "Call",
    "Choice",
    "Command",
    "CommandTree",
    "ErrorEntry",
    "ErrorQueue",
    "NoReply",
    "Number",
    "Param",
    "ScpiError",
    "ScpiInstrument",
    "String",
    "Token",
    "definite_block",
    "format_nr3",
    "indefinite_block",
    "parse_pattern",
    "repeat",
    "split_outside",
    "tokenize_parameters",
]


class NoReply(Exception):  # noqa: N818 - name fixed by the transport interface
    """Raised by ``read()`` when the instrument has no reply pending (a real one would time out)."""


#: SCPI-99 / IEEE-488.2 error texts. Instruments may override single entries.
STANDARD_MESSAGES: dict[int, str] = {
    0: "No error",
    -100: "Command error",
    -101: "Invalid character",
    -102: "Syntax error",
    -103: "Invalid separator",
    -104: "Data type error",
    -108: "Parameter not allowed",
    -109: "Missing parameter",
    -112: "Program mnemonic too long",
    -113: "Undefined header",
    -114: "Header suffix out of range",
    -120: "Numeric data error",
    -131: "Invalid suffix",
    -138: "Suffix not allowed",
    -141: "Invalid character data",
    -151: "Invalid string data",
    -161: "Invalid block data",
    -200: "Execution error",
    -211: "Trigger ignored",
    -213: "Init ignored",
    -221: "Settings conflict",
    -222: "Data out of range",
    -224: "Illegal parameter value",
    -230: "Data corrupt or stale",
    -350: "Queue overflow",
    -410: "Query INTERRUPTED",
}

# IEEE-488.2 white space: every ASCII control character and space. LF ends a message.


# --------------------------------------------------------------------------------------------
# Error queue
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorEntry:
    """One error-queue entry: SCPI code, full message text and the (virtual) time it occurred."""

    code: int
    message: str
    time_s: float = 0.0

    def scpi(self) -> str:
        """The ``:SYST:ERR?`` form: ``<code>,"<message>"`` with inner quotes doubled."""
        return f'{self.code},"{self.message.replace(chr(34), chr(34) * 2)}"'


class ErrorQueue:
    """FIFO error/event queue of fixed depth.

    When a new entry arrives while the queue holds ``depth`` entries, the last entry is replaced by
    ``-350,"Queue overflow"`` (SCPI-99 §21.8); later entries are dropped until one is read.
    """

    def __init__(self, depth: int, clock: Callable[[], float] | None = None) -> None:
        if depth < 2:
            raise ValueError("error queue depth must be >= 2")
        self.depth = int(depth)
        self._clock = clock or (lambda: 0.0)
        self._entries: deque[ErrorEntry] = deque()
        self.overflow_message = STANDARD_MESSAGES[-350]

    def push(self, code: int, message: str) -> None:
        """Append an entry, or mark overflow in the last slot when full."""
        now = self._safe_now()
        if len(self._entries) >= self.depth:
            if self._entries[-1].code != -350:
                self._entries[-1] = ErrorEntry(-350, self.overflow_message, now)
            return
        self._entries.append(ErrorEntry(int(code), message, now))

    def pop(self) -> ErrorEntry | None:
        """Remove and return the oldest entry, or ``None`` when empty."""
        return self._entries.popleft() if self._entries else None

    def peek_all(self) -> list[ErrorEntry]:
        """All entries, oldest first, without removing them."""
        return list(self._entries)

    def clear(self) -> None:
        """Empty the queue (``*CLS``, power-on)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _safe_now(self) -> float:
        try:
            return float(self._clock())
        except Exception:
            return 0.0


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


# --------------------------------------------------------------------------------------------
# Command tree
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Node:
    short: str
    long: str
    optional: bool
    suffix: bool


def parse_pattern(pattern: str) -> tuple[_Node, ...]:
    """Parse ``"[:SOURce#]:VOLTage[:LEVel]"`` into nodes.

    Upper-case letters of each mnemonic form the short form; ``#`` marks a numeric suffix;
    ``[...]`` marks an optional node. A leading ``:`` is optional.
    """
    nodes: list[_Node] = []
    pos = 0
    rx = re.compile(r"(\[)?:?([A-Za-z][A-Za-z0-9_]*)(#)?(\])?")
    text = pattern.strip()
    while pos < len(text):
        m = rx.match(text, pos)
        if not m or m.end() == pos or bool(m.group(1)) != bool(m.group(4)):
            raise ValueError(f"bad SCPI pattern {pattern!r} at {pos}")
        short, long = _mnemonic_forms(m.group(2))
        nodes.append(_Node(short, long, bool(m.group(1)), bool(m.group(3))))
        pos = m.end()
        if pos < len(text) and text[pos] not in ":[":
            raise ValueError(f"bad SCPI pattern {pattern!r} at {pos}")
    if not nodes or all(n.optional for n in nodes):
        raise ValueError(f"pattern {pattern!r} needs a mandatory node")
    return tuple(nodes)


@dataclass
class Call:
    """What a handler receives: converted ``args``, numeric ``suffixes`` (1 when omitted) of the
    pattern's ``#`` nodes in order, whether it is a ``query``, and the ``header`` as typed."""

    args: list[Any]
    suffixes: tuple[int, ...] = ()
    query: bool = False
    header: str = ""

    @property
    def ch(self) -> int:
        """The first numeric suffix (the channel, for most patterns)."""
        return self.suffixes[0] if self.suffixes else 1


Handler = Callable[[Call], "str | bytes | None"]


@dataclass
class Command:
    """A registered command: pattern, handlers and parameter lists."""

    pattern: str
    nodes: tuple[_Node, ...]
    set: Handler | None
    query: Handler | None
    set_params: tuple[Param, ...]
    query_params: tuple[Param, ...]
    max_suffix: int


class CommandTree:
    """Declarative SCPI command set.

    ``add("[:SOURce]:VOLTage[:LEVel]", set=..., query=..., params=(Number(...),))`` registers a
    command; ``add("*LANG", ...)`` a common command. ``max_suffix`` bounds numeric suffixes
    (``OUTPut3`` on a two-channel generator gives -114).
    """

    def __init__(self, max_suffix: int = 1) -> None:
        self.max_suffix = max_suffix
        self.commands: list[Command] = []
        self.common: dict[str, Command] = {}
        self._index: dict[str, list[Command]] = {}

    def add(
        self,
        pattern: str,
        *,
        set: Handler | None = None,
        query: Handler | None = None,
        params: Sequence[Param] = (),
        query_params: Sequence[Param] = (),
        max_suffix: int | None = None,
    ) -> Command:
        """Register a command; returns it. Later registrations of the same header win."""
        if set is None and query is None:
            raise ValueError("a command needs a set or a query handler")
        for plist in (params, query_params):
            seen_optional = False
            for p in plist:
                if seen_optional and not p.optional:
                    raise ValueError(f"{pattern}: required parameter after optional one")
                seen_optional = seen_optional or p.optional
        ms = self.max_suffix if max_suffix is None else max_suffix
        if pattern.lstrip(":").startswith("*"):
            name = pattern.lstrip(":")[1:].upper()
            cmd = Command(pattern, (), set, query, tuple(params), tuple(query_params), ms)
            self.common[name] = cmd
            return cmd
        nodes = parse_pattern(pattern)
        cmd = Command(pattern, nodes, set, query, tuple(params), tuple(query_params), ms)
        self.commands.insert(0, cmd)
        for node in nodes:
            for key in {node.short, node.long}:
                self._index.setdefault(key, []).insert(0, cmd)
            if not node.optional:
                break
        return cmd

    def setting(
        self,
        pattern: str,
        param: Param,
        get: Callable[[tuple[int, ...]], Any],
        put: Callable[[tuple[int, ...], Any], None],
        fmt: Callable[[Any], str] = str,
        *,
        max_suffix: int | None = None,
    ) -> Command:
        """Register a plain setting: ``put(suffixes, value)`` on write, ``fmt(get(suffixes))`` on
        query. Numeric settings also answer ``<header>? MIN|MAX|DEF``."""

        def _set(call: Call) -> None:
            put(call.suffixes, call.args[0])

        def _query(call: Call) -> str:
            if call.args and isinstance(param, Number):
                return fmt(param.bound(call.args[0]))
            return fmt(get(call.suffixes))

        qparams: tuple[Param, ...] = ()
        if isinstance(param, Number):
            qparams = (Choice("MINimum", "MAXimum", "DEFault", optional=True),)
        return self.add(
            pattern,
            set=_set,
            query=_query,
            params=(param,),
            query_params=qparams,
            max_suffix=max_suffix,
        )

    def lookup(
        self, mnemonics: Sequence[tuple[str, int | None]]
    ) -> tuple[Command, tuple[int, ...]]:
        """Find the command for a full header path. Raises -113 / -114."""
        if not mnemonics:
            raise ScpiError(-113)
        for cmd in self._index.get(mnemonics[0][0], ()):
            suffixes = _match(cmd.nodes, mnemonics)
            if suffixes is not None:
                if any(s < 1 or s > cmd.max_suffix for s in suffixes):
                    raise ScpiError(-114)
                return cmd, suffixes
        raise ScpiError(-113)


def _match(
    nodes: tuple[_Node, ...], words: Sequence[tuple[str, int | None]]
) -> tuple[int, ...] | None:
    """Match typed mnemonics against pattern nodes (backtracking over optional nodes)."""
    n_nodes, n_words = len(nodes), len(words)

    def rec(i: int, j: int) -> list[int] | None:
        if j == n_words:
            if all(nd.optional for nd in nodes[i:]):
                return [1 for nd in nodes[i:] if nd.suffix]
            return None
        if i == n_nodes:
            return None
        node = nodes[i]
        name, suf = words[j]
        if (name == node.short or name == node.long) and (suf is None or node.suffix):
            rest = rec(i + 1, j + 1)
            if rest is not None:
                return ([suf if suf is not None else 1] if node.suffix else []) + rest
        if node.optional:
            rest = rec(i + 1, j)
            if rest is not None:
                return ([1] if node.suffix else []) + rest
        return None

    found = rec(0, 0)
    return None if found is None else tuple(found)


# --------------------------------------------------------------------------------------------
# Formatting helpers
# --------------------------------------------------------------------------------------------


def format_nr3(value: float, digits: int = 15) -> str:
    """Keysight-style NR3: sign, ``digits`` decimals, ``E``, signed exponent: ``+1.5E-03``."""
    if not math.isfinite(value) or abs(value) >= 9.9e37:
        return "+9.9E+37" if value > 0 or math.isnan(value) else "-9.9E+37"
    # round away binary noise (1e-8 computed as 1.000000000000014e-08) before padding
    return f"{float(f'{value:.12e}'):+.{digits}E}"


def indefinite_block(data: bytes) -> bytes:
    """IEEE-488.2 indefinite-length block ``#0<data>`` (the reply's LF terminates it)."""
    return b"#0" + data


def definite_block(data: bytes) -> bytes:
    """IEEE-488.2 definite-length block ``#<n><len><data>``."""
    length = str(len(data)).encode()
    return b"#" + str(len(length)).encode() + length + data


# --------------------------------------------------------------------------------------------
# The instrument core
# --------------------------------------------------------------------------------------------


# Standard event status register bits (IEEE-488.2 §11.5.1).
ESR_OPC, ESR_QYE, ESR_DDE, ESR_EXE, ESR_CME, ESR_PON = 1, 4, 8, 16, 32, 128


class ScpiInstrument:
    """Base class of SCPI emulators (see the module docstring for what it provides).

    Subclasses set :attr:`error_messages` overrides, implement :meth:`_build` to declare their
    commands on ``self.tree``, :meth:`_reset_state` (``*RST``), and optionally :meth:`_trigger`
    (``*TRG``), :meth:`_clear_status` (``*CLS``) and :meth:`_status_bits` (extra status-byte
    bits).
    """

    #: Per-instrument overrides of :data:`STANDARD_MESSAGES`.
    error_messages: ClassVar[Mapping[int, str]] = {}

    def __init__(
        self,
        *,
        idn: str,
        error_queue_depth: int,
        max_suffix: int = 1,
        clock: Callable[[], float] | None = None,
        interrupt_unread_replies: bool = True,
        options: str = "0",
    ) -> None:
        self.idn = idn
        self.options = options
        self.interrupt_unread_replies = interrupt_unread_replies
        self.errors = ErrorQueue(error_queue_depth, clock)
        self.errors.overflow_message = self.error_text(-350)
        self.tree = CommandTree(max_suffix=max_suffix)
        self.internal_faults: list[str] = []
        self.esr = ESR_PON
        self.ese = 0
        self.sre = 0
        self._replies: deque[bytes] = deque()
        self._register_common()
        self._build()

    # -- Emulator protocol ---------------------------------------------------------------------

    def write(self, message: str) -> None:
        """Execute one program message (terminator already stripped). Never raises."""
        try:
            if self._replies and self.interrupt_unread_replies:
                self._replies.clear()
                self.push_error(-410)
            if isinstance(message, bytes | bytearray):
                message = bytes(message).decode("latin-1")
            message = str(message)
            # an LF inside block data does not end the program message (shared with the
            # drivers' safety guards, so both frame messages alike)
            for line in program_messages(message):
                if line.strip(_WS):
                    self._execute_message(line)
        except Exception as exc:  # last line of defence: never crash on input
            self._internal_fault("write", exc)

    def read(self) -> bytes:
        """Next reply including its LF terminator; raises :class:`NoReply` if none is pending."""
        if not self._replies:
            raise NoReply("no query response pending")
        return self._replies.popleft()

    def read_all(self) -> list[bytes]:
        """Every pending reply (with their LFs), oldest first; empty if none."""
        out = list(self._replies)
        self._replies.clear()
        return out

    def reset(self) -> None:
        """Power-on state: ``*RST`` settings plus empty error and output queues, status cleared."""
        try:
            self._reset_state()
        except Exception as exc:
            self._internal_fault("reset", exc)
        self.errors.clear()
        self._replies.clear()
        self.esr = ESR_PON
        self.ese = 0
        self.sre = 0
        try:
            self._clear_status()
        except Exception as exc:
            self._internal_fault("reset", exc)

    @property
    def reply_pending(self) -> bool:
        """True if a reply is waiting to be read."""
        return bool(self._replies)

    # -- hooks for subclasses -----------------------------------------------------------------

    def _build(self) -> None:
        """Declare the instrument's commands on ``self.tree``."""

    def _reset_state(self) -> None:
        """Apply the ``*RST`` state (must not touch the error queue)."""

    def _trigger(self) -> None:
        """Bus trigger (``*TRG``)."""

    def _clear_status(self) -> None:
        """Extra work for ``*CLS`` (instrument-specific event registers)."""

    def _status_bits(self) -> int:
        """Instrument-specific status-byte bits (0, 1, 3, 7)."""
        return 0

    # -- errors ---------------------------------------------------------------------------------

    def error_text(self, code: int) -> str:
        """Base text of an error code for this instrument."""
        return self.error_messages.get(code) or STANDARD_MESSAGES.get(code) or "Device error"

    def push_error(self, code: int, detail: str = "") -> None:
        """Log an error (sets the matching standard event status bit)."""
        text = self.error_text(code)
        if detail:
            text = f"{text};{detail}"
        self.errors.push(code, text)
        if -199 <= code <= -100:
            self.esr |= ESR_CME
        elif -299 <= code <= -200:
            self.esr |= ESR_EXE
        elif -499 <= code <= -400:
            self.esr |= ESR_QYE
        elif code != 0:
            self.esr |= ESR_DDE

    def next_error(self) -> ErrorEntry:
        """Pop the oldest error, or ``0,"No error"``."""
        entry = self.errors.pop()
        return entry if entry is not None else ErrorEntry(0, self.error_text(0))

    def _internal_fault(self, where: str, exc: BaseException) -> None:
        self.internal_faults.append(f"{where}: {type(exc).__name__}: {exc}")
        with contextlib.suppress(Exception):
            self.push_error(-200, type(exc).__name__)

    # -- message execution -----------------------------------------------------------------------

    def _execute_message(self, message: str) -> None:
        responses: list[str | bytes] = []
        path: list[tuple[str, int | None]] = []
        first = True
        for unit in split_outside(message, ";"):
            text = unit.lstrip(_WS)  # trailing white space: the tokenizer (a block keeps its bytes)
            if not text:
                continue
            try:
                path = self._execute_unit(text, path, first, responses)
            except ScpiError as err:
                self.push_error(err.code, err.detail)
            except Exception as exc:
                self._internal_fault(text[:40], exc)
            first = False
        if responses:
            self._replies.append(self._join(responses))

    @staticmethod
    def _join(responses: list[str | bytes]) -> bytes:
        parts = [r if isinstance(r, bytes) else r.encode("latin-1", "replace") for r in responses]
        return b";".join(parts) + b"\n"

    def _execute_unit(
        self,
        text: str,
        path: list[tuple[str, int | None]],
        first: bool,
        responses: list[str | bytes],
    ) -> list[tuple[str, int | None]]:
        i = 0
        while i < len(text) and text[i] not in _WS:
            i += 1
        header, rest = text[:i], text[i:]
        m = _COMMON_RE.fullmatch(header)
        if m:
            cmd = self.tree.common.get(m.group(1).upper())
            if cmd is None:
                raise ScpiError(-113, header)
            self._invoke(cmd, (), m.group(2) is not None, header, rest, responses)
            return path
        m = _HEADER_RE.fullmatch(header)
        if not m:
            raise ScpiError(-102, header[:20])
        words: list[tuple[str, int | None]] = []
        for word in m.group(2).split(":"):
            wm = _WORD_RE.fullmatch(word)
            if wm is None:  # pragma: no cover - guaranteed by _HEADER_RE
                raise ScpiError(-102)
            name, digits = wm.groups()
            if len(name) > 12:
                raise ScpiError(-112, name[:20])
            words.append((name.upper(), int(digits) if digits else None))
        full = words if (m.group(1) or first) else path + words
        new_path = full[:-1]
        cmd, suffixes = self.tree.lookup(full)
        self._invoke(cmd, suffixes, m.group(3) is not None, header, rest, responses)
        return new_path

    def _invoke(
        self,
        cmd: Command,
        suffixes: tuple[int, ...],
        query: bool,
        header: str,
        rest: str,
        responses: list[str | bytes],
    ) -> None:
        handler = cmd.query if query else cmd.set
        if handler is None:
            raise ScpiError(-113, header)
        params = cmd.query_params if query else cmd.set_params
        tokens = tokenize_parameters(rest)
        required = sum(1 for p in params if not p.optional)
        if len(tokens) < required:
            raise ScpiError(-109)
        repeat = bool(params) and isinstance(params[-1], _Repeat)
        if len(tokens) > len(params) and not repeat:
            raise ScpiError(-108)
        args: list[Any] = []
        for k, tok in enumerate(tokens):
            p = params[min(k, len(params) - 1)]
            args.append(p.convert(tok, self.push_error))
        result = handler(Call(args, suffixes, query, header))
        if query and result is not None:
            responses.append(result)

    # -- common commands -------------------------------------------------------------------------

    def _register_common(self) -> None:
        t = self.tree
        t.add("*IDN", query=lambda c: self.idn)
        t.add("*RST", set=lambda c: self._reset_state())
        t.add("*CLS", set=self._cls)
        t.add("*OPC", set=self._opc, query=lambda c: "1")
        t.add("*WAI", set=lambda c: None)
        t.add("*TRG", set=lambda c: self._trigger())
        t.add("*ESR", query=self._esr_query)
        t.add(
            "*ESE",
            set=self._ese_set,
            query=lambda c: str(self.ese),
            params=(Number(0, 255, integer=True),),
        )
        t.add(
            "*SRE",
            set=self._sre_set,
            query=lambda c: str(self.sre),
            params=(Number(0, 255, integer=True),),
        )
        t.add("*STB", query=lambda c: str(self.status_byte()))
        t.add("*TST", query=lambda c: "0")
        t.add("*OPT", query=lambda c: self.options)

    def _cls(self, call: Call) -> None:
        self.errors.clear()
        self.esr = 0
        self._clear_status()

    def _opc(self, call: Call) -> None:
        # Every operation of a simulated instrument completes in virtual time before the next
        # command executes, so the OPC bit is set at once.
        self.esr |= ESR_OPC

    def _esr_query(self, call: Call) -> str:
        value, self.esr = self.esr, 0
        return str(value)

    def _ese_set(self, call: Call) -> None:
        self.ese = int(call.args[0])

    def _sre_set(self, call: Call) -> None:
        self.sre = int(call.args[0]) & ~0x40

    def status_byte(self) -> int:
        """IEEE-488.2 status byte: EAV (bit 2), MAV (4), ESB (5), MSS (6) plus instrument bits."""
        stb = self._status_bits() & 0b10001011
        if len(self.errors):
            stb |= 4
        if self._replies:
            stb |= 16
        if self.esr & self.ese:
            stb |= 32
        if stb & self.sre:
            stb |= 64
        return stb


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
