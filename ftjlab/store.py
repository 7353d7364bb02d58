"""HDF5 run store (DESIGN.md section 7, a contract: outside tools read these files).

One file per run, ``<out>/<UTC timestamp>_<procedure>.h5``, holding one group
``/runs/<UTC timestamp>_<procedure>`` with

* attributes ``procedure``, ``parameters`` (JSON), every parameter as its own attribute
  (``units`` in ``<name>.units``), ``bench`` (JSON snapshot), ``software_version``,
  ``started``, ``finished``, ``status`` (``running`` / ``completed`` / ``aborted`` /
  ``failed``) and ``error``;
* datasets with a ``units`` attribute: *streams* (chunked, gzip-compressed, resizable along
  axis 0, appended block by block and flushed after every block) and fixed arrays;
* ``analysis/<name>`` subgroups that analyses add next to the run afterwards.

While a run records, the file is in SWMR mode so another process can follow it live
(``h5py.File(path, "r", libver="latest", swmr=True)`` and ``dataset.refresh()``). HDF5 forbids
creating datasets or attributes in SWMR mode, so streams are declared when the run starts and
the final status is written after SWMR ends. Each stream's attribute ``committed`` counts the
records completely written (updated after every flushed block); readers use
``min(len(ds), committed)``, so a block torn by a crash is never read as data.

A run killed outright keeps every committed block; its status stays ``running``, which
:func:`open_run` reports as ``interrupted``; streams that are appended together (e.g.
``current`` then ``time``) may then differ by their last block, so readers use their common
length. HDF5 keeps the writer flags of a killed writer: ftjlab reads such a file as an SWMR
reader, and ``ftjlab repair FILE`` (:mod:`ftjlab.repair`) makes it a plain HDF5 file again.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import re
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ftjlab import __version__, validate
from ftjlab.errors import BadInput
from ftjlab.h5super import clear_status_flags

log = logging.getLogger(__name__)

STATUSES = ("running", "completed", "aborted", "failed")
_LIVE: set[Path] = set()  # files of runs recording in this process (HDF5 would share them)
_BLOCK_BYTES = 1 << 20  # target chunk size of a stream
COMMITTED = "committed"  # stream attribute: records completely written


def utc_now() -> str:
    """ISO-8601 UTC timestamp with microseconds (sortable)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(value: Any) -> str:
    return json.dumps(value, default=_json_default, sort_keys=True)


def _attr_value(value: Any) -> Any:
    """A value HDF5 can hold as an attribute (None -> "", containers -> JSON)."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float | str | np.generic):
        return value
    return to_json(value)


@dataclass
class StreamSpec:
    """A stream declared at the start of a run: ``dtype``, ``units`` and the shape of one
    record (``()`` for scalars, e.g. ``(32,)`` for one row of a map per record)."""

    dtype: Any = np.float64
    units: str = ""
    record_shape: tuple[int, ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)
    #: records per chunk; the block size a procedure appends is best (each append then
    #: writes whole chunks: nothing is read back and recompressed). Default: ~1 MiB chunks.
    chunk_records: int | None = None


class DiskFullError(OSError):
    """The disk holding a run file is (nearly) full: the run stops before a block is written,
    so the file keeps every complete block and there is room left to close it."""


#: bytes kept free on the run file's disk: finishing a run (status, final attributes) needs a
#: little room, and HDF5 handles a write that fails half-way badly. The writer checks the free
#: space before every block, and also holds this much in a hidden sidecar file
#: (``.<file>.reserve``) that it deletes when the run ends, or at once when a write meets a
#: full disk (another process filled it): then finishing has room all the same.
RESERVE_BYTES = 1 << 20


def reserve_path(path: Path) -> Path:
    """The sidecar file holding a run's disk reserve while it records."""
    return path.with_name(f".{path.name}.reserve")


def _make_reserve(path: Path) -> None:
    reserve = reserve_path(path)
    with open(reserve, "wb") as f:
        try:
            os.posix_fallocate(f.fileno(), 0, RESERVE_BYTES)
        except (AttributeError, OSError):
            f.write(bytes(RESERVE_BYTES))
        f.flush()
        os.fsync(f.fileno())


