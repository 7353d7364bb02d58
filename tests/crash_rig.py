"""Crash trials of the run store, shared by tests/test_crash.py (a lean few) and
tests/benchmarks/bench_store_crash.py (the bulk).

A trial runs a writer in its own process, stops it in one way (SIGKILL at a random moment,
a burst of SIGINT/SIGTERM every 20 ms, an exception or a kill inside ``finish``, a kill
between a stream's resize and its write, a full disk), then checks the file the way a user
would: ``ftjlab repair`` if the process was killed, then a *plain* ``h5py.File(path, "r")``,
every committed block present and intact, and never the status ``running`` after a stop that
Python saw.

Run as a script, this file is the writer: ``python crash_rig.py OUT MODE [BLOCKS]``. It
writes blocks of ``BLOCK`` readings whose values are drawn from a generator seeded with the
block number (:func:`block_values`, in 1..2: never 0, and incompressible, so a small disk fills
in a few dozen blocks), so a torn, zero-filled or misplaced block is recognisable, and prints
``committed N`` after each block.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BLOCK = 4096


def block_values(k: int) -> np.ndarray:
    """What block ``k`` of the ``current`` stream holds."""
    return (1 + np.random.default_rng(k).random(BLOCK)).astype(np.float32)
PYTHON = sys.executable
HERE = Path(__file__).resolve()


# ---------------------------------------------------------------------- the writer side


def _writer_main(out: str, mode: str, blocks: int) -> int:
    from ftjlab import store
    from ftjlab.store import RunWriter, StreamSpec

    def kill_self(*_a, **_k):
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    if mode == "disk-raw":  # the disk fills behind the writer's back: HDF5 meets ENOSPC
        store._free_bytes = lambda folder: None
    if mode == "disk-inject":  # no tmpfs to fill: HDF5's ENOSPC error, injected at block 5
        import h5py

        store._free_bytes = lambda folder: None
        flush, count = h5py.Dataset.flush, [0]

        def failing_flush(self):
            count[0] += 1
            if count[0] > 20:
                raise RuntimeError("Unable to flush dataset (file write failed: errno = 28, "
                                   "error message = 'No space left on device')")
            return flush(self)
        h5py.Dataset.flush = failing_flush
    if mode == "finish-exc":
        store._store_array = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("injected"))
    elif mode == "finish-kbint":
        def raise_kbint(*a, **k):
            raise KeyboardInterrupt
        store._store_array = raise_kbint
    elif mode == "finish-kill":
        original = store._set_attr

        def set_then_die(g, key, value):
            original(g, key, value)
            if key == "finished":  # results stored, status not yet: killed mid-finish
                kill_self()
        store._set_attr = set_then_die
    writer = RunWriter.create(out, "crash-trial", {"blocks": blocks, "interval_s": 1e-3}, {},
                              {"current": StreamSpec(np.float32, "A", chunk_records=BLOCK),
                               "time": StreamSpec(np.float64, "s", chunk_records=BLOCK)})
    print(f"file {writer.path}", flush=True)
    status = "completed"
    try:
        for k in range(blocks):
            if mode == "torn" and k == blocks // 2:
                ds = writer._dataset("current")
                ds.resize(ds.shape[0] + BLOCK, axis=0)  # allocated, never written
                ds.flush()
                kill_self()
            writer.append("current", block_values(k))
            writer.append("time", (k * BLOCK + np.arange(BLOCK)) * 1e-3)
            print(f"committed {k + 1}", flush=True)
    except KeyboardInterrupt:
        status = "aborted"
    except (store.DiskFullError, OSError) as exc:
        status = f"failed:{exc}"
    final = {"summary": (np.arange(10.0), "1")}
    try:
        if status.startswith("failed"):
            writer.finish("failed", status[7:], arrays=final)
        else:
            writer.finish(status, arrays=final)
    except KeyboardInterrupt:
        return 1
    return 0 if writer.status == "completed" else 1


# ---------------------------------------------------------------------- the checking side


@dataclass
class Trial:
    kind: str
    ok: bool
    detail: str
    committed_seen: int = 0
    kept: int = 0


def check_file(path: Path, seen_blocks: int, python_saw_stop: bool, repair: bool) -> str:
    """'' if the file passes every check, else what failed."""
    import h5py

    from ftjlab.repair import repair_file

    if repair:
        try:
            repair_file(path)
        except Exception as exc:
            return f"repair failed: {type(exc).__name__}: {exc}"
    try:
        f = h5py.File(path, "r")  # plain: no SWMR, no special flags
    except OSError as exc:
        return f"plain h5py cannot open it: {exc}"
    with f:
        (g,) = f["runs"].values()
        cur = g["current"][()]
        if cur.size % BLOCK:
            return f"current has {cur.size} records, not whole blocks"
        for k, block in enumerate(cur.reshape(-1, BLOCK)):
            if not np.array_equal(block, block_values(k)):
                return f"block {k} holds other values than written (torn or zero-filled)"
        if cur.size // BLOCK < seen_blocks:
            return f"only {cur.size // BLOCK} blocks kept, {seen_blocks} were committed"
        status = g.attrs["status"]
        if status == "running":
            return "status still running"
        if python_saw_stop and status == "interrupted":
            return "a stop Python saw left the run interrupted"
    return ""


def _start(out: Path, mode: str, blocks: int) -> subprocess.Popen:
    return subprocess.Popen([PYTHON, str(HERE), str(out), mode, str(blocks)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _read_until(proc: subprocess.Popen, predicate) -> tuple[Path | None, int]:
    path, seen = None, 0
    for line in proc.stdout:
        if line.startswith("file "):
            path = Path(line.split(" ", 1)[1].strip())
        elif line.startswith("committed "):
            seen = int(line.split()[1])
        if predicate(path, seen):
            break
    return path, seen


def trial_sigkill(out: Path, rng: random.Random) -> Trial:
    """SIGKILL after a random number of committed blocks (0..20) plus a random delay."""
    proc = _start(out, "loop", 400)
    target = rng.randint(0, 20)
    path, seen = _read_until(proc, lambda p, s: p is not None and s >= target)
    time.sleep(rng.uniform(0, 0.02))
    proc.kill()
    rest = proc.stdout.read()
    seen = max([seen] + [int(x.split()[1]) for x in rest.splitlines()
                         if x.startswith("committed ")])
    proc.wait()
    problem = check_file(path, seen, False, repair=True)
    return Trial("sigkill", not problem, problem, seen)


def trial_mode(out: Path, mode: str) -> Trial:
    """A writer that injects its own failure (torn, finish-exc, finish-kbint, finish-kill)."""
    proc = _start(out, mode, 12)
    stdout, stderr = proc.communicate(timeout=120)
    path = next(Path(x.split(" ", 1)[1]) for x in stdout.splitlines() if x.startswith("file "))
    seen = max([0] + [int(x.split()[1]) for x in stdout.splitlines()
                      if x.startswith("committed ")])
    killed = proc.returncode == -signal.SIGKILL
    if mode in ("finish-exc", "finish-kbint") and proc.returncode != 1:
        return Trial(mode, False, f"exit {proc.returncode}: {stderr[-300:]}", seen)
    problem = check_file(path, seen, not killed, repair=killed)
    if not problem and mode in ("finish-exc", "finish-kbint"):
        import h5py

        with h5py.File(path, "r") as f:
            (g,) = f["runs"].values()
            if g.attrs["status"] != "failed" or "finishing" not in g.attrs["error"]:
                problem = f"status {g.attrs['status']!r}, error {g.attrs['error']!r}"
    return Trial(mode, not problem, problem, seen)


def trial_signal_storm(out: Path, rng: random.Random, readings: int = 400_000) -> Trial:
    """``ftjlab run`` hit by SIGINT/SIGTERM every 20 ms from a random moment on: during
    start-up (one trial in three) or after the run file appeared (random delay 0-1.5 s)."""
    cmd = [PYTHON, "-m", "ftjlab", "run", "rtn-acquisition", "--set", f"readings={readings}",
           "--set", "block=20000", "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if rng.random() < 1 / 3:
        _wait_for_python(proc)
        time.sleep(rng.uniform(0, 2.0))
    else:
        t0 = time.monotonic()
        while not list(out.glob("*.h5")) and proc.poll() is None and time.monotonic() - t0 < 60:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 1.5))
    while proc.poll() is None:
        try:
            proc.send_signal(rng.choice([signal.SIGINT, signal.SIGTERM]))
        except ProcessLookupError:
            break
        time.sleep(0.02)
    _, err = proc.communicate()
    if proc.returncode not in (0, 1) or "Traceback" in err:
        return Trial("signals", False, f"exit {proc.returncode}: {err[-400:]}")
    files = list(out.glob("*.h5"))
    if not files:
        return Trial("signals", True, "stopped before the run file existed")
    import h5py

    try:
        with h5py.File(files[0], "r") as f:
            (g,) = f["runs"].values()
            status = g.attrs["status"]
            n = g["current"].shape[0]
    except OSError as exc:
        return Trial("signals", False, f"plain h5py cannot open it: {exc}")
    if status not in ("completed", "aborted"):
        return Trial("signals", False, f"status {status!r}")
    if (proc.returncode == 0) != (status == "completed"):
        return Trial("signals", False, f"exit {proc.returncode} with status {status}")
    return Trial("signals", True, status, kept=n)


def _wait_for_python(proc: subprocess.Popen, timeout_s: float = 60) -> None:
    """Until the child has loaded numpy: ftjlab's signal handlers are installed before any
    heavy import, so from then on a signal goes through Python. Before that, the interpreter
    is still starting and a signal has its default action (no program can change that)."""
    maps = Path(f"/proc/{proc.pid}/maps")
    t0 = time.monotonic()
    while proc.poll() is None and time.monotonic() - t0 < timeout_s:
        try:
            if "numpy" in maps.read_text():
                return
        except OSError:
            return
        time.sleep(0.005)


def trial_reader(out: Path, rng: random.Random, blocks: int = 30) -> Trial:
    """A live SWMR reader that opens the file the moment it appears and follows it (refresh,
    read, reopen), while the writer records and finishes: the writer must never fail."""
    reader = subprocess.Popen([PYTHON, "-c", _READER, str(out)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    time.sleep(rng.uniform(0, 0.3))  # the reader is polling before the file exists
    writer = _start(out, "loop", blocks)
    w_out, w_err = writer.communicate(timeout=120)
    r_out, _ = reader.communicate(timeout=60)
    if writer.returncode != 0:
        return Trial("reader", False, f"writer exit {writer.returncode}: {w_err[-400:]}")
    path = next(Path(x.split(" ", 1)[1]) for x in w_out.splitlines() if x.startswith("file "))
    problem = check_file(path, blocks, True, repair=False)
    return Trial("reader", not problem, problem or r_out.strip()[-100:], blocks)


#: the live reader: polls for the file, opens it as soon as HDF5 lets it, follows the run
_READER = r"""
import sys, time, glob
import h5py
out = sys.argv[1]
t0 = time.monotonic(); opens = reads = 0
while time.monotonic() - t0 < 30:
    files = glob.glob(out + "/*.h5")
    if not files:
        continue
    try:
        with h5py.File(files[0], "r", libver="latest", swmr=True) as f:
            opens += 1
            g = next(iter(f["runs"].values()))
            ds = g["current"]
            for _ in range(5):
                ds.refresh(); ds[max(0, ds.shape[0] - 10):]; reads += 1
            if g.attrs["status"] != "running":
                break
    except (OSError, KeyError, StopIteration, RuntimeError):
        pass
