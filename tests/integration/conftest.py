"""The ``rig`` fixture: the simulated bench behind each transport (see :mod:`bench_rig`)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

try:
    from .bench_rig import TRANSPORTS, Rig, make_rig
except ImportError:  # tests/integration is not a package
    from bench_rig import TRANSPORTS, Rig, make_rig


@pytest.fixture(params=TRANSPORTS)
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    """The simulated bench, once in-process and once over TCP + pyvisa-py."""
    bench_rig = make_rig(request.param)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # pymeasure's includeSCPI notices
            yield bench_rig
    finally:
        bench_rig.close()
