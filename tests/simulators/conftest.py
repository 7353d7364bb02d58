"""Fixtures shared by the simulator tests."""

from __future__ import annotations

import pytest
from ftjlab.simulators.tsp import TSPEmulator


@pytest.fixture
def tsp() -> TSPEmulator:
    """A fresh TSP emulator with a short runaway-script guard."""
    return TSPEmulator(max_script_s=0.25)
