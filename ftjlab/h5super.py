"""The HDF5 superblock, read and patched directly (HDF5 File Format Specification, section
II.A "Disk Format: Level 0A - Format Signature and Superblock").

Two jobs need it without going through the HDF5 library:

* **bounded opening**: a reader in SWMR mode skips HDF5's own "truncated file" check (the
  writer may still be extending the file), so a file cut short by a copy or a full disk can
  make attribute iteration loop for minutes. :func:`check_complete` compares the file's size
  with the end-of-file address the superblock records and refuses a file shorter than that;
* **repair**: a writer that was killed leaves the superblock's file-consistency flags set
  (bit 0 "open for writing", bit 2 "open for SWMR writing"), and the HDF5 library then
  refuses every non-SWMR open. :func:`clear_status_flags` clears them and recomputes the
  superblock checksum (Bob Jenkins' lookup3 ``hashlittle``, as the specification says),
  which is what ``h5clear -s`` does; it also raises the recorded end-of-file address to the
  file's size when the writer grew the file after it last wrote the superblock.

Superblock versions 2 and 3 (``libver="latest"``, what ftjlab writes) carry the flags and
the checksum; versions 0 and 1 have neither, so there is nothing to clear.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SIGNATURE = b"\x89HDF\r\n\x1a\n"
WRITE_FLAGS = 0x01 | 0x04  # open for write access, open for SWMR write access
_UNDEFINED = (1 << 64) - 1


@dataclass(frozen=True)
class Superblock:
    """What ftjlab needs from a superblock (addresses in bytes from the file's start)."""

    offset: int  # where the signature is (0, or 512, 1024, ... after a user block)
    version: int
    size_of_offsets: int
    status_flags: int  # versions 2 and 3 only (0 otherwise)
    base_address: int
    eof_address: int  # the end-of-file address recorded by the last writer
    flags_at: int | None  # file position of the status-flags byte (versions 2 and 3)
    eof_at: int  # file position of the end-of-file address
    checksum_at: int | None  # file position of the checksum (versions 2 and 3)


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & 0xFFFFFFFF


def lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 ``hashlittle`` (the checksum of HDF5 metadata)."""
    m = 0xFFFFFFFF
    n = len(data)
    a = b = c = (0xDEADBEEF + n + initval) & m
    i = 0
    while n > 12:
        a = (a + int.from_bytes(data[i : i + 4], "little")) & m
        b = (b + int.from_bytes(data[i + 4 : i + 8], "little")) & m
        c = (c + int.from_bytes(data[i + 8 : i + 12], "little")) & m
        a = (a - c) & m; a ^= _rot(c, 4); c = (c + b) & m  # noqa: E702
        b = (b - a) & m; b ^= _rot(a, 6); a = (a + c) & m  # noqa: E702
        c = (c - b) & m; c ^= _rot(b, 8); b = (b + a) & m  # noqa: E702
        a = (a - c) & m; a ^= _rot(c, 16); c = (c + b) & m  # noqa: E702
        b = (b - a) & m; b ^= _rot(a, 19); a = (a + c) & m  # noqa: E702
        c = (c - b) & m; c ^= _rot(b, 4); b = (b + a) & m  # noqa: E702
        i += 12
        n -= 12
    if n == 0:
        return c
    tail = data[i:] + bytes(12 - n)
    a = (a + int.from_bytes(tail[0:4], "little")) & m
    b = (b + int.from_bytes(tail[4:8], "little")) & m
    c = (c + int.from_bytes(tail[8:12], "little")) & m
    c ^= b; c = (c - _rot(b, 14)) & m  # noqa: E702
    a ^= c; a = (a - _rot(c, 11)) & m  # noqa: E702
    b ^= a; b = (b - _rot(a, 25)) & m  # noqa: E702
    c ^= b; c = (c - _rot(b, 16)) & m  # noqa: E702
    a ^= c; a = (a - _rot(c, 4)) & m  # noqa: E702
    b ^= a; b = (b - _rot(a, 14)) & m  # noqa: E702
    c ^= b; c = (c - _rot(b, 24)) & m  # noqa: E702
    return c


def read_superblock(path: str | Path) -> Superblock | None:
    """The superblock of ``path``, or None when it is not an HDF5 file (no signature at 0,
    512, 1024, ...) or the superblock itself is cut short or fails its checksum."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        offset = 0
        while offset + 8 <= size:
            f.seek(offset)
            if f.read(8) == SIGNATURE:
                f.seek(offset)
                return _parse(f.read(256), offset)
            offset = 512 if offset == 0 else offset * 2
    return None


def _parse(head: bytes, offset: int) -> Superblock | None:
    if len(head) < 12:
        return None
    version = head[8]
    if version in (2, 3):
        so = head[9]
        if so not in (2, 4, 8) or len(head) < 12 + 4 * so + 4:
            return None
        end = 12 + 4 * so
        if lookup3(head[:end]) != int.from_bytes(head[end : end + 4], "little"):
            return None
        base = int.from_bytes(head[12 : 12 + so], "little")
        eof_at = 12 + 2 * so
        eof = int.from_bytes(head[eof_at : eof_at + so], "little")
        return Superblock(offset, version, so, head[11], base, eof, offset + 11, offset + eof_at,
                          offset + end)
    if version in (0, 1):
        so = head[13]
        if so not in (2, 4, 8):
            return None
        start = 24 if version == 0 else 28
        if len(head) < start + 4 * so:
            return None
        base = int.from_bytes(head[start : start + so], "little")
        eof_at = start + 2 * so
        eof = int.from_bytes(head[eof_at : eof_at + so], "little")
        return Superblock(offset, version, so, 0, base, eof, None, offset + eof_at, None)
    return None


def check_complete(path: str | Path) -> str | None:
    """None when ``path`` is an HDF5 file at least as long as its superblock says, else a
    reason (not HDF5, damaged superblock, or truncated: size below the end-of-file address)."""
    sb = read_superblock(path)
    if sb is None:
        return "not an HDF5 file (no valid superblock)"
    size = os.path.getsize(path)
    if sb.eof_address != _UNDEFINED and sb.base_address + sb.eof_address > size:
        return (f"truncated: {size} bytes on disk, but the file records an end of file at "
                f"{sb.base_address + sb.eof_address} bytes")
    return None


def clear_status_flags(path: str | Path) -> bool:
    """Clear the writer flags a killed writer left in the superblock (``h5clear -s``) and
    raise the recorded end of file to the file's size if the file grew past it. Writes only
    the superblock (in place, one ``pwrite``). Returns whether anything changed."""
    sb = read_superblock(path)
    if sb is None:
        raise ValueError(f"{path}: not an HDF5 file (no valid superblock)")
    if sb.flags_at is None or sb.checksum_at is None:
        return False
    size = os.path.getsize(path)
    eof = max(sb.eof_address, size - sb.base_address)
    if not sb.status_flags & WRITE_FLAGS and eof == sb.eof_address:
        return False
    with open(path, "r+b") as f:
        f.seek(sb.offset)
        head = bytearray(f.read(sb.checksum_at - sb.offset))
        head[sb.flags_at - sb.offset] &= ~WRITE_FLAGS & 0xFF
        at = sb.eof_at - sb.offset
        head[at : at + sb.size_of_offsets] = eof.to_bytes(sb.size_of_offsets, "little")
        head += lookup3(bytes(head)).to_bytes(4, "little")
        f.seek(sb.offset)
        f.write(head)
        f.flush()
        os.fsync(f.fileno())
    return True
