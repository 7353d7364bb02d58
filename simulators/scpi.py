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
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ftjlab.instruments.ieee488 import (
    COMMON_RE as _COMMON_RE,
)
from ftjlab.instruments.ieee488 import (
    HEADER_RE as _HEADER_RE,
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

from .scpi_params import Any_, Block, Boolean, Choice, Number, Param, String, _Repeat, repeat
from .scpi_tree import Call, Command, CommandTree, parse_pattern

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


#: Parsed headers kept (the header text decides the parse; a few dozen are in use).
HEADER_CACHE_ENTRIES = 4096
_HEADERS: dict[str, tuple[bool | None, Any, bool]] = {}


def _parse_header(header: str) -> tuple[bool | None, Any, bool]:
    """``header`` as (absolute, mnemonics, query): mnemonics a tuple of (upper-case name,
    numeric suffix or None); for a common command (None, its upper-case name, query).
    Raises -102 (syntax) and -112 (mnemonic too long)."""
    m = _COMMON_RE.fullmatch(header)
    if m:
        return None, m.group(1).upper(), m.group(2) is not None
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
    return bool(m.group(1)), tuple(words), m.group(3) is not None


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
        path: tuple[tuple[str, int | None], ...] = ()
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
        path: tuple[tuple[str, int | None], ...],
        first: bool,
        responses: list[str | bytes],
    ) -> tuple[tuple[str, int | None], ...]:
        i = 0
        while i < len(text) and text[i] not in _WS:
            i += 1
        header, rest = text[:i], text[i:]
        parsed = _HEADERS.get(header)
        if parsed is None:
            parsed = _parse_header(header)
            if len(_HEADERS) >= HEADER_CACHE_ENTRIES:
                _HEADERS.clear()
            _HEADERS[header] = parsed
        absolute, words, query = parsed
        if absolute is None:  # a common command: words is its name
            cmd = self.tree.common.get(words)
            if cmd is None:
                raise ScpiError(-113, header)
            self._invoke(cmd, (), query, header, rest, responses)
            return path
        full = words if (absolute or first) else path + words
        cmd, suffixes = self.tree.lookup(full)
        self._invoke(cmd, suffixes, query, header, rest, responses)
        return full[:-1]

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
