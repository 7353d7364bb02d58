"""Run a campaign: step the prober across the dies, run the procedures on each, record.

Output folder (``campaign.out``)::

    campaign.json                what the campaign is (a re-run must match it)
    dies/c05_r07/                one folder per completed die: its run files
        <stamp>_<procedure>.h5   (one per procedure) and die.json (its index records)
    dies/c05_r07.partial/        the die in progress (renamed to dies/c05_r07 when done)
    interrupted/                 partial dies of stopped runs: not part of the campaign
    index.jsonl, index.csv       the campaign index: die, procedure, file, status, results

A die is committed by one atomic rename of its ``.partial`` folder after every run file
and its ``die.json`` are flushed to disk; the index is rebuilt from the committed dies. So
after Ctrl-C, SIGTERM, SIGKILL or a power cut a re-run finds every committed die exactly
once, moves the die that was in progress to ``interrupted/`` and continues with the first
die not completed. Every stop ends with outputs off and the probe separated: the runner's
own shutdown on Ctrl-C/SIGTERM/errors, and a guardian process (a bench reached over the
network) that drives the bench safe if this process disappears.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ftjlab import interrupts
from ftjlab.errors import BadInput

from .spec import Campaign, Die

log = logging.getLogger(__name__)
Listener = Callable[[str, Any], None]


def die_name(die: Die) -> str:
    """Folder name of a die, e.g. ``c05_r07``."""
    return f"c{die[0]:02d}_r{die[1]:02d}"


@dataclass
class CampaignOutcome:
    """How a campaign run ended."""

    out: Path
    completed: int  # dies committed (this and earlier runs)
    total: int
    stopped: bool
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.completed == self.total


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True, default=_json_default)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def key_results(results: dict[str, Any]) -> dict[str, Any]:
    """Scalars of a run's results, and median/mean of its arrays (e.g. ``conductance``)."""
    out: dict[str, Any] = {}
    for name, value in results.items():
        if isinstance(value, np.ndarray):
            if value.size and np.issubdtype(value.dtype, np.number):
                out[f"{name}_median"] = float(np.nanmedian(value))
                out[f"{name}_mean"] = float(np.nanmean(value))
        elif isinstance(value, bool | int | float | np.generic):
            out[name] = value.item() if isinstance(value, np.generic) else value
    return out


# ----------------------------------------------------------------------------- the folder


