"""What the procedures must show: write-verify and VMM accuracy figures, crash safety, a
safe abort, bad input refused before anything is sent."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import h5py
import numpy as np
import pytest
from ftjlab.procedures import PROCEDURES, build
from ftjlab.simulators.traps import activation

from ftjlab.cli import main
from ftjlab.runner import run_procedure
from ftjlab.session import BenchSession
from ftjlab.store import list_runs, open_run, read_dataset

PYTHON = sys.executable


def test_write_verify_of_the_whole_32x32_array(tmp_path):
    """1024 cells (32 rows x 16 differential pairs, 9 weight levels) at a 2 % tolerance."""
    session = BenchSession.open(seed=11)
    try:
        outcome = run_procedure(build(PROCEDURES["write-verify"], {}), session, tmp_path)
    finally:
        session.close()
    assert outcome.status == "completed", outcome.error
    r = outcome.results
    cells = read_dataset(outcome.path, "cells")
    assert cells.shape == (1024, 6)
    assert r["error_sigma_converged_pct_of_range"] <= 1.5
    assert r["mean_pulses_per_cell"] <= 10
    failed = cells[cells[:, 5] == 0]
    assert r["failed_cells"] == len(failed) <= 10  # stuck or unreachable devices, ~0.3 %
    lines = r["failures"].splitlines() if r["failures"] else []
    assert len(lines) == len(failed)
    for line, (row, col, *_rest) in zip(lines, failed, strict=True):
        assert f"cell ({int(row)}, {int(col)})" in line and ": " in line.split("nS")[-1]


def test_vmm_accuracy_is_reported_and_rtn_is_a_small_part_of_it(tmp_path):
    session = BenchSession.open(seed=12)
    try:
        settings = {"rows_used": "16", "pairs_used": "8", "inputs": "20", "bits": "4"}
        outcome = run_procedure(build(PROCEDURES["vmm-accuracy"], settings), session, tmp_path)
        array = session.sim.array
        # RTN share at the VMM bias, from the device's own traps: every filled trap lowers its
        # cell by a0 g(V); occupancy p(V) from the trap's rates at that bias
        traps = array.traps
        ids = np.arange(traps.state.size)
        lc, le = traps.capture_rate(ids, 0.2), traps.emission_rate(ids, 0.2)
        p = lc / (lc + le)
        g = float(activation(array.params.traps, 0.2))
        rel_var = np.bincount(traps.cell, (traps.amp0 * g) ** 2 * p * (1 - p),
                              minlength=array.rows * array.cols)
    finally:
        session.close()
    assert outcome.status == "completed", outcome.error
    nrmse = outcome.results["nrmse_vs_programmed"]
    assert 0 < nrmse < 0.2
    assert outcome.results["nrmse_vs_measured_map"] < nrmse
    # RMS of RTN in the products, relative to the products' RMS: cell currents add, so the
    # relative RTN of a sum is at most the largest relative RTN of a cell
    rtn_rel = float(np.sqrt(rel_var.max()))
    assert rtn_rel < 0.1 * nrmse


def wait_for(predicate, timeout_s: float = 60.0, every_s: float = 0.05):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise TimeoutError("condition not reached")


def start_rtn_run(out, readings=10_000_000, block=20_000):
    cmd = [PYTHON, "-m", "ftjlab", "run", "rtn-acquisition", "--out", str(out), "--quiet",
           "--set", f"readings={readings}", "--set", f"block={block}", "--set", "interval_s=5e-5",
           "--set", "nplc=0.002"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def streamed(out) -> tuple:
    files = list(out.glob("*.h5"))
    if not files:
        return ()
    try:
        with h5py.File(files[0], "r", libver="latest", swmr=True) as f:
            (group,) = f["runs"].values()
            n = group["current"].shape[0]
    except (OSError, KeyError, ValueError):  # not created or not in SWMR mode yet
        return ()
    return (files[0], n) if n >= 60_000 else ()


def test_kill_9_while_streaming_keeps_every_flushed_block(tmp_path):
    proc = start_rtn_run(tmp_path)
    try:
        path, seen = wait_for(lambda: streamed(tmp_path))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
    # HDF5 keeps the SWMR writer's consistency flag set after a kill: readers open the file
    # as SWMR readers (as ftjlab's tools do); `ftjlab repair FILE` clears it for plain readers
    with h5py.File(path, "r", libver="latest", swmr=True) as f:
        (group,) = f["runs"].values()
        current = group["current"][()]
        stamps = group["time"][()]
        assert group.attrs["status"] == "running"  # never finished
    assert current.size >= seen and current.size % 20_000 == 0
    # `time` is appended right after `current`: a kill in between costs it that one block
    assert current.size - 20_000 <= stamps.size <= current.size
    assert np.all(np.isfinite(current)) and np.all(current > 0)
    assert open_run(path).status == "interrupted"
    with pytest.raises(OSError):
        h5py.File(path, "r").close()
    assert main(["repair", str(path)]) == 0
    with h5py.File(path, "r") as f:  # plain now
        (group,) = f["runs"].values()
        assert group.attrs["status"] == "interrupted"
        assert group["current"].shape[0] == current.size
        np.testing.assert_array_equal(group["current"][()], current)


def test_ctrl_c_stops_at_a_safe_point_and_keeps_the_data(tmp_path):
    proc = start_rtn_run(tmp_path)
    try:
        wait_for(lambda: streamed(tmp_path))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 1
    assert "stopping at the next safe point" in err
    (path,) = tmp_path.glob("*.h5")
    info = open_run(path)
    assert info.status == "aborted"
    assert info.datasets["current"][0][0] >= 60_000


def test_abort_leaves_the_bench_safe(tmp_path):
    session = BenchSession.open(seed=13)
    stop = threading.Event()
    blocks = []

    def listener(topic, data):
        if topic == "record" and data[0] == "current":
            blocks.append(data[1].size)
            if len(blocks) == 3:
                stop.set()

    try:
        procedure = build(PROCEDURES["rtn-acquisition"], {"readings": "1000000", "block": "10000"})
        outcome = run_procedure(procedure, session, tmp_path, listener, stop)
        bench = session.sim
        assert outcome.status == "aborted"
        assert bench.closed() == []  # matrix open
        assert session.instruments["smu"].smua.output_enabled is False
        assert session.instruments["smu"].smub.output_enabled is False
        assert session.instruments["pg"].ch_1.output is False
    finally:
        session.close()
    # three blocks, each at most ~1 s of instrument time (10,000 asked, 5,000 at 200 us)
    assert procedure.block_size() == 5_000
    assert open_run(outcome.path).datasets["current"][0] == (3 * 5_000,)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["run", "rtn-acquisition", "--set", "bias_v=1.4"], "max_sample_voltage_v"),
        (["run", "rtn-acquisition", "--set", "bias_v=2.0"], "bias_v"),
        (["run", "rtn-acquisition", "--set", "bias_v=high"], "bias_v"),
        (["run", "rtn-acquisition", "--set", "speed=3"], "speed"),
        (["run", "nonsense"], "nonsense"),
        (["run", "write-verify", "--set", "rows_used=64"], "do not fit"),
        (["run", "iv-sweep", "--set", "row=40"], "row=40"),
        (["run", "conductance-map", "--resource", "smu=TCPIP0::127.0.0.1::1::SOCKET"], "smu"),
    ],
)
def test_bad_input_exits_2_naming_the_field_and_records_nothing(args, field, tmp_path, capsys):
    assert main([*args, "--out", str(tmp_path), "--quiet"]) == 2
    assert field in capsys.readouterr().err
    assert list(tmp_path.glob("*.h5")) == []


def test_bad_bench_file_and_output_folder(tmp_path, capsys):
    bench = tmp_path / "bench.toml"
    bench.write_text("[instruments.smu]\nmodel = '2636B'\nresource = 'sim'\nbogus = [\n")
    assert main(["run", "conductance-map", "--bench", str(bench), "--out", str(tmp_path)]) == 2
    assert "bench.toml" in capsys.readouterr().err
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["run", "conductance-map", "--out", str(blocker / "runs"), "--quiet"]) == 2
    assert "not writable" in capsys.readouterr().err


def test_cli_through_a_sim_server_process(tmp_path):
    server = subprocess.Popen([PYTHON, "-m", "ftjlab", "sim-server", "--seed", "5"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        resources = json.loads(server.stdout.readline())["resources"]
        args = [PYTHON, "-m", "ftjlab", "run", "conductance-map", "--out", str(tmp_path),
                "--quiet"]
        for name, resource in resources.items():
            args += ["--resource", f"{name}={resource}"]
        done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
    assert done.returncode == 0, done.stderr
    (path,) = tmp_path.glob("*.h5")
    (info,) = list_runs(path)
    assert info.status == "completed"
    assert info.bench["instruments"]["smu"]["resource"] == "sim"
    g = read_dataset(path, "conductance")
    assert g.shape == (32, 32) and np.all(g > 0)


def test_endurance_to_1e5_cycles_follows_the_wear_law(tmp_path):
    """1e5 program/erase cycles through the instruments; the window follows
    1 / (1 + n / wear_cycles) of the device model (default wear_cycles = 3e5)."""
    session = BenchSession.open(seed=14)
    try:
        outcome = run_procedure(build(PROCEDURES["endurance"], {}), session, tmp_path)
        wear = session.sim.array.params.endurance.wear_cycles
    finally:
        session.close()
    assert outcome.status == "completed", outcome.error
    window = read_dataset(outcome.path, "window")
    cycles, g_on, g_off = window.T
    assert cycles[-1] == 100_000
    ratio = (g_on - g_off) / (g_on[0] - g_off[0])
    np.testing.assert_allclose(ratio, (1 + cycles[0] / wear) / (1 + cycles / wear), rtol=0.03)