def _release_reserve(path: Path) -> None:
    with contextlib.suppress(OSError):
        reserve_path(path).unlink()


def _open(path: Path, mode: str, **kw: Any) -> h5py.File:
    """Open a run file without HDF5's advisory lock. The lock only keeps two writers apart,
    and ftjlab never has two: a writer creates its file exclusively (``mode="x"``), SWMR
    orders what readers see, and the superblock's writer flags (checked by HDF5 whatever the
    lock) still refuse a second writer. With the lock, a reader that opens the new file in
    the instant before the writer locks it makes the writer fail (``BlockingIOError: unable
    to lock file``), and readers in the writer's own process would need the writer's
    locking setting."""
    return h5py.File(path, mode, libver="latest", locking=False, **kw)


class RunWriter:
    """Records one run into its own HDF5 file. Use :meth:`create`; close with :meth:`finish`.

    Not thread safe: one writer per run, used from the thread that runs the procedure.
    The file stays open from its creation to :meth:`finish` (no gap a reader could fall
    into). Each stream carries an attribute ``committed``: the number of records completely
    written, updated after each block is flushed; readers use ``min(len, committed)``, so a
    block torn by a crash between the resize and the write is never read as data.
    """

    def __init__(self, path: Path, group: str, streams: Mapping[str, StreamSpec],
                 file: h5py.File) -> None:
        self.path = path
        self.run_id = group.rsplit("/", 1)[-1]
        self._group_name = group
        self._file: h5py.File | None = file
        self._specs = dict(streams)
        self._lengths = dict.fromkeys(streams, 0)
        self.status = "running"
        #: what went wrong while finishing (empty when all was stored)
        self.finish_error = ""

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(
        cls,
        out_dir: str | Path,
        procedure: str,
        parameters: Mapping[str, Any],
        bench: Mapping[str, Any],
        streams: Mapping[str, StreamSpec],
        units: Mapping[str, str] | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> RunWriter:
        """Create the run's file and group, declare its streams, and switch to SWMR.

        ``parameters`` maps names to values, ``units`` names to unit strings; ``bench`` is
        the JSON snapshot of the bench (models, IDN strings, addresses, wiring, limits, seed).
        """
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", procedure):
            raise BadInput(f"procedure name {procedure!r} must be letters, digits, _ . -")
        out = Path(out_dir).expanduser()
        try:
            out.mkdir(parents=True, exist_ok=True)
            probe = out / ".ftjlab-write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise BadInput(f"output folder {str(out)!r} is not writable: {exc.strerror}") from exc
        free = _free_bytes(out)
        if free is not None and free < 2 * RESERVE_BYTES:
            raise BadInput(f"output folder {str(out)!r}: disk full ({free} bytes free; a run "
                           f"needs at least {2 * RESERVE_BYTES})")
        started = utc_now()
        stamp = started.replace(":", "").replace("-", "")
        run_id = f"{stamp}_{procedure}"
        path = out / f"{run_id}.h5"
        group = f"runs/{run_id}"
        try:
            f = _open(path, "x")
        except FileExistsError:
            raise BadInput(f"output file {str(path)!r} already exists") from None
        except OSError as exc:
            raise BadInput(f"output file {str(path)!r} cannot be created: {exc}") from exc
        try:
            g = f.create_group(group)
            g.attrs["procedure"] = procedure
            g.attrs["parameters"] = to_json(dict(parameters))
            units = dict(units or {})
            for name, value in parameters.items():
                g.attrs[name] = _attr_value(value)
                if units.get(name):
                    g.attrs[f"{name}.units"] = units[name]
            g.attrs["units"] = to_json(units)
            g.attrs["bench"] = to_json(dict(bench))
            g.attrs["software_version"] = __version__
            g.attrs["started"] = started
            g.attrs["finished"] = ""
            g.attrs["status"] = "running"
            g.attrs["error"] = ""
            for key, value in (attrs or {}).items():
                g.attrs[key] = _attr_value(value)
            for name, spec in streams.items():
                record = tuple(int(s) for s in spec.record_shape)
                itemsize = np.dtype(spec.dtype).itemsize * max(1, math.prod(record))
                rows = spec.chunk_records or max(1, _BLOCK_BYTES // itemsize)
                ds = g.create_dataset(
                    name,
                    shape=(0, *record),
                    maxshape=(None, *record),
                    dtype=spec.dtype,
                    chunks=(rows, *record),
                    compression="gzip",
                    compression_opts=1,
                    shuffle=True,
                )
                ds.attrs["units"] = spec.units
                ds.attrs[COMMITTED] = np.int64(0)
                for key, value in spec.attrs.items():
                    ds.attrs[key] = _attr_value(value)
            f.swmr_mode = True
            _make_reserve(path)
        except BaseException as exc:
            # nothing was recorded yet: leave no half-made file behind
            with contextlib.suppress(Exception):
                f.close()
            with contextlib.suppress(OSError):
                path.unlink()
            _release_reserve(path)
            if isinstance(exc, OSError) and _is_disk_full(exc, out):
                raise BadInput(f"output folder {str(out)!r}: disk full, the run file could "
                               "not be created") from None
            raise
        writer = cls(path, group, streams, f)
        _LIVE.add(path.resolve())
        return writer

    # ------------------------------------------------------------------ recording
    def _dataset(self, name: str) -> h5py.Dataset:
        if self._file is None:
            raise RuntimeError(f"run {self.run_id} is finished")
        if name not in self._specs:
            raise KeyError(f"stream {name!r} was not declared (declared: {sorted(self._specs)})")
        return self._file[self._group_name][name]

    def append(self, name: str, block: np.ndarray) -> None:
        """Append records (axis 0) to a stream and flush them to disk; then mark them
        committed. Raises :class:`DiskFullError` (nothing written) when the disk is nearly full."""
        ds = self._dataset(name)
        block = np.asarray(block, dtype=ds.dtype)
        if block.shape[1:] != ds.shape[1:]:
            block = block.reshape((-1, *ds.shape[1:]))
        free = _free_bytes(self.path.parent)
        need = 2 * block.nbytes + RESERVE_BYTES
        if free is not None and free < need:
            raise DiskFullError(errno.ENOSPC, f"disk full: {free} bytes free next to {self.path}, "
                            f"a block of {block.nbytes} bytes needs {need}; the run stops "
                            "here and keeps every complete block")
        n0 = self._lengths[name]
        n1 = n0 + block.shape[0]
        try:
            ds.resize(n1, axis=0)
            ds[n0:] = block
            ds.flush()
            # written in place: ``attrs[...] =`` creates a new attribute and deletes the old,
            # and creating one under SWMR fails once the object header has to grow
            ds.attrs.modify(COMMITTED, np.int64(n1))
            ds.flush()
        except Exception as exc:  # HDF5 reports a full disk as OSError or RuntimeError
            if not _is_disk_full(exc, self.path.parent):
                raise
            _release_reserve(self.path)  # room to finish the run
            raise DiskFullError(errno.ENOSPC, f"disk full while writing a block of {name!r} "
                                f"to {self.path}; the run stops here and keeps every "
                                "complete block") from exc
        self._lengths[name] = n1

    def length(self, name: str) -> int:
        return self._lengths[name]

    # ------------------------------------------------------------------ the end
    def finish(
        self,
        status: str = "completed",
        error: str = "",
        arrays: Mapping[str, tuple[np.ndarray, str]] | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        """End the run: leave SWMR, record any final ``arrays`` (name -> (array, units)) and
        ``attrs``, then ``status``/``error``/``finished``. Safe to call more than once.

        Every step runs whatever the steps before did: a result that cannot be stored (or
        an exception, a Ctrl-C, a full disk while storing it) turns a ``completed`` run into
        ``failed`` with the reason in ``error`` (and :attr:`finish_error`), and the status
        and the cleared writer flags are still written. A ``KeyboardInterrupt`` or other
        ``BaseException`` caught on the way is re-raised once the file is settled."""
        if status not in STATUSES[1:]:
            raise ValueError(f"status must be one of {STATUSES[1:]}, got {status!r}")
        if self._file is None:
            return
        problems: list[str] = []
        pending: list[BaseException] = []

        def step(what: str, call: Callable[[], Any]) -> Any:
            try:
                return call()
            except BaseException as exc:  # settle the file first, re-raise after
                problems.append(f"{what}: {type(exc).__name__}: {exc}")
                if not isinstance(exc, Exception):
                    pending.append(exc)
                return None

        _release_reserve(self.path)  # the room kept for this moment
        f, self._file = self._file, None
        step("closing the SWMR file", f.close)
        _LIVE.discard(self.path.resolve())
        # SWMR readers may still be following the run (a live view): HDF5 cannot add the
        # final attributes and results in SWMR mode, so they are written after a reopen.
        # Readers learn from `status` that the run ended and reopen to see the final objects.
        g_file = step("reopening the file", lambda: _open(self.path, "r+"))
        if g_file is None:  # the close failed and left the writer flags set
            step("clearing the writer flags", lambda: clear_status_flags(self.path))
            g_file = step("reopening the file", lambda: _open(self.path, "r+"))
        g = None if g_file is None else step("the run group",
                                             lambda: g_file[self._group_name])
        if g is None and g_file is not None:
            step("closing the file", g_file.close)
        if g is not None:
            for name, n in self._lengths.items():  # a block a failed write left half-done
                step(f"trimming {name!r}", lambda d=g[name], n=n: _trim(d, n))
            for name, (array, units) in (arrays or {}).items():
                step(f"result {name!r}", lambda n=name, a=array, u=units: _store_array(g, n, a, u))
            for key, value in (attrs or {}).items():
                step(f"attribute {key!r}", lambda k=key, v=value: _set_attr(g, k, v))
            step("flushing the results", g_file.flush)
            self.finish_error = "; ".join(problems)
            if problems and status == "completed":
                status = "failed"
            message = error if not problems else (
                (error + "; " if error else "") + "finishing: " + self.finish_error)
            for key, value in (("error", message), ("finished", utc_now()), ("status", status)):
                step(f"attribute {key!r}", lambda k=key, v=value: _set_attr(g, k, v))
            step("closing the file", g_file.close)
        self.finish_error = "; ".join(problems)
        if problems:
            log.error("run %s: finishing: %s", self.run_id, self.finish_error)
        self.status = status
        if pending:
            raise pending[0]

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._file is None:
            return
        if exc_type is None:
            self.finish("completed")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.finish("aborted", "interrupted")
        else:
            self.finish("failed", f"{exc_type.__name__}: {exc}")


def _store_array(g: h5py.Group, name: str, array: Any, units: str) -> None:
    array = np.asarray(array)
    if name in g:  # never replace recorded data; a final copy of a stream is already there
        old = g[name]
        if isinstance(old, h5py.Dataset) and old.shape == array.shape and np.array_equal(
                old[()], array, equal_nan=array.dtype.kind in "fc"):
            return
        raise ValueError(f"{name!r} is a recorded stream of the run with other data; "
                         "not replaced")
    ds = g.create_dataset(name, data=array)
    ds.attrs["units"] = units


def _trim(ds: h5py.Dataset, n: int) -> None:
    if ds.shape[0] > n:
        ds.resize(n, axis=0)
    ds.attrs[COMMITTED] = np.int64(n)


def _set_attr(g: h5py.Group, key: str, value: Any) -> None:
    g.attrs[key] = _attr_value(value)


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _is_disk_full(exc: BaseException, folder: Path) -> bool:
    if getattr(exc, "errno", None) == errno.ENOSPC or "No space" in str(exc) or (
            "errno = 28" in str(exc)):
        return True
    free = _free_bytes(folder)
    return free is not None and free < RESERVE_BYTES


# ---------------------------------------------------------------------- reading


@dataclass
class RunInfo:
    """What a reader needs to know about a run (attributes decoded). Stream shapes are their
    committed lengths (a torn last block is not counted)."""

    path: Path
    run_id: str
    procedure: str
    status: str
    started: str
    finished: str
    error: str
    parameters: dict[str, Any]
    units: dict[str, str]
    bench: dict[str, Any]
    software_version: str
    datasets: dict[str, tuple[tuple[int, ...], str, str]]  # name -> (shape, dtype, units)


def _decode(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def open_file(path: str | Path, field: str = "FILE") -> h5py.File:
    """Open a run file for reading (SWMR, so a live run can be followed), after checking
    that it is an HDF5 file as long as its superblock says: a truncated file is refused here
    (:class:`BadInput` naming ``field``) instead of sending HDF5 into a loop."""
    path = validate.hdf5_file(field, path)
    try:
        return _open(path, "r", swmr=True)
    except OSError as exc:
        raise BadInput(f"{field}: {str(path)!r} is not an HDF5 file ftjlab can read "
                       f"({exc})") from exc


def committed_length(ds: h5py.Dataset) -> int:
    """Records of a stream that were completely written: ``len`` capped by its ``committed``
    attribute (set after every flushed block; absent on final arrays and older files)."""
    n = ds.shape[0] if ds.shape else 0
    value = ds.attrs.get(COMMITTED) if COMMITTED in ds.attrs else None
    if value is None:
        return n
    value = np.asarray(value)
    if value.shape != () or value.dtype.kind not in "iu":
        raise BadInput(f"{ds.name}: attribute {COMMITTED!r} must be an integer, got {value!r}")
    return max(0, min(n, int(value)))


def list_runs(path: str | Path, field: str = "FILE") -> list[RunInfo]:
    """Every run in an HDF5 file written by ftjlab (usually one)."""
    f = open_file(path, field)
    path = Path(path)
    with f:
        try:
            runs = f.get("runs")
            if runs is None:
                raise BadInput(f"{field}: {str(path)!r} holds no /runs group: not an ftjlab "
                               "run file")
            if not isinstance(runs, h5py.Group):
                raise BadInput(f"{field}: /runs in {str(path)!r} is not a group")
            out = []
            for name in sorted(runs):
                g = runs.get(name)
                if not isinstance(g, h5py.Group):
                    raise BadInput(f"{field}: /runs/{name} is not a run group")
                out.append(_info(path, name, g))
            return out
        except BadInput:
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise BadInput(f"{field}: {str(path)!r} is damaged: {type(exc).__name__}: "
                           f"{exc}") from exc


def _text_attr(a: dict[str, Any], key: str, where: str) -> str:
    value = a.get(key, "")
    if isinstance(value, np.ndarray) and value.shape == ():
        value = _decode(value[()])
    if isinstance(value, np.str_):
        value = str(value)
    if not isinstance(value, str):
        raise BadInput(f"{where}: attribute {key!r} must be text, got {value!r}"[:300])
    return value


def _json_attr(a: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    text = _text_attr(a, key, where) or "{}"
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise BadInput(f"{where}: attribute {key!r} is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise BadInput(f"{where}: attribute {key!r} must be a JSON object, got "
                       f"{type(value).__name__}")
    return value


def _info(path: Path, run_id: str, g: h5py.Group) -> RunInfo:
    where = f"/runs/{run_id}"
    if len(g.attrs) > 100_000:
        raise BadInput(f"{where}: {len(g.attrs)} attributes: not an ftjlab run")
    a = {k: _decode(v) for k, v in g.attrs.items()}
    datasets: dict[str, tuple[tuple[int, ...], str, str]] = {}

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            shape = obj.shape or ()
            if shape and obj.maxshape and obj.maxshape[0] is None:
                shape = (committed_length(obj), *shape[1:])
            units = _decode(obj.attrs.get("units", ""))
            datasets[name] = (shape, str(obj.dtype), units if isinstance(units, str) else "")

    g.visititems(visit)
    status = _text_attr(a, "status", where)
    if status not in (*STATUSES, "interrupted", ""):
        raise BadInput(f"{where}: attribute 'status' must be one of {STATUSES}, got {status!r}")
    return RunInfo(
        path=path,
        run_id=run_id,
        procedure=_text_attr(a, "procedure", where),
        status="interrupted" if status == "running" else status,
        started=_text_attr(a, "started", where),
        finished=_text_attr(a, "finished", where),
        error=_text_attr(a, "error", where),
        parameters=_json_attr(a, "parameters", where),
        units={k: str(v) for k, v in _json_attr(a, "units", where).items()},
        bench=_json_attr(a, "bench", where),
        software_version=_text_attr(a, "software_version", where),
        datasets=datasets,
    )


def open_run(path: str | Path, run_id: str | None = None, field: str = "FILE") -> RunInfo:
    """The run ``run_id`` of a file (default: its only or latest run)."""
    runs = list_runs(path, field)
    if not runs:
        raise BadInput(f"{field}: {str(path)!r} holds no runs")
    if run_id is None:
        return runs[-1]
    for info in runs:
        if info.run_id == run_id:
            return info
    raise BadInput(f"--run: run {run_id!r} not in {str(path)!r} (runs: "
                   f"{[r.run_id for r in runs]})")


def _stream(f: h5py.File, info: RunInfo, dataset: str) -> tuple[h5py.Dataset, int]:
    g = f["runs"][info.run_id]
    ds = g.get(dataset) if dataset in info.datasets else None
    if not isinstance(ds, h5py.Dataset):
        raise BadInput(f"--dataset: run {info.run_id!r} has no dataset {dataset!r}")
    return ds, (info.datasets[dataset][0][0] if ds.shape else 0)


def read_slice(ds: h5py.Dataset, start: int | None = None, stop: int | None = None) -> np.ndarray:
    """``ds[start:stop]`` (the whole dataset when both are None); data HDF5 cannot read (a
    damaged or cut file) is :class:`BadInput` naming the dataset, not an ``OSError``."""
    try:
        return ds[()] if start is None and stop is None else ds[start:stop]
    except (OSError, RuntimeError, ValueError) as exc:
        raise BadInput(f"FILE: {ds.name} cannot be read (damaged or cut file): {exc}") from None


def iter_blocks(
    path: str | Path, dataset: str, run_id: str | None = None, block: int = 1 << 20
) -> Iterator[np.ndarray]:
    """Read a dataset of a run block by block (axis 0, committed records only), never
    loading it whole."""
    info = open_run(path, run_id)
    with open_file(info.path) as f:
        ds, n = _stream(f, info, dataset)
        for start in range(0, n, block):
            yield read_slice(ds, start, min(start + block, n))


def read_dataset(path: str | Path, dataset: str, run_id: str | None = None) -> np.ndarray:
    """A whole dataset of a run (for small ones; use :func:`iter_blocks` for streams)."""
    info = open_run(path, run_id)
    with open_file(info.path) as f:
        ds, n = _stream(f, info, dataset)
        return read_slice(ds, 0, n) if ds.shape else read_slice(ds)


def add_results(
    path: str | Path,
    name: str,
    arrays: Mapping[str, tuple[np.ndarray, str]],
    attrs: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    field: str = "--name",
) -> str:
    """Store analysis results next to a finished run: ``/runs/<id>/analysis/<name>`` with
    datasets (name -> (array, units)) and attributes. Replaces an earlier result of that
    name and nothing else: ``name`` must be one path component (``field`` names the option
    it came from in the error). Returns the group path."""
    validate.result_name(field, name)
    for ds_name in arrays:
        validate.result_name(f"result dataset {ds_name!r}", ds_name)
    info = open_run(path, run_id)
    if info.path.resolve() in _LIVE:
        raise BadInput(f"run {info.run_id!r} is still recording")
    try:
        f = _open(info.path, "r+")
    except OSError as exc:  # another process records it, or it was killed while recording
        raise BadInput(
            f"FILE: run {info.run_id!r} cannot be opened for writing: still recording "
            f"elsewhere, or interrupted (then run `ftjlab repair {info.path}` once) ({exc})"
        ) from exc
    with f:
        run = f["runs"][info.run_id]
        analysis = run.get("analysis")
        if analysis is None:
            analysis = run.create_group("analysis")
        elif not isinstance(analysis, h5py.Group):
            raise BadInput(f"FILE: /runs/{info.run_id}/analysis is not a group")
        if name in analysis:
            if not isinstance(analysis.get(name), h5py.Group):
                raise BadInput(f"{field}: /runs/{info.run_id}/analysis/{name} is not a result "
                               "group")
            del analysis[name]
        g = analysis.create_group(name)
        g.attrs["created"] = utc_now()
        g.attrs["software_version"] = __version__
        for key, value in (attrs or {}).items():
            g.attrs[key] = _attr_value(value)
        for ds_name, (array, units) in arrays.items():
            ds = g.create_dataset(ds_name, data=np.asarray(array))
            ds.attrs["units"] = units
        return g.name
