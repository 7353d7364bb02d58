"""sim-server: one port per instrument on loopback, JSON announcement, clean shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest
import pyvisa
from ftjlab.simulators.server import SimServer, run_sim_server

from ftjlab.config import parse_bench_config

CONFIG = """
seed = 11
[instruments.smu]
model = "2636B"
resource = "sim"
[instruments.matrix]
model = "707B"
resource = "sim"
cards = 2
[array]
rows = 6
cols = 6
[wiring.rows]
A = "smu.a"
B = "smu.b"
[wiring.columns]
1 = ["WL0", "WL1", "WL2", "WL3", "WL4", "WL5"]
2 = ["BL0", "BL1", "BL2", "BL3", "BL4", "BL5"]
[limits]
max_read_voltage_v = 0.3
max_sample_voltage_v = 1.2
max_program_voltage_v = 4.5
max_compliance_current_a = 1e-3
min_pulse_width_s = 1e-8
max_pulse_width_s = 1e-2
"""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(CONFIG)
    return path


def open_all(resources: dict[str, str]):
    rm = pyvisa.ResourceManager("@py")
    return rm, {
        name: rm.open_resource(res, read_termination="\n", write_termination="\n", timeout=2000)
        for name, res in resources.items()
    }


def test_sim_server_serves_each_instrument_on_its_own_port(config_path):
    import tomllib

    config = parse_bench_config(tomllib.loads(config_path.read_text()), str(config_path))
    with SimServer(config) as server:
        info = json.loads(json.dumps(server.info()))
        assert info["seed"] == 11 and info["host"] == "127.0.0.1"
        assert set(info["resources"]) == {"smu", "matrix"}
        ports = {res.split("::")[2] for res in info["resources"].values()}
        assert len(ports) == 2
        assert all(
            res.startswith("TCPIP0::127.0.0.1::") and res.endswith("::SOCKET")
            for res in info["resources"].values()
        )
        rm, inst = open_all(info["resources"])
        try:
            inst["matrix"].write('channel.exclusiveclose("1B04,2A02")')  # WL3, BL1
            # two connections run concurrently: wait for the relays as a real client must
            assert inst["matrix"].query("*OPC?") == "1"
            inst["smu"].write(
                "smub.source.levelv = 2 smub.source.output = 1 "
                "smua.source.levelv = 0.2 smua.source.output = 1"
            )
            current = float(inst["smu"].query("print(smua.measure.i())"))
            bench = server.bench
            g = bench.array.conductance()[3, 1]
            assert current == pytest.approx(g * float(bench.array.current_factor(0.2)), rel=0.02)
            server.servers["smu"].faults.drop_next_reply()  # faults reachable per instrument
            with pytest.raises(pyvisa.errors.VisaIOError):
                inst["smu"].query("print(1)")
        finally:
            for i in inst.values():
                i.close()
            rm.close()


def test_run_sim_server_prints_one_json_line_and_stops_on_request(config_path):
    class Out:
        def __init__(self) -> None:
            self.lines: list[str] = []
            self.ready = threading.Event()

        def write(self, text: str) -> None:
            self.lines.append(text)
            self.ready.set()

        def flush(self) -> None: ...

    out, stop = Out(), threading.Event()
    result: list[int] = []
    t = threading.Thread(
        target=lambda: result.append(run_sim_server(config_path, seed=4, out=out, stop=stop))
    )
    t.start()
    assert out.ready.wait(20)
    info = json.loads("".join(out.lines))
    assert info["seed"] == 4 and info["bench"] == str(config_path)
    rm, inst = open_all(info["resources"])
    try:
        assert inst["smu"].query("*IDN?").startswith("Keithley Instruments Inc., Model 2636B")
    finally:
        for i in inst.values():
            i.close()
        rm.close()
    stop.set()
    t.join(10)
    assert not t.is_alive() and result == [0]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_cli_sim_server_subprocess_until_sigterm(config_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ftjlab", "sim-server", "--bench", str(config_path), "--seed", "8"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        info = json.loads(line)
        assert info["seed"] == 8 and set(info["resources"]) == {"smu", "matrix"}
        rm, inst = open_all(info["resources"])
        try:
            assert inst["matrix"].query("print(localnode.model)") == "707B"
        finally:
            for i in inst.values():
                i.close()
            rm.close()
        proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - t0 < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_write_then_query_through_pyvisa_py_needs_no_delayed_ack(config_path):
    """pyvisa-py leaves Nagle on: a command written just before a query is held until the
    server ACKs it. Without the server's prompt ACK (TCP_QUICKACK re-armed after each recv)
    every write-then-query step costs Linux's delayed-ACK minimum, 40 ms; with it, well under
    a millisecond on loopback. The bound (10 ms for the median step) leaves room for a loaded
    machine and still fails on a single delayed ACK."""
    with SimServer(parse_bench_config(tomllib.loads(CONFIG)), seed=3) as server:
        rm, inst = open_all({"smu": server.resources["smu"]})
        smu = inst["smu"]
        try:
            smu.query("print(1)")
            steps = []
            for i in range(25):
                t0 = time.perf_counter()
                smu.write(f"smua.source.levelv = {0.001 * i}")
                assert float(smu.query("print(smua.source.levelv)")) == pytest.approx(0.001 * i)
                steps.append(time.perf_counter() - t0)
        finally:
            smu.close()
            rm.close()
    steps.sort()
    assert steps[len(steps) // 2] < 0.010, f"median write+query step {steps[12] * 1e3:.1f} ms"
