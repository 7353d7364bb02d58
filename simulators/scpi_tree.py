"""SCPI emulator core: the declarative command tree (header patterns, lookup, calls)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ftjlab.instruments.ieee488 import ScpiError

from .scpi_params import Choice, Number, Param, _mnemonic_forms

# --------------------------------------------------------------------------------------------
# Command tree
# --------------------------------------------------------------------------------------------

#: Header paths a tree remembers once found (a driver uses a few dozen).
FOUND_ENTRIES = 4096


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
        #: headers already found (mnemonics -> command, suffixes); cleared by :meth:`add`
        self._found: dict[tuple[tuple[str, int | None], ...], tuple[Command, tuple[int, ...]]] = {}

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
        self._found.clear()
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
        key = tuple(mnemonics)
        found = self._found.get(key)
        if found is not None:
            return found
        if not mnemonics:
            raise ScpiError(-113)
        for cmd in self._index.get(mnemonics[0][0], ()):
            suffixes = _match(cmd.nodes, mnemonics)
            if suffixes is not None:
                if any(s < 1 or s > cmd.max_suffix for s in suffixes):
                    raise ScpiError(-114)
                if len(self._found) >= FOUND_ENTRIES:
                    self._found.clear()
                self._found[key] = cmd, suffixes
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
