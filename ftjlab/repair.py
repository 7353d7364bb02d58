"""Repair a run file left by a process that was killed while it recorded.

Such a file is readable by ftjlab (an SWMR reader) but not by plain HDF5 tools: the
superblock still carries the writer flags, so ``h5py.File(path, "r")`` refuses it (HDF5's
own cure, ``h5clear -s``, is not installed with h5py). Its streams may end in a block that
was allocated but never written (a crash between the resize and the write), and its status
says ``running``.

:func:`repair_file` works on a copy next to the file and replaces the file only when the
copy is complete (``os.replace``: a crash during the repair leaves the original as it was):

1. the copy's superblock writer flags are cleared and its checksum recomputed
   (:func:`ftjlab.h5super.clear_status_flags`, what ``h5clear -s`` does), and its recorded
   end of file is raised to the file's size if the writer grew the file after it last wrote
   the superblock;
2. the copy is opened by plain h5py; every stream is cut to its committed length (the
   ``committed`` attribute the writer updates after each flushed block), which drops a torn
   last block and keeps every complete one;
3. a run whose status is ``running`` gets ``interrupted`` (with ``error`` saying so).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ftjlab import validate
from ftjlab.errors import BadInput
from ftjlab.h5super import check_complete, clear_status_flags, read_superblock
from ftjlab.store import COMMITTED, reserve_path, utc_now


@dataclass
class RepairReport:
    """What :func:`repair_file` changed."""

    path: Path
    flags_cleared: bool = False
    trimmed: dict[str, tuple[int, int]] = field(default_factory=dict)  # stream -> (len, kept)
    interrupted: list[str] = field(default_factory=list)  # runs marked interrupted

    @property
    def changed(self) -> bool:
        return self.flags_cleared or bool(self.trimmed) or bool(self.interrupted)

    def text(self) -> str:
        if not self.changed:
            return f"{self.path}: nothing to repair"
        lines = [f"{self.path}: repaired"]
        if self.flags_cleared:
            lines.append("  writer flags cleared (plain HDF5 readers can open it)")
        for name, (n, kept) in sorted(self.trimmed.items()):
            lines.append(f"  {name}: torn last block dropped ({n} -> {kept} records)")
        for run in self.interrupted:
            lines.append(f"  {run}: status running -> interrupted")
        return "\n".join(lines)


def repair_file(path: str | Path, field_name: str = "FILE") -> RepairReport:
    """Repair ``path`` in place (see the module docstring); BadInput naming ``field_name``
    when it is not an HDF5 file, is truncated, or cannot be repaired."""
    path = validate.existing_file(field_name, path)
    if read_superblock(path) is None:
        raise BadInput(f"{field_name}: {str(path)!r} is not an HDF5 file (no valid superblock)")
    if not os.access(path.parent, os.W_OK | os.X_OK) or not os.access(path, os.W_OK):
        raise BadInput(f"{field_name}: {str(path)!r} (or its folder) is not writable")
    tmp = path.with_name(f".{path.name}.repair")
    report = RepairReport(path)
    try:
        shutil.copyfile(path, tmp)
        report.flags_cleared = clear_status_flags(tmp)
        problem = check_complete(tmp)
        if problem:
            raise BadInput(f"{field_name}: {str(path)!r} cannot be repaired: {problem}")
        try:
            f = h5py.File(tmp, "r+", locking=False)
        except OSError as exc:
            raise BadInput(f"{field_name}: {str(path)!r} cannot be repaired: HDF5 cannot open "
                           f"it ({exc})") from exc
        with f:
            runs = f.get("runs")
            if isinstance(runs, h5py.Group):
                for run_id in list(runs):
                    g = runs.get(run_id)
                    if isinstance(g, h5py.Group):
                        _repair_run(g, run_id, report)
        if report.changed:
            os.replace(tmp, path)
        with contextlib.suppress(OSError):  # the disk reserve of the killed writer
            reserve_path(path).unlink()
    except OSError as exc:
        raise BadInput(f"{field_name}: {str(path)!r} cannot be repaired: {exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return report


def _repair_run(g: h5py.Group, run_id: str, report: RepairReport) -> None:
    for name, ds in g.items():
        if not isinstance(ds, h5py.Dataset) or not ds.shape or COMMITTED not in ds.attrs:
            continue
        if ds.maxshape[0] is not None:
            continue
        value = np.asarray(ds.attrs[COMMITTED])
        if value.shape != () or value.dtype.kind not in "iu":
            continue
        kept = max(0, min(ds.shape[0], int(value)))
        if kept < ds.shape[0]:
            report.trimmed[f"/runs/{run_id}/{name}"] = (ds.shape[0], kept)
            ds.resize(kept, axis=0)
    status = g.attrs.get("status", "")
    if isinstance(status, bytes):
        status = status.decode()
    if status == "running":
        g.attrs["status"] = "interrupted"
        if not g.attrs.get("error"):
            g.attrs["error"] = "the recording process ended without closing the run"
        if not g.attrs.get("finished"):
            g.attrs["repaired"] = utc_now()
        report.interrupted.append(f"/runs/{run_id}")
