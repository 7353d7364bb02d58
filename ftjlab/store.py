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
the final status is written after SWMR ends. A run killed outright keeps every flushed block;
its status stays ``running``, which :func:`open_run` reports as ``interrupted``; streams that
are appended together (e.g. ``current`` then ``time``) may then differ by their last block, so
readers use their common length. HDF5 keeps the SWMR flag of a killed writer: open such a
file as an SWMR reader (``swmr=True``, as ftjlab does) or clear it once with ``h5clear -s``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ftjlab import __version__
from ftjlab.errors import BadInput

STATUSES = ("running", "completed", "aborted", "failed")
_LIVE: set[Path] = set()  # files of runs recording in this process (HDF5 would share them)
_BLOCK_BYTES = 1 << 20  # target chunk size of a stream


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


class RunWriter:
    """Records one run into its own HDF5 file. Use :meth:`create`; close with :meth:`finish`.

    Not thread safe: one writer per run, used from the thread that runs the procedure.
    """

    def __init__(self, path: Path, group: str, streams: Mapping[str, StreamSpec]) -> None:
        self.path = path
        self.run_id = group.rsplit("/", 1)[-1]
        self._group_name = group
        self._file: h5py.File | None = h5py.File(path, "a", libver="latest")
        self._specs = dict(streams)
        self._lengths = dict.fromkeys(streams, 0)
        self.status = "running"

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
        started = utc_now()
        stamp = started.replace(":", "").replace("-", "")
        run_id = f"{stamp}_{procedure}"
        path = out / f"{run_id}.h5"
        if path.exists():
            raise BadInput(f"output file {str(path)!r} already exists")
        group = f"runs/{run_id}"
        with h5py.File(path, "w", libver="latest") as f:
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
                for key, value in spec.attrs.items():
                    ds.attrs[key] = _attr_value(value)
        writer = cls(path, group, streams)
        writer._file.swmr_mode = True
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
        """Append records (axis 0) to a stream and flush them to disk."""
        ds = self._dataset(name)
        block = np.asarray(block, dtype=ds.dtype)
        if block.shape[1:] != ds.shape[1:]:
            block = block.reshape((-1, *ds.shape[1:]))
        n0 = self._lengths[name]
        ds.resize(n0 + block.shape[0], axis=0)
        ds[n0:] = block
        ds.flush()
        self._lengths[name] = n0 + block.shape[0]

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
        """End the run: leave SWMR, record ``status``/``error``/``finished`` and any final
        ``arrays`` (name -> (array, units)) and ``attrs``. Safe to call more than once."""
        if status not in STATUSES[1:]:
            raise ValueError(f"status must be one of {STATUSES[1:]}, got {status!r}")
        if self._file is None:
            return
        self._file.close()
        self._file = None
        _LIVE.discard(self.path.resolve())
        # SWMR readers may still be following the run (a live view): HDF5 cannot add the
        # final attributes and results in SWMR mode, and its file lock would refuse this
        # reopen while they are attached, so it skips the lock. Readers learn from `status`
        # that the run ended and reopen to see the final objects.
        with h5py.File(self.path, "r+", libver="latest", locking=False) as f:
            g = f[self._group_name]
            for name, (array, units) in (arrays or {}).items():
                if name in g:
                    del g[name]
                ds = g.create_dataset(name, data=np.asarray(array))
                ds.attrs["units"] = units
            for key, value in (attrs or {}).items():
                g.attrs[key] = _attr_value(value)
            g.attrs["status"] = status
            g.attrs["error"] = error
            g.attrs["finished"] = utc_now()
        self.status = status

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


# ---------------------------------------------------------------------- reading


@dataclass
class RunInfo:
    """What a reader needs to know about a run (attributes decoded)."""

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


