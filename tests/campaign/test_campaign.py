"""Wafer campaigns on the simulated wafer: bad input, stops and resumption, the radial
gradient in the analysed wafer map."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from ftjlab.simulators.server import SimServer

from ftjlab.cli import main
from ftjlab.config import load_bench_config

BENCH = Path(__file__).resolve().parents[2] / "data" / "benches" / "sim-wafer.toml"
PROCS = """
[[procedures]]
name = "conductance-map"
parameters = {{ nplc = 0.1 }}
{extra}
"""
RTN = """
[[procedures]]
name = "rtn-acquisition"
parameters = { readings = 400, block = 200, interval_s = 2e-4 }
"""


def _campaign(tmp: Path, wafer: str, extra: str = RTN, name: str = "c.toml") -> Path:
    path = tmp / name
    path.write_text(
        f'bench = "{BENCH}"\nout = "out"\n[wafer]\n{wafer}\n' + PROCS.format(extra=extra),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def server():
    with SimServer(load_bench_config(BENCH), seed=11) as srv:
        yield srv


def _resources(srv: SimServer) -> list[str]:
    return [a for n, r in srv.resources.items() for a in ("--resource", f"{n}={r}")]


def _outputs_on(srv: SimServer) -> list[str]:
    return [t for t, d in srv.bench.describe()["terminals"].items() if d["output_on"]]


def test_bad_input_exits_2_naming_the_field_before_the_chuck_moves(tmp_path, server, capsys):
    station = server.emulators["prober"]
    good = "diameter_mm = 40\ndie_um = [5000, 5000]\ndies = [[3, 3], [4, 3]]"
    cases = {
        "procedures[1].name": _campaign(
            tmp_path, good, RTN.replace("rtn-acquisition", "rtn"), "a.toml"
        ),
        "wafer.dies[1]": _campaign(tmp_path, good.replace("[4, 3]", "[0, 0]"), name="b.toml"),
        "procedures[1].parameters": _campaign(tmp_path, good, RTN.replace("400", "5"), "c.toml"),
        "procedures[1].parameters: ": _campaign(  # a bench limit: 1.4 V > 1.2 V sampling
            tmp_path, good, RTN.replace("readings", "bias_v = 1.4, readings"), "d.toml"
        ),
    }
    for field, path in cases.items():
        assert main(["campaign", "run", str(path), *_resources(server)]) == 2, field
        err = capsys.readouterr().err
        assert field in err and "Traceback" not in err, err
    assert "max_sample_voltage_v" in err
    unreachable = [*_resources(server), "--resource", "prober=TCPIP0::127.0.0.1::1::SOCKET"]
    ok = _campaign(tmp_path, good, name="e.toml")
    assert main(["campaign", "run", str(ok), *unreachable]) == 2
    assert "instruments.prober" in capsys.readouterr().err
    assert station.steps == 0 and station.contacts == 0  # the chuck never moved
    assert not (tmp_path / "out").exists()


def _wait(predicate, timeout_s: float, what: str) -> None:
    end = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _committed(out: Path) -> list[str]:
    dies = out / "dies"
    return (
        sorted(p.name for p in dies.iterdir() if not p.name.endswith(".partial"))
        if dies.exists()
        else []
    )


@pytest.mark.slow
def test_sigterm_then_sigkill_then_resume_every_die_exactly_once(tmp_path, server):
    rng = np.random.default_rng(17)
    station = server.emulators["prober"]
    campaign = _campaign(
        tmp_path, 'diameter_mm = 40\ndie_um = [5000, 5000]\nselect = "good"\nmax_dies = 10'
    )
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "ftjlab",
        "campaign",
        "run",
        str(campaign),
        "--quiet",
        *_resources(server),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    snapshots = []
    for sig in (signal.SIGTERM, signal.SIGKILL):
        k = len(_committed(out)) + int(rng.integers(1, 4))
        proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
        try:  # stop it at a random die, with the probe in contact
            _wait(
                lambda k=k: len(_committed(out)) >= k and station.in_contact,
                60,
                f"{k} dies committed and the probe down",
            )
            proc.send_signal(sig)
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert code == (1 if sig == signal.SIGTERM else -signal.SIGKILL)
        # separated and outputs off: by the runner (SIGTERM) or its guardian (SIGKILL)
        _wait(
            lambda: not station.in_contact and not _outputs_on(server),
            30,
            "the probe separated and outputs off",
        )
        snapshots.append({d: sorted(os.listdir(out / "dies" / d)) for d in _committed(out)})
    assert len(snapshots[0]) >= 1 and len(snapshots[1]) > len(snapshots[0])
    assert main(["campaign", "run", str(campaign), "--quiet", *_resources(server)]) == 0
    assert not station.in_contact and not _outputs_on(server)
    spec_dies = json.loads((out / "campaign.json").read_text())["fingerprint"]["dies"]
    names = sorted(f"c{c:02d}_r{r:02d}" for c, r in spec_dies)
    assert _committed(out) == names and len(names) == 10
    for name in names:  # exactly one run file per procedure, all completed
        files = sorted(p.name for p in (out / "dies" / name).glob("*.h5"))
        assert [f.split("_", 1)[1] for f in files] == ["conductance-map.h5", "rtn-acquisition.h5"]
    for snap in snapshots:  # what was committed before a stop was kept as it was
        for die, files in snap.items():
            assert sorted(os.listdir(out / "dies" / die)) == files
    index = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    keys = [(r["die"], r["procedure"]) for r in index]
    assert len(keys) == len(set(keys)) == 20
    assert all(r["status"] == "completed" for r in index)
    interrupted = list((out / "interrupted").iterdir()) if (out / "interrupted").exists() else []
    assert len(interrupted) <= 2  # at most the die in progress, per stop


def _fit_radial(rho: np.ndarray, g: np.ndarray) -> float:
    """Independent least-squares fit of g = a (1 + k rho); returns k."""
    slope, intercept = np.polyfit(rho, g, 1)
    return float(slope / intercept)


def test_wafer_map_recovers_the_radial_gradient(tmp_path):
    import pyarrow.parquet as pq

    from ftjlab.campaign.analysis import analyze_folder
    from ftjlab.campaign.runner import run_campaign
    from ftjlab.campaign.spec import load_campaign

    # the shipped wafer bench with 4 x 4 dies (a quicker map per die, the same gradient)
    bench = tmp_path / "wafer.toml"
    bench.write_text(
        BENCH.read_text().replace("rows = 8\n", "rows = 4\n").replace("cols = 8\n", "cols = 4\n")
    )
    path = _campaign(tmp_path, 'diameter_mm = 40\ndie_um = [5000, 5000]\nselect = "all"', extra="")
    path.write_text(path.read_text().replace(str(BENCH), str(bench)))
    outcome = run_campaign(load_campaign(path), bench, seed=5)
    assert outcome.finished and outcome.total == 60
    summary = analyze_folder(outcome.out, workers=1, processes=False)
    assert summary.failed == 0 and any(p.name == "wafer_g_median_s.png" for p in summary.maps)
    table = pq.read_table(summary.table).to_pydict()
    col, row = np.array(table["col"]), np.array(table["row"])
    n = math.ceil(40_000 / 5000)  # the map's grid, centred on the wafer
    rho = np.hypot((col + 0.5 - n / 2) * 5000, (n / 2 - row - 0.5) * 5000) / 20_000
    assert table["cells"][0] == 16
    g = np.array(table["g_median_s"])
    k = _fit_radial(rho, g)
    assert k == pytest.approx(-0.3, rel=0.2)  # bench: g_on_radial = -0.3
    # spot check against the single-file analysis: the exact median of the stored map
    import h5py

    for i in (0, len(g) // 2, len(g) - 1):
        with h5py.File(table["file"][i], "r") as f:
            exact = float(np.median(f["runs"][table["run_id"][i]]["conductance"][()]))
        assert g[i] == pytest.approx(exact, rel=1e-12)