class CampaignFolder:
    """The output folder of a campaign: committed dies, the die in progress, the index."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self.out = campaign.out
        self.dies_dir = self.out / "dies"

    @property
    def lock_path(self) -> Path:
        return self.out / ".campaign.lock"

    def prepare(self, wait_s: float = 30.0) -> None:
        """Create the folder, or check that it holds this campaign; take its lock (one
        process at a time: another runner, or the guardian of a runner that died and is
        still making the bench safe); move partial dies of an earlier stopped run to
        ``interrupted/``."""
        try:
            self.dies_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInput(
                f"{self.campaign.source}:out: cannot create {str(self.out)!r} ({exc.strerror})"
            ) from None
        self._lock = open(self.lock_path, "a+")  # noqa: SIM115 - held until release()
        end = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() > end:
                    self._lock.close()
                    raise BadInput(
                        f"{self.campaign.source}:out: {str(self.out)!r} is in use by another "
                        "ftjlab campaign process"
                    ) from None
                time.sleep(0.1)
        marker = self.out / "campaign.json"
        fingerprint = self.campaign.fingerprint()
        if marker.exists():
            stored = json.loads(marker.read_text(encoding="utf-8"))
            if stored.get("fingerprint") != json.loads(json.dumps(fingerprint)):
                raise BadInput(
                    f"{self.campaign.source}:out: {str(self.out)!r} holds a different "
                    "campaign (other wafer, dies or procedures); use a new folder"
                )
        else:
            _write_json(marker, {"source": self.campaign.source, "fingerprint": fingerprint})
        for partial in sorted(self.dies_dir.glob("*.partial")):
            target = self.out / "interrupted" / f"{partial.stem}-{time.time_ns()}"
            target.parent.mkdir(exist_ok=True)
            os.replace(partial, target)
            log.warning(
                "die %s was in progress when the last run stopped: moved to %s",
                partial.stem,
                target,
            )

    def release(self) -> None:
        """Give up the folder's lock."""
        lock = getattr(self, "_lock", None)
        if lock is not None:
            lock.close()
            self._lock = None

    def completed(self) -> dict[Die, list[dict[str, Any]]]:
        """Committed dies and their index records."""
        done: dict[Die, list[dict[str, Any]]] = {}
        wanted = {die_name(d): d for d in self.campaign.dies}
        for folder in self.dies_dir.iterdir():
            record = folder / "die.json"
            if folder.name in wanted and record.exists():
                done[wanted[folder.name]] = json.loads(record.read_text(encoding="utf-8"))
        return done

    def begin(self, die: Die) -> Path:
        """A fresh ``.partial`` folder for ``die``."""
        partial = self.dies_dir / f"{die_name(die)}.partial"
        if partial.exists():
            shutil.rmtree(partial)
        partial.mkdir()
        return partial

    def commit(self, die: Die, partial: Path, records: list[dict[str, Any]]) -> Path:
        """Write the die's records, flush, and rename its folder into place (atomic)."""
        for path in partial.iterdir():
            with open(path, "rb+") as f:
                os.fsync(f.fileno())
        _write_json(partial / "die.json", records)
        _fsync_dir(partial)
        final = self.dies_dir / die_name(die)
        if final.exists():  # cannot happen unless the folder was edited by hand
            raise RuntimeError(f"{final} exists already: refusing to record the die twice")
        os.replace(partial, final)
        _fsync_dir(self.dies_dir)
        return final

    def append_index(self, records: list[dict[str, Any]]) -> None:
        """Add a committed die's records to ``index.jsonl`` (live view of the index; the
        die folders are the truth, the index is rebuilt from them at start and end)."""
        text = "".join(json.dumps(r, sort_keys=True, default=_json_default) + "\n" for r in records)
        with open(self.out / "index.jsonl", "a", encoding="utf-8") as f:
            f.write(text)

    def write_index(self) -> list[dict[str, Any]]:
        """Rebuild ``index.jsonl`` and ``index.csv`` from the committed dies (route order)."""
        done = self.completed()
        rows = [r for die in self.campaign.dies for r in done.get(die, [])]
        lines = "".join(json.dumps(r, sort_keys=True, default=_json_default) + "\n" for r in rows)
        tmp = self.out / "index.jsonl.tmp"
        tmp.write_text(lines, encoding="utf-8")
        os.replace(tmp, self.out / "index.jsonl")
        _write_csv(self.out / "index.csv", rows)
        return rows


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    import csv

    fixed = ["col", "row", "procedure", "file", "status", "error", "instrument_s", "wall_s"]
    extra = sorted({k for r in rows for k in r.get("results", {})})
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(fixed + extra)
        for r in rows:
            writer.writerow(
                [r.get(k, "") for k in fixed] + [r.get("results", {}).get(k, "") for k in extra]
            )


# ----------------------------------------------------------------------------- guardian


class Guardian:
    """A separate process that drives the bench safe (outputs off, probe separated, matrix
    open) if this process disappears (SIGKILL, crash); told ``done`` on a normal end."""

    def __init__(self, bench: Path, resources: dict[str, str], lock: Path) -> None:
        args = [sys.executable, "-m", "ftjlab.campaign.guardian", str(bench), "--lock", str(lock)]
        for name, resource in resources.items():
            args += ["--resource", f"{name}={resource}"]
        self.process = subprocess.Popen(args, stdin=subprocess.PIPE, start_new_session=True)

    def release(self) -> None:
        """The bench was shut down by its owner: the guardian has nothing to do."""
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(b"done")
            self.process.stdin.close()
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()


def _needs_guardian(config: Any, resources: dict[str, str]) -> bool:
    """True if some instrument lives outside this process (it survives our death)."""
    return any(not inst.simulated or name in resources for name, inst in config.instruments.items())


# ----------------------------------------------------------------------------- running


def _prober_call(die: Die, call: Callable[..., Any], *args: Any) -> Any:
    """A prober move; an instrument error ends the campaign as a failed measurement (the
    die is measured again by the next run)."""
    from ftjlab.errors import MeasurementFailed
    from ftjlab.instruments import InstrumentError

    try:
        return call(*args)
    except InstrumentError as exc:
        raise MeasurementFailed(f"die {die_name(die)}: the prober failed: {exc}") from exc