def list_runs(path: str | Path) -> list[RunInfo]:
    """Every run in an HDF5 file written by ftjlab (usually one)."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{str(path)!r}: no such file")
    try:
        f = h5py.File(path, "r", libver="latest", swmr=True)
    except OSError as exc:
        raise BadInput(f"{str(path)!r} is not an HDF5 file ftjlab can read ({exc})") from exc
    with f:
        if "runs" not in f:
            raise BadInput(f"{str(path)!r} holds no /runs group: not an ftjlab run file")
        return [_info(path, name, f["runs"][name]) for name in sorted(f["runs"])]


def _info(path: Path, run_id: str, g: h5py.Group) -> RunInfo:
    a = {k: _decode(v) for k, v in g.attrs.items()}
    datasets: dict[str, tuple[tuple[int, ...], str, str]] = {}

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            datasets[name] = (obj.shape, str(obj.dtype), _decode(obj.attrs.get("units", "")))

    g.visititems(visit)
    status = a.get("status", "")
    return RunInfo(
        path=path,
        run_id=run_id,
        procedure=a.get("procedure", ""),
        status="interrupted" if status == "running" else status,
        started=a.get("started", ""),
        finished=a.get("finished", ""),
        error=a.get("error", ""),
        parameters=json.loads(a.get("parameters", "{}") or "{}"),
        units=json.loads(a.get("units", "{}") or "{}"),
        bench=json.loads(a.get("bench", "{}") or "{}"),
        software_version=a.get("software_version", ""),
        datasets=datasets,
    )


def open_run(path: str | Path, run_id: str | None = None) -> RunInfo:
    """The run ``run_id`` of a file (default: its only or latest run)."""
    runs = list_runs(path)
    if not runs:
        raise BadInput(f"{str(path)!r} holds no runs")
    if run_id is None:
        return runs[-1]
    for info in runs:
        if info.run_id == run_id:
            return info
    raise BadInput(f"run {run_id!r} not in {str(path)!r} (runs: {[r.run_id for r in runs]})")


def iter_blocks(
    path: str | Path, dataset: str, run_id: str | None = None, block: int = 1 << 20
) -> Iterator[np.ndarray]:
    """Read a dataset of a run block by block (axis 0), never loading it whole."""
    info = open_run(path, run_id)
    with h5py.File(info.path, "r", libver="latest", swmr=True) as f:
        g = f["runs"][info.run_id]
        if dataset not in g:
            raise BadInput(f"run {info.run_id!r} has no dataset {dataset!r}")
        ds = g[dataset]
        for start in range(0, ds.shape[0], block):
            yield ds[start : start + block]


def read_dataset(path: str | Path, dataset: str, run_id: str | None = None) -> np.ndarray:
    """A whole dataset of a run (for small ones; use :func:`iter_blocks` for streams)."""
    info = open_run(path, run_id)
    with h5py.File(info.path, "r", libver="latest", swmr=True) as f:
        g = f["runs"][info.run_id]
        if dataset not in g:
            raise BadInput(f"run {info.run_id!r} has no dataset {dataset!r}")
        return g[dataset][()]


def add_results(
    path: str | Path,
    name: str,
    arrays: Mapping[str, tuple[np.ndarray, str]],
    attrs: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> str:
    """Store analysis results next to a finished run: ``/runs/<id>/analysis/<name>`` with
    datasets (name -> (array, units)) and attributes. Replaces an earlier result of that
    name. Returns the group path."""
    info = open_run(path, run_id)
    if info.path.resolve() in _LIVE:
        raise BadInput(f"run {info.run_id!r} is still recording")
    try:
        f = h5py.File(info.path, "r+", libver="latest")
    except OSError as exc:  # another process records it, or it was killed while recording
        raise BadInput(
            f"run {info.run_id!r} cannot be opened for writing: still recording elsewhere, "
            f"or interrupted (then run `h5clear -s {info.path}` once) ({exc})"
        ) from exc
    with f:
        analysis = f["runs"][info.run_id].require_group("analysis")
        if name in analysis:
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