print(f"opens {opens} reads {reads}")
"""


def trial_disk(out: Path, rng: random.Random, raw: bool) -> Trial:
    """A run on a small tmpfs that fills up: the writer's free-space check stops it (or, with
    ``raw``, HDF5 meets ENOSPC itself). The run ends ``failed`` naming the full disk, and the
    file opens plainly with every complete block. Without the right to mount a tmpfs, HDF5's
    ENOSPC error is injected instead (kind ``disk-injected``)."""
    fs = out / "fs"
    fs.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={rng.randint(2, 5)}m",
                              "tmpfs", str(fs)], capture_output=True).returncode == 0
    kind = ("disk-raw" if raw else "disk") if mounted else "disk-injected"
    try:
        proc = _start(fs, "disk-raw" if raw and mounted else "loop" if mounted
                      else "disk-inject", 100_000)
        stdout, stderr = proc.communicate(timeout=300)
        path = next(Path(x.split(" ", 1)[1]) for x in stdout.splitlines()
                    if x.startswith("file "))
        seen = max([0] + [int(x.split()[1]) for x in stdout.splitlines()
                          if x.startswith("committed ")])
        if proc.returncode != 1 or "Traceback" in stderr:
            return Trial(kind, False, f"exit {proc.returncode}: {stderr[-400:]}", seen)
        problem = check_file(path, seen, True, repair=False)
        if not problem:
            import h5py

            with h5py.File(path, "r") as f:
                (g,) = f["runs"].values()
                if g.attrs["status"] != "failed" or "disk full" not in g.attrs["error"]:
                    problem = f"status {g.attrs['status']!r}, error {g.attrs['error']!r}"
        if not problem and reserve_left(path):
            problem = "the disk reserve file was left behind"
        return Trial(kind, not problem, problem, seen)
    finally:
        if mounted:
            subprocess.run(["umount", str(fs)], capture_output=True)


def reserve_left(path: Path) -> bool:
    from ftjlab.store import reserve_path

    return reserve_path(path).exists()


def run_trials(root: Path, n: int, seed: int = 0, storms: bool = True) -> list[Trial]:
    """``n`` trials cycling through every kind (each in its own folder under ``root``)."""
    rng = random.Random(seed)
    kinds = ["sigkill", "torn", "finish-exc", "finish-kbint", "finish-kill", "reader", "disk",
             "disk-raw"]
    if storms:
        kinds.append("signals")
    out: list[Trial] = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        folder = root / f"{i:03d}-{kind}"
        folder.mkdir(parents=True)
        if kind == "sigkill":
            out.append(trial_sigkill(folder, rng))
        elif kind == "signals":
            out.append(trial_signal_storm(folder, rng))
        elif kind == "reader":
            out.append(trial_reader(folder, rng))
        elif kind.startswith("disk"):
            out.append(trial_disk(folder, rng, raw=kind == "disk-raw"))
        else:
            out.append(trial_mode(folder, kind))
    return out


if __name__ == "__main__":
    sys.exit(_writer_main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3
                          else 400))
