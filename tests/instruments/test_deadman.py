"""The dead-man switch: ``kill -9`` of ``ftjlab run`` mid-run leaves a sim-server bench safe
within 2 s (one trial per case here; the 20-trial study is ``ftjlab bench safety.``), and
``ftjlab safe`` makes an energised bench safe on demand."""

from __future__ import annotations

import signal
import warnings

import pytest
from deadman_rig import CASES, energised, kill_mid_run
from ftjlab.instruments import Keithley707B, Keithley2636B, Keysight81160A
from ftjlab.simulators.server import SimServer

from ftjlab.cli import main
from ftjlab.config import load_bench_config
from ftjlab.session import BenchSession


@pytest.fixture
def server():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with SimServer(load_bench_config(None), seed=7) as running:
            yield running


@pytest.mark.slow
@pytest.mark.parametrize("procedure", list(CASES))
def test_sigkill_mid_run_leaves_the_sim_server_bench_safe_within_2_s(server, procedure, tmp_path):
    result = kill_mid_run(server, procedure, str(tmp_path))
    assert result.returncode == -signal.SIGKILL
    assert result.safe_after_s <= 2.0, result


def test_in_process_bench_needs_no_supervisor():
    """The emulators of an in-process bench live and die with the process that runs them:
    a killed run leaves nothing energised, so no supervisor is started for it."""
    with BenchSession.open(seed=1) as session:
        assert session.supervisor is None


def test_ftjlab_safe_switches_an_energised_bench_off(server, capsys):
    res = server.resources
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        smu = Keithley2636B(res["smu"], visa_library="@py", timeout=5000)
        gen = Keysight81160A(res["pg"], visa_library="@py", timeout=5000)
        matrix = Keithley707B(res["matrix"], visa_library="@py", timeout=5000)
    smu.write("smua.source.levelv = 0.2 smua.source.output = 1 smub.source.output = 1")
    gen.write(":OUTP1 ON")
    matrix.close("1A01,4C02")
    smu.wait_for_completion()
    on, closed = energised(server)
    assert on and closed == 2
    args = ["safe"] + [f"--resource={name}={value}" for name, value in res.items()]
    assert main(args) == 0
    assert energised(server) == ([], 0)
    out = capsys.readouterr().out
    assert out.count(": safe") == 3
    for instrument in (smu, gen, matrix):
        instrument.adapter.close()


def test_ftjlab_safe_on_an_in_process_bench_says_there_is_nothing_to_do(capsys):
    assert main(["safe"]) == 0
    assert "nothing to make safe" in capsys.readouterr().out


def test_the_supervisor_aborts_a_script_the_dead_process_left_running(server):
    """A run killed while its SMU script still runs: the supervisor's switch-off must not
    wait behind the script (it would time out with the outputs on, and the script could
    close relays after the matrix opened). It aborts the script first: outputs off, relays
    open, and the script never runs on."""
    from ftjlab.instruments._deadman_child import connect, make_safe

    res, smu_emulator = server.resources, server.emulators["smu"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        smu = Keithley2636B(res["smu"], visa_library="@py", timeout=5000)
        matrix = Keithley707B(res["matrix"], visa_library="@py", timeout=5000)
    smu.write("smua.source.levelv = 0.2 smua.source.output = 1")
    matrix.close("1A01")
    smu.wait_for_completion()
    smu.write("function ftjlong() smua.source.output = 1 end")
    smu_emulator.stall_script("ftjlong", reads=1)
    smu.write("ftjlong()")  # the process dies here, the script still running
    smu.adapter.close()
    matrix.adapter.close()
    targets = [{"name": name, "model": model, "resource": res[name], "timeout_ms": 2000}
               for name, model in (("smu", "2636B"), ("matrix", "707B"))]
    instruments = connect(targets)
    try:
        assert make_safe(instruments) == []
    finally:
        for instrument in instruments:
            instrument.close()
    assert not smu_emulator.script_running
    assert energised(server) == ([], 0)
