"""Every procedure, unchanged, on the other shipped simulated benches: the all-SCPI bench (a
2450 reads, a second 2450 drives the gates, a 33500B pulses) and the two-node 2636B bench
(four SMU channels over TSP-Link); in-process, and a representative set through the sim
server. Every run reports its time accounting."""

import warnings

import h5py
import pytest
from ftjlab.data import benches
from ftjlab.procedures import PROCEDURES, build
from ftjlab.simulators.server import SimServer
from procedures_shared import small

from ftjlab.config import load_bench_config
from ftjlab.runner import run_procedure
from ftjlab.session import BenchSession
from ftjlab.store import list_runs

BENCH_DIR = benches.__path__[0]
BENCHES = ("sim-2450", "sim-4ch")
#: the 2450 integrates at least 0.01 PLC (a shorter aperture is refused with the field named)
APERTURE_2450 = {
    "rtn-acquisition": {"nplc": "0.01", "interval_s": "0.001"},
    "rtn-tuning": {"nplc_start": "0.01", "nplc_stop": "0.1"},
    "vae-generate": {"nplc": "0.01", "interval_s": "0.002"},
}
OVER_TCP = ("write-verify", "rtn-acquisition")


def _settings(bench: str, name: str) -> dict[str, str]:
    out = small(name)
    if bench == "sim-2450":
        out.update(APERTURE_2450.get(name, {}))
    return out


def _check(outcome, name):
    assert outcome.status == "completed", outcome.error
    (info,) = list_runs(outcome.path)
    assert info.procedure == name
    with h5py.File(outcome.path, "r") as f:
        (group,) = f["runs"].values()
        attrs = dict(group.attrs)
    for key in ("instrument_time_s", "wall_time_s", "round_trips", "projected_lan_s",
                "projected_gpib_s"):
        assert key in attrs, key
    assert attrs["round_trips"] == attrs["messages"] + attrs["replies"] > 0
    assert attrs["projected_gpib_s"] >= attrs["projected_lan_s"] >= attrs["instrument_time_s"]


def _run(session: BenchSession, bench: str, name: str, folder):
    """Run procedure ``name`` with the bench's small settings; the session is closed after."""
    try:
        return run_procedure(build(PROCEDURES[name], _settings(bench, name)), session, folder)
    finally:
        session.close()


@pytest.mark.parametrize("bench", BENCHES)
@pytest.mark.parametrize("name", sorted(PROCEDURES))
def test_every_procedure_runs_on_the_shipped_benches(bench, name, tmp_path):
    outcome = _run(BenchSession.open(f"{BENCH_DIR}/{bench}.toml", seed=7), bench, name, tmp_path)
    _check(outcome, name)
    assert outcome.accounting.instrument_s > 0


@pytest.fixture(scope="module", params=BENCHES)
def server(request):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        config = load_bench_config(f"{BENCH_DIR}/{request.param}.toml")
        srv = SimServer(config, seed=7).start()
    yield request.param, srv
    srv.stop()


@pytest.mark.parametrize("name", OVER_TCP)
def test_procedures_run_on_the_shipped_benches_through_the_sim_server(server, name, tmp_path):
    bench, srv = server
    session = BenchSession.open(f"{BENCH_DIR}/{bench}.toml", resources=dict(srv.resources),
                                timeout_ms=5000)
    outcome = _run(session, bench, name, tmp_path)
    _check(outcome, name)
    assert srv.bench.closed() == []  # the matrix ends open
