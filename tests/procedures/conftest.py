import warnings

import pytest
from ftjlab.simulators.server import SimServer

from ftjlab.config import load_bench_config


@pytest.fixture(scope="module")
def sim_server():
    """``ftjlab sim-server``'s server object on loopback, reached through pyvisa-py."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        server = SimServer(load_bench_config(), seed=7).start()
    yield server
    server.stop()
