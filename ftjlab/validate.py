"""One vocabulary for checking user input: every check takes the *field* first (a command-line
option such as ``--bias-v``, a parameter such as ``rows_used``, a bench-file key) and raises
:class:`~ftjlab.errors.BadInput` with a message that starts with it, so the CLI exits 2 with
``ftjlab: error: --bias-v: must be a finite number, got nan``.

Checks return the value they accept (converted), so they read as assignments::

    bias_v = validate.number("--bias-v", args.bias_v, lo=0, hi=limit)
    out = validate.out_dir("--out", args.out)

``arg_float`` / ``arg_int`` / ``arg_floats`` make argparse ``type=`` callables with the same
rules (argparse then reports ``argument --xor: ...`` and exits 2). Commands run every check
before they open an instrument or write a file.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ftjlab.errors import BadInput

#: the longest file name most filesystems take (bytes, NAME_MAX)
NAME_MAX = 255
#: bytes one simulated cell may cost, for the "fits in memory" check of array sizes
CELL_BYTES = 1024  # the simulated array needs ~700 (measured at 256 x 256)
_RESULT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


def _fmt(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def number(
    field: str,
    value: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    integer: bool = False,
) -> Any:
    """A finite number (an ``int`` when ``integer``) within ``[lo, hi]`` (open ends with
    ``lo_open`` / ``hi_open``); text is parsed."""
    if isinstance(value, bool):
        raise BadInput(f"{field}: must be a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise BadInput(f"{field}: must be a number, got {_fmt(value)}") from None
    if not math.isfinite(x):
        raise BadInput(f"{field}: must be a finite number, got {_fmt(value)}")
    if integer:
        if x != int(x):
            raise BadInput(f"{field}: must be an integer, got {_fmt(value)}")
        x = int(x)
    if lo is not None and (x < lo or (lo_open and x == lo)):
        raise BadInput(f"{field}: must be {'>' if lo_open else '>='} {lo:g}, got {_fmt(value)}")
    if hi is not None and (x > hi or (hi_open and x == hi)):
        raise BadInput(f"{field}: must be {'<' if hi_open else '<='} {hi:g}, got {_fmt(value)}")
    return x


def positive(field: str, value: Any, hi: float | None = None) -> float:
    """A finite number > 0 (and <= ``hi``)."""
    return number(field, value, lo=0, lo_open=True, hi=hi)


def count(field: str, value: Any, lo: int = 1, hi: int | None = None) -> int:
    """An integer within ``[lo, hi]``."""
    return number(field, value, lo=lo, hi=hi, integer=True)


def seed(field: str, value: Any) -> int | None:
    """A random seed (None, or an integer 0 .. 2**63 - 1)."""
    if value is None:
        return None
    return number(field, value, lo=0, hi=2**63 - 1, integer=True)


def floats(
    field: str,
    text: str | Iterable[Any],
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    max_items: int = 10_000,
) -> list[float]:
    """A non-empty comma-separated list (or an iterable) of numbers, each checked."""
    items = [v for v in text.split(",") if v.strip()] if isinstance(text, str) else list(text)
    if not items:
        raise BadInput(f"{field}: needs at least one number, got {_fmt(text)}")
    if len(items) > max_items:
        raise BadInput(f"{field}: at most {max_items} values, got {len(items)}")
    return [float(number(field, v, lo=lo, hi=hi, lo_open=lo_open)) for v in items]


def choice(field: str, value: Any, options: Iterable[Any]) -> Any:
    """``value`` if it is one of ``options``."""
    options = list(options)
    if value not in options:
        raise BadInput(f"{field}: one of {', '.join(map(str, options))}; got {_fmt(value)}")
    return value


def choices(field: str, value: str, options: Iterable[str]) -> list[str]:
    """A comma-separated list of ``options`` (at least one)."""
    options = list(options)
    picked = [v.strip() for v in value.split(",") if v.strip()]
    if not picked:
        raise BadInput(f"{field}: choose from {', '.join(options)}; got {value!r}")
    for v in picked:
        choice(field, v, options)
    return picked


def pairs(field: str, items: Iterable[str]) -> dict[str, str]:
    """``NAME=VALUE`` items (a repeatable option) as a dict."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, v = item.partition("=")
        if not sep or not name.strip():
            raise BadInput(f"{field} {item!r}: expected NAME=VALUE")
        out[name.strip()] = v.strip()
    return out


def text(field: str, value: Any, *, pattern: str | None = None, max_len: int = 1000) -> str:
    """A non-empty string (matching ``pattern``)."""
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{field}: must not be empty")
    if len(value) > max_len:
        raise BadInput(f"{field}: at most {max_len} characters, got {len(value)}")
    if pattern is not None and not re.fullmatch(pattern, value):
        raise BadInput(f"{field}: {value!r} does not match {pattern}")
    return value


def result_name(field: str, value: Any) -> str:
    """The name of an analysis result group: one path component of letters, digits, ``_``,
    ``.``, ``-`` (never ``/``, ``..`` or empty), so results only ever land in
    ``/runs/<id>/analysis/<name>``."""
    if not isinstance(value, str) or not _RESULT_NAME.fullmatch(value) or value in (".", ".."):
        raise BadInput(f"{field}: a result name is 1-64 letters, digits, _ . - (no '/'), "
                       f"got {_fmt(value)}")
    return value