def run_campaign(
    campaign: Campaign,
    bench: str | Path,
    seed: int | None = None,
    resources: dict[str, str] | None = None,
    stop: threading.Event | None = None,
    listener: Listener | None = None,
    guardian: bool = True,
) -> CampaignOutcome:
    """Run (or resume) ``campaign`` on ``bench``; see the module docstring.

    Everything is checked before the chuck moves: the campaign file (when loaded), the
    bench and its prober (reachable), every procedure's parameters against the bench limits
    and the array, and the wafer map against the prober's travel. ``listener(topic, data)``
    sees ``die-start`` (die), ``die-done`` (die, records), ``progress`` (dict with done,
    total, instrument_s_per_die, eta_s) and the runs' own topics.
    """
    from ftjlab.controller import ArrayController
    from ftjlab.procedures import PROCEDURES, build
    from ftjlab.runner import run_procedure
    from ftjlab.session import BenchSession

    stop = stop or threading.Event()
    resources = dict(resources or {})
    emit = listener or (lambda topic, data: None)
    folder = CampaignFolder(campaign)
    session = BenchSession.open(bench, seed=seed, resources=resources)
    keeper: Guardian | None = None
    try:
        try:
            prober_name, prober = session.instrument_of_model("SENTIO")
        except BadInput:
            raise BadInput(
                f"{session.config.source}: the bench has no probe station "
                '(an instrument with model = "SENTIO")'
            ) from None
        controller = ArrayController(session)
        for i, step in enumerate(campaign.procedures):  # nothing has moved yet
            for die in [None, *step.per_die]:
                procedure = build(
                    PROCEDURES[step.name], step.settings(die) if die else dict(step.parameters)
                )
                where = (
                    f"procedures[{i}].per_die.{die[0]},{die[1]}"
                    if die
                    else f"procedures[{i}].parameters"
                )
                try:
                    procedure.check_limits(session.limits)
                    procedure.controller = controller
                    procedure.preflight()
                except BadInput as exc:
                    raise BadInput(f"{campaign.source}:{where}: {exc}") from None
        wafer = campaign.wafer
        reach_um = max(wafer.columns * wafer.die_um[0], wafer.rows * wafer.die_um[1]) / 2
        if reach_um > prober.travel.max_travel_um:
            raise BadInput(
                f"{campaign.source}:wafer: the map reaches {reach_um:g} um from the "
                f"centre, beyond the prober's max_travel_um = "
                f"{prober.travel.max_travel_um:g} ({prober_name})"
            )
        folder.prepare()
        done = folder.completed()
        folder.write_index()  # as committed (a killed run leaves it behind)
        if guardian and _needs_guardian(session.config, resources):
            keeper = Guardian(Path(bench), resources, folder.lock_path)
        try:
            prober.create_round_map(
                campaign.wafer.diameter_um / 1000.0, campaign.wafer.die_um, campaign.wafer.edge_um
            )
        except BadInput as exc:
            raise BadInput(f"{campaign.source}:wafer: {exc}") from None
        prober.select_all_dies()
        todo = [d for d in campaign.dies if d not in done]
        per_die_s = [
            sum(r.get("die_instrument_s", 0.0) for r in recs[:1]) for recs in done.values()
        ]
        for die in todo:
            if stop.is_set():
                break
            emit("die-start", die)
            partial = folder.begin(die)
            t0 = session.now_s()
            _prober_call(die, prober.step_die, *die)
            records: list[dict[str, Any]] = []
            for step in campaign.procedures:
                procedure = build(PROCEDURES[step.name], step.settings(die))
                _prober_call(die, prober.contact)
                outcome = run_procedure(procedure, session, partial, listener, stop)
                records.append(
                    {
                        "col": die[0],
                        "row": die[1],
                        "die": die_name(die),
                        "procedure": step.name,
                        "status": outcome.status,
                        "error": outcome.error,
                        "file": str(Path("dies") / die_name(die) / outcome.path.name),
                        "instrument_s": outcome.instrument_s,
                        "wall_s": outcome.wall_s,
                        "results": key_results(outcome.results),
                    }
                )
                if stop.is_set():
                    break
            if stop.is_set():  # the die is incomplete: the next run measures it again
                break
            spent = session.now_s() - t0
            for r in records:
                r["die_instrument_s"] = spent
            folder.commit(die, partial, records)
            folder.append_index(records)
            done[die] = records
            per_die_s.append(spent)
            mean = float(np.mean(per_die_s))
            left = len(campaign.dies) - len(done)
            emit("die-done", (die, records))
            emit(
                "progress",
                {
                    "done": len(done),
                    "total": len(campaign.dies),
                    "die": die,
                    "instrument_s_per_die": mean,
                    "eta_s": mean * left,
                },
            )
    finally:
        try:
            with interrupts.shielded():
                session.close()  # outputs off, probe separated, matrix open
        finally:
            if keeper is not None:
                keeper.release()
            rows = folder.write_index() if getattr(folder, "_lock", None) else []
            folder.release()
    return CampaignOutcome(
        campaign.out,
        len(folder.completed()) if campaign.out.exists() else 0,
        len(campaign.dies),
        stop.is_set(),
        rows,
    )
