"""SCPI messages as the safety guards read them: framed and tokenized by :mod:`.ieee488`
(the same code the SCPI emulators use), headers resolved to canonical short-form nodes.

A message is split into program messages at every LF, each into units at ``;`` outside
strings, blocks and expressions; a unit is a header (up to the first IEEE 488.2 white-space
character, i.e. any control character or space) and its parameter tokens. Long mnemonics map
to short ones, optional nodes (``[:SOURce]``, ``[:LEVel]``, ``[:IMMediate]``, ``[:AMPLitude]``,
a trailing ``[:STATe]``) are dropped, and the channel suffix is extracted.

Anything the lexer cannot read, a malformed header, or a relative header after ``;`` (whose
path would depend on how the instrument executed the unit before) raises
:class:`ScpiParseRefusal`: the guard refuses the message.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ieee488 import (
    COMMON_RE,
    HEADER_RE,
    WORD_RE,
    WS,
    ScpiError,
    Token,
    program_messages,
    split_header,
    split_outside,
    tokenize_parameters,
)

_SHORT = {
    "SOURCE": "SOUR", "VOLTAGE": "VOLT", "CURRENT": "CURR", "LEVEL": "LEV",
    "IMMEDIATE": "IMM", "AMPLITUDE": "AMPL", "OFFSET": "OFFS", "PULSE": "PULS",
    "WIDTH": "WIDT", "DCYCLE": "DCYC", "TRANSITION": "TRAN", "TRAILING": "TRA",
    "LEADING": "LEAD", "PERIOD": "PER", "FREQUENCY": "FREQ", "FUNCTION": "FUNC",
    "APPLY": "APPL", "ILIMIT": "ILIM", "VLIMIT": "VLIM", "SWEEP": "SWE", "LINEAR": "LIN",
    "LOGARITHMIC": "LOG", "APPEND": "APP", "OUTPUT": "OUTP", "LIMIT": "LIM", "STATE": "STAT",
    "RANGE": "RANG", "DELAY": "DEL", "PROTECTION": "PROT", "TRIGGER": "TRIG",
    "BURST": "BURS", "NCYCLES": "NCYC", "CONFIGURATION": "CONF", "RECALL": "REC",
    "TRACE": "TRAC", "CHANNEL": "CHAN", "COMBINE": "COMB", "NORMAL": "NORM",
    "COMPLEMENT": "COMP", "BLOCK": "BLOC", "SENSE": "SENS", "FORMAT": "FORM",
    "SYSTEM": "SYST", "ERROR": "ERR", "MMEMORY": "MMEM", "SCRIPT": "SCR", "TRACK": "TRAC",
    "COUPLE": "COUP", "POLARITY": "POL", "HIGH": "HIGH", "LOW": "LOW", "UNIT": "UNIT",
    "HOLD": "HOLD", "LOAD": "LOAD", "LIST": "LIST", "STEP": "STEP", "BOTH": "BOTH",
    "READBACK": "READ", "COUNT": "COUN", "ARM": "ARM", "MODE": "MODE",
    "IMPEDANCE": "IMP", "EXTERNAL": "EXT", "INITIATE": "INIT", "ABORT": "ABOR",
    "CLEAR": "CLE", "POINTS": "POIN", "ACTUAL": "ACT", "BORDER": "BORD", "DATA": "DATA",
    "FILL": "FILL", "MAKE": "MAKE", "PRESET": "PRES", "STATUS": "STAT", "AUTO": "AUTO",
    "NPLCYCLES": "NPLC", "AZERO": "AZER", "AVERAGE": "AVER", "CAPACITANCE": "CAP",
    "TERMINALS": "TERM", "ROUTE": "ROUT", "DISPLAY": "DISP", "SMODE": "SMOD",
    "INTERLOCK": "INT", "TRIP": "TRIP", "TRIPPED": "TRIP", "SLOPE": "SLOP",
    "ECOUNT": "ECO", "SEQUENCE": "SEQ", "CYCLES": "CYCL", "PHASE": "PHAS", "GATE": "GATE",
    "RESOLUTION": "RES", "SQUARE": "SQU", "RAMP": "RAMP", "SYMMETRY": "SYMM",
}  # fmt: skip
_OPTIONAL = frozenset({"LEV", "IMM", "AMPL"})


class ScpiParseRefusal(ValueError):  # noqa: N818 (a refusal, turned into a guard error)
    """The message cannot be read unambiguously; ``unit`` is the offending text."""

    def __init__(self, unit: str, reason: str) -> None:
        super().__init__(reason)
        self.unit = unit
        self.reason = reason


@dataclass(frozen=True)
class ScpiCommand:
    """One unit of a message, header resolved to canonical short-form nodes."""

    text: str
    nodes: tuple[str, ...]
    channel: int | None
    ambiguous_channel: bool
    query: bool
    common: bool
    tokens: tuple[Token, ...]

    @property
    def header(self) -> str:
        """Canonical header, e.g. ``"VOLT:HIGH"`` (``SOUR`` root and optional nodes dropped)."""
        return ":".join(self.nodes)

    @property
    def args(self) -> tuple[str, ...]:
        """The parameters as received (white space stripped)."""
        return tuple(token.text for token in self.tokens)


def _canonical(word: str) -> tuple[str, int | None]:
    match = WORD_RE.fullmatch(word)
    if match is None:  # pragma: no cover - guaranteed by HEADER_RE
        raise ScpiParseRefusal(word, "malformed header word")
    name, digits = match.groups()
    upper = name.upper()
    return _SHORT.get(upper, upper), (int(digits) if digits else None)


def _tokens(unit: str, rest: str) -> tuple[Token, ...]:
    try:
        tokens = tuple(tokenize_parameters(rest))
    except ScpiError as exc:
        raise ScpiParseRefusal(unit, f"parameters cannot be read ({exc})") from None
    for token in tokens:
        if token.kind in ("block", "expr"):
            raise ScpiParseRefusal(unit, f"{token.kind} data is not accepted")
    return tokens


def parse_message(message: str) -> list[ScpiCommand]:
    """Parse a message (any number of LF-terminated program messages) into commands.

    :raises ScpiParseRefusal: for anything that cannot be read unambiguously.
    """
    commands: list[ScpiCommand] = []
    for program in program_messages(message):
        first = True
        for raw in split_outside(program, ";"):
            unit = raw.strip(WS)
            if not unit:
                continue
            header, rest = split_header(unit)
            common = COMMON_RE.fullmatch(header)
            if common:
                name = "*" + common.group(1).upper()
                commands.append(
                    ScpiCommand(unit, (name,), None, False, common.group(2) is not None, True,
                                _tokens(unit, rest))
                )
                first = False
                continue
            match = HEADER_RE.fullmatch(header)
            if match is None:
                raise ScpiParseRefusal(unit, "malformed header")
            words = match.group(2).split(":")
            if match.group(1) is None and not first:
                raise ScpiParseRefusal(
                    unit, "a header after ';' must start with ':' (its path would depend on "
                    "how the instrument executed the unit before)"
                )
            first = False
            nodes: list[str] = []
            suffixes: set[int] = set()
            for word in words:
                name, suffix = _canonical(word)
                nodes.append(name)
                if suffix is not None:
                    suffixes.add(suffix)
            if nodes and nodes[0] == "SOUR":
                nodes = nodes[1:]
            nodes = [node for node in nodes if node not in _OPTIONAL]
            if nodes and nodes[0] == "OUTP":
                nodes = [node for node in nodes if node != "NORM"]
            while len(nodes) > 1 and nodes[-1] == "STAT":
                nodes.pop()
            channel = next(iter(suffixes)) if len(suffixes) == 1 else None
            commands.append(
                ScpiCommand(unit, tuple(nodes), channel, len(suffixes) > 1,
                            match.group(3) is not None, False, _tokens(unit, rest))
            )
    return commands


def token_number(token: Token) -> float | None:
    """A plain number (decimal or ``#H``/``#Q``/``#B``, no unit suffix), else None."""
    if token.kind == "number" and not token.suffix:
        return float(token.value)
    return None


def token_switch(token: Token) -> bool | None:
    """``ON``/``1`` -> True, ``OFF``/``0`` -> False, else None."""
    if token.kind == "chars":
        return {"ON": True, "OFF": False}.get(token.value)
    if token.kind == "number" and not token.suffix and token.value in (0.0, 1.0):
        return bool(token.value)
    return None


def token_word(token: Token) -> str | None:
    """Character data or a string, upper case; else None."""
    if token.kind in ("chars", "string"):
        return str(token.value).upper()
    return None


def parse_switch(arg: str) -> bool | None:
    """``ON``/``1`` -> True, ``OFF``/``0`` -> False, else None (text form)."""
    text = arg.strip(WS).upper()
    return {"ON": True, "1": True, "OFF": False, "0": False}.get(text)
