"""Record an adapter's (command, reply) traffic as JSON lines; replay it as a strict test."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pymeasure.adapters import Adapter
from pymeasure.adapters.protocol import ProtocolAdapter

TRAFFIC_FORMAT = "ftjlab-traffic"
TRAFFIC_VERSION = 1

# ---------------------------------------------------------------------------- record / replay


class RecordingAdapter(Adapter):
    """Wraps any adapter and records its traffic as JSON lines, one (write, read) pair each.

    The first line is a header ``{"format": "ftjlab-traffic", "version": 1, ...}``; then
    ``{"write": cmd, "read": reply}`` where either may be null, and binary or non-UTF-8
    replies are stored as ``"read_b64"``. Close the adapter (or use it as a context
    manager) to write the last pair.
    """

    def __init__(self, inner: Adapter, path: str | Path, **meta: Any) -> None:
        super().__init__()
        self.inner = inner
        self.path = Path(path)
        self._file = self.path.open("w", encoding="utf-8")
        header = {"format": TRAFFIC_FORMAT, "version": TRAFFIC_VERSION, **meta}
        self._file.write(json.dumps(header) + "\n")
        self._pending: dict[str, Any] | None = None

    @property
    def connection(self) -> Any:  # type: ignore[override]
        return getattr(self.inner, "connection", None)

    def _emit(self) -> None:
        if self._pending is not None and not self._file.closed:
            if "read_b64" not in self._pending:
                self._pending.setdefault("read", None)
            self._file.write(json.dumps(self._pending) + "\n")
            self._file.flush()
        self._pending = None

    def _record_read(self, reply: str | bytes) -> None:
        if isinstance(reply, bytes):
            try:
                text = reply.decode("utf-8")
                entry: dict[str, Any] = {"read": text} if text.isprintable() or not text else {}
            except UnicodeDecodeError:
                entry = {}
            if not entry:
                entry = {"read_b64": base64.b64encode(reply).decode("ascii")}
        else:
            entry = {"read": reply}
        if (
            self._pending is not None
            and "read" not in self._pending
            and "read_b64" not in self._pending
        ):  # the reply to the pending write
            self._pending.update(entry)
            self._emit()
        else:
            self._emit()
            self._pending = {"write": None, **entry}
            self._emit()

    def _write(self, command: str, **kwargs: Any) -> None:
        self._emit()
        self._pending = {"write": command}
        self.inner.write(command, **kwargs)

    def _write_bytes(self, content: bytes, **kwargs: Any) -> None:
        self._write(bytes(content).decode("latin-1"))

    def _read(self, **kwargs: Any) -> str:
        reply = self.inner.read(**kwargs)
        self._record_read(reply)
        return reply

    def _read_bytes(self, count: int, break_on_termchar: bool = False, **kwargs: Any) -> bytes:
        reply = self.inner.read_bytes(count, break_on_termchar, **kwargs)
        self._record_read(reply)
        return reply

    def flush_read_buffer(self) -> None:
        self.inner.flush_read_buffer()

    def close(self) -> None:
        """Write the last pair and close the file (the inner adapter stays open)."""
        if not getattr(self, "_file", None) or self._file.closed:
            return
        self._emit()
        self._file.close()

    def __enter__(self) -> RecordingAdapter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def load_protocol(path: str | Path) -> list[tuple[str | bytes | None, str | bytes | None]]:
    """Read a recorded traffic file as pymeasure ``comm_pairs`` (strictly: a malformed line
    raises ValueError naming the line)."""
    path = Path(path)
    pairs: list[tuple[str | bytes | None, str | bytes | None]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not JSON ({exc})") from None
        if not isinstance(entry, dict):
            raise ValueError(f"{path}:{number}: expected an object")
        if "format" in entry:
            if entry["format"] != TRAFFIC_FORMAT or entry.get("version") != TRAFFIC_VERSION:
                raise ValueError(f"{path}:{number}: unsupported traffic format {entry!r}")
            continue
        unknown = set(entry) - {"write", "read", "read_b64"}
        if unknown or ("read" in entry and "read_b64" in entry):
            raise ValueError(f"{path}:{number}: unexpected keys {sorted(entry)}")
        write = entry.get("write")
        read: str | bytes | None = entry.get("read")
        if "read_b64" in entry:
            read = base64.b64decode(entry["read_b64"])
        if write is not None and not isinstance(write, str):
            raise ValueError(f"{path}:{number}: 'write' must be a string or null")
        if write is None and read is None:
            raise ValueError(f"{path}:{number}: a pair needs a write or a read")
        pairs.append((write, read))
    return pairs


def replay_adapter(path: str | Path) -> ProtocolAdapter:
    """A strict pymeasure ``ProtocolAdapter`` that expects exactly the recorded traffic."""
    return ProtocolAdapter(load_protocol(path))


@contextlib.contextmanager
def replay_protocol(instrument_cls: type, path: str | Path, **kwargs: Any) -> Iterator[Any]:
    """Like ``pymeasure.test.expected_protocol`` with the pairs of a recorded file."""
    from pymeasure.test import expected_protocol

    with expected_protocol(instrument_cls, load_protocol(path), **kwargs) as instrument:
        yield instrument
