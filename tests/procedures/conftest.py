import warnings

import pytest
from ftjlab.simulators.server import SimServer

from ftjlab.config import load_bench_config


@pytest.fixture(scope="session", autouse=True)
def _temp_files(tmp_path_factory):
    """The procedure settings' files (VAE maps, PNG folder) in pytest's temp folder."""
    import procedures_shared

    procedures_shared.TEMP["root"] = tmp_path_factory.mktemp("procedures")
    yield
    procedures_shared.TEMP.clear()
    procedures_shared._MAP_FILE.clear()


@pytest.fixture(scope="module")
def sim_server():
    """``ftjlab sim-server``'s server object on loopback, reached through pyvisa-py."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        server = SimServer(load_bench_config(), seed=7).start()
    yield server
    server.stop()
