"""Minimal SCPI message parsing for the safety guards.

Splits a message into commands (``;`` and line feeds outside quotes and blocks), resolves the
SCPI header path of compound commands (``:SOUR:VOLT:RANG 20;LEV 1`` means ``:SOUR:VOLT:LEV 1``),
maps long mnemonics to short ones, drops optional nodes and extracts the channel suffix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
    "READBACK": "READ",
}
_OPTIONAL = frozenset({"LEV", "IMM", "AMPL"})
_NODE = re.compile(r"([A-Za-z_]+)([0-9]*)")
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@dataclass(frozen=True)
class ScpiCommand:
    """One command of a message, header resolved to canonical short-form nodes."""

    text: str
    nodes: tuple[str, ...]
    channel: int | None
    ambiguous_channel: bool
    query: bool
    common: bool
    args: tuple[str, ...]

    @property
    def header(self) -> str:
        """Canonical header, e.g. ``"VOLT:HIGH"`` (``SOUR`` root and optional nodes dropped)."""
        return ":".join(self.nodes)


def _split(message: str) -> list[str]:
    """Split on ``;`` and newlines outside quotes and IEEE 488.2 blocks."""
    parts: list[str] = []
    current: list[str] = []
    quote = ""
    i = 0
    n = len(message)
    while i < n:
        char = message[i]
        if quote:
            current.append(char)
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
            current.append(char)
        elif char == "#" and i + 1 < n and message[i + 1].isdigit():
            digits = int(message[i + 1])
            if digits == 0:  # indefinite block: the rest of the message
                current.append(message[i:])
                break
            length_text = message[i + 2 : i + 2 + digits]
            length = int(length_text) if length_text.isdigit() else 0
            end = i + 2 + digits + length
            current.append(message[i:end])
            i = end
            continue
        elif char in ";\n\r":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def split_args(text: str) -> tuple[str, ...]:
    """Split an argument list on commas outside quotes and parentheses."""
    if not text.strip():
        return ()
    args: list[str] = []
    current: list[str] = []
    quote = ""
    depth = 0
    for char in text:
        if quote:
            current.append(char)
            if char == quote:
                quote = ""
            continue
        if char in "\"'":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            args.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    args.append("".join(current).strip())
    return tuple(args)


def _canonical(token: str) -> tuple[str, int | None]:
    match = _NODE.fullmatch(token)
    if match is None:
        return token.upper(), None
    name = match.group(1).upper()
    suffix = int(match.group(2)) if match.group(2) else None
    return _SHORT.get(name, name), suffix


def parse_message(message: str) -> list[ScpiCommand]:
    """Parse a message into resolved commands."""
    commands: list[ScpiCommand] = []
    path: list[str] = []
    for text in _split(message):
        parts = text.split(None, 1)
        header, rest = parts[0], (parts[1] if len(parts) > 1 else "")
        query = header.endswith("?")
        header = header.rstrip("?")
        if header.startswith("*"):
            commands.append(
                ScpiCommand(text, (header.upper(),), None, False, query, True, split_args(rest))
            )
            continue
        absolute = header.startswith(":")
        tokens = [token for token in header.strip(":").split(":") if token]
        if not absolute and path:
            tokens = path + tokens
        path = tokens[:-1]
        nodes: list[str] = []
        suffixes: set[int] = set()
        for token in tokens:
            name, suffix = _canonical(token)
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
            ScpiCommand(
                text, tuple(nodes), channel, len(suffixes) > 1, query, False, split_args(rest)
            )
        )
    return commands


def parse_number(arg: str) -> float | None:
    """A plain SCPI number (NR1/NR2/NR3), or None for MIN/MAX/DEF, units or anything else."""
    text = arg.strip()
    return float(text) if NUMBER.fullmatch(text) else None


def parse_switch(arg: str) -> bool | None:
    """``ON``/``1`` -> True, ``OFF``/``0`` -> False, else None."""
    text = arg.strip().upper()
    if text in ("ON", "1"):
        return True
    if text in ("OFF", "0"):
        return False
    return None