# ---------------------------------------------------------------------- paths


def _name_length(field: str, path: Path) -> None:
    for part in path.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise BadInput(f"{field}: the name {part[:40]!r}... is longer than {NAME_MAX} bytes")


def out_dir(field: str, value: Any, create: bool = True) -> Path:
    """A folder this process can write into; created if missing (with ``create=False`` only
    checked: its nearest existing ancestor must be a writable folder)."""
    if value is None or not str(value).strip():
        raise BadInput(f"{field}: needs a folder")
    path = Path(str(value)).expanduser()
    _name_length(field, path)
    if path.exists() and not path.is_dir():
        raise BadInput(f"{field}: {str(path)!r} exists and is not a folder")
    if not create:
        base = path.absolute()
        while not base.exists():
            base = base.parent
        if not base.is_dir():
            raise BadInput(f"{field}: {str(base)!r} is not a folder, so {str(path)!r} cannot "
                           "be created (not writable)")
        if not os.access(base, os.W_OK | os.X_OK):
            raise BadInput(f"{field}: folder {str(base)!r} is not writable")
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"{field}: cannot create folder {str(path)!r}: {exc.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise BadInput(f"{field}: folder {str(path)!r} is not writable")
    return path


def new_file(field: str, value: Any, *, overwrite: bool = False) -> Path:
    """A file to be written: its folder exists and is writable, its name fits, and it does
    not exist yet (unless ``overwrite``; never a folder)."""
    if value is None or not str(value).strip():
        raise BadInput(f"{field}: needs a file name")
    path = Path(str(value)).expanduser()
    _name_length(field, path)
    if path.is_dir():
        raise BadInput(f"{field}: {str(path)!r} is a folder")
    if path.exists() and not overwrite:
        raise BadInput(f"{field}: {str(path)!r} already exists (not overwritten)")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise BadInput(f"{field}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadInput(f"{field}: folder {str(parent)!r} is not writable")
    return path


def existing_file(field: str, value: Any) -> Path:
    """A readable regular file."""
    if value is None or not str(value).strip():
        raise BadInput(f"{field}: needs a file")
    path = Path(str(value)).expanduser()
    _name_length(field, path)
    if not path.is_file():
        raise BadInput(f"{field}: {str(path)!r}: no such file")
    if not os.access(path, os.R_OK):
        raise BadInput(f"{field}: {str(path)!r} is not readable")
    return path


def hdf5_file(field: str, value: Any) -> Path:
    """An existing HDF5 file that is complete: its size is at least the end-of-file address
    its superblock records (a truncated file errors here instead of hanging HDF5 later)."""
    from ftjlab.h5super import check_complete

    path = existing_file(field, value)
    problem = check_complete(path)
    if problem:
        raise BadInput(f"{field}: {str(path)!r} is {problem}")
    return path


# ---------------------------------------------------------------------- bench quantities


def array_cells(field: str, rows: Any, cols: Any, max_cells: int | None = None) -> tuple[int, int]:
    """An array size that is positive and fits in memory (``CELL_BYTES`` per cell against
    the machine's physical memory, or ``max_cells``)."""
    r = count(f"{field} rows", rows)
    c = count(f"{field} cols", cols)
    limit = max_cells if max_cells is not None else memory_cells()
    if r * c > limit:
        raise BadInput(f"{field}: {r} x {c} = {r * c} cells do not fit in memory "
                       f"(at most {limit} cells here)")
    return r, c


def memory_cells() -> int:
    """How many simulated cells fit in half of this machine's physical memory."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 << 30
    return max(1, total // 2 // CELL_BYTES)


def bias_within(field: str, value: Any, limits: Any, role: str) -> float:
    """A finite bias within the bench's limit for ``role`` (``read``/``sample``/``program``);
    ``limits`` is a :class:`~ftjlab.instruments.safety.Limits` or the bench's limits dict."""
    volts = number(field, value)
    if isinstance(limits, dict):
        limit = limits.get(f"max_{role}_voltage_v")
    else:
        limit = limits.max_voltage_v(role)
    if limit is not None and abs(volts) > float(limit):
        raise BadInput(f"{field}: {volts:g} V exceeds the bench limit "
                       f"max_{role}_voltage_v = {float(limit):g} V")
    return volts


# ---------------------------------------------------------------------- argparse


def _arg(check: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return check(text)
        except BadInput as exc:  # argparse prefixes "argument --x:"
            raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[-1]) from None

    return convert


def arg_float(**kw: Any) -> Callable[[str], float]:
    """argparse ``type=`` for a finite float with :func:`number`'s bounds."""
    return _arg(lambda t: float(number("value", t, **kw)))


def arg_int(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """argparse ``type=`` for an integer within ``[lo, hi]``."""
    return _arg(lambda t: number("value", t, lo=lo, hi=hi, integer=True))


def arg_floats(**kw: Any) -> Callable[[str], list[float]]:
    """argparse ``type=`` for a comma-separated list of finite floats."""
    return _arg(lambda t: floats("value", t, **kw))
